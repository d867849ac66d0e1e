/**
 * Step 7: the status conditions (Ready, Progressing, Paused, StagesComplete, RolledBack,
 * CutoverBlocked), each with a reason and a sentence, for `kubectl wait` and `bridgectl status`.
 */
import type { FlagSettings } from '@agent-bridge/flags';
import { setCondition } from '../status.js';
import { STAGED_PHASES, draft, type Pass, type PassContext } from './pass.js';
import { abGateHolds } from './evidence.js';
import { haltedBy, stagesComplete } from './stages.js';

export function setConditions(ctx: PassContext, input: Pass, settings: FlagSettings): Pass {
  const pass = draft(input);
  const { status } = pass;
  const { spec, stages, at, generation: gen } = ctx;
  const halted = haltedBy(ctx, status);
  const complete = stagesComplete(ctx, status);
  const rollback = status.rollback;

  setCondition(status, 'Ready', 'True', 'Reconciled', `generation ${gen} reconciled`, at, gen);
  const progressing = STAGED_PHASES.has(status.phase) && stages.length > 0 && !halted && !complete;
  const inconclusiveNow = status.lastMetrics.some((m) => m.result === 'inconclusive');
  const next = stages[status.stage];
  const heldFor = ctx.now - Date.parse(status.stageStartedAt ?? at);
  const gated = progressing && next !== undefined && heldFor >= (ctx.holdsMs[status.stage - 1] ?? 0) && abGateHolds(ctx, status.abTest, next.percentage);
  setCondition(
    status,
    'Progressing',
    progressing ? 'True' : 'False',
    progressing ? (gated ? 'WaitingForAbTest' : inconclusiveNow ? 'AnalysisInconclusive' : 'StageHold') : halted ? 'Halted' : 'Idle',
    progressing
      ? `stage ${status.stage}/${stages.length} at ${status.effectivePercentage}%${gated ? `, waiting for the A/B test to show an improvement (verdict ${status.abTest?.verdict ?? 'pending'})` : inconclusiveNow ? ', waiting for analysis data' : ''}`
      : halted
        ? `halted by ${halted}`
        : 'no stage to run',
    at,
    gen,
  );
  setCondition(status, 'Paused', spec.paused || status.paused ? 'True' : 'False', spec.paused ? 'SpecPaused' : status.paused ? 'ManualPause' : 'NotPaused', status.pauseReason ?? (spec.paused ? 'spec.paused is true' : ''), at, gen);
  setCondition(status, 'StagesComplete', complete ? 'True' : 'False', complete ? 'AllStagesHeld' : 'StagesRemaining', `${Math.min(status.stage, stages.length)}/${stages.length} stages`, at, gen);
  setCondition(status, 'RolledBack', rollback ? 'True' : 'False', rollback ? `Rollback${capitalize(rollback.level)}` : 'NoRollback', rollback ? `${rollback.level} rollback by ${rollback.trigger}: ${rollback.reason}` : '', at, gen);
  const blocked = ctx.requested.legacyDisabled && !settings.legacyDisabled;
  const blockedReason = status.cutover?.state === 'rolled-back' ? 'RolledBackToSnapshot' : status.cutover?.state === 'snapshot' ? 'TakingSnapshot' : 'ReadinessChecksFailed';
  setCondition(status, 'CutoverBlocked', blocked ? 'True' : 'False', blocked ? blockedReason : 'NotBlocked', blocked ? (status.cutover?.message ?? '') : '', at, gen);
  return pass;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
