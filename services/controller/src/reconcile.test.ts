import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { evaluateProtocol, parseFeatureFlags, type FeatureFlagsSpec, type FeatureFlagsStatus, type MetricValue } from '@agent-bridge/flags';
import { analysisDue, reconcile, type ControlAction, type ReconcileInput, type ReconcileResult } from './reconcile.js';
import { conditionOf, initialStatus } from './status.js';

const T0 = Date.parse('2026-01-05T09:00:00Z');
const MIN = 60_000;
const HOUR = 60 * MIN;

function specOf(spec: Record<string, unknown>): FeatureFlagsSpec {
  return parseFeatureFlags({ apiVersion: 'agentbridge.io/v1alpha1', kind: 'FeatureFlags', metadata: { name: 'agent-bridge' }, spec }).spec;
}

const ROLLOUT = {
  phase: 'rollout',
  flags: { elicitation: { enabled: true, agents: ['test_agent_alpha'] } },
  rollout: {
    stages: [
      { percentage: 10, hold: '1h' },
      { percentage: 25, hold: '2h' },
      { percentage: 100, hold: '30m' },
    ],
  },
};

/** Drives reconcile like the controller does: status carried from pass to pass through JSON (as stored). */
class Harness {
  status: FeatureFlagsStatus = initialStatus();
  last!: ReconcileResult;
  constructor(
    public spec: FeatureFlagsSpec,
    public generation = 1,
  ) {}
  pass(at: number, extra: Partial<ReconcileInput> = {}): ReconcileResult {
    this.last = reconcile({ spec: this.spec, generation: this.generation, status: JSON.parse(JSON.stringify(this.status)), now: at, ...extra });
    this.status = this.last.status;
    return this.last;
  }
  act(at: number, action: ControlAction) {
    return this.pass(at, { actions: [action] }).outcomes[0]!;
  }
}

function metric(name: string, value: number | null, result: MetricValue['result'], at: number): MetricValue {
  return { name, value, max: 0.01, result, at: new Date(at).toISOString() };
}

