/**
 * A real MCP SDK client speaking Streamable HTTP to a service, as an agent would.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { CallToolResult, ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';

export interface ConnectAgentOptions {
  /** MCP endpoint, e.g. http://127.0.0.1:PORT/mcp */
  url: string;
  /** Bearer token sent as `Authorization: Bearer <token>` on every request. */
  token: string;
  /** clientInfo.name. Default 'testkit-agent'. */
  name?: string;
  /** clientInfo.version. Default '0.0.0'. */
  version?: string;
  /** Capabilities advertised at initialize (e.g. `{ elicitation: {} }`). Default `{}`. */
  capabilities?: ClientCapabilities;
  /**
   * Called with the Client before connect(), e.g. to register request handlers
   * (`client.setRequestHandler(ElicitRequestSchema, ...)`).
   */
  setup?: (client: Client) => void;
  /** Extra headers merged with Authorization. */
  headers?: Record<string, string>;
}

export interface AgentClient {
  /** The raw SDK client. */
  readonly client: Client;
  readonly transport: StreamableHTTPClientTransport;
  /** Mcp-Session-Id assigned by the server (if any). */
  readonly sessionId: string | undefined;
  /** tools/call, returning the raw result (isError results are returned, not thrown). */
  callTool(name: string, args?: Record<string, unknown>, options?: RequestOptions): Promise<CallToolResult>;
  /**
   * tools/call returning `structuredContent`. Throws ToolCallError when the
   * result has `isError`, and a plain Error when there is no structuredContent.
   */
  callToolJson<T = Record<string, unknown>>(
    name: string,
    args?: Record<string, unknown>,
    options?: RequestOptions,
  ): Promise<T>;
  /** Send DELETE for the session (server may answer 405). */
  terminateSession(): Promise<void>;
  /** Close the client and its transport (does not DELETE the session). */
  close(): Promise<void>;
}

/** A tool call that returned `isError: true`. */
export class ToolCallError extends Error {
  override readonly name = 'ToolCallError';
  constructor(
    /** Machine-readable code, e.g. 'UNAUTHORIZED'; 'UNKNOWN' when none could be found. */
    readonly code: string,
    message: string,
    readonly toolName: string,
    readonly result: CallToolResult,
  ) {
    super(message);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Extract `{code, message}` from an isError result. Exported for tests. */
export function parseToolError(result: CallToolResult): { code: string; message: string } {
  const structured = result.structuredContent;
  if (isRecord(structured) && isRecord(structured.error)) {
    const { code, message } = structured.error;
    if (typeof code === 'string') {
      return { code, message: typeof message === 'string' ? message : code };
    }
  }
  const text = result.content
    .flatMap((c) => (c.type === 'text' ? [c.text] : []))
    .join('\n')
    .trim();
  const m = /^([A-Z][A-Z0-9_]*):\s*([\s\S]*)$/.exec(text);
  if (m?.[1] !== undefined) return { code: m[1], message: m[2] ?? '' };
  return { code: 'UNKNOWN', message: text || 'tool returned isError without details' };
}

export async function connectAgent(options: ConnectAgentOptions): Promise<AgentClient> {
  const client = new Client(
    { name: options.name ?? 'testkit-agent', version: options.version ?? '0.0.0' },
    { capabilities: options.capabilities ?? {} },
  );
  options.setup?.(client);
  const transport = new StreamableHTTPClientTransport(new URL(options.url), {
    requestInit: {
      headers: { ...options.headers, Authorization: `Bearer ${options.token}` },
    },
  });
  try {
    await client.connect(transport);
  } catch (err) {
    await client.close().catch(() => {});
    throw err;
  }

  const callTool = async (
    name: string,
    args: Record<string, unknown> = {},
    requestOptions?: RequestOptions,
  ): Promise<CallToolResult> => {
    // With the default result schema the SDK returns a CallToolResult (the
    // union in its signature includes the legacy `toolResult` shape).
    const result = await client.callTool({ name, arguments: args }, undefined, requestOptions);
    return result as CallToolResult;
  };

  return {
    client,
    transport,
    get sessionId() {
      return transport.sessionId;
    },
    callTool,
    async callToolJson<T = Record<string, unknown>>(
      name: string,
      args: Record<string, unknown> = {},
      requestOptions?: RequestOptions,
    ): Promise<T> {
      const result = await callTool(name, args, requestOptions);
      if (result.isError) {
        const { code, message } = parseToolError(result);
        throw new ToolCallError(code, message, name, result);
      }
      if (result.structuredContent === undefined) {
        throw new Error(`tool ${name} returned no structuredContent: ${JSON.stringify(result.content)}`);
      }
      return result.structuredContent as T;
    },
    terminateSession: () => transport.terminateSession(),
    close: () => client.close(),
  };
}
