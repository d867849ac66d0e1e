import type { IncomingMessage, ServerResponse } from 'node:http';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { SpanKind, withSpan, type Span } from '@agent-bridge/observability';
import { ToolError } from '@agent-bridge/protocol';
import { CachedSchemaValidator } from './schema-validator.js';

/**
 * One JSON Schema validator (it validates elicitation answers) for every server of the process: the
 * SDK otherwise builds a fresh Ajv per server, and stateless endpoints build a server per request.
 */
const sharedValidator = new CachedSchemaValidator();

export interface ToolCallContext {
  /** The authenticated agent making the call. */
  agentId: string;
  /** Aborted when the client cancels or disconnects. */
  signal: AbortSignal;
  /** The MCP session the call belongs to (stateful endpoints only). */
  sessionId: string | undefined;
  /** Present when the client asked for progress (sent a progress token). */
  reportProgress: ((progress: number, total?: number, message?: string) => Promise<void>) | undefined;
  /** The call's span (a no-op span when tracing is off): what the call stores carries its context. */
  span: Span;
}

export interface ToolDefinition {
  name: string;
  title?: string;
  description: string;
  /** JSON Schema advertised in tools/list; the handler validates its arguments itself (see libs/protocol). */
  inputSchema: Record<string, unknown>;
  handler(args: unknown, context: ToolCallContext): Promise<Record<string, unknown>>;
}

export interface ToolHostHooks {
  /** Maps an error that is not a ToolError (store down, a bug) to the ToolError the agent sees. */
  mapError(error: unknown, tool: string, agentId: string, span?: Span): ToolError;
  onCall?(tool: string, outcome: string, agentId: string): void;
}

/** Builds an MCP server exposing `tools` to one authenticated agent. */
export function createToolServer(
  info: { name: string; version: string; instructions?: string },
  tools: ToolDefinition[],
  agentId: string,
  hooks: ToolHostHooks,
): Server {
  const server = new Server(
    { name: info.name, version: info.version },
    { capabilities: { tools: {} }, jsonSchemaValidator: sharedValidator, ...(info.instructions ? { instructions: info.instructions } : {}) },
  );
  const byName = new Map(tools.map((tool) => [tool.name, tool]));

  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: tools.map((tool) => ({
      name: tool.name,
      ...(tool.title ? { title: tool.title } : {}),
      description: tool.description,
      inputSchema: tool.inputSchema as { type: 'object' },
    })),
  }));

  server.setRequestHandler(CallToolRequestSchema, async (request, extra): Promise<CallToolResult> => {
    const tool = byName.get(request.params.name);
    if (!tool) {
      const error = new ToolError('INVALID_ARGUMENT', `there is no tool named "${request.params.name}"; available tools: ${[...byName.keys()].join(', ')}.`);
      hooks.onCall?.(request.params.name, error.code, agentId);
      return error.toToolResult();
    }
    const progressToken = request.params._meta?.progressToken;
    const reportProgress =
      progressToken === undefined
        ? undefined
        : (progress: number, total?: number, message?: string) =>
            extra.sendNotification({
              method: 'notifications/progress',
              params: { progressToken, progress, ...(total !== undefined ? { total } : {}), ...(message !== undefined ? { message } : {}) },
            });
    const attributes = { 'mcp.method.name': 'tools/call', 'gen_ai.tool.name': tool.name, 'agentbridge.agent.id': agentId, ...(extra.sessionId ? { 'mcp.session.id': extra.sessionId } : {}) };
    // The span is the root of a message's trace when the call sends one: the envelope carries its context.
    return withSpan(`tools/call ${tool.name}`, { kind: SpanKind.SERVER, attributes }, async (span) => {
      try {
        const result = await tool.handler(request.params.arguments, { agentId, sessionId: extra.sessionId, signal: extra.signal, reportProgress, span });
        hooks.onCall?.(tool.name, 'ok', agentId);
        return { content: [{ type: 'text', text: JSON.stringify(result) }], structuredContent: result };
      } catch (error) {
        const toolError = error instanceof ToolError ? error : hooks.mapError(error, tool.name, agentId, span);
        hooks.onCall?.(tool.name, toolError.code, agentId);
        span.setAttribute('error.type', toolError.code);
        return toolError.toToolResult();
      }
    });
  });
  return server;
}

/**
 * Serves one MCP Streamable HTTP request statelessly: a fresh server and transport per request, so
 * any replica can serve any agent. Tool results travel on the request's SSE stream, which also
 * carries progress notifications during long polls.
 */
export async function serveStatelessMcp(request: IncomingMessage, response: ServerResponse, body: unknown, server: Server): Promise<void> {
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  response.on('close', () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(request, response, body);
}
