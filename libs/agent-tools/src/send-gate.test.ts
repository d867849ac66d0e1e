import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Keys, RedisEventStore } from '@agent-bridge/event-store';
import { BridgeMetrics } from '@agent-bridge/observability';
import { ToolError } from '@agent-bridge/protocol';
import { startRedis, type RedisServerHandle } from '@agent-bridge/testkit';
import { REFUSAL_DELAY_MAX_MS, SendGate } from './send-gate.js';

// The gate against a real redis-server: its token bucket (admit_send.lua) and the answers it gives.
describe('SendGate', () => {
  let redisServer: RedisServerHandle;
  let gate: SendGate;
  let metrics: BridgeMetrics;
  before(async () => {
    redisServer = await startRedis();
    metrics = new BridgeMetrics('test');
    const store = new RedisEventStore(redisServer.client(), { keys: new Keys(4, 'test') });
    gate = new SendGate(store, { quota: { ratePerSecond: 0.01, burst: 1, backlogMax: 100 }, memoryHighWater: 1 }, metrics);
  });
  after(() => redisServer.cleanup());

  let sequence = 0;
  const send = (from: string) => gate.admit({ id: `m-${++sequence}`, from, to: 'bob', deadlineAt: Date.now() + 60_000 });
  /** How long a refused send took to be answered, and its code. */
  const refusal = async (from: string) => {
    const startedAt = Date.now();
    const error = await send(from).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof ToolError, 'the send is refused');
    return { code: error.code, ms: Date.now() - startedAt, retryAfterMs: (error.details as { retryAfterMs: number }).retryAfterMs };
  };

  test('a first refusal is answered at once; a sender that keeps calling is answered more and more slowly, never past the cap; others are not slowed', async () => {
    await send('flood');
    const first = await refusal('flood');
    assert.equal(first.code, 'RATE_LIMITED');
    assert.ok(first.ms < 50, `the first refusal came at once (${first.ms} ms)`);
    assert.ok(first.retryAfterMs > 0, 'with a retry-after');
    const delays: number[] = [];
    for (let i = 0; i < 30; i++) delays.push((await refusal('flood')).ms);
    assert.ok(delays[29]! >= 100, `after 30 refusals in a row the answer waits (${delays.join(', ')} ms)`);
    assert.ok(
      delays.every((ms) => ms <= REFUSAL_DELAY_MAX_MS + 100),
      `never past the cap (${Math.max(...delays)} ms)`,
    );
    const startedAt = Date.now();
    await send('bystander');
    assert.ok(Date.now() - startedAt < 50, 'another sender is admitted at once');
    const rendered = (await metrics.render()).body;
    assert.match(rendered, /agentbridge_sends_refused_total\{[^}]*reason="rate_limited"[^}]*\} 31\b/);
  });

  test('recent refusals are forgotten: after a quiet spell the next refusal is quick again', async () => {
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    const again = await refusal('bystander');
    assert.ok(again.ms < 50, `a sender whose last refusals were long ago is answered at once (${again.ms} ms)`);
  });
});
