import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { doorbellTopics, openEventStore, type OpenedEventStore } from '@agent-bridge/event-store';
import { DEFAULT_FLAGS } from '@agent-bridge/flags';
import { BridgeMetrics, createLogger, startSpan } from '@agent-bridge/observability';
import type { ToolCallContext } from '@agent-bridge/service-kit';
import { sleep, startRedis, type RedisServerHandle } from '@agent-bridge/testkit';
import { mailboxTools } from './mailbox-tools.js';
import { SendGate } from './send-gate.js';

/**
 * What an idle `wait_for_messages` costs Redis, through the tool's handler against a real Redis and
 * the real doorbell: the lane is read when the call starts and when a ring comes, not at every
 * progress notification nor at the hold's end.
 */
describe('wait_for_messages while idle', () => {
  let redis: RedisServerHandle;
  let opened: OpenedEventStore;
  let waitForMessages: (args: Record<string, unknown>, context: ToolCallContext) => Promise<unknown>;
  before(async () => {
    redis = await startRedis();
    opened = await openEventStore({ url: redis.url, name: 'mailbox-tools-test', shardCount: 2, listen: 'lanes' });
    const metrics = new BridgeMetrics('legacy-poll', { defaultMetrics: false });
    const tools = mailboxTools({
      endpoint: 'legacy',
      store: opened.store,
      doorbell: opened.doorbell,
      flags: () => DEFAULT_FLAGS,
      knowsAgent: () => true,
      metrics,
      logger: createLogger('legacy-poll', 'silent'),
      elicitationEndpointUrl: 'http://127.0.0.1:1/mcp',
      limits: { maxContentBytes: 1024, maxMetadataBytes: 1024, messageDeadlineMs: 60_000, pollTimeoutMaxMs: 58_000, pollRecheckMs: 30_000, progressIntervalMs: 100 },
      sendGate: new SendGate(opened.store, { quota: { ratePerSecond: 100, burst: 100, backlogMax: 100 }, memoryHighWater: 1, contingencies: () => DEFAULT_FLAGS.contingencies }, metrics),
    });
    const tool = tools.find((t) => t.name === 'wait_for_messages')!;
    waitForMessages = (args, context) => tool.handler(args, context) as Promise<unknown>;
  });
  after(async () => {
    await opened?.close();
    await redis?.cleanup();
  });

  const progress: number[] = [];
  const context = (agentId: string): ToolCallContext => ({
    agentId,
    signal: new AbortController().signal,
    sessionId: undefined,
    generation: '2025-11-25',
    elicitation: { form: false, url: false },
    inputResponses: undefined,
    requestState: undefined,
    reportProgress: async (value) => void progress.push(value),
    mayHold: true,
    span: startSpan('test'),
  });
  async function calls(run: () => Promise<unknown>): Promise<{ result: unknown; counts: Record<string, number> }> {
    await opened.redis.config('RESETSTAT');
    const result = await run();
    const counts = Object.fromEntries(
      (await opened.redis.info('commandstats'))
        .split('\r\n')
        .filter((line) => /^cmdstat_(xrange|hmget|evalsha|hgetall)/.test(line))
        .map((line) => [line.slice(8, line.indexOf(':')), Number(/calls=(\d+)/.exec(line)?.[1])]),
    );
    return { result, counts };
  }

  test('a poll that waits out its hold reads its lane once, however many progress notifications it sends, and nothing at the end', async () => {
    progress.length = 0;
    const { result, counts } = await calls(() => waitForMessages({ timeout_ms: 700 }, context('ivy')));
    assert.ok(progress.length >= 4, `progress was reported (${progress.length} times)`);
    assert.deepEqual(counts, { hmget: 1, xrange: 1 }, 'the acknowledged position, and one read of the lane');
    assert.deepEqual((result as { messages: unknown[] }).messages, []);
  });

  test('a ring during the hold reads the lane again; the next poll from the empty page costs no acknowledging script', async () => {
    const first = await calls(async () => {
      const call = waitForMessages({ timeout_ms: 800 }, context('jon'));
      await sleep(300);
      opened.doorbell.ring(doorbellTopics.lane('jon', 'poll'));
      return call;
    });
    assert.deepEqual(first.counts, { hmget: 1, xrange: 2 }, 'read at the start and after the ring');
    const cursor = (first.result as { cursor: string }).cursor;
    const next = await calls(() => waitForMessages({ timeout_ms: 0, cursor }, context('jon')));
    assert.deepEqual(next.counts, { hmget: 1 }, 'the cursor is checked with one read of the mailbox (nothing after it: no lane read), not acknowledged by a script');
    assert.equal((next.result as { cursor: string }).cursor, cursor);
  });
});
