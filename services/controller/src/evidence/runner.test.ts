/** The evidence runner on a real Redis with a fake clock: scheduled drills, the health-check trip, the trigger gauges. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openEventStore, type OpenedEventStore } from '@agent-bridge/event-store';
import { parseFeatureFlags, publishFlags, readPublishedFlags, type FeatureFlagsStatus } from '@agent-bridge/flags';
import { BridgeMetrics, createLogger } from '@agent-bridge/observability';
import { startRedis, type RedisServerHandle } from '@agent-bridge/testkit';
import type { ControlAction } from '../reconcile/types.js';
import { initialStatus } from '../status.js';
import { EvidenceRunner } from './runner.js';

const T0 = Date.parse('2026-11-01T00:00:00Z');
const HOUR = 3_600_000;

const specOf = (rollback: Record<string, unknown>) =>
  parseFeatureFlags({ apiVersion: 'agentbridge.io/v1alpha1', kind: 'FeatureFlags', metadata: { name: 'agent-bridge' }, spec: { phase: 'canary', flags: { elicitation: { enabled: true, agents: ['drill-agent'] } }, rollback } }).spec;

describe('EvidenceRunner', () => {
  let redis: RedisServerHandle;
  let opened: OpenedEventStore;
  let now = T0;
  let metrics: BridgeMetrics;
  const submitted: ControlAction[] = [];
  const runner = () => {
    metrics = new BridgeMetrics('controller', { defaultMetrics: false });
    return new EvidenceRunner({
      store: opened.store,
      keys: opened.keys,
      metrics,
      logger: createLogger('controller', 'silent'),
      now: () => now,
      submit: (a) => submitted.push(a),
      healthUrls: ['http://127.0.0.1:9/readyz'],
      controllerId: 'ctl',
    });
  };

  before(async () => {
    redis = await startRedis();
    opened = await openEventStore({ url: redis.url, name: 'runner-test', shardCount: 4 });
    await publishFlags(opened.store, (current) => ({ ...current, elicitation: { ...current.elicitation, enabled: true, agents: ['drill-agent'] } }), { actor: 'test', reason: 'drill agent on elicitation', trigger: 'test' });
  });
  after(async () => {
    await opened?.close();
    await redis?.cleanup();
  });

  test('a scheduled drill is due once its interval has passed since the last one, not while a rollback is in force, not twice', async () => {
    const spec = specOf({ drill: { agent: 'drill-agent', interval: '24h' }, healthCheck: { enabled: false } });
    const r = runner();
    const { version } = await readPublishedFlags(opened.store);
    assert.deepEqual((await r.collect(spec, { ...initialStatus(), snapshotVersion: 0 }, undefined, T0 + 48 * HOUR)).actions, [], 'no drill before this controller published its flags');
    const last: FeatureFlagsStatus = {
      ...initialStatus(),
      snapshotVersion: version,
      lastDrill: { id: 'drill-0', agent: 'drill-agent', trigger: 'schedule', actor: 'ctl', startedAt: new Date(T0).toISOString(), at: new Date(T0).toISOString(), result: 'passed', message: '' },
    };
    now = T0 + 23 * HOUR;
    assert.deepEqual((await r.collect(spec, last, undefined, now)).actions, []);
    now = T0 + 24 * HOUR;
    const due = (await r.collect(spec, last, undefined, now)).actions;
    assert.equal(due.length, 1);
    assert.deepEqual({ ...due[0], id: undefined }, { type: 'drill', id: undefined, agent: 'drill-agent', actor: 'ctl', trigger: 'schedule' });
    const rolledBack = { ...last, rollback: { level: 'full' as const, trigger: 'alert' as const, reason: 'x', at: new Date(T0).toISOString() } };
    assert.deepEqual((await r.collect(spec, rolledBack, undefined, now)).actions, [], 'no drill while a rollback holds the rollout');
    const running = { ...last, drill: { id: 'drill-1', agent: 'drill-agent', trigger: 'schedule' as const, actor: 'ctl', state: 'rolling-back' as const, startedAt: new Date(now).toISOString() } };
    assert.deepEqual((await r.collect(spec, running, undefined, now)).actions, [], 'not while one runs');
  });

  test('a drill of an agent already on legacy is reported as failed at once', async () => {
    const r = runner();
    const published = await readPublishedFlags(opened.store);
    const action = r.drillAction(published, 'someone-on-legacy', 'cli', 'jane', now);
    assert.equal(action.type, 'drill');
    assert.match((action as { failure?: string }).failure ?? '', /someone-on-legacy is on legacy .* would change nothing/);
    assert.equal((r.drillAction(published, 'drill-agent', 'cli', 'jane', now) as { failure?: string }).failure, undefined);
  });

  test('the health check asks for a full rollback at the third failure, once, and only while rollbacks are automatic', async () => {
    const spec = specOf({ healthCheck: { interval: '1s', consecutiveFailures: 3, timeout: '200ms' } });
    const r = runner();
    const trips: number[] = [];
    for (let check = 1; check <= 5; check++) {
      now += 1_000;
      const { actions, evidence } = await r.collect(spec, initialStatus(), undefined, now);
      if (actions.some((a) => a.type === 'rollback' && a.trigger === 'health-check' && a.level === 'full')) trips.push(check);
      if (check <= 3) assert.equal(evidence.healthCheck?.consecutiveFailures, check, 'each new count is written to the status');
    }
    assert.deepEqual(trips, [3]);
    const manual = specOf({ automatic: false, healthCheck: { interval: '1s', consecutiveFailures: 1, timeout: '200ms' } });
    const quiet = runner();
    now += 1_000;
    assert.deepEqual((await quiet.collect(manual, initialStatus(), undefined, now)).actions, [], 'rollback.automatic false: reported, not acted on');
    const gauges = await metrics.registry.getSingleMetricAsString('agentbridge_rollback_trigger_armed');
    assert.match(gauges, /trigger="health-check"[^}]*\} 0/);
    assert.match(gauges, /trigger="alert"[^}]*\} 0/);
  });
});
