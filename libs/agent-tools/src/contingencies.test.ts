import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Keys, RedisEventStore } from '@agent-bridge/event-store';
import { DEFAULT_CONTINGENCIES, type Contingencies } from '@agent-bridge/flags';
import { BridgeMetrics } from '@agent-bridge/observability';
import { ToolError } from '@agent-bridge/protocol';
import { startLatencyProxy, startRedis, type LatencyProxy, type RedisServerHandle } from '@agent-bridge/testkit';
import { SendGate } from './send-gate.js';

// The contingencies of the send gate against a real redis-server, the latency injected by a real TCP
// proxy that delays every chunk (libs/testkit latency-proxy.ts).
describe('SendGate contingencies', () => {
  let redisServer: RedisServerHandle;
  let proxy: LatencyProxy;
  let redis: ReturnType<RedisServerHandle['client']>;
  let gate: SendGate;
  let metrics: BridgeMetrics;
  let contingencies: Contingencies;
  before(async () => {
    redisServer = await startRedis();
    proxy = await startLatencyProxy({ port: redisServer.port });
    redis = redisServer.client({ port: proxy.port });
    metrics = new BridgeMetrics('test');
    contingencies = structuredClone(DEFAULT_CONTINGENCIES) as Contingencies;
    const store = new RedisEventStore(redis, { keys: new Keys(4, 'test') });
    gate = new SendGate(store, { quota: { ratePerSecond: 10_000, burst: 10_000, backlogMax: 100_000 }, memoryHighWater: 1, contingencies: () => contingencies }, metrics);
  });
  after(async () => {
    redis.disconnect();
    await proxy.close();
    await redisServer.cleanup();
  });

  let sequence = 0;
  const attempt = async (kind: 'message' | 'reply' | 'elicitation' = 'message', key?: string) => {
    const error = await gate.admit({ id: `m-${++sequence}`, kind, from: `sender-${sequence % 50}`, to: 'bob', deadlineAt: Date.now() + 60_000 }, key).then(
      () => undefined,
      (e: unknown) => e,
    );
    if (error !== undefined && !(error instanceof ToolError)) throw error;
    return error;
  };
  const refusedCount = async (reason: string) => (await metrics.registry.getSingleMetric('agentbridge_sends_refused_total')!.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;

  test('read-only mode refuses new sends and elicitations with READ_ONLY (reason, retry-after), lets replies through, and counts the refusals', async () => {
    contingencies.readOnly = { enabled: true, reason: 'checksum mismatch under investigation', since: '2026-12-03T14:00:00.000Z', by: 'ops', trigger: 'cli' };
    for (const kind of ['message', 'elicitation'] as const) {
      const error = await attempt(kind);
      assert.ok(error instanceof ToolError);
      assert.equal(error.code, 'READ_ONLY');
      assert.match(error.message, /read-only mode since 2026-12-03T14:00:00.000Z \(checksum mismatch under investigation\); nothing was stored/);
      assert.equal((error.details as { retryAfterMs: number }).retryAfterMs, 30_000);
    }
    assert.equal(await attempt('reply'), undefined, 'a reply is admitted');
    assert.equal(await refusedCount('read_only'), 2);
    contingencies.readOnly = structuredClone(DEFAULT_CONTINGENCIES.readOnly) as Contingencies['readOnly'];
    assert.equal(await attempt('message'), undefined, 'off again: new sends are admitted');
  });

  test('under a real latency injection about the configured share of new sends is shed with LOAD_SHED and a retry-after; replies are not; shedding stops when the latency returns to its baseline', async (t) => {
    contingencies.loadShedding = { enabled: true, latencyMultiple: 10, share: 0.5, retryAfterMs: 2_000, minSamples: 20 };
    // Learn the baseline on the undelayed path.
    for (let i = 0; i < 40; i++) assert.equal(await attempt(), undefined, 'no shedding at baseline');
    const baseline = gate.shedder.baselineMs()!;
    assert.ok(baseline >= 1 && baseline < 10, `baseline ${baseline} ms`);

    proxy.setDelay(50); // every chunk each way: ≥ 100 ms per admission round trip, over 10x the baseline
    let shed = 0;
    let admitted = 0;
    const shedBefore = await refusedCount('load_shed');
    // Warm-up: until the smoothed latency crosses the multiple.
    while (gate.shedder.ratio() < 10) await attempt();
    for (let i = 0; i < 120; i++) {
      const error = await attempt();
      if (error === undefined) admitted += 1;
      else {
        assert.equal(error.code, 'LOAD_SHED');
        const details = error.details as { retryAfterMs: number; latencyRatio: number };
        assert.equal(details.retryAfterMs, 2_000);
        assert.ok(details.latencyRatio >= 10, `ratio ${details.latencyRatio}`);
        shed += 1;
      }
    }
    const share = shed / (shed + admitted);
    t.diagnostic(`baseline ${baseline.toFixed(2)} ms; with 50 ms per chunk: shed ${shed} of ${shed + admitted} (${(share * 100).toFixed(1)} %), ratio ${gate.shedder.ratio().toFixed(1)}`);
    assert.ok(share > 0.35 && share < 0.65, `shed ${shed} of ${shed + admitted} (${(share * 100).toFixed(0)} %), configured 50 %`);
    assert.equal((await refusedCount('load_shed')) - shedBefore, shed, 'every shed send is counted');
    for (let i = 0; i < 20; i++) assert.equal(await attempt('reply'), undefined, 'replies are never shed');
    const gauge = (await metrics.registry.getSingleMetric('agentbridge_load_latency_ratio')!.get()).values[0]!.value;
    assert.ok(gauge >= 10, `the ratio gauge shows ${gauge}`);

    proxy.setDelay(0);
    // Back to baseline: the admitted half keeps measuring, the ratio falls, shedding stops.
    const recoveringSince = Date.now();
    while (gate.shedder.ratio() >= 10 && Date.now() - recoveringSince < 15_000) await attempt();
    t.diagnostic(`the ratio fell below 10 ${Date.now() - recoveringSince} ms after the delay was removed`);
    let shedAfter = 0;
    for (let i = 0; i < 100; i++) if ((await attempt()) !== undefined) shedAfter += 1;
    assert.equal(shedAfter, 0, 'nothing is shed once the latency is back at its baseline');
  });

  test('a retry within the retry-after window gets the same answer (hammering does not help); the shed decision is by idempotency key', async () => {
    contingencies.loadShedding = { enabled: true, latencyMultiple: 10, share: 0.5, retryAfterMs: 600_000, minSamples: 1 };
    proxy.setDelay(25);
    try {
      while (gate.shedder.ratio() < 10) await attempt('message', 'warm-up');
      const answers = new Map<string, string[]>();
      for (const key of ['k1', 'k2', 'k3', 'k4', 'k5', 'k6']) {
        for (let i = 0; i < 3; i++) {
          const error = await attempt('message', key);
          answers.set(key, [...(answers.get(key) ?? []), error?.code ?? 'ADMITTED']);
        }
      }
      for (const [key, seen] of answers) assert.equal(new Set(seen).size, 1, `${key}: ${seen.join(', ')}`);
    } finally {
      proxy.setDelay(0);
      contingencies.loadShedding = structuredClone(DEFAULT_CONTINGENCIES.loadShedding) as Contingencies['loadShedding'];
    }
  });
});
