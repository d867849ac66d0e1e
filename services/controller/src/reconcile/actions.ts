/**
 * Step 2: the queued actions (admin API, CLI, Alertmanager, resource requests), in order, each with
 * its outcome. Pause and resume are here; promote is a stage transition (stages.ts) and a rollback
 * is rollback.ts's.
 */
import { applyRollback, liftRollback } from '../rollback.js';
import { draft, record, type Pass, type PassContext } from './pass.js';
import { observeCutoverAlert, tripCutoverBreaker } from './cutover.js';
import { recordNotices } from './deprecation.js';
import { switchReadOnly } from './contingencies.js';
import { startDrill, stepDrill } from './drill.js';
import { promote } from './stages.js';
import type { ActionOutcome, ControlAction } from './types.js';

export function applyActions(ctx: PassContext, input: Pass, actions: readonly ControlAction[]): Pass {
  return actions.reduce((pass, action) => applyAction(ctx, pass, action), input);
}

function applyAction(ctx: PassContext, input: Pass, action: ControlAction): Pass {
  switch (action.type) {
    case 'rollback':
      return applyRollback(ctx, input, action);
    case 'promote':
      return promote(ctx, input, action);
    case 'drill':
      return startDrill(ctx, input, action);
    case 'drill-step':
      return stepDrill(ctx, input, action);
    case 'alert-seen':
      return observeCutoverAlert(ctx, input, action);
    case 'cutover-rollback':
      return tripCutoverBreaker(ctx, input, action);
    case 'deprecation-notices':
      return recordNotices(ctx, input, action);
    case 'read-only':
      return switchReadOnly(ctx, input, action);
    case 'pause':
    case 'resume': {
      const pass = draft(input);
      pass.outcomes.push(action.type === 'pause' ? pause(ctx, pass, action) : resume(ctx, pass, action));
      return pass;
    }
  }
}

function pause(ctx: PassContext, pass: Pass, action: Extract<ControlAction, { type: 'pause' }>): ActionOutcome {
  const { status } = pass;
  if (status.paused) return { applied: false, message: `already paused since ${status.pausedAt} (${status.pauseReason ?? 'no reason given'}); nothing changed` };
  status.paused = true;
  status.pausedAt ??= ctx.at;
  status.pauseReason = action.reason;
  record(ctx, pass, { action: 'pause', actor: action.actor, trigger: action.trigger ?? 'admin', reason: action.reason, severity: 'Normal' });
  return { applied: true, message: `paused at stage ${status.stage}` };
}

/** Resume ends a pause (the hold continues where it stopped) and lifts a rollback (the stage is held again). */
function resume(ctx: PassContext, pass: Pass, action: Extract<ControlAction, { type: 'resume' }>): ActionOutcome {
  const { status } = pass;
  if (!status.paused && !status.rollback) {
    return { applied: false, message: ctx.spec.paused ? 'not paused by the admin API; spec.paused is true — set it to false in the resource' : 'nothing to resume: not paused and no rollback in force' };
  }
  const cleared = liftRollback(ctx, status);
  status.paused = false;
  delete status.pauseReason;
  status.failedChecks = 0;
  status.lastMetrics = [];
  delete status.lastAnalysisAt;
  record(ctx, pass, { action: 'resume', actor: action.actor, trigger: action.trigger ?? 'admin', reason: action.reason, ...(cleared ? { details: { clearedRollback: cleared } } : {}), severity: 'Normal' });
  const where = status.stage === 0 ? 'the rollout starts again from its first stage' : `stage ${status.stage} is held again`;
  return { applied: true, message: cleared ? `resumed: the ${cleared.level} rollback is lifted and ${where}` : `resumed at stage ${status.stage}` };
}
