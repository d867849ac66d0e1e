/**
 * A 2026-07-28 agent for the e2e tests: the SDK v2 client pinned to 2026-07-28 (no session), which
 * answers the elicitations of an `input_required` round with its `elicitation/create` handler and
 * retries the call by itself. `run()` loops wait_for_messages the way a real agent would.
 */
import { Client, StreamableHTTPClientTransport, type CallToolResult, type ElicitRequestParams, type ElicitResult } from '@modelcontextprotocol/client';
import { connectAgent } from '../index.js';
import { MESSAGE_META_KEY, type LegacyMessage, type MessageMeta } from '@agent-bridge/protocol';

export interface RoundElicitation {
  message: string;
  requestedSchema: Record<string, unknown>;
  meta: MessageMeta | undefined;
  receivedAt: number;
}

export interface StatelessAgentOptions {
  /** Declare the elicitation (form) capability (default true). */
  elicitation?: boolean;
  answer?: (request: RoundElicitation) => Promise<ElicitResult> | ElicitResult;
  /** Called with the messages of every wait_for_messages result (the poll lane: legacy-routed and fallbacks). */
  onPolled?: (messages: LegacyMessage[]) => void;
}

export interface StatelessAgent {
  readonly client: Client;
  /** Every elicitation received, in order. */
  readonly received: RoundElicitation[];
  /** Every wait_for_messages result, in order. */
  readonly results: Array<Record<string, unknown>>;
  /** Every failed wait_for_messages call of run() (the loop goes on after one). */
  readonly errors: string[];
  call(name: string, args?: Record<string, unknown>): Promise<CallToolResult>;
  callJson<T = Record<string, unknown>>(name: string, args?: Record<string, unknown>): Promise<T>;
  /** Loops wait_for_messages (timeout_ms as given) until stop(). */
  run(timeoutMs?: number): void;
  stop(): Promise<void>;
}

export async function connectStateless(url: string, token: string, name: string, options: StatelessAgentOptions = {}): Promise<StatelessAgent> {
  const received: RoundElicitation[] = [];
  const results: Array<Record<string, unknown>> = [];
  const errors: string[] = [];
  const answer = options.answer ?? (() => ({ action: 'accept' as const, content: { response: 'ok' } }));
  const agent = await connectAgent({
    url,
    token,
    name,
    generation: '2026-07-28',
    ...(options.elicitation === false
      ? {}
      : {
          onElicitation: async (params: ElicitRequestParams) => {
            const form = params as { message: string; requestedSchema?: Record<string, unknown>; _meta?: Record<string, unknown> };
            const item: RoundElicitation = { message: form.message, requestedSchema: form.requestedSchema ?? {}, meta: form._meta?.[MESSAGE_META_KEY] as MessageMeta | undefined, receivedAt: Date.now() };
            received.push(item);
            return answer(item);
          },
        }),
  });
  const client = agent.client;
  const call = (tool: string, args: Record<string, unknown> = {}) => agent.callTool(tool, args);
  const callJson = <T>(tool: string, args: Record<string, unknown> = {}) => agent.callToolJson<T>(tool, args);
  let running: Promise<void> | undefined;
  let stopping = false;
  return {
    client,
    received,
    results,
    errors,
    call,
    callJson,
    run(timeoutMs = 5_000) {
      running = (async () => {
        let cursor: string | undefined;
        while (!stopping) {
          const result = await callJson<Record<string, unknown>>('wait_for_messages', { timeout_ms: timeoutMs, ...(cursor ? { cursor } : {}) }).catch((error: unknown) => {
            if (!stopping) errors.push((error as Error).message);
            return undefined;
          });
          if (stopping) return;
          if (!result) continue;
          results.push(result);
          options.onPolled?.((result.messages as LegacyMessage[] | undefined) ?? []);
          cursor = result.cursor as string;
        }
      })();
    },
    async stop() {
      stopping = true;
      await agent.close().catch(() => undefined);
      await running?.catch(() => undefined);
    },
  };
}

/**
 * A 2026-07-28 client in manual mode: it sees the `input_required` answer itself and retries with
 * whatever `requestState` and `inputResponses` a test gives (tampered, expired, another agent's).
 */
export interface ManualRoundClient {
  readonly client: Client;
  /** tools/call wait_for_messages; returns the raw result (input_required or final). */
  wait(args: Record<string, unknown>, retry?: { requestState: string; inputResponses: Record<string, unknown> }): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

export async function connectManual(url: string, token: string, name: string, options: { elicitation?: boolean } = {}): Promise<ManualRoundClient> {
  const client = new Client(
    { name, version: '1.0.0' },
    {
      capabilities: options.elicitation === false ? {} : { elicitation: { form: {} } },
      versionNegotiation: { mode: { pin: '2026-07-28' } },
      inputRequired: { autoFulfill: false },
    },
  );
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  return {
    client,
    async wait(args, retry) {
      const params = { name: 'wait_for_messages', arguments: args, ...(retry ?? {}) };
      return (await client.request({ method: 'tools/call', params }, { allowInputRequired: true })) as unknown as Record<string, unknown>;
    },
    close: () => client.close(),
  };
}
