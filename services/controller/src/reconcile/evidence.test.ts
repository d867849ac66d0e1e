/** The evidence steps of a reconcile pass: A/B results and their gate, the scorecard, drills, the health-check rollback. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { evaluateProtocol, parseFeatureFlags, type AbTestStatus, type FeatureFlagsStatus, type ScorecardStatus } from '@agent-bridge/flags';
import { reconcile } from '../reconcile.js';
import { conditionOf, initialStatus } from '../status.js';
import { applyActions } from './actions.js';
import { drillFlags } from './drill.js';
import { applyEvidence } from './evidence.js';
import { firstPass, passContext, type PassContext } from './pass.js';

const T0 = Date.parse('2026-01-05T09:00:00Z');
const HOUR = 3_600_000;
const iso = (at: number) => new Date(at).toISOString();

const SPEC = {
  phase: 'rollout',
  flags: { elicitation: { enabled: true, percentage: 0, agents: ['drill-agent'] } },
  rollout: {
    stages: [
      { percentage: 25, hold: '1h' },
      { percentage: 50, hold: '1h' },
      { percentage: 75, hold: '1h' },
    ],
  },
  analysis: { prometheusUrl: 'http://prometheus:9090' },
  abTest: { name: 'week-6', duration: '168h', gateAbovePercentage: 50 },
  rollback: { drill: { agent: 'drill-agent' } },
};

function specOf(extra: Record<string, unknown> = {}) {
  return parseFeatureFlags({ apiVersion: 'agentbridge.io/v1alpha1', kind: 'FeatureFlags', metadata: { name: 'agent-bridge' }, spec: { ...SPEC, ...extra } }).spec;
}

function contextOf(now = T0): PassContext {
  return passContext({ spec: specOf(), generation: 1, status: initialStatus(), now, controllerId: 'controller-a' });
}

function abTest(verdict: AbTestStatus['verdict'], state: AbTestStatus['state'] = 'running'): AbTestStatus {
  return { name: 'week-6', state, startedAt: iso(T0 - HOUR), endsAt: iso(T0 + 167 * HOUR), evaluatedAt: iso(T0), windowSeconds: 3600, confidence: 0.95, verdict, note: `overall ${verdict}`, metrics: [] };
}

const atStage = (stage: number, extra: Partial<FeatureFlagsStatus> = {}): FeatureFlagsStatus => ({ ...initialStatus(), observedGeneration: 1, phase: 'rollout', stage, stageStartedAt: iso(T0 - 2 * HOUR), ...extra });

describe('A/B results in the status', () => {
  test('the start, a verdict change and the end are Events; an unchanged verdict is not', () => {
    const ctx = contextOf();
    const started = applyEvidence(ctx, firstPass(atStage(2)), { abTest: abTest('not-enough-data') });
    assert.deepEqual(
      started.events.map((e) => e.action),
      ['ab.started'],
    );
    assert.equal(started.status.abTest?.verdict, 'not-enough-data');
    const same = applyEvidence(ctx, { ...started, events: [] }, { abTest: abTest('not-enough-data') });
    assert.deepEqual(same.events, []);
    const improved = applyEvidence(ctx, { ...started, events: [] }, { abTest: abTest('improved') });
    assert.deepEqual(
      improved.events.map((e) => [e.action, e.reason]),
      [['ab.verdict', 'A/B test week-6: not-enough-data → improved (overall improved)']],
    );
    const done = applyEvidence(ctx, { ...improved, events: [] }, { abTest: abTest('improved', 'complete') });
    assert.deepEqual(
      done.events.map((e) => e.action),
      ['ab.completed'],
    );
  });

  test('a worse verdict is a Warning Event', () => {
    const ctx = contextOf();
    const pass = applyEvidence(ctx, firstPass(atStage(2, { abTest: abTest('not-significant') })), { abTest: abTest('worse') });
    assert.equal(pass.events[0]?.severity, 'Warning');
  });

  test('a criterion that changes result is an Event naming it; the first scorecard is not', () => {
    const ctx = contextOf();
    const card = (result: 'pass' | 'fail' | 'pending'): ScorecardStatus => ({
      evaluatedAt: iso(T0),
      summary: { pass: result === 'pass' ? 1 : 0, fail: result === 'fail' ? 1 : 0, pending: result === 'pending' ? 1 : 0 },
      criteria: [{ id: 'canary-zero-loss', group: 'phase-gate', section: 'canary success', title: 'Zero message loss', threshold: '0', value: 0, display: `x ${result}`, result, source: 'prometheus' }],
    });
    const first = applyEvidence(ctx, firstPass(atStage(1)), { scorecard: card('pending') });
    assert.deepEqual(first.events, []);
    const failed = applyEvidence(ctx, first, { scorecard: card('fail') });
    assert.equal(failed.events.length, 1);
    assert.match(failed.events[0]!.reason, /canary-zero-loss pending → fail/);
    assert.equal(failed.events[0]!.severity, 'Warning');
  });
});

describe('the A/B gate (spec.abTest.gateAbovePercentage)', () => {
  const run = (status: FeatureFlagsStatus, now = T0) => reconcile({ spec: specOf(), generation: 1, status, now, controllerId: 'controller-a' });

  test('a stage above the gate waits until the test is complete and improved (an interim improved is not enough), says so once, then starts', () => {
    const waiting = run(atStage(2, { abTest: abTest('not-significant') }));
    assert.equal(waiting.status.stage, 2, 'the 75 % stage does not start');
    assert.equal(conditionOf(waiting.status, 'Progressing')?.reason, 'WaitingForAbTest');
    assert.deepEqual(
      waiting.events.map((e) => e.action),
      ['ab.gate.waiting'],
    );
    const again = run(waiting.status, T0 + 60_000);
    assert.equal(again.status.stage, 2);
    assert.deepEqual(again.events, [], 'no second Event while it keeps waiting');
    const interim = run({ ...again.status, abTest: abTest('improved') }, T0 + 90_000);
    assert.equal(interim.status.stage, 2, 'an interim verdict does not open the gate');
    const improved = run({ ...interim.status, abTest: abTest('improved', 'complete') }, T0 + 120_000);
    assert.equal(improved.status.stage, 3);
    assert.equal(improved.settings.elicitation.percentage, 75);
  });

  test('stages up to the gate are not held', () => {
    const result = run(atStage(1, { abTest: abTest('not-enough-data') }));
    assert.equal(result.status.stage, 2, '25 % → 50 % is at the gate, not above it');
  });

  test('a manual promote above the gate is refused with the reason', () => {
    const result = reconcile({ spec: specOf(), generation: 1, status: atStage(2, { stageStartedAt: iso(T0) }), now: T0, actions: [{ type: 'promote', actor: 'ops', reason: 'go', full: false }] });
    assert.equal(result.outcomes[0]?.applied, false);
    assert.match(result.outcomes[0]!.message, /above spec\.abTest\.gateAbovePercentage \(50%\)/);
    assert.equal(result.status.stage, 2);
  });
});

describe('rollback drills', () => {
  const start = { type: 'drill' as const, id: 'drill-1', agent: 'drill-agent', actor: 'alice', trigger: 'cli' as const };

  test('a drill excludes its agent while it rolls back, restores it, and records the measured times', () => {
    const begun = reconcile({ spec: specOf(), generation: 1, status: atStage(1), now: T0, actions: [start] });
    assert.equal(begun.outcomes[0]?.applied, true);
    assert.equal(begun.status.drill?.state, 'rolling-back');
    assert.equal(evaluateProtocol(begun.settings, 'drill-agent').protocol, 'legacy');
    assert.equal(begun.status.rollback, undefined, 'a drill is not a rollback: nothing holds the rollout');
    assert.deepEqual(begun.rollbacks, []);

    const restoring = reconcile({ spec: specOf(), generation: 1, status: begun.status, now: T0 + 500, actions: [{ type: 'drill-step', id: 'drill-1', step: 'effective', elapsedMs: 180 }] });
    assert.equal(restoring.status.drill?.state, 'restoring');
    assert.equal(evaluateProtocol(restoring.settings, 'drill-agent').protocol, 'elicitation');

    const done = reconcile({ spec: specOf(), generation: 1, status: restoring.status, now: T0 + 900, actions: [{ type: 'drill-step', id: 'drill-1', step: 'restored', elapsedMs: 150 }] });
    assert.equal(done.status.drill, undefined);
    assert.deepEqual(
      { ...done.status.lastDrill, message: undefined },
      { id: 'drill-1', agent: 'drill-agent', trigger: 'cli', actor: 'alice', startedAt: iso(T0), at: iso(T0 + 900), result: 'passed', effectMs: 180, restoreMs: 150, message: undefined },
    );
    assert.deepEqual(
      done.events.map((e) => e.action),
      ['drill.finished'],
    );
  });

  test('a rollback step that failed still restores, and the drill is recorded failed', () => {
    const begun = reconcile({ spec: specOf(), generation: 1, status: atStage(1), now: T0, actions: [start] });
    const restoring = reconcile({
      spec: specOf(),
      generation: 1,
      status: begun.status,
      now: T0 + 30_000,
      actions: [{ type: 'drill-step', id: 'drill-1', step: 'effective', failure: 'rollback of drill-agent not in effect within 30000 ms' }],
    });
    assert.equal(evaluateProtocol(restoring.settings, 'drill-agent').protocol, 'elicitation', 'restored despite the failure');
    const done = reconcile({ spec: specOf(), generation: 1, status: restoring.status, now: T0 + 31_000, actions: [{ type: 'drill-step', id: 'drill-1', step: 'restored', elapsedMs: 100 }] });
    assert.equal(done.status.lastDrill?.result, 'failed');
    assert.match(done.status.lastDrill!.message, /not in effect within 30000 ms/);
    assert.equal(done.events[0]?.severity, 'Warning');
  });

  test('a second drill while one runs is refused; a drill that cannot run is recorded failed at once', () => {
    const begun = reconcile({ spec: specOf(), generation: 1, status: atStage(1), now: T0, actions: [start] });
    const second = reconcile({ spec: specOf(), generation: 1, status: begun.status, now: T0 + 10, actions: [{ ...start, id: 'drill-2' }] });
    assert.equal(second.outcomes[0]?.applied, false);
    assert.match(second.outcomes[0]!.message, /drill-1 .* still running/);
    const impossible = applyActions(contextOf(), firstPass(atStage(1)), [{ ...start, failure: 'drill-agent is on legacy' }]);
    assert.equal(impossible.status.drill, undefined);
    assert.equal(impossible.status.lastDrill?.result, 'failed');
  });

  test('drillFlags leaves the flags alone unless a drill rolls back, and never lists the agent twice', () => {
    const settings = reconcile({ spec: specOf(), generation: 1, status: atStage(1), now: T0 }).settings;
    assert.equal(drillFlags(settings, undefined), settings);
    const once = drillFlags(settings, { id: 'd', agent: 'drill-agent', trigger: 'cli', actor: 'a', state: 'rolling-back', startedAt: iso(T0) });
    assert.deepEqual(once.elicitation.excludedAgents, ['drill-agent']);
    assert.deepEqual(drillFlags(once, { id: 'd', agent: 'drill-agent', trigger: 'cli', actor: 'a', state: 'rolling-back', startedAt: iso(T0) }).elicitation.excludedAgents, ['drill-agent']);
  });
});

describe('the health-check trigger', () => {
  test('its rollback is audited under its own trigger and published with it', () => {
    const result = reconcile({
      spec: specOf(),
      generation: 1,
      status: atStage(2),
      now: T0,
      actions: [{ type: 'rollback', level: 'full', trigger: 'health-check', actor: 'health-check', reason: 'elicitation path unhealthy for 3 checks in a row: 0 of 2 ready' }],
    });
    assert.equal(result.status.rollback?.trigger, 'health-check');
    assert.equal(result.status.rollback?.level, 'full');
    assert.equal(result.settings.elicitation.enabled, false);
    const rollout = result.rollout({ phase: 'rollout', stage: 2, rollbacks: [], lastRollback: null });
    assert.deepEqual(rollout.rollbacks, [{ level: 'full', trigger: 'health-check', count: 1 }]);
    assert.equal(result.events.find((e) => e.action === 'rollback')?.trigger, 'health-check');
  });
});