describe('stage progression', () => {
  test('a rollout starts at its first stage and moves on only after each hold', () => {
    const h = new Harness(specOf(ROLLOUT));
    assert.equal(h.pass(T0).settings.elicitation.percentage, 10);
    assert.equal(h.status.stage, 1);
    assert.equal(h.last.events[0]!.action, 'stage.started');
    h.pass(T0 + 59 * MIN);
    assert.equal(h.status.stage, 1, 'held for less than 1h');
    const promoted = h.pass(T0 + HOUR);
    assert.equal(h.status.stage, 2);
    assert.equal(promoted.settings.elicitation.percentage, 25);
    assert.equal(promoted.events[0]!.action, 'stage.promoted');
    assert.equal(h.status.stageStartedAt, new Date(T0 + HOUR).toISOString());
    assert.equal(conditionOf(h.status, 'Progressing')?.status, 'True');
  });

  test('after the last stage the migration is in stabilization and stages are complete', () => {
    const h = new Harness(specOf(ROLLOUT));
    h.pass(T0);
    h.pass(T0 + HOUR);
    h.pass(T0 + 3 * HOUR);
    assert.equal(h.status.stage, 3);
    assert.equal(h.status.phase, 'rollout');
    const done = h.pass(T0 + 3 * HOUR + 30 * MIN);
    assert.equal(h.status.phase, 'stabilization');
    assert.equal(done.settings.elicitation.percentage, 100);
    assert.deepEqual(
      done.events.map((e) => e.action),
      ['stages.completed', 'phase.changed'],
    );
    assert.equal(conditionOf(h.status, 'StagesComplete')?.status, 'True');
    assert.equal(conditionOf(h.status, 'Progressing')?.status, 'False');
    h.pass(T0 + 10 * HOUR);
    assert.equal(h.status.phase, 'stabilization', 'spec.phase rollout does not pull it back');
    assert.deepEqual(h.last.events, []);
  });

  test('a controller restarted mid-hold resumes the remaining hold from the status', () => {
    const first = new Harness(specOf(ROLLOUT));
    first.pass(T0);
    first.pass(T0 + 40 * MIN);
    const stored = JSON.stringify(first.status);

    const restarted = new Harness(specOf(ROLLOUT));
    restarted.status = JSON.parse(stored);
    restarted.pass(T0 + 50 * MIN);
    assert.equal(restarted.status.stage, 1, '50 minutes into a 1h hold');
    assert.equal(restarted.status.stageStartedAt, new Date(T0).toISOString(), 'the hold start is kept');
    restarted.pass(T0 + 61 * MIN);
    assert.equal(restarted.status.stage, 2);
  });

  test('preparation runs no stages and publishes the flags as written', () => {
    const h = new Harness(specOf({ flags: { elicitation: { enabled: false, percentage: 0 } }, rollout: ROLLOUT.rollout }));
    const result = h.pass(T0 + 10 * HOUR);
    assert.equal(h.status.stage, 0);
    assert.equal(result.settings.elicitation.enabled, false);
    assert.equal(h.status.effectivePercentage, 0);
  });

  test('spec.paused and an admin pause hold the stage; resume continues the remaining hold', () => {
    const h = new Harness(specOf(ROLLOUT));
    h.pass(T0);
    assert.equal(h.act(T0 + 20 * MIN, { type: 'pause', actor: 'ops', reason: 'investigating' }).applied, true);
    assert.match(h.act(T0 + 21 * MIN, { type: 'pause', actor: 'ops', reason: 'again' }).message, /already paused/);
    h.pass(T0 + 3 * HOUR);
    assert.equal(h.status.stage, 1, 'no promotion while paused');
    assert.equal(conditionOf(h.status, 'Paused')?.status, 'True');
    h.act(T0 + 3 * HOUR, { type: 'resume', actor: 'ops', reason: 'fine' });
    // 20 minutes were held before the pause: 40 remain.
    h.pass(T0 + 3 * HOUR + 39 * MIN);
    assert.equal(h.status.stage, 1);
    h.pass(T0 + 3 * HOUR + 40 * MIN);
    assert.equal(h.status.stage, 2);

    const edited = new Harness(specOf(ROLLOUT));
    edited.pass(T0);
    edited.spec = specOf({ ...ROLLOUT, paused: true });
    edited.generation = 2;
    edited.pass(T0 + 50 * MIN);
    edited.pass(T0 + 5 * HOUR);
    assert.equal(edited.status.stage, 1, 'spec.paused holds the stage');
    edited.spec = specOf(ROLLOUT);
    edited.generation = 3;
    edited.pass(T0 + 5 * HOUR);
    edited.pass(T0 + 5 * HOUR + 9 * MIN);
    assert.equal(edited.status.stage, 1, '50 minutes were held before spec.paused: 10 remain');
    edited.pass(T0 + 5 * HOUR + 10 * MIN);
    assert.equal(edited.status.stage, 2);

    const specPaused = new Harness(specOf({ ...ROLLOUT, paused: true }));
    specPaused.pass(T0);
    specPaused.pass(T0 + 5 * HOUR);
    assert.equal(specPaused.status.stage, 0);
    assert.match(specPaused.act(T0 + 5 * HOUR, { type: 'resume', actor: 'ops', reason: 'x' }).message, /spec.paused is true/);
  });

  test('promote skips the rest of the hold; promote-full goes to the last stage; both say when there is nothing to do', () => {
    const h = new Harness(specOf(ROLLOUT));
    h.pass(T0);
    assert.match(h.act(T0 + MIN, { type: 'promote', actor: 'ops', reason: 'looks good', full: false }).message, /stage 2 \(25%\)/);
    assert.equal(h.last.settings.elicitation.percentage, 25);
    assert.equal(h.act(T0 + 2 * MIN, { type: 'promote', actor: 'ops', reason: 'ship it', full: true }).applied, true);
    assert.equal(h.status.phase, 'stabilization');
    assert.equal(h.last.settings.elicitation.percentage, 100);
    const again = h.act(T0 + 3 * MIN, { type: 'promote', actor: 'ops', reason: 'x', full: false });
    assert.equal(again.applied, false);
  });
});

