/** rollback.ts on its own: which trigger rolls back, what each level changes, and what it does to the flags. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { INITIAL_ROLLOUT, evaluateProtocol, parseFeatureFlags, requestedSettings, type ActiveRollback, type FeatureFlagsStatus } from '@agent-bridge/flags';
import { firstPass, passContext, type Pass, type PassContext } from './reconcile/pass.js';
import type { RollbackAction } from './reconcile/types.js';
import { alertRollbackLevel, applyRollback, countRollbacks, gateRollback, liftRollback, resourceRollback, rollbackFlags } from './rollback.js';
import { conditionOf, initialStatus, setCondition } from './status.js';

const T0 = Date.parse('2026-01-05T09:00:00Z');
const iso = (at: number) => new Date(at).toISOString();
const ROLLOUT = {
  phase: 'rollout',
  flags: { elicitation: { enabled: true, agents: ['test_agent_alpha'], excludedAgents: ['legacy_only'] } },
  rollout: {
    stages: [
      { percentage: 10, hold: '1h' },
      { percentage: 25, hold: '1h' },
      { percentage: 50, hold: '1h' },
    ],
  },
  rollback: {
    alerts: [
      { alertName: 'ElicitationErrorSpike', level: 'partial' },
      { alertName: 'Noise', level: 'none' },
    ],
  },
};

function contextOf(spec: Record<string, unknown> = ROLLOUT, now = T0): PassContext {
  const resource = parseFeatureFlags({ apiVersion: 'agentbridge.io/v1alpha1', kind: 'FeatureFlags', metadata: { name: 'agent-bridge' }, spec });
  return passContext({ spec: resource.spec, generation: 1, status: initialStatus(), now, controllerId: 'controller-a' });
}

function atStage(stage: number, extra: Partial<FeatureFlagsStatus> = {}): Pass {
  return firstPass({ ...initialStatus(), observedGeneration: 1, phase: 'rollout', stage, stageStartedAt: iso(T0), ...extra });
}

const action = (level: RollbackAction['level'], extra: Partial<RollbackAction> = {}): RollbackAction => ({ type: 'rollback', level, trigger: 'admin', actor: 'ops', reason: 'drill', ...extra });

describe('which trigger rolls back', () => {
  test('an alert: the resource mapping wins over the label; none, unknown levels and manual-only policies do nothing', () => {
    const ctx = contextOf();
    assert.deepEqual(alertRollbackLevel(ctx.spec, 'ElicitationErrorSpike', 'full'), { level: 'partial' });
    assert.deepEqual(alertRollbackLevel(ctx.spec, 'Unmapped', 'canary'), { level: 'canary' });
    assert.deepEqual(alertRollbackLevel(ctx.spec, 'Noise', 'full'), { ignored: 'the resource maps this alert to none' });
    assert.deepEqual(alertRollbackLevel(ctx.spec, 'Unmapped', undefined), { ignored: 'the alert has no rollback label and the resource does not map it' });
    assert.match((alertRollbackLevel(ctx.spec, 'Unmapped', 'total') as { ignored: string }).ignored, /unknown rollback level "total"/);
    const manual = contextOf({ ...ROLLOUT, rollback: { automatic: false } });
    assert.deepEqual(alertRollbackLevel(manual.spec, 'Unmapped', 'full'), { ignored: 'spec.rollback.automatic is false' });
  });

  test('a gate: only at the failure limit, only when automatic', () => {
    const spec = { ...ROLLOUT, analysis: { prometheusUrl: 'http://prometheus:9090', failureLimit: 2, metrics: [{ name: 'errors', query: 'x', max: 1 }] } };
    const failed = [{ name: 'errors', value: 3, max: 1, result: 'fail' as const, at: iso(T0) }];
    const ctx = contextOf(spec);
    assert.equal(gateRollback(ctx, atStage(1, { failedChecks: 1 }).status, failed, failed), undefined);
    const rollback = gateRollback(ctx, atStage(1, { failedChecks: 2 }).status, failed, failed);
    assert.equal(rollback?.level, 'partial');
    assert.equal(rollback?.actor, 'controller-a');
    assert.equal(rollback?.reason, 'analysis failed 2 times at stage 1: errors');
    assert.equal(gateRollback(contextOf({ ...spec, rollback: { automatic: false } }), atStage(1, { failedChecks: 5 }).status, failed, failed), undefined);
  });

  test('a resource request carries its id for the audit trail', () => {
    assert.deepEqual(resourceRollback({ id: 'r-1', level: 'full', reason: 'pager' }), { type: 'rollback', level: 'full', trigger: 'resource', reason: 'pager', actor: 'operator', details: { requestId: 'r-1' } });
  });
});

describe('applying a rollback', () => {
  test('partial lowers the percentage from the stage and the stage to the last one at or below it', () => {
    const input = atStage(3);
    setCondition(input.status, 'StagesComplete', 'True', 'AllStagesHeld', '3/3 stages', iso(T0), 1);
    const pass = applyRollback(contextOf(), input, action('partial', { percentageReduction: 30 }));
    assert.deepEqual(pass.outcomes, [{ applied: true, message: 'partial rollback: percentage 50% → 20%' }]);
    assert.equal(pass.status.rollback?.percentage, 20);
    assert.equal(pass.status.stage, 1);
    assert.equal(conditionOf(pass.status, 'StagesComplete')?.status, 'False');
    assert.equal(pass.rollbacks.length, 1);
    assert.equal(pass.events[0]!.details?.effect, 'percentage 50% → 20%');
  });

  test('a milder rollback after a severe one keeps the severe level in force', () => {
    const full = applyRollback(contextOf(), atStage(2), action('full'));
    const then = applyRollback(contextOf(), full, action('canary'));
    assert.equal(then.status.rollback?.level, 'full');
    assert.deepEqual(then.status.rollback?.agents, ['test_agent_alpha']);
    assert.equal(then.status.lastRollback?.level, 'canary');
  });

  test('canary skips agents already excluded; nothing left to move is not a rollback', () => {
    const pass = applyRollback(contextOf(), atStage(1), action('canary', { agents: ['legacy_only'] }));
    assert.equal(pass.outcomes[0]!.applied, false);
    assert.match(pass.outcomes[0]!.message, /already on legacy/);
    assert.equal(pass.rollbacks.length, 0);
    assert.equal(pass.status.rollback, undefined);
  });

  test('an alert is acted on once: it is remembered even when its rollback changed nothing', () => {
    const alert = { fingerprint: 'f00d', startsAt: iso(T0) };
    const off = contextOf({ ...ROLLOUT, flags: { elicitation: { enabled: false } } });
    const first = applyRollback(off, atStage(1), action('full', { trigger: 'alert', alert }));
    assert.match(first.outcomes[0]!.message, /already off/);
    assert.deepEqual(first.status.handledAlerts, [alert]);
    const again = applyRollback(off, first, action('full', { trigger: 'alert', alert }));
    assert.match(again.outcomes[1]!.message, /already acted on/);
  });
});

describe('a rollback in force', () => {
  const requested = requestedSettings(contextOf({ ...ROLLOUT, flags: { ...ROLLOUT.flags, legacyDisabled: true } }).spec);
  const inForce = (extra: Partial<ActiveRollback>): ActiveRollback => ({ level: 'canary', trigger: 'admin', reason: 'drill', at: iso(T0), ...extra });

  test('each level changes the flags it names, and legacy serves again', () => {
    assert.equal(rollbackFlags(requested, undefined), requested);
    const full = rollbackFlags(requested, inForce({ level: 'full' }));
    assert.equal(full.elicitation.enabled, false);
    assert.equal(full.legacyDisabled, false);
    assert.equal(rollbackFlags(requested, inForce({ level: 'partial', percentage: 15 })).elicitation.percentage, 15);
    const canary = rollbackFlags(requested, inForce({ agents: ['test_agent_alpha', 'legacy_only'] }));
    assert.deepEqual(canary.elicitation.excludedAgents, ['legacy_only', 'test_agent_alpha']);
    assert.equal(evaluateProtocol(canary, 'test_agent_alpha').protocol, 'legacy');
    assert.equal(requested.legacyDisabled, true, 'the input settings are not changed');
  });

  test('lifting it restarts the hold of the stage it left', () => {
    const status = atStage(2, { rollback: inForce({}), pausedAt: iso(T0) }).status;
    const lifted = liftRollback(contextOf(ROLLOUT, T0 + 5_000), status);
    assert.equal(lifted?.level, 'canary');
    assert.equal(status.rollback, undefined);
    assert.equal(status.stageStartedAt, iso(T0 + 5_000));
    assert.equal(status.pausedAt, undefined);
  });

  test('the published rollout state counts rollbacks by level and trigger', () => {
    const state = countRollbacks(INITIAL_ROLLOUT, [action('partial'), action('partial'), action('full', { trigger: 'gate', reason: 'errors' })], iso(T0));
    assert.deepEqual(state.rollbacks, [
      { level: 'partial', trigger: 'admin', count: 2 },
      { level: 'full', trigger: 'gate', count: 1 },
    ]);
    assert.deepEqual(state.lastRollback, { level: 'full', trigger: 'gate', reason: 'errors', at: iso(T0) });
  });
});
