/**
 * Helpers for the tests of modern (elicitation) agents: presence and ledger waits, the normalized
 * communication history of a message, and a raw fetch-based MCP session whose GET stream a test
 * can cut at any moment (the SDK client hides that).
 */
import assert from 'node:assert/strict';
import type { LedgerRecord } from '@agent-bridge/event-store';
import { waitFor } from '../index.js';
import type { Bridge, PolledMessage, PollResult } from './bridge.js';

/** The elicitation endpoint's wait_for_messages result: the legacy shape plus a push-delivery notice. */
export interface ModernPollResult extends PollResult {
  notice?: string;
}

/** Waits until the agent holds a session whose client declared elicitation and whose GET stream is open. */
export async function waitForPushReady(bridge: Bridge, agent: string, timeoutMs = 10_000): Promise<void> {
  await waitFor(async () => (await bridge.store.store.readPresence([agent])).get(agent)?.some((s) => s.elicitation.form && s.streamOpen) ?? false, {
    timeoutMs,
    description: `${agent} to be present with an elicitation-capable session and an open stream`,
  });
}

/** Waits until the agent has a presence record matching `predicate` for every session (at least one). */
export async function waitForPresence(bridge: Bridge, agent: string, predicate: (sessions: Array<{ elicitation: { form: boolean }; streamOpen: boolean }>) => boolean, description: string, timeoutMs = 10_000): Promise<void> {
  await waitFor(async () => predicate((await bridge.store.store.readPresence([agent])).get(agent) ?? []), { timeoutMs, description });
}

export async function ledger(bridge: Bridge, messageId: string, target: string): Promise<LedgerRecord> {
  const record = await bridge.store.store.getMessage(messageId, target);
  assert.ok(record, `the ledger has a record of ${messageId} for ${target}`);
  return record;
}