describe('analysis gates', () => {
  const GATED = { ...ROLLOUT, analysis: { prometheusUrl: 'http://prometheus:9090', interval: '5m', failureLimit: 2, metrics: [{ name: 'error-rate', query: 'x', max: 0.01 }] } };

  test('a stage is promoted only when the hold is over and the checks after its start pass', () => {
    const h = new Harness(specOf(GATED));
    h.pass(T0);
    assert.equal(analysisDue(h.spec, h.status, T0), true);
    h.pass(T0 + 30 * MIN, { analysis: [metric('error-rate', 0.001, 'pass', T0 + 30 * MIN)] });
    assert.equal(analysisDue(h.spec, h.status, T0 + 34 * MIN), false, 'next round after the interval');
    assert.equal(analysisDue(h.spec, h.status, T0 + 35 * MIN), true);
    h.pass(T0 + HOUR, { analysis: [metric('error-rate', 0.002, 'pass', T0 + HOUR)] });
    assert.equal(h.status.stage, 2);
    h.pass(T0 + 3 * HOUR);
    assert.equal(h.status.stage, 2, 'no check has run in stage 2 yet');
  });

  test('no data is inconclusive: the rollout waits instead of promoting or failing', () => {
    const h = new Harness(specOf(GATED));
    h.pass(T0);
    h.pass(T0 + 2 * HOUR, { analysis: [metric('error-rate', null, 'inconclusive', T0 + 2 * HOUR)] });
    assert.equal(h.status.stage, 1);
    assert.equal(h.status.failedChecks, 0);
    assert.equal(h.status.rollback, undefined);
    assert.equal(conditionOf(h.status, 'Progressing')?.reason, 'AnalysisInconclusive');
    assert.equal(h.last.events[0]!.action, 'analysis.inconclusive');
    h.pass(T0 + 2 * HOUR + 5 * MIN, { analysis: [metric('error-rate', 0.0, 'pass', T0 + 2 * HOUR + 5 * MIN)] });
    assert.equal(h.status.stage, 2);
  });

  test('failures count in a row; reaching the failure limit rolls back at the configured level with the metric values', () => {
    const h = new Harness(specOf(GATED));
    h.pass(T0);
    h.pass(T0 + HOUR - 1, { analysis: [metric('error-rate', 0.2, 'fail', T0)] });
    assert.equal(h.status.failedChecks, 1);
    h.pass(T0 + HOUR, { analysis: [metric('error-rate', 0.0, 'pass', T0 + HOUR)] });
    assert.equal(h.status.failedChecks, 0, 'a passing round resets the count');
    assert.equal(h.status.stage, 2);
    h.pass(T0 + HOUR + 5 * MIN, { analysis: [metric('error-rate', 0.3, 'fail', T0)] });
    const breach = h.pass(T0 + HOUR + 10 * MIN, { analysis: [metric('error-rate', 0.4, 'fail', T0)] });
    assert.equal(breach.rollbacks.length, 1);
    assert.equal(breach.rollbacks[0]!.trigger, 'gate');
    assert.equal(breach.settings.elicitation.percentage, 0, 'partial: 25 − 25');
    const audit = breach.events.find((e) => e.action === 'rollback')!;
    assert.deepEqual(
      (audit.details!.metrics as MetricValue[]).map((m) => m.value),
      [0.4],
    );
    assert.equal(analysisDue(h.spec, h.status, T0 + 5 * HOUR), false, 'no analysis while rolled back');
  });
});

