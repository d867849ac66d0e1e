/**
 * Stage progression: the hold of each stage (stopped while paused), promotion when the hold is
 * over and the checks after its start pass, promotion by hand, and the move from rollout to
 * stabilization after the last stage.
 */
import type { FeatureFlagsStatus } from '@agent-bridge/flags';
import { conditionOf, setCondition } from '../status.js';
import { abGateHolds } from './evidence.js';
import { STAGED_PHASES, draft, record, type Pass, type PassContext } from './pass.js';
import type { ControlAction } from './types.js';

/** What holds the rollout: a rollback in force, spec.paused, or a pause by the admin API / CLI. */
export function haltedBy(ctx: PassContext, status: FeatureFlagsStatus): 'rollback' | 'spec.paused' | 'paused' | undefined {
  return status.rollback ? 'rollback' : ctx.spec.paused ? 'spec.paused' : status.paused ? 'paused' : undefined;
}

/** Every stage was held (the last stage's hold is over, or it was promoted past). */
export function stagesComplete(ctx: PassContext, status: FeatureFlagsStatus): boolean {
  return ctx.stages.length > 0 && status.stage === ctx.stages.length && conditionOf(status, 'StagesComplete')?.status === 'True';
}

/** The percentage the plan gives now, before rollbacks: the current stage's, else the spec's. */
export function plannedPercentage(ctx: PassContext, status: FeatureFlagsStatus): number {
  const { stages } = ctx;
  return status.stage > 0 && stages.length > 0 ? stages[Math.min(status.stage, stages.length) - 1]!.percentage : ctx.requested.elicitation.percentage;
}

/**
 * Step 4: pauses stop the hold (it continues where it stopped on resume); a rollout starts at its
 * first stage and moves on once each hold is over with passing checks.
 */
export function advanceStages(ctx: PassContext, input: Pass): Pass {
  const pass = draft(input);
  const { status } = pass;
  const { stages, now, at } = ctx;
  const pausedNow = ctx.spec.paused || status.paused;
  if (pausedNow && !status.pausedAt) status.pausedAt = at;
  if (!pausedNow && status.pausedAt) {
    if (status.stageStartedAt) status.stageStartedAt = new Date(Date.parse(status.stageStartedAt) + Math.max(0, now - Date.parse(status.pausedAt))).toISOString();
    delete status.pausedAt;
  }
  if (!STAGED_PHASES.has(status.phase) || stages.length === 0 || haltedBy(ctx, status)) return pass;

  if (status.stage === 0) startStage(ctx, pass, 1, ctx.self, 'rollout plan started');
  const hold = ctx.holdsMs[status.stage - 1] ?? 0;
  const heldFor = now - Date.parse(status.stageStartedAt ?? at);
  const checksOk = ctx.spec.analysis.metrics.length === 0 || (status.lastMetrics.length > 0 && status.lastMetrics.every((m) => m.result === 'pass') && Date.parse(status.lastAnalysisAt ?? '') >= Date.parse(status.stageStartedAt ?? ''));
  if (status.stage <= stages.length && heldFor >= hold && checksOk && !stagesComplete(ctx, status)) {
    const reason = `stage ${status.stage} held ${formatMs(hold)} with passing checks`;
    const next = stages[status.stage];
    if (next && abGateHolds(ctx, status.abTest, next.percentage)) {
      if (conditionOf(status, 'Progressing')?.reason !== 'WaitingForAbTest') {
        record(ctx, pass, {
          action: 'ab.gate.waiting',
          actor: ctx.self,
          trigger: 'controller',
          reason: `stage ${status.stage + 1} (${next.percentage}%) waits for the A/B test to show an improvement (verdict ${status.abTest?.verdict ?? 'pending'}; spec.abTest.gateAbovePercentage ${ctx.spec.abTest!.gateAbovePercentage}%)`,
          details: { stage: status.stage + 1, percentage: next.percentage, verdict: status.abTest?.verdict ?? 'pending' },
          severity: 'Normal',
        });
      }
    } else if (status.stage < stages.length) startStage(ctx, pass, status.stage + 1, ctx.self, reason);
    else completeStages(ctx, pass, ctx.self, reason);
  }
  return pass;
}

