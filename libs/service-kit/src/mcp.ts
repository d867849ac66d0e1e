import type { IncomingMessage, ServerResponse } from 'node:http';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { CLIENT_CAPABILITIES_META_KEY, PROTOCOL_VERSION_META_KEY, Server, createMcpHandler, inputRequired, type CallToolResult, type ClientCapabilities, type InputRequiredResult, type McpRequestContext } from '@modelcontextprotocol/server';
import { SpanKind, withSpan, type Span } from '@agent-bridge/observability';
import { ToolError, type McpGeneration } from '@agent-bridge/protocol';
import { CachedSchemaValidator } from './schema-validator.js';

/**
 * One JSON Schema validator (it validates elicitation answers) for every server of the process: the
 * SDK otherwise builds a fresh Ajv per server, and stateless endpoints build a server per request.
 */
const sharedSchemaValidator = new CachedSchemaValidator();

/** What a client declared it can do with elicitations (per spec 2025-11-25 an empty `elicitation: {}` means form). */
export interface DeclaredElicitation {
  form: boolean;
  url: boolean;
}

export interface ToolCallContext {
  /** The authenticated agent making the call. */
  agentId: string;
  /** Aborted when the client cancels or disconnects. */
  signal: AbortSignal;
  /** The MCP session the call belongs to (2025-11-25 sessions only). */
  sessionId: string | undefined;
  /** The protocol generation of the call: 2026-07-28 requests carry their version in `params._meta`. */
  generation: McpGeneration;
  /** Elicitation support declared at initialize (2025 sessions) or in this request's `_meta` (2026). */
  elicitation: DeclaredElicitation;
  /** 2026-07-28 multi round-trip retry: the answers to the previous round's input requests. */
  inputResponses: Record<string, unknown> | undefined;
  /** 2026-07-28 multi round-trip retry: the `requestState` the previous round returned, as received (untrusted). */
  requestState: string | undefined;
  /** Present when the client asked for progress (sent a progress token). */
  reportProgress: ((progress: number, total?: number, message?: string) => Promise<void>) | undefined;
  /** False when the answer goes out as one JSON body (no keep-alives): the handler must answer without waiting. */
  mayHold: boolean;
  /** The call's span (a no-op span when tracing is off): what the call stores carries its context. */
  span: Span;
}

/** One form elicitation of an `input_required` answer. */
export interface FormElicitation {
  message: string;
  requestedSchema: Record<string, unknown>;
  _meta?: Record<string, unknown>;
}

/**
 * A tool's answer to a 2026-07-28 call that needs input from the agent first: the client answers
 * the elicitations and retries the same call with the answers and `requestState`.
 */
export class InputRequired {
  constructor(
    readonly elicitations: Readonly<Record<string, FormElicitation>>,
    readonly requestState: string,
  ) {}
}

/** What a tool's `holds` function sees of a 2026-07-28 call before it is dispatched. */
interface HoldingCall {
  agentId: string;
  args: Record<string, unknown>;
  /** How many answers the call carries (a multi round-trip retry), 0 for a first call. */
  answers: number;
}

export interface ToolDefinition {
  name: string;
  title?: string;
  description: string;
  /** JSON Schema advertised in tools/list; the handler validates its arguments itself (see libs/protocol). */
  inputSchema: Record<string, unknown>;
  /**
   * The call may wait a long time (long poll, elicit): its 2026-07-28 answer is streamed (SSE with
   * keep-alives) so bytes keep flowing. A function decides per call: false when the answer is ready
   * now, and the cheaper single JSON body is used; the handler then sees `mayHold: false`.
   */
  holds?: boolean | ((call: HoldingCall) => Promise<boolean>);
  /**
   * The longest a call with these arguments can hold, ms. A 2026-07-28 call that cannot hold longer
   * than the keep-alive interval (and asked for no progress) is answered in one JSON body and holds
   * there: a stream would carry no keep-alive before it ends either.
   */
  holdsAtMostMs?: (args: Record<string, unknown>) => number;
  handler(args: unknown, context: ToolCallContext): Promise<Record<string, unknown> | InputRequired>;
}

export interface ToolHostHooks {
  /** Maps an error that is not a ToolError (store down, a bug) to the ToolError the agent sees. */
  mapError(error: unknown, tool: string, agentId: string, span?: Span): ToolError;
  onCall?(tool: string, outcome: string, agentId: string): void;
}

export interface ToolServerInfo {
  name: string;
  version: string;
  instructions?: string;
}