/** Waits until the ledger record of a message satisfies `predicate`; returns it. */
export async function waitForLedger(bridge: Bridge, messageId: string, target: string, predicate: (record: LedgerRecord) => boolean, description: string, timeoutMs = 15_000): Promise<LedgerRecord> {
  let last: LedgerRecord | null = null;
  try {
    await waitFor(
      async () => {
        last = await bridge.store.store.getMessage(messageId, target);
        return last !== null && predicate(last);
      },
      { timeoutMs, intervalMs: 50, description },
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; last ledger record: ${JSON.stringify(last)}`, { cause: error });
  }
  return last!;
}

/** The normalized communication events (routing decisions) recorded for one message, oldest first. */
export async function routingHistory(bridge: Bridge, target: string, messageId: string): Promise<Array<Record<string, unknown>>> {
  const events = await bridge.store.store.readCommunicationLog(bridge.store.keys.shardOf(target), 10_000);
  return events.filter((event) => event.data.message_id === messageId).map((event) => event.data);
}

/** Counts how often each message id occurs in a list of polled messages. */
export function occurrences(messages: readonly PolledMessage[], messageId: string): number {
  return messages.filter((m) => m.message_id === messageId).length;
}

// ------------------------------------------------------------------ raw MCP over Streamable HTTP

export interface JsonRpcMessage {
  jsonrpc: '2.0';
  id?: string | number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
}

/** Splits an SSE body into JSON-RPC messages as they arrive. */
async function* sseMessages(body: ReadableStream<Uint8Array>): AsyncGenerator<JsonRpcMessage> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, '\n');
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block
          .split('\n')
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).replace(/^ /, ''))
          .join('\n');
        if (data) yield JSON.parse(data) as JsonRpcMessage;
      }
    }
  } finally {
    reader.releaseLock();
  }
}

export interface RawStream {
  /** Server-to-client messages received on the GET stream, in order. */
  readonly messages: JsonRpcMessage[];
  /** Resolves with the first message matching `predicate` (already received ones count). */
  next(predicate: (message: JsonRpcMessage) => boolean, timeoutMs?: number): Promise<JsonRpcMessage>;
  /** Cuts the connection (the client vanishes: no DELETE, no answer). */
  destroy(): void;
}

/**
 * A bare MCP session over fetch: initialize, notifications/initialized, POSTed requests (JSON or SSE
 * answers), and a GET stream it can destroy mid-elicitation.
 */
export class RawMcpSession {
  private nextId = 1;

  private constructor(
    readonly url: string,
    readonly token: string,
    readonly sessionId: string,
    readonly protocolVersion: string,
  ) {}

  static async open(url: string, token: string, capabilities: Record<string, unknown> = { elicitation: {} }): Promise<RawMcpSession> {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}` },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities, clientInfo: { name: 'raw-e2e', version: '0.0.0' } },
      }),
    });
    assert.equal(response.status, 200, `initialize answered ${response.status}`);
    const sessionId = response.headers.get('mcp-session-id');
    assert.ok(sessionId, 'the server assigned a session id');
    const result = await readResponse(response, 0);
    const version = String(result.result?.protocolVersion ?? '2025-06-18');
    const session = new RawMcpSession(url, token, sessionId, version);
    await session.post({ jsonrpc: '2.0', method: 'notifications/initialized' });
    return session;
  }

  private headers(): Record<string, string> {
    return {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${this.token}`,
      'mcp-session-id': this.sessionId,
      'mcp-protocol-version': this.protocolVersion,
    };
  }

  /** POSTs one JSON-RPC message; returns the raw response. */
  async post(message: JsonRpcMessage): Promise<Response> {
    const response = await fetch(this.url, { method: 'POST', headers: this.headers(), body: JSON.stringify(message) });
    if (message.id === undefined) await response.body?.cancel();
    return response;
  }

  async request(method: string, params: Record<string, unknown> = {}): Promise<JsonRpcMessage> {
    const id = this.nextId++;
    const response = await this.post({ jsonrpc: '2.0', id, method, params });
    assert.equal(response.status, 200, `${method} answered HTTP ${response.status}`);
    return readResponse(response, id);
  }

  /** Answers a server-to-client request (e.g. an elicitation) by POSTing the JSON-RPC response. */
  async respond(id: string | number, result: Record<string, unknown>): Promise<number> {
    const response = await fetch(this.url, { method: 'POST', headers: this.headers(), body: JSON.stringify({ jsonrpc: '2.0', id, result }) });
    await response.body?.cancel();
    return response.status;
  }

  /** tools/call; returns structuredContent (throws on a tool error). */
  async callToolJson<T>(name: string, args: Record<string, unknown>): Promise<T> {
    const reply = await this.request('tools/call', { name, arguments: args });
    const result = reply.result as { isError?: boolean; structuredContent?: unknown; content?: unknown } | undefined;
    assert.ok(result && !result.isError, `${name} failed: ${JSON.stringify(reply)}`);
    return result.structuredContent as T;
  }

  /** Opens the GET stream (where elicitations arrive). */
  async openStream(): Promise<RawStream> {
    const controller = new AbortController();
    const headers = {
      accept: 'text/event-stream',
      authorization: `Bearer ${this.token}`,
      'mcp-session-id': this.sessionId,
      'mcp-protocol-version': this.protocolVersion,
    };
    const response = await fetch(this.url, { method: 'GET', headers, signal: controller.signal });
    assert.equal(response.status, 200, `GET stream answered ${response.status}`);
    assert.ok(response.body);
    const messages: JsonRpcMessage[] = [];
    const listeners = new Set<() => void>();
    void (async () => {
      try {
        for await (const message of sseMessages(response.body!)) {
          messages.push(message);
          for (const listener of listeners) listener();
        }
      } catch {
        // destroyed
      }
    })();
    return {
      messages,
      next(predicate, timeoutMs = 15_000) {
        return new Promise((resolve, reject) => {
          const check = () => {
            const found = messages.find(predicate);
            if (!found) return false;
            listeners.delete(check);
            clearTimeout(timer);
            resolve(found);
            return true;
          };
          const timer = setTimeout(() => {
            listeners.delete(check);
            reject(new Error(`no matching message on the GET stream within ${timeoutMs} ms; got ${JSON.stringify(messages).slice(0, 500)}`));
          }, timeoutMs);
          if (!check()) listeners.add(check);
        });
      },
      destroy: () => controller.abort(),
    };
  }
}

/** Reads the answer to request `id`, whether the server replied with JSON or an SSE stream. */
async function readResponse(response: Response, id: string | number): Promise<JsonRpcMessage> {
  const type = response.headers.get('content-type') ?? '';
  if (type.includes('application/json')) return (await response.json()) as JsonRpcMessage;
  assert.ok(type.includes('text/event-stream') && response.body, `unexpected content-type ${type}`);
  let answer: JsonRpcMessage | undefined;
  for await (const message of sseMessages(response.body)) {
    if (message.id === id && (message.result !== undefined || message.error !== undefined)) {
      answer = message;
      break;
    }
  }
  if (answer) {
    await response.body.cancel().catch(() => undefined);
    return answer;
  }
  throw new Error(`the response stream ended without an answer to request ${id}`);
}
