/**
 * A real MCP client speaking Streamable HTTP to a service, as an agent would. Agents come in three
 * generations, and the bridge must serve all of them:
 *
 *   '2025-11-25' (default) the SDK v2 client in `legacy` mode: the plain 2025 initialize handshake,
 *                a session, a GET stream for server requests.
 *   '2026-07-28' the SDK v2 client pinned to 2026-07-28: stateless, no session and no GET stream; a
 *                server asks for input by answering `input_required`, and the client retries the call
 *                itself after asking its elicitation handler.
 *   'sdk1'       the SDK 1.x client: a foreign 2025-era client, as agents built on older SDKs are.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { CallToolResult, ClientCapabilities, ElicitRequestParams, ElicitResult, RequestOptions } from '@modelcontextprotocol/client';
import { connectSdk1, type Sdk1Client, type Sdk1Transport } from './mcp-client-sdk1.js';

export type ClientGeneration = '2025-11-25' | '2026-07-28' | 'sdk1';
/** The generations the SDK v2 client speaks. */
type V2Generation = Exclude<ClientGeneration, 'sdk1'>;

/** The raw SDK client of a generation: SDK v2's Client, or SDK 1.x's for 'sdk1'. */
type SdkClientOf<G extends ClientGeneration> = G extends 'sdk1' ? Sdk1Client : Client;
type SdkTransportOf<G extends ClientGeneration> = G extends 'sdk1' ? Sdk1Transport : StreamableHTTPClientTransport;

/** Per-call options every generation understands (SDK 1.x and v2 share them). */
export type AgentCallOptions = Pick<RequestOptions, 'onprogress' | 'signal' | 'timeout' | 'resetTimeoutOnProgress' | 'maxTotalTimeout'>;

/**
 * Answers one elicitation. On 2025-era connections it answers the server's `elicitation/create`
 * request; on 2026-07-28 each elicitation embedded in an `input_required` result, before the retry.
 */
export type ElicitationHandler = (params: ElicitRequestParams) => Promise<ElicitResult> | ElicitResult;

export interface ConnectAgentOptions<G extends ClientGeneration = ClientGeneration> {
  /** MCP endpoint, e.g. http://127.0.0.1:PORT/mcp */
  url: string;
  /** Bearer token sent as `Authorization: Bearer <token>` on every request. */
  token: string;
  /** clientInfo.name. Default 'testkit-agent'. */
  name?: string;
  /** clientInfo.version. Default '0.0.0'. */
  version?: string;
  /** Which client, speaking which protocol (see the module comment). Default '2025-11-25'. */
  generation?: G;
  /**
   * Capabilities advertised to the server (at initialize, or on every 2026-07-28 request). Default
   * `{}`, plus `elicitation: { form: {} }` when `onElicitation` is given and this declares none.
   */
  capabilities?: ClientCapabilities;
  /** Answers elicitations, whatever the generation. */
  onElicitation?: ElicitationHandler;
  /** Called with the raw SDK client before connect(), after `onElicitation` is registered. */
  setup?: (client: SdkClientOf<G>) => void;
  /** Extra headers merged with Authorization. */
  headers?: Record<string, string>;
}

/** An agent connected by connectAgent. Without a type argument: a client of either SDK v2 generation. */
export interface AgentClient<G extends ClientGeneration = V2Generation> {
  readonly generation: G;
  /** The raw SDK client. */
  readonly client: SdkClientOf<G>;
  readonly transport: SdkTransportOf<G>;
  /** Mcp-Session-Id assigned by the server (never on 2026-07-28, which has no sessions). */
  readonly sessionId: string | undefined;
  /** tools/call, returning the raw result (isError results are returned, not thrown). */
  callTool(name: string, args?: Record<string, unknown>, options?: AgentCallOptions): Promise<CallToolResult>;
  /**
   * tools/call returning `structuredContent`. Throws ToolCallError when the
   * result has `isError`, and a plain Error when there is no structuredContent.
   */
  callToolJson<T = Record<string, unknown>>(name: string, args?: Record<string, unknown>, options?: AgentCallOptions): Promise<T>;
  /** Send DELETE for the session (server may answer 405); nothing without a session. */
  terminateSession(): Promise<void>;
  /** Close the client and its transport (does not DELETE the session). */
  close(): Promise<void>;
}