/** A promote action: the next stage now (or the last one with `full`), or why not. */
export function promote(ctx: PassContext, input: Pass, action: Extract<ControlAction, { type: 'promote' }>): Pass {
  const pass = draft(input);
  pass.outcomes.push(promoteOn(ctx, pass, action));
  return pass;
}

function promoteOn(ctx: PassContext, pass: Pass, action: Extract<ControlAction, { type: 'promote' }>): { applied: boolean; message: string } {
  const { status } = pass;
  const { stages } = ctx;
  if (!STAGED_PHASES.has(status.phase)) return { applied: false, message: `nothing to promote: phase is ${status.phase} (stages run in canary and rollout)` };
  if (stages.length === 0) return { applied: false, message: 'nothing to promote: spec.rollout.stages is empty' };
  if (status.rollback) return { applied: false, message: `a ${status.rollback.level} rollback is in force; resume first` };
  if (stagesComplete(ctx, status)) return { applied: false, message: `already at the last stage (${stages.at(-1)!.percentage}%); nothing changed` };
  if (action.full) {
    status.stage = stages.length;
    status.stageStartedAt = ctx.at;
    completeStages(ctx, pass, action.actor, action.reason, action.trigger);
    return { applied: true, message: `promoted to the last stage (${stages.at(-1)!.percentage}%)` };
  }
  if (status.stage === stages.length) {
    completeStages(ctx, pass, action.actor, action.reason, action.trigger);
    return { applied: true, message: `stage ${status.stage} completed` };
  }
  const next = stages[status.stage]!;
  if (abGateHolds(ctx, status.abTest, next.percentage)) {
    return {
      applied: false,
      message: `stage ${status.stage + 1} (${next.percentage}%) is above spec.abTest.gateAbovePercentage (${ctx.spec.abTest!.gateAbovePercentage}%) and the A/B verdict is ${status.abTest?.verdict ?? 'pending'}, not improved; wait for the test (bridgectl ab) or change the gate`,
    };
  }
  startStage(ctx, pass, status.stage + 1, action.actor, action.reason, action.trigger);
  return { applied: true, message: `promoted to stage ${status.stage} (${stages[status.stage - 1]!.percentage}%)` };
}

/** Moves a draft to `stage`, whose hold starts now with fresh checks. */
function startStage(ctx: PassContext, pass: Pass, stage: number, actor: string, reason: string, trigger?: string): void {
  const { status } = pass;
  const { stages } = ctx;
  const from = status.stage;
  status.stage = stage;
  status.stageStartedAt = ctx.at;
  status.failedChecks = 0;
  status.lastMetrics = [];
  delete status.lastAnalysisAt;
  setCondition(status, 'StagesComplete', 'False', 'StagesRemaining', `${stage}/${stages.length} stages`, ctx.at, ctx.generation);
  record(ctx, pass, {
    action: from === 0 ? 'stage.started' : 'stage.promoted',
    actor,
    trigger: trigger ?? (actor === ctx.self ? 'controller' : 'admin'),
    reason,
    details: { from, to: stage, percentage: stages[stage - 1]!.percentage, hold: stages[stage - 1]!.hold },
    severity: 'Normal',
  });
}

/** Marks every stage held on a draft; a rollout moves on to stabilization. */
function completeStages(ctx: PassContext, pass: Pass, actor: string, reason: string, trigger?: string): void {
  const { status } = pass;
  const { stages } = ctx;
  status.stage = stages.length;
  setCondition(status, 'StagesComplete', 'True', 'AllStagesHeld', `${stages.length}/${stages.length} stages`, ctx.at, ctx.generation);
  record(ctx, pass, { action: 'stages.completed', actor, trigger: trigger ?? (actor === ctx.self ? 'controller' : 'admin'), reason, details: { percentage: stages.at(-1)!.percentage }, severity: 'Normal' });
  if (status.phase === 'rollout') {
    status.phase = 'stabilization';
    record(ctx, pass, { action: 'phase.changed', actor, trigger: 'controller', reason: 'every rollout stage completed', details: { from: 'rollout', to: 'stabilization' }, severity: 'Normal' });
  }
}

function formatMs(ms: number): string {
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${Math.round(ms / 1000)}s`;
}