describe('rollback', () => {
  function atStageTwo(extra: Record<string, unknown> = {}): Harness {
    const h = new Harness(specOf({ ...ROLLOUT, ...extra }));
    h.pass(T0);
    h.pass(T0 + HOUR);
    assert.equal(h.status.stage, 2);
    return h;
  }
  const rollback = (level: 'full' | 'partial' | 'canary', extra: Partial<Extract<ControlAction, { type: 'rollback' }>> = {}): ControlAction => ({ type: 'rollback', level, trigger: 'admin', actor: 'ops', reason: 'drill', ...extra });

  test('full: elicitation off for every agent, the rollout halts until resumed', () => {
    const h = atStageTwo();
    assert.equal(h.act(T0 + 90 * MIN, rollback('full')).applied, true);
    assert.equal(h.last.settings.elicitation.enabled, false);
    assert.equal(evaluateProtocol(h.last.settings, 'test_agent_alpha').protocol, 'legacy');
    assert.equal(conditionOf(h.status, 'RolledBack')?.status, 'True');
    h.pass(T0 + 10 * HOUR);
    assert.equal(h.status.stage, 2, 'halted');
    assert.match(h.act(T0 + 10 * HOUR, rollback('full')).message, /already off/);
    h.act(T0 + 11 * HOUR, { type: 'resume', actor: 'ops', reason: 'fixed' });
    assert.equal(h.last.settings.elicitation.enabled, true);
    assert.equal(h.status.stageStartedAt, new Date(T0 + 11 * HOUR).toISOString(), 'the stage is held again from the start');
  });

  test('partial: the percentage goes down by the step (or the given reduction) and the stage back to match', () => {
    const h = atStageTwo();
    const outcome = h.act(T0 + 90 * MIN, rollback('partial', { percentageReduction: 10 }));
    assert.equal(outcome.message, 'partial rollback: percentage 25% → 15%');
    assert.equal(h.last.settings.elicitation.percentage, 15);
    assert.equal(h.status.stage, 1, 'stage 1 (10%) is the last one at or below 15%');
    h.act(T0 + 91 * MIN, rollback('partial'));
    assert.equal(h.last.settings.elicitation.percentage, 0);
    assert.match(h.act(T0 + 92 * MIN, rollback('partial')).message, /already 0/);
  });

  test('canary: the opt-in agents (or the given ones) go back to legacy while the percentage stays', () => {
    const h = atStageTwo();
    h.act(T0 + 90 * MIN, rollback('canary'));
    assert.equal(evaluateProtocol(h.last.settings, 'test_agent_alpha').protocol, 'legacy');
    assert.equal(h.last.settings.elicitation.percentage, 25);
    h.act(T0 + 91 * MIN, rollback('canary', { agents: ['canary_*'] }));
    assert.deepEqual(h.last.settings.elicitation.excludedAgents, ['test_agent_alpha', 'canary_*']);
    assert.match(h.act(T0 + 92 * MIN, rollback('canary', { agents: ['canary_*'] })).message, /already on legacy/);
    assert.equal(h.status.rollback?.level, 'canary');
    h.act(T0 + 93 * MIN, rollback('full'));
    assert.equal(h.status.rollback?.level, 'full', 'the most severe level in force');
  });

  test('a second notification of the same alert is not a second rollback; the same alert firing again later is', () => {
    const h = atStageTwo();
    const alert = (startsAt: string): ControlAction => ({
      type: 'rollback',
      level: 'partial',
      percentageReduction: 5,
      trigger: 'alert',
      actor: 'alertmanager',
      reason: 'ElicitationErrorSpike',
      alert: { fingerprint: 'f00d', startsAt },
    });
    assert.equal(h.act(T0 + 90 * MIN, alert('2026-01-05T10:29:00Z')).applied, true);
    const repeat = h.act(T0 + 95 * MIN, alert('2026-01-05T10:29:00Z'));
    assert.equal(repeat.applied, false);
    assert.match(repeat.message, /already acted on/);
    assert.equal(h.last.settings.elicitation.percentage, 20);
    assert.equal(h.act(T0 + 5 * HOUR, alert('2026-01-05T13:50:00Z')).applied, true, 'fired again after resolving: a new rollback');
    assert.equal(h.last.settings.elicitation.percentage, 15);
    assert.equal(h.status.handledAlerts.length, 2);
  });

  test('a rollback requested by editing the resource is applied once per request id', () => {
    const h = atStageTwo();
    h.spec = specOf({ ...ROLLOUT, rollback: { request: { id: 'r-1', level: 'full', reason: 'pager' } } });
    h.generation = 2;
    const result = h.pass(T0 + 90 * MIN);
    assert.equal(result.rollbacks[0]?.trigger, 'resource');
    assert.equal(result.settings.elicitation.enabled, false);
    h.act(T0 + 91 * MIN, { type: 'resume', actor: 'ops', reason: 'ok' });
    h.generation = 3; // an unrelated edit keeps the same request id
    assert.equal(h.pass(T0 + 92 * MIN).rollbacks.length, 0);
    assert.equal(h.last.settings.elicitation.enabled, true);
  });

  test('a rollback requested in the resource in the same pass as queued actions leaves their outcomes in their order', () => {
    const h = atStageTwo();
    h.spec = specOf({ ...ROLLOUT, rollback: { request: { id: 'r-2', level: 'partial', reason: 'pager' } } });
    h.generation = 2;
    const result = h.pass(T0 + 90 * MIN, {
      actions: [
        { type: 'pause', actor: 'ops', reason: 'lunch' },
        { type: 'pause', actor: 'ops', reason: 'again' },
      ],
    });
    assert.equal(result.rollbacks[0]?.trigger, 'resource');
    assert.equal(result.outcomes.length, 2, 'one outcome per queued action');
    assert.equal(result.outcomes[0]?.applied, true);
    assert.equal(result.outcomes[1]?.applied, false);
    assert.match(result.outcomes[1]?.message ?? '', /already paused/);
  });

  test('the rollout state published with the flags counts rollbacks by level and trigger', () => {
    const h = atStageTwo();
    const result = h.act(T0 + 90 * MIN, rollback('partial', { trigger: 'cli' })) && h.last;
    const state = result.rollout({ phase: 'rollout', stage: 2, rollbacks: [{ level: 'partial', trigger: 'cli', count: 2 }], lastRollback: null });
    assert.deepEqual(state.rollbacks, [{ level: 'partial', trigger: 'cli', count: 3 }]);
    assert.equal(state.lastRollback?.reason, 'drill');
    assert.equal(state.stage, 0, '25% − 25 is below the first stage');
  });
});