/** An agent of any generation: what a helper that only calls tools should accept. */
export type AnyAgentClient = AgentClient<ClientGeneration>;

/** What connectAgent hands each generation's connector. */
export interface SessionSettings {
  url: URL;
  headers: Record<string, string>;
  info: { name: string; version: string };
}

/** What a generation's connector hands back: its raw client and transport, and the calls AgentClient needs. */
export interface ConnectedSession<C, T> {
  client: C;
  transport: T;
  callTool(name: string, args: Record<string, unknown>, options?: AgentCallOptions): Promise<CallToolResult>;
  sessionId(): string | undefined;
  terminateSession(): Promise<void>;
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

/** A handler is no use without the capability: servers only elicit from clients that declared it. */
function declaredCapabilities(capabilities: ClientCapabilities = {}, onElicitation: ElicitationHandler | undefined): ClientCapabilities {
  return onElicitation && !capabilities.elicitation ? { ...capabilities, elicitation: { form: {} } } : capabilities;
}

async function connectV2(
  generation: V2Generation,
  settings: SessionSettings,
  capabilities: ClientCapabilities,
  onElicitation: ElicitationHandler | undefined,
  setup: ((client: Client) => void) | undefined,
): Promise<ConnectedSession<Client, StreamableHTTPClientTransport>> {
  const client = new Client(settings.info, {
    capabilities,
    // 'legacy' is the plain 2025 initialize, no server/discover probe. The pin has no fallback: a
    // 2026 agent against a 2025-only endpoint fails at connect, it does not quietly speak 2025.
    versionNegotiation: { mode: generation === '2026-07-28' ? { pin: '2026-07-28' } : 'legacy' },
  });
  if (onElicitation) client.setRequestHandler('elicitation/create', async (request) => onElicitation(request.params));
  setup?.(client);
  const transport = new StreamableHTTPClientTransport(settings.url, { requestInit: { headers: settings.headers } });
  try {
    await client.connect(transport);
  } catch (err) {
    await client.close().catch(() => {});
    throw err;
  }
  return {
    client,
    transport,
    callTool: (name, args, options) => client.callTool({ name, arguments: args }, options),
    sessionId: () => transport.sessionId,
    terminateSession: () => transport.terminateSession(),
    close: () => client.close(),
  };
}

export async function connectAgent<G extends ClientGeneration = '2025-11-25'>(options: ConnectAgentOptions<G>): Promise<AgentClient<G>> {
  const generation: ClientGeneration = options.generation ?? '2025-11-25';
  const settings: SessionSettings = {
    url: new URL(options.url),
    headers: { ...options.headers, Authorization: `Bearer ${options.token}` },
    info: { name: options.name ?? 'testkit-agent', version: options.version ?? '0.0.0' },
  };
  const capabilities = declaredCapabilities(options.capabilities, options.onElicitation);
  // `setup` takes the client of generation G; which client that is, is only known at run time.
  const setup = options.setup as ((client: Client | Sdk1Client) => void) | undefined;
  const session: ConnectedSession<Client | Sdk1Client, StreamableHTTPClientTransport | Sdk1Transport> =
    generation === 'sdk1' ? await connectSdk1(settings, capabilities, options.onElicitation, setup) : await connectV2(generation, settings, capabilities, options.onElicitation, setup);

  const callTool = (name: string, args: Record<string, unknown> = {}, callOptions?: AgentCallOptions) => session.callTool(name, args, callOptions);
  const agent: AnyAgentClient = {
    generation,
    client: session.client,
    transport: session.transport,
    get sessionId() {
      return session.sessionId();
    },
    callTool,
    async callToolJson<T = Record<string, unknown>>(name: string, args: Record<string, unknown> = {}, callOptions?: AgentCallOptions): Promise<T> {
      const result = await callTool(name, args, callOptions);
      if (result.isError) {
        const { code, message } = parseToolError(result);
        throw new ToolCallError(code, message, name, result);
      }
      if (result.structuredContent === undefined) {
        throw new Error(`tool ${name} returned no structuredContent: ${JSON.stringify(result.content)}`);
      }
      return result.structuredContent as T;
    },
    terminateSession: () => session.terminateSession(),
    close: () => session.close(),
  };
  return agent as AgentClient<G>;
}
