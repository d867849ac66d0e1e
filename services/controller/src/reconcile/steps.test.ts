/** Each step of reconcile() on its own: a pure function of the context and the pass so far. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseFeatureFlags, type FeatureFlagsStatus, type MetricValue } from '@agent-bridge/flags';
import { conditionOf, initialStatus, setCondition } from '../status.js';
import { applyActions } from './actions.js';
import { applyAnalysis } from './analysis.js';
import { setConditions } from './conditions.js';
import { guardCutover } from './cutover.js';
import { effectiveFlags } from './flags.js';
import { observeSpec } from './observe-spec.js';
import { firstPass, passContext, type Pass, type PassContext } from './pass.js';
import { advanceStages, promote } from './stages.js';

const T0 = Date.parse('2026-01-05T09:00:00Z');
const MIN = 60_000;
const HOUR = 60 * MIN;
const iso = (at: number) => new Date(at).toISOString();

const ROLLOUT = {
  phase: 'rollout',
  flags: { elicitation: { enabled: true, percentage: 5, agents: ['test_agent_alpha'] } },
  rollout: {
    stages: [
      { percentage: 10, hold: '1h' },
      { percentage: 25, hold: '2h' },
    ],
  },
};

function contextOf(spec: Record<string, unknown>, now = T0, generation = 1): PassContext {
  const resource = parseFeatureFlags({ apiVersion: 'agentbridge.io/v1alpha1', kind: 'FeatureFlags', metadata: { name: 'agent-bridge' }, spec });
  return passContext({ spec: resource.spec, generation, status: initialStatus(), now, controllerId: 'controller-a' });
}

/** A status already reconciled at `stage` of ROLLOUT, its hold started at `since`. */
function atStage(stage: number, since = T0, extra: Partial<FeatureFlagsStatus> = {}): Pass {
  return firstPass({ ...initialStatus(), observedGeneration: 1, phase: 'rollout', stage, stageStartedAt: iso(since), ...extra });
}

function metric(name: string, result: MetricValue['result'], at = T0): MetricValue {
  return { name, value: result === 'inconclusive' ? null : 0.5, max: 0.01, result, at: iso(at) };
}

describe('every step is pure', () => {
  test('no step changes the pass it is given', () => {
    const ctx = contextOf({ ...ROLLOUT, paused: true, flags: { ...ROLLOUT.flags, legacyDisabled: true } }, T0 + 2 * HOUR, 2);
    const input = atStage(1, T0, { lastMetrics: [metric('errors', 'pass')], pausedAt: iso(T0) });
    const before = structuredClone(input);
    const observed = observeSpec(ctx, input);
    applyActions(ctx, input, [
      { type: 'resume', actor: 'ops', reason: 'go' },
      { type: 'rollback', level: 'partial', trigger: 'admin', actor: 'ops', reason: 'drill' },
    ]);
    applyAnalysis(ctx, input, [metric('errors', 'fail')]);
    advanceStages(ctx, input);
    const flagged = effectiveFlags(ctx, input);
    guardCutover(ctx, input, flagged.settings, { ready: false, message: 'not yet' });
    setConditions(ctx, input, flagged.settings);
    assert.deepEqual(input, before);
    assert.notEqual(observed.pass.status, input.status, 'a step returns its own status');
  });
});

describe('observe spec', () => {
  test('the first pass adopts the spec phase without a phase.changed event', () => {
    const { pass } = observeSpec(contextOf(ROLLOUT), firstPass(initialStatus()));
    assert.equal(pass.status.phase, 'rollout');
    assert.equal(pass.status.observedGeneration, 1);
    assert.deepEqual(pass.events, []);
  });

  test('a new generation in a phase without stages resets the stage and records the edit and the phase change', () => {
    const ctx = contextOf({ ...ROLLOUT, phase: 'preparation' }, T0, 2);
    const { pass } = observeSpec(ctx, atStage(2));
    assert.equal(pass.status.stage, 0);
    assert.deepEqual(
      pass.events.map((e) => e.action),
      ['spec.changed', 'phase.changed'],
    );
    assert.equal(pass.status.phase, 'preparation');
  });

  test('a rollout the controller finished stays in stabilization although the spec says rollout', () => {
    const { pass } = observeSpec(contextOf(ROLLOUT), atStage(2, T0, { phase: 'stabilization' }));
    assert.equal(pass.status.phase, 'stabilization');
    assert.deepEqual(pass.events, []);
  });

  test('a resource rollback request comes out as an action once per id', () => {
    const spec = { ...ROLLOUT, rollback: { request: { id: 'r-7', level: 'canary', reason: 'pager', agents: ['agent_b'] } } };
    const first = observeSpec(contextOf(spec, T0, 2), atStage(1));
    assert.deepEqual(first.requested, { type: 'rollback', level: 'canary', trigger: 'resource', reason: 'pager', actor: 'operator', agents: ['agent_b'], details: { requestId: 'r-7' } });
    assert.equal(first.pass.status.appliedRequestId, 'r-7');
    const again = observeSpec(contextOf(spec, T0, 3), first.pass);
    assert.equal(again.requested, undefined);
  });
});

