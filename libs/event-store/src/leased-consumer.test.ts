import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startRedis, waitFor, type RedisServerHandle } from '@agent-bridge/testkit';
import { StoreError } from './errors.js';
import { LeasedConsumer, type LeasedStream, type ReadPhase } from './leased-consumer.js';
import { openEventStore, type OpenedEventStore } from './open.js';

let redisServer: RedisServerHandle;
let opened: OpenedEventStore;

before(async () => {
  redisServer = await startRedis();
  opened = await openEventStore({ url: redisServer.url, name: 'consumer-test', shardCount: 1, listen: 'lanes' });
});
after(async () => {
  await opened.close();
  await redisServer.cleanup();
});

/** A stream in memory: `pending` entries stay until handled, `fresh` ones move to pending when read. */
function memoryStream(overrides: Partial<LeasedStream<string>> = {}) {
  const state = { pending: [] as string[], fresh: [] as string[], handled: [] as string[], reads: [] as ReadPhase[], errors: 0, lost: 0 };
  const stream: LeasedStream<string> = {
    topic: 'test:topic',
    batchSize: 2,
    recheckMs: 5_000,
    prepare: async () => 'ready',
    read: async (phase, count) => {
      state.reads.push(phase);
      if (phase === 'pending') return state.pending.slice(0, count);
      const taken = state.fresh.splice(0, count);
      state.pending.push(...taken);
      return taken;
    },
    handle: async (entries) => {
      for (const entry of entries) {
        state.handled.push(entry);
        state.pending.splice(state.pending.indexOf(entry), 1);
      }
      return entries.length;
    },
    onLeaseLost: () => {
      state.lost++;
      return 'stop';
    },
    onError: () => {
      state.errors++;
    },
    ...overrides,
  };
  return { stream, state };
}

describe('LeasedConsumer', () => {
  test('finishes pending entries before reading new ones, and wakes on the doorbell', async () => {
    const { stream, state } = memoryStream();
    state.pending.push('p1', 'p2', 'p3');
    const stop = new AbortController();
    const running = new LeasedConsumer(stream, opened.doorbell, stop.signal).run();
    await waitFor(() => state.handled.length === 3, { timeoutMs: 2_000, description: 'the pending entries' });
    state.fresh.push('n1');
    opened.doorbell.ring('test:topic');
    await waitFor(() => state.handled.length === 4, { timeoutMs: 1_000, description: 'a ring to bring the new entry (the recheck is 5 s)' });
    assert.deepEqual(state.handled, ['p1', 'p2', 'p3', 'n1']);
    assert.equal(state.reads[0], 'pending');
    stop.abort();
    await running;
  });

  test('entries a batch did not finish are read again, pending first, before anything newer', async () => {
    let first = true;
    const { stream, state } = memoryStream({
      handle: async (entries) => {
        const done = first ? entries.slice(0, 1) : entries;
        first = false;
        for (const entry of done) {
          state.handled.push(entry);
          state.pending.splice(state.pending.indexOf(entry), 1);
        }
        return done.length;
      },
    });
    state.fresh.push('a', 'b', 'c', 'd');
    const stop = new AbortController();
    const running = new LeasedConsumer(stream, opened.doorbell, stop.signal).run();
    await waitFor(() => state.handled.length === 4, { timeoutMs: 2_000, description: 'every entry' });
    assert.deepEqual(state.handled, ['a', 'b', 'c', 'd'], 'b is finished before c is read');
    stop.abort();
    await running;
  });

  test('a failure backs off and re-reads pending entries; a lost lease ends the consumer', async () => {
    let failing = true;
    const { stream, state } = memoryStream({
      handle: async (entries) => {
        if (failing) {
          failing = false;
          throw new Error('redis hiccup');
        }
        if (entries.includes('poison')) throw new StoreError('LEASE_LOST', 'FENCED the push lease is no longer held');
        for (const entry of entries) {
          state.handled.push(entry);
          state.pending.splice(state.pending.indexOf(entry), 1);
        }
        return entries.length;
      },
    });
    state.fresh.push('a');
    const stop = new AbortController();
    const running = new LeasedConsumer(stream, opened.doorbell, stop.signal).run();
    await waitFor(() => state.handled.length === 1, { timeoutMs: 3_000, description: 'the retry' });
    assert.equal(state.errors, 1);
    state.fresh.push('poison');
    opened.doorbell.ring('test:topic');
    await running; // returns by itself: onLeaseLost said stop
    assert.equal(state.lost, 1);
    assert.equal(stop.signal.aborted, false);
  });

  test("'wait' from prepare reads nothing until the next ring", async () => {
    let ready = false;
    const { stream, state } = memoryStream({ prepare: async () => (ready ? 'ready' : 'wait') });
    state.fresh.push('a');
    const stop = new AbortController();
    const running = new LeasedConsumer(stream, opened.doorbell, stop.signal).run();
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(state.reads, []);
    ready = true;
    opened.doorbell.ring('test:topic');
    await waitFor(() => state.handled.length === 1, { timeoutMs: 1_000, description: 'the read after the ring' });
    stop.abort();
    await running;
  });
});
