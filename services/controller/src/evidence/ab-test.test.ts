/** When the A/B test runs and is evaluated, and the queries it sends (the statistics are statistics.test.ts's). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseFeatureFlags, type AbTestSpec, type AbTestStatus, type FeatureFlagsStatus } from '@agent-bridge/flags';
import { initialStatus } from '../status.js';
import { abMetricsOf, abQueries, abTestDue, abWindow, costStepSeconds, evaluateAbTest } from './ab-test.js';

const T0 = Date.parse('2026-11-01T00:00:00Z');
const HOUR = 3_600_000;
const iso = (at: number) => new Date(at).toISOString();

function abSpec(abTest: Record<string, unknown>): AbTestSpec {
  return parseFeatureFlags({ apiVersion: 'agentbridge.io/v1alpha1', kind: 'FeatureFlags', metadata: { name: 'agent-bridge' }, spec: { analysis: { prometheusUrl: 'http://p:9090' }, abTest } }).spec.abTest!;
}
const statusAt = (effectivePercentage: number, abTest?: AbTestStatus): FeatureFlagsStatus => ({ ...initialStatus(), effectivePercentage, ...(abTest ? { abTest } : {}) });

describe('the A/B window', () => {
  test('without startAt the test waits for atPercentage, then starts now and remembers when', () => {
    const spec = abSpec({ name: 'week-6', duration: '168h' });
    assert.deepEqual(abWindow(spec, undefined, 25, T0), { state: 'waiting' });
    assert.deepEqual(abWindow(spec, undefined, 50, T0), { state: 'running', startMs: T0, endMs: T0 + 168 * HOUR });
    const remembered: AbTestStatus = { name: 'week-6', state: 'running', startedAt: iso(T0), confidence: 0.95, verdict: 'not-enough-data', note: '', metrics: [] };
    assert.equal(abWindow(spec, remembered, 75, T0 + HOUR).startMs, T0, 'a later percentage does not move the start');
    assert.equal(abWindow(spec, remembered, 25, T0 + HOUR).state, 'running', 'nor does a rollback below atPercentage stop the clock');
    assert.equal(abWindow(spec, remembered, 50, T0 + 168 * HOUR).state, 'complete');
    assert.equal(abWindow(spec, { ...remembered, name: 'other' }, 25, T0 + HOUR).state, 'waiting', 'another name is another test');
  });

  test('startAt fixes the window', () => {
    const spec = abSpec({ startAt: iso(T0), duration: '24h' });
    assert.equal(abWindow(spec, undefined, 0, T0 - 1).state, 'waiting');
    assert.deepEqual(abWindow(spec, undefined, 0, T0 + HOUR), { state: 'running', startMs: T0, endMs: T0 + 24 * HOUR });
  });

  test('due: at the start, every interval while running, once at the end, then never', () => {
    const spec = abSpec({ name: 'week-6', startAt: iso(T0), duration: '24h', interval: '5m' });
    const evaluated = (at: number, state: AbTestStatus['state']): FeatureFlagsStatus => statusAt(50, { name: 'week-6', state, startedAt: iso(T0), evaluatedAt: iso(at), confidence: 0.95, verdict: 'not-significant', note: '', metrics: [] });
    assert.equal(abTestDue(undefined, statusAt(50), T0), false, 'no test, nothing due');
    assert.equal(abTestDue(spec, statusAt(50), T0 + 1), true, 'never evaluated');
    assert.equal(abTestDue(spec, evaluated(T0 + 1, 'running'), T0 + 4 * 60_000), false);
    assert.equal(abTestDue(spec, evaluated(T0 + 1, 'running'), T0 + 5 * 60_000 + 1), true);
    assert.equal(abTestDue(spec, evaluated(T0 + 23 * HOUR + 59 * 60_000, 'running'), T0 + 24 * HOUR), true, 'the final evaluation at the end of the window');
    assert.equal(abTestDue(spec, evaluated(T0 + 24 * HOUR, 'complete'), T0 + 48 * HOUR), false, 'a complete test is final');
  });
});

describe('what the test compares', () => {
  test('all three metrics by default with their goals; a listed metric keeps its own margin', () => {
    assert.deepEqual(abMetricsOf(abSpec({})), [
      { name: 'latency', goal: 'improve', minimumImprovement: 0.1 },
      { name: 'success-rate', goal: 'not-worse', minimumImprovement: 0.1 },
      { name: 'cost', goal: 'not-worse', minimumImprovement: 0.1 },
    ]);
    assert.deepEqual(abMetricsOf(abSpec({ minimumImprovement: 0.2, metrics: [{ name: 'cost', goal: 'improve', minimumImprovement: 0.05 }, { name: 'latency' }] })), [
      { name: 'cost', goal: 'improve', minimumImprovement: 0.05 },
      { name: 'latency', goal: 'improve', minimumImprovement: 0.2 },
    ]);
  });

  test('each group reads its protocol (and its endpoint service for cost), with the matchers', () => {
    const q = abQueries(abSpec({ matchers: 'namespace="prod"' }), 'treatment', 3600, 60);
    assert.equal(q.buckets, 'sum by (le) (increase(agentbridge_delivery_latency_seconds_bucket{protocol="elicitation",namespace="prod"}[3600s]))');
    assert.equal(q.failed, 'sum(increase(agentbridge_errors_total{protocol="elicitation",namespace="prod"}[3600s]))');
    assert.match(q.cost, /process_cpu_seconds_total\{service="elicitation",namespace="prod"\}\[60s\]/);
    assert.match(abQueries(abSpec({}), 'control', 60, 60).delivered, /protocol="legacy"\}\[60s\]/);
    assert.equal(costStepSeconds(3600), 60);
    assert.equal(costStepSeconds(168 * 3600), 3024);
  });

  test('waiting says what it waits for; no Prometheus is not enough data, never a verdict', async () => {
    const waiting = await evaluateAbTest(abSpec({}), statusAt(25), undefined, T0);
    assert.equal(waiting.verdict, 'pending');
    assert.match(waiting.note, /reaches 50% \(now 25%\)/);
    const blind = await evaluateAbTest(abSpec({}), statusAt(50), undefined, T0);
    assert.equal(blind.state, 'running');
    assert.equal(blind.verdict, 'not-enough-data');
    assert.ok(blind.metrics.every((m) => m.verdict === 'not-enough-data'));
  });
});