describe('actions', () => {
  test('outcomes come in the order of the actions; a second pause changes nothing', () => {
    const pass = applyActions(contextOf(ROLLOUT), atStage(1), [
      { type: 'pause', actor: 'ops', reason: 'lunch' },
      { type: 'pause', actor: 'ops', reason: 'again' },
    ]);
    assert.deepEqual(
      pass.outcomes.map((o) => o.applied),
      [true, false],
    );
    assert.match(pass.outcomes[1]!.message, /already paused .*lunch/);
    assert.equal(pass.status.pauseReason, 'lunch');
  });

  test('resume lifts a rollback and holds the stage again from now', () => {
    const rolledBack = atStage(1, T0, { rollback: { level: 'full', trigger: 'admin', reason: 'drill', at: iso(T0) }, failedChecks: 2 });
    const pass = applyActions(contextOf(ROLLOUT, T0 + 3 * HOUR), rolledBack, [{ type: 'resume', actor: 'ops', reason: 'fixed' }]);
    assert.equal(pass.status.rollback, undefined);
    assert.equal(pass.status.stageStartedAt, iso(T0 + 3 * HOUR));
    assert.equal(pass.status.failedChecks, 0);
    assert.match(pass.outcomes[0]!.message, /full rollback is lifted and stage 1 is held again/);
    assert.deepEqual(pass.events[0]!.details, { clearedRollback: rolledBack.status.rollback });
  });

  test('resume with nothing to resume says why', () => {
    const pass = applyActions(contextOf({ ...ROLLOUT, paused: true }), atStage(1), [{ type: 'resume', actor: 'ops', reason: 'go' }]);
    assert.equal(pass.outcomes[0]!.applied, false);
    assert.match(pass.outcomes[0]!.message, /spec\.paused is true/);
  });
});

describe('analysis', () => {
  test('results before the first stage are not counted', () => {
    const input = atStage(0);
    assert.equal(applyAnalysis(contextOf(ROLLOUT), input, [metric('errors', 'fail')]), input);
  });

  test('a passing round resets the failures; an inconclusive one keeps them and says promotion waits', () => {
    const ctx = contextOf(ROLLOUT);
    const passed = applyAnalysis(ctx, atStage(1, T0, { failedChecks: 2 }), [metric('errors', 'pass')]);
    assert.equal(passed.status.failedChecks, 0);
    assert.equal(passed.status.lastAnalysisAt, iso(T0));
    const unsure = applyAnalysis(ctx, atStage(1, T0, { failedChecks: 2 }), [metric('errors', 'pass'), metric('latency', 'inconclusive')]);
    assert.equal(unsure.status.failedChecks, 2);
    assert.equal(unsure.events[0]!.action, 'analysis.inconclusive');
    assert.match(unsure.events[0]!.reason, /no data for latency/);
  });

  test('the failure that reaches the limit rolls back at spec.rollback.onGateFailure', () => {
    const ctx = contextOf({ ...ROLLOUT, rollback: { onGateFailure: 'full' }, analysis: { prometheusUrl: 'http://prometheus:9090', failureLimit: 2, metrics: [{ name: 'errors', query: 'x', max: 0.01 }] } });
    const first = applyAnalysis(ctx, atStage(1), [metric('errors', 'fail')]);
    assert.equal(first.rollbacks.length, 0);
    const second = applyAnalysis(ctx, first, [metric('errors', 'fail')]);
    assert.deepEqual(
      second.events.map((e) => e.action),
      ['analysis.failed', 'analysis.failed', 'rollback'],
    );
    assert.equal(second.status.rollback?.level, 'full');
    assert.equal(second.rollbacks[0]!.trigger, 'gate');
  });
});

describe('stages', () => {
  test('a rollout starts at stage 1 and is promoted when the hold is over', () => {
    const started = advanceStages(contextOf(ROLLOUT), firstPass({ ...initialStatus(), phase: 'rollout', observedGeneration: 1 }));
    assert.equal(started.status.stage, 1);
    assert.equal(started.events[0]!.action, 'stage.started');
    assert.equal(advanceStages(contextOf(ROLLOUT, T0 + 59 * MIN), atStage(1)).status.stage, 1);
    const promoted = advanceStages(contextOf(ROLLOUT, T0 + HOUR), atStage(1));
    assert.equal(promoted.status.stage, 2);
    assert.match(promoted.events[0]!.reason, /stage 1 held 1h with passing checks/);
  });

  test('the time spent paused is added to the hold when the pause ends', () => {
    const paused = atStage(1, T0, { pausedAt: iso(T0 + 10 * MIN) });
    const pass = advanceStages(contextOf(ROLLOUT, T0 + 40 * MIN), paused);
    assert.equal(pass.status.pausedAt, undefined);
    assert.equal(pass.status.stageStartedAt, iso(T0 + 30 * MIN));
  });

  test('a rollback in force halts progression', () => {
    const rolledBack = atStage(1, T0, { rollback: { level: 'partial', trigger: 'admin', reason: 'drill', at: iso(T0), percentage: 5 } });
    const pass = advanceStages(contextOf(ROLLOUT, T0 + 5 * HOUR), rolledBack);
    assert.equal(pass.status.stage, 1);
    assert.deepEqual(pass.events, []);
  });

  test('promote at the last stage completes the stages and moves the rollout to stabilization', () => {
    const pass = promote(contextOf(ROLLOUT), atStage(2), { type: 'promote', actor: 'ops', reason: 'confident', full: false });
    assert.deepEqual(pass.outcomes, [{ applied: true, message: 'stage 2 completed' }]);
    assert.equal(pass.status.phase, 'stabilization');
    assert.equal(conditionOf(pass.status, 'StagesComplete')?.status, 'True');
  });
});