/** Builds an MCP server (SDK v2, either generation) exposing `tools` to one authenticated agent. */
export function createToolServer(info: ToolServerInfo, tools: readonly ToolDefinition[], agentId: string, hooks: ToolHostHooks, options: { mayHold: boolean } = { mayHold: true }): Server {
  const server = new Server({ name: info.name, version: info.version }, { capabilities: { tools: {} }, jsonSchemaValidator: sharedSchemaValidator, ...(info.instructions ? { instructions: info.instructions } : {}) });
  const byName = new Map(tools.map((tool) => [tool.name, tool]));

  server.setRequestHandler('tools/list', async () => ({
    tools: tools.map((tool) => ({
      name: tool.name,
      ...(tool.title ? { title: tool.title } : {}),
      description: tool.description,
      inputSchema: tool.inputSchema as { type: 'object' },
    })),
  }));

  server.setRequestHandler('tools/call', async (request, ctx): Promise<CallToolResult | InputRequiredResult> => {
    const tool = byName.get(request.params.name);
    if (!tool) {
      // The name comes from the client: the metric gets a fixed label, not the name.
      const error = new ToolError('INVALID_ARGUMENT', `there is no tool named "${request.params.name.slice(0, 64)}"; available tools: ${[...byName.keys()].join(', ')}.`);
      hooks.onCall?.('unknown', error.code, agentId);
      return error.toToolResult();
    }
    const envelope = ctx.mcpReq.envelope as Record<string, unknown> | undefined;
    const modern = typeof envelope?.[PROTOCOL_VERSION_META_KEY] === 'string';
    const capabilities = (modern ? envelope?.[CLIENT_CAPABILITIES_META_KEY] : server.getClientCapabilities()) as ClientCapabilities | undefined;
    const progressToken = ctx.mcpReq._meta?.progressToken;
    const reportProgress =
      progressToken === undefined
        ? undefined
        : (progress: number, total?: number, message?: string) =>
            ctx.mcpReq.notify({
              method: 'notifications/progress',
              params: { progressToken, progress, ...(total !== undefined ? { total } : {}), ...(message !== undefined ? { message } : {}) },
            });
    const requestState = ctx.mcpReq.requestState<unknown>();
    const generation: McpGeneration = modern ? '2026-07-28' : '2025-11-25';
    const attributes = {
      'mcp.method.name': 'tools/call',
      'mcp.protocol.version': generation,
      'gen_ai.tool.name': tool.name,
      'agentbridge.agent.id': agentId,
      ...(ctx.sessionId ? { 'mcp.session.id': ctx.sessionId } : {}),
    };
    // The span is the root of a message's trace when the call sends one: the envelope carries its context.
    return withSpan(`tools/call ${tool.name}`, { kind: SpanKind.SERVER, attributes }, async (span) => {
      try {
        const result = await tool.handler(request.params.arguments, {
          agentId,
          sessionId: ctx.sessionId,
          signal: ctx.mcpReq.signal,
          generation,
          elicitation: declaredElicitation(capabilities),
          inputResponses: ctx.mcpReq.inputResponses,
          requestState: requestState === undefined ? undefined : String(requestState),
          reportProgress,
          mayHold: options.mayHold,
          span,
        });
        if (result instanceof InputRequired) {
          hooks.onCall?.(tool.name, 'input_required', agentId);
          const inputRequests = Object.fromEntries(Object.entries(result.elicitations).map(([key, form]) => [key, inputRequired.elicit({ mode: 'form', ...form } as never)]));
          return inputRequired({ inputRequests, requestState: result.requestState });
        }
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

export function declaredElicitation(capabilities: ClientCapabilities | undefined): DeclaredElicitation {
  const declared = capabilities?.elicitation as { form?: unknown; url?: unknown } | undefined;
  if (declared === undefined || declared === null) return { form: false, url: false };
  return { form: declared.form !== undefined || declared.url === undefined, url: declared.url !== undefined };
}

export interface StatelessMcpOptions {
  info: ToolServerInfo;
  tools: readonly ToolDefinition[];
  hooks: ToolHostHooks;
  /** `stateless`: 2025-era requests are served too, each by a fresh server (no sessions); `reject`: 2026-07-28 only. */
  legacy: 'stateless' | 'reject';
  /** SSE keep-alive comments on streamed answers (holding calls), so proxies do not cut idle ones. */
  keepAliveMs: number;
  onError?: (error: Error) => void;
}

/**
 * Serves MCP requests statelessly with the SDK v2 entry: 2026-07-28 requests (and, with
 * `legacy: 'stateless'`, 2025-era ones) by a fresh server per request, so any replica serves any
 * agent, including `server/discover`. A 2026 call that may wait (a tool that holds, unless its
 * `holds` says the answer is ready) is answered on an SSE stream with keep-alives; every other
 * request in a single JSON body, the cheaper form. 2025-era requests are streamed by the SDK's
 * stateless leg either way.
 */
export function statelessMcpServing(options: StatelessMcpOptions): (request: IncomingMessage, response: ServerResponse, body: unknown, agentId: string) => Promise<void> {
  const holding = new Map(options.tools.filter((tool) => tool.holds).map((tool) => [tool.name, tool]));
  // A 2025-era request on the `stateless` leg is always streamed by the SDK: it may hold either way.
  const factory = (streamed: boolean) => (ctx: McpRequestContext) => createToolServer(options.info, options.tools, ctx.authInfo!.clientId, options.hooks, { mayHold: streamed || ctx.era === 'legacy' });
  const common = { legacy: options.legacy, keepAliveMs: options.keepAliveMs, ...(options.onError ? { onerror: options.onError } : {}) };
  const handlers: Record<Answering, ReturnType<typeof toNodeHandler>> = {
    stream: toNodeHandler(createMcpHandler(factory(true), { ...common, responseMode: 'sse' })),
    // 'auto': one JSON body, unless the handler sends something before its result (then SSE).
    'short-hold': toNodeHandler(createMcpHandler(factory(true), { ...common, responseMode: 'auto' })),
    now: toNodeHandler(createMcpHandler(factory(false), { ...common, responseMode: 'auto' })),
  };
  return async (request, response, body, agentId) => {
    if (isListenRequest(body)) return refuseListen(response, body);
    // Authentication happened before: the SDK passes `auth` through to the factory as authInfo.
    (request as IncomingMessage & { auth?: unknown }).auth = { token: '', clientId: agentId, scopes: [] };
    await handlers[await answering(body, agentId, holding, options.keepAliveMs)](request, response, body);
  };
}

/**
 * How a request is answered: `stream` (SSE with keep-alives; it may hold), `short-hold` (one JSON
 * body; it may hold, but not beyond the keep-alive interval), `now` (one JSON body; it does not wait).
 */
type Answering = 'stream' | 'short-hold' | 'now';

/**
 * `subscriptions/listen` (2026-07-28) opens a stream that stays open for change notifications. The
 * bridge publishes none (its tools never change), and the SDK entry would hold up to 1024 such
 * streams for all agents together, so one agent could take them all: it is refused up front.
 */
function isListenRequest(body: unknown): body is { id?: unknown } {
  return typeof body === 'object' && body !== null && !Array.isArray(body) && (body as { method?: unknown }).method === 'subscriptions/listen';
}

function refuseListen(response: ServerResponse, body: { id?: unknown }): void {
  const message = 'subscriptions/listen is not offered: agent-bridge publishes no change notifications (its tools do not change). Call tools/list once.';
  response.writeHead(200, { 'content-type': 'application/json' });
  response.end(JSON.stringify({ jsonrpc: '2.0', id: body.id ?? null, error: { code: -32601, message } }));
}

/**
 * How a request is answered. A call of a holding tool is streamed unless it cannot hold beyond the
 * keep-alive interval (its `holdsAtMostMs`, and no progress asked for: one JSON body that holds), or
 * its `holds` says the answer is ready (one JSON body that does not wait).
 */
async function answering(body: unknown, agentId: string, holding: ReadonlyMap<string, ToolDefinition>, keepAliveMs: number): Promise<Answering> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'now';
  const message = body as { method?: unknown; params?: { name?: unknown; arguments?: unknown; inputResponses?: unknown; _meta?: { progressToken?: unknown } } };
  if (message.method !== 'tools/call' || typeof message.params?.name !== 'string') return 'now';
  const tool = holding.get(message.params.name);
  if (!tool) return 'now';
  // A 2025-era request is streamed by the SDK's stateless leg whichever handler takes it.
  if (modernRequestElicitation(body) === undefined) return 'stream';
  const args = typeof message.params.arguments === 'object' && message.params.arguments !== null ? (message.params.arguments as Record<string, unknown>) : {};
  if (tool.holdsAtMostMs && message.params._meta?.progressToken === undefined && tool.holdsAtMostMs(args) <= keepAliveMs) return 'short-hold';
  if (typeof tool.holds !== 'function') return 'stream';
  const answers = typeof message.params.inputResponses === 'object' && message.params.inputResponses !== null ? Object.keys(message.params.inputResponses).length : 0;
  // When the check cannot be made (store down), stream: always safe.
  return (await tool.holds({ agentId, args, answers }).catch(() => true)) ? 'stream' : 'now';
}

/**
 * The elicitation support a 2026-07-28 request declares in its `params._meta` envelope, or
 * undefined for a request that carries no protocol version there (a 2025-era request).
 */
export function modernRequestElicitation(body: unknown): DeclaredElicitation | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const meta = (body as { params?: { _meta?: Record<string, unknown> } }).params?._meta;
  if (typeof meta !== 'object' || meta === null || !(PROTOCOL_VERSION_META_KEY in meta)) return undefined;
  return declaredElicitation(meta[CLIENT_CAPABILITIES_META_KEY] as ClientCapabilities | undefined);
}
