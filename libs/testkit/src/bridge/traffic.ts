/**
 * Agents that keep sending and receiving until stopped, as real agents do, recording every call
 * (when it started and ended, how long it was allowed to hold) and every message they got. Each
 * does what docs/agent-guide.md tells an agent to do when a replica goes away: retry a failed call
 * (a send with the same idempotency key), and on a 2025 session start a new session.
 */
import { connectAgent, sleep, ToolCallError, type AnyAgentClient } from '../index.js';

export type TrafficKind = 'legacy-sdk1' | 'session-sdk1' | 'stateless-2026';

interface CallRecord {
  agent: string;
  tool: string;
  startedAt: number;
  endedAt: number;
  /** How long the call was allowed to hold (its timeout_ms); 0 for calls that never wait. */
  holdMs: number;
  ok: boolean;
  error?: string;
}

export interface TrafficAgent {
  readonly name: string;
  readonly kind: TrafficKind;
  /** How many times each message tag (`#from:k#`) reached this agent. */
  readonly received: Map<string, number>;
  /** When each tag first reached this agent. */
  readonly firstReceivedAt: Map<string, number>;
  /** Each sent tag, with the message id every successful attempt returned and when it was accepted. */
  readonly sent: Map<string, { to: string; messageIds: Set<string>; acceptedAt: number }>;
  readonly calls: CallRecord[];
  /** New sessions opened after the first (session-sdk1 only). */
  reconnects: number;
  /** Stops sending (a message being sent is finished first); receiving goes on. */
  stopSending(): Promise<void>;
  close(): Promise<void>;
}

const TAG = /#[a-z0-9-]+:\d+#/g;

export async function startTrafficAgent(options: { name: string; kind: TrafficKind; url: string; token: string; peers: string[]; sendIntervalMs: number; pollHoldMs: number }): Promise<TrafficAgent> {
  const { name, kind } = options;
  const received = new Map<string, number>();
  const firstReceivedAt = new Map<string, number>();
  const sent: TrafficAgent['sent'] = new Map();
  const calls: CallRecord[] = [];
  let sending = true;
  let closed = false;

  const note = (text: string) => {
    for (const tag of text.match(TAG) ?? []) {
      received.set(tag, (received.get(tag) ?? 0) + 1);
      if (!firstReceivedAt.has(tag)) firstReceivedAt.set(tag, Date.now());
    }
  };
  const connect = () =>
    connectAgent({
      url: options.url,
      token: options.token,
      name,
      generation: kind === 'stateless-2026' ? '2026-07-28' : 'sdk1',
      ...(kind === 'legacy-sdk1'
        ? {}
        : {
            capabilities: { elicitation: {} },
            onElicitation: (params) => {
              note(params.message);
              return { action: 'accept' as const, content: {} };
            },
          }),
    }) as Promise<AnyAgentClient>;

  let client = await connect();
  let reconnecting: Promise<void> | undefined;
  const agent: TrafficAgent = {
    name,
    kind,
    received,
    firstReceivedAt,
    sent,
    calls,
    reconnects: 0,
    stopSending: async () => {
      sending = false;
      await sendLoop;
    },
    close: async () => {
      sending = false;
      closed = true;
      await Promise.all([sendLoop, receiveLoop]);
      await client.close().catch(() => undefined);
    },
  };

  /** A 2025 session whose replica went away (404, SHUTTING_DOWN, a broken stream) is replaced by a new one. */
  async function renewSession(): Promise<void> {
    if (kind !== 'session-sdk1' || closed) return;
    reconnecting ??= (async () => {
      await client.close().catch(() => undefined);
      for (;;) {
        try {
          client = await connect();
          agent.reconnects++;
          return;
        } catch {
          await sleep(100);
        }
      }
    })().finally(() => (reconnecting = undefined));
    await reconnecting;
  }

  async function call<T>(tool: string, args: Record<string, unknown>, holdMs: number): Promise<T> {
    await reconnecting;
    const startedAt = Date.now();
    try {
      const result = await client.callToolJson<T>(tool, args);
      calls.push({ agent: name, tool, startedAt, endedAt: Date.now(), holdMs, ok: true });
      return result;
    } catch (error) {
      calls.push({ agent: name, tool, startedAt, endedAt: Date.now(), holdMs, ok: false, error: describe(error) });
      const retryable = error instanceof ToolCallError ? error.code === 'SHUTTING_DOWN' || error.code === 'UNAVAILABLE' : true;
      if (retryable) await renewSession();
      throw error;
    }
  }

  const sendLoop = (async () => {
    for (let k = 0; sending; k++) {
      const to = options.peers[k % options.peers.length]!;
      const tag = `#${name}:${k}#`;
      const record = { to, messageIds: new Set<string>(), acceptedAt: 0 };
      sent.set(tag, record);
      // Retried with the same idempotency key until accepted: a retry never sends it twice.
      for (;;) {
        try {
          const result = await call<{ message_id: string }>('send_message', { to, content: `${tag} from ${name}`, idempotency_key: `${name}-${k}` }, 0);
          record.messageIds.add(result.message_id);
          record.acceptedAt = Date.now();
          break;
        } catch (error) {
          const retryAfter = error instanceof ToolCallError ? Number((error.result.structuredContent as { error?: { details?: { retryAfterMs?: number } } }).error?.details?.retryAfterMs ?? 0) : 0;
          await sleep(Math.max(100, retryAfter));
        }
      }
      await sleep(options.sendIntervalMs);
    }
  })();

  const receiveLoop = (async () => {
    let cursor: string | undefined;
    while (!closed) {
      // A session is pushed to; it looks for fallbacks between pushes, as the agent guide says.
      const holdMs = kind === 'session-sdk1' ? 0 : options.pollHoldMs;
      try {
        const page = await call<{ messages: Array<{ content: string }>; cursor: string }>('wait_for_messages', { ...(cursor ? { cursor } : {}), timeout_ms: holdMs, max_messages: 100 }, holdMs);
        for (const message of page.messages) note(message.content);
        cursor = page.cursor;
        if (kind === 'session-sdk1') await sleep(300);
      } catch {
        await sleep(100);
      }
    }
  })();

  return agent;
}

function describe(error: unknown): string {
  if (error instanceof ToolCallError) return error.code;
  return error instanceof Error ? error.message.slice(0, 120) : String(error);
}