describe('effective flags', () => {
  test('the current stage sets the percentage; before the first stage the spec does', () => {
    assert.equal(effectiveFlags(contextOf(ROLLOUT), atStage(2)).settings.elicitation.percentage, 25);
    const before = effectiveFlags(contextOf(ROLLOUT), atStage(0));
    assert.equal(before.settings.elicitation.percentage, 5);
    assert.equal(before.pass.status.effectivePercentage, 5);
  });

  test('a full rollback in force reports an effective percentage of 0', () => {
    const { settings, pass } = effectiveFlags(contextOf(ROLLOUT), atStage(2, T0, { rollback: { level: 'full', trigger: 'alert', reason: 'spike', at: iso(T0) } }));
    assert.equal(settings.elicitation.enabled, false);
    assert.equal(pass.status.effectivePercentage, 0);
  });
});

describe('cutover guard', () => {
  const CUTOVER = { phase: 'completion', flags: { elicitation: { enabled: true, percentage: 100 }, legacyDisabled: true } };

  test('without readiness legacy stays served, and the block is recorded once', () => {
    const ctx = contextOf(CUTOVER);
    const flagged = effectiveFlags(ctx, firstPass(initialStatus()));
    const first = guardCutover(ctx, flagged.pass, flagged.settings, undefined);
    assert.equal(first.settings.legacyDisabled, false);
    assert.equal(first.pass.status.cutover?.message, 'readiness not checked yet');
    assert.deepEqual(
      first.pass.events.map((e) => e.action),
      ['cutover.blocked'],
    );
    setCondition(first.pass.status, 'CutoverBlocked', 'True', 'ReadinessChecksFailed', 'not yet', iso(T0), 1);
    const second = guardCutover(ctx, { ...first.pass, events: [] }, flagged.settings, { ready: false, message: 'still not' });
    assert.deepEqual(second.pass.events, []);
  });

  test('readiness lets legacyDisabled through; a spec without it clears the cutover status', () => {
    const ctx = contextOf(CUTOVER);
    const flagged = effectiveFlags(ctx, firstPass(initialStatus()));
    const unsnapshotted = guardCutover(ctx, flagged.pass, flagged.settings, { ready: true, message: 'ok' });
    assert.equal(unsnapshotted.settings.legacyDisabled, false, 'no system snapshot yet: legacy still serves');
    assert.equal(unsnapshotted.pass.status.cutover?.state, 'snapshot');
    const started = guardCutover(ctx, flagged.pass, flagged.settings, { ready: true, message: 'ok' }, { id: 'cut-1', at: iso(T0) });
    assert.equal(started.settings.legacyDisabled, true);
    assert.equal(started.pass.status.cutover?.state, 'watching');
    assert.equal(started.pass.status.cutover?.snapshot?.id, 'cut-1');
    const plain = contextOf(ROLLOUT);
    const stale = atStage(1, T0, { cutover: { ready: true, forced: false, message: 'ok', checkedAt: iso(T0) } });
    assert.equal(guardCutover(plain, stale, effectiveFlags(plain, stale).settings, undefined).pass.status.cutover, undefined);
  });
});

describe('conditions', () => {
  test('a hold in progress is Progressing/StageHold; a rollback makes it Halted and RolledBack', () => {
    const ctx = contextOf(ROLLOUT);
    const holding = setConditions(ctx, atStage(1, T0, { effectivePercentage: 10 }), effectiveFlags(ctx, atStage(1)).settings);
    assert.equal(conditionOf(holding.status, 'Progressing')?.reason, 'StageHold');
    assert.equal(conditionOf(holding.status, 'Progressing')?.message, 'stage 1/2 at 10%');
    assert.equal(conditionOf(holding.status, 'Ready')?.status, 'True');
    const rolledBack = atStage(1, T0, { rollback: { level: 'canary', trigger: 'cli', reason: 'drill', at: iso(T0), agents: ['a'] } });
    const halted = setConditions(ctx, rolledBack, effectiveFlags(ctx, rolledBack).settings);
    assert.equal(conditionOf(halted.status, 'Progressing')?.message, 'halted by rollback');
    assert.equal(conditionOf(halted.status, 'RolledBack')?.reason, 'RollbackCanary');
  });
});