const SNAPSHOT = { id: 'cutover-20260105T0900-v7', at: new Date(T0).toISOString() };

describe('cutover guard', () => {
  const COMPLETION = { phase: 'completion', flags: { elicitation: { enabled: true, percentage: 100 }, legacyDisabled: true } };

  test('legacyDisabled waits for the readiness checks, says why, and takes effect once they hold', () => {
    const h = new Harness(specOf(COMPLETION));
    const blocked = h.pass(T0, { cutover: { ready: false, message: 'legacy share 12% is above 5% (24h)' } });
    assert.equal(blocked.settings.legacyDisabled, false);
    assert.equal(conditionOf(h.status, 'CutoverBlocked')?.status, 'True');
    assert.match(conditionOf(h.status, 'CutoverBlocked')!.message, /12%/);
    assert.equal(blocked.events.filter((e) => e.action === 'cutover.blocked').length, 1);
    const ready = h.pass(T0 + HOUR, { cutover: { ready: true, message: 'all readiness checks hold' }, cutoverSnapshot: SNAPSHOT });
    assert.equal(ready.settings.legacyDisabled, true);
    assert.equal(conditionOf(h.status, 'CutoverBlocked')?.status, 'False');
  });

  test('a rollback after the cutover opens the legacy endpoint again: agents moved back must be served', () => {
    const h = new Harness(specOf(COMPLETION));
    assert.equal(h.pass(T0, { cutover: { ready: true, message: 'ok' }, cutoverSnapshot: SNAPSHOT }).settings.legacyDisabled, true);
    h.act(T0 + MIN, { type: 'rollback', level: 'full', trigger: 'admin', actor: 'ops', reason: 'elicitation outage' });
    assert.equal(h.last.settings.legacyDisabled, false);
    assert.equal(h.last.settings.elicitation.enabled, false);
  });

  test('a forced cutover disables legacy despite failing checks and records the reason', () => {
    const h = new Harness(specOf({ ...COMPLETION, cutover: { force: { reason: 'contract ends today' } } }));
    const result = h.pass(T0, { cutover: { ready: false, message: 'a critical alert is firing' }, cutoverSnapshot: SNAPSHOT });
    assert.equal(result.settings.legacyDisabled, true);
    assert.equal(h.status.cutover?.forced, true);
    const forced = result.events.find((e) => e.action === 'cutover.forced')!;
    assert.equal(forced.reason, 'contract ends today');
  });
});
