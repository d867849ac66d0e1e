/**
 * Assertion helpers shared by the black-box tests: tool errors, "nothing was stored" snapshots of
 * the event store, and waiting for services to apply a flag snapshot.
 */
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { TOOL_ERROR_CODES, type ToolErrorCode } from '@agent-bridge/protocol';
import { waitFor, type AgentClient } from '../index.js';
import type { Bridge } from './bridge.js';

type CallToolResult = Awaited<ReturnType<AgentClient['callTool']>>;

export interface ToolErrorExpectation {
  /** The stable code the agent branches on. */
  code: ToolErrorCode;
  /** The sentence must say what to do: matched against the error message. */
  advice: RegExp;
  /** Strings the message must contain (e.g. the field it is about). */
  mentions?: readonly string[];
}

/**
 * Asserts `result` is an MCP tool error (isError: true, not a JSON-RPC failure) carrying the stable
 * code both in structuredContent.error and in the text people read, and an actionable sentence.
 * Returns the error message.
 */
export function assertToolError(result: CallToolResult, expected: ToolErrorExpectation): string {
  assert.equal(result.isError, true, `expected an isError tool result, got ${JSON.stringify(result).slice(0, 500)}`);
  const structured = result.structuredContent as { error?: { code?: unknown; message?: unknown } } | undefined;
  const error = structured?.error;
  assert.ok(error, `structuredContent.error is missing: ${JSON.stringify(result).slice(0, 500)}`);
  assert.equal(error.code, expected.code, `error code (message: ${String(error.message)})`);
  assert.ok(Object.hasOwn(TOOL_ERROR_CODES, error.code as string), `${String(error.code)} is one of the stable wire codes`);
  assert.equal(typeof error.message, 'string');
  const message = error.message as string;
  assert.ok(message.length > 10 && message.length < 1_000, `a sentence, not a dump: ${message.length} characters`);
  assert.match(message, expected.advice, 'the message says what to do');
  for (const text of expected.mentions ?? []) assert.ok(message.includes(text), `the message names ${JSON.stringify(text)}: ${message}`);
  const text = result.content.flatMap((c) => (c.type === 'text' ? [c.text] : [])).join('\n');
  assert.ok(text.startsWith(`${expected.code}: `), `text content starts with the code: ${text.slice(0, 200)}`);
  return message;
}

/** What the store holds: total keys, entries now in the shard events streams, entries ever appended to them. */
interface StoreSnapshot {
  dbsize: number;
  eventsLength: number;
  eventsAdded: number;
}

async function storeSnapshot(bridge: Bridge, redis: Redis): Promise<StoreSnapshot> {
  const shards = bridge.store.keys.allShards();
  const pipeline = redis.pipeline();
  pipeline.dbsize();
  for (const shard of shards) pipeline.xlen(bridge.store.keys.events(shard));
  const replies = (await pipeline.exec()) ?? [];
  for (const [error] of replies) if (error) throw error;
  // The legacy inventory's usage counters (usage:*) and the census's activity sets (activity:*) note
  // every call, refused ones too, and are written in batches a moment later: not what a call stores.
  const sightings = await Promise.all(['usage', 'activity'].map((kind) => redis.keys(`${bridge.store.keys.prefix}:*:${kind}:*`)));
  const dbsize = Number(replies[0]![1]) - sightings.flat().length;
  let eventsLength = 0;
  for (let i = 1; i < replies.length; i++) eventsLength += Number(replies[i]![1]);
  // XLEN alone can hide an append that a trim undid; entries-added only ever grows.
  let eventsAdded = 0;
  for (const shard of shards) {
    const key = bridge.store.keys.events(shard);
    if ((await redis.exists(key)) === 0) continue;
    const info = (await redis.call('XINFO', 'STREAM', key)) as unknown[];
    const at = info.indexOf('entries-added');
    assert.ok(at >= 0, 'XINFO STREAM reports entries-added (Redis 7+)');
    eventsAdded += Number(info[at + 1]);
  }
  return { dbsize, eventsLength, eventsAdded };
}

/**
 * A snapshot taken once the store is quiet (two reads 150 ms apart agree), so background work
 * that finishes an earlier accepted message (routing, delivery) is not mistaken for the effect
 * of the call under test.
 */
async function quietSnapshot(bridge: Bridge, redis: Redis): Promise<StoreSnapshot> {
  let previous = await storeSnapshot(bridge, redis);
  let stable: StoreSnapshot | undefined;
  await waitFor(
    async () => {
      const current = await storeSnapshot(bridge, redis);
      const same = JSON.stringify(current) === JSON.stringify(previous);
      previous = current;
      if (same) stable = current;
      return same;
    },
    { timeoutMs: 10_000, intervalMs: 150, description: 'the event store to be quiet' },
  );
  return stable!;
}

/** Runs `action` and asserts it stored nothing: same DBSIZE, same events entries (held and ever added). */
export async function assertStoresNothing<T>(bridge: Bridge, redis: Redis, action: () => Promise<T>): Promise<T> {
  const before = await quietSnapshot(bridge, redis);
  const result = await action();
  // Give a wrongly stored message the time to be routed (which would add lane and mailbox keys).
  await new Promise((resolve) => setTimeout(resolve, 100));
  const after = await storeSnapshot(bridge, redis);
  assert.deepEqual(after, before, 'the store is unchanged (DBSIZE, XLEN and entries-added of every shard events stream)');
  return result;
}

/** The base http://host:port of each legacy-poll replica. */
export function legacyBaseUrls(bridge: Bridge): string[] {
  return bridge.legacyUrls.map((url) => url.replace(/\/mcp$/, ''));
}

/** Waits (bounded) until every legacy-poll replica reports, on /readyz, that it applies `version` or newer. */
export async function waitForLegacyFlags(bridge: Bridge, version: number, timeoutMs = 5_000): Promise<void> {
  for (const base of legacyBaseUrls(bridge)) {
    await waitFor(
      async () => {
        const response = await fetch(`${base}/readyz`);
        const body = (await response.json()) as { flagsVersion?: number };
        return (body.flagsVersion ?? -1) >= version;
      },
      { timeoutMs, intervalMs: 20, description: `${base} to apply flag snapshot version ${version}` },
    );
  }
}
