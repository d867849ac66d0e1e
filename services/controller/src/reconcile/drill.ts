/**
 * Rollback drills (the strategy's rollback readiness): a designated agent is sent back to legacy,
 * the time until that is in effect everywhere is measured, and the agent is restored. A drill is a
 * small state machine in the status — started → rolling-back → restoring → lastDrill — moved on by
 * actions: `drill` starts one (schedule, CLI, admin API) and `drill-step` reports what the
 * controller measured after each publication. A drill never holds the rollout and never counts as a
 * rollback; while it runs, the agent is excluded from elicitation (effectiveFlags).
 */
import type { DrillResult, FlagSettings } from '@agent-bridge/flags';
import { draft, record, type Pass, type PassContext } from './pass.js';
import type { ControlAction } from './types.js';

type DrillAction = Extract<ControlAction, { type: 'drill' }>;
type DrillStepAction = Extract<ControlAction, { type: 'drill-step' }>;

export function startDrill(ctx: PassContext, input: Pass, action: DrillAction): Pass {
  const pass = draft(input);
  const { status } = pass;
  if (status.drill) {
    pass.outcomes.push({ applied: false, message: `drill ${status.drill.id} of ${status.drill.agent} is still running (${status.drill.state}); wait for it (bridgectl status shows it)` });
    return pass;
  }
  if (action.failure) {
    status.lastDrill = { id: action.id, agent: action.agent, trigger: action.trigger, actor: action.actor, startedAt: ctx.at, at: ctx.at, result: 'failed', message: action.failure };
    record(ctx, pass, { action: 'drill.finished', actor: action.actor, trigger: action.trigger, reason: `rollback drill ${action.id} failed: ${action.failure}`, details: { ...status.lastDrill }, severity: 'Warning' });
    pass.outcomes.push({ applied: false, message: action.failure });
    return pass;
  }
  status.drill = { id: action.id, agent: action.agent, trigger: action.trigger, actor: action.actor, state: 'rolling-back', startedAt: ctx.at };
  record(ctx, pass, {
    action: 'drill.started',
    actor: action.actor,
    trigger: action.trigger,
    reason: `rollback drill ${action.id}: ${action.agent} goes to legacy and back`,
    details: { id: action.id, agent: action.agent },
    severity: 'Normal',
  });
  pass.outcomes.push({ applied: true, message: `drill ${action.id} started: ${action.agent} goes to legacy, then back to elicitation` });
  return pass;
}

export function stepDrill(ctx: PassContext, input: Pass, action: DrillStepAction): Pass {
  const pass = draft(input);
  const { status } = pass;
  const drill = status.drill;
  if (!drill || drill.id !== action.id) {
    pass.outcomes.push({ applied: false, message: `no drill ${action.id} is running` });
    return pass;
  }
  if (action.step === 'effective' && drill.state === 'rolling-back') {
    drill.state = 'restoring';
    if (action.elapsedMs !== undefined) drill.effectMs = action.elapsedMs;
    if (action.failure) drill.failure = action.failure;
    pass.outcomes.push({ applied: true, message: 'restoring' });
    return pass;
  }
  if (action.step === 'restored' && drill.state === 'restoring') {
    const failure = drill.failure ?? action.failure;
    const result: DrillResult = {
      id: drill.id,
      agent: drill.agent,
      trigger: drill.trigger,
      actor: drill.actor,
      startedAt: drill.startedAt,
      at: ctx.at,
      result: failure ? 'failed' : 'passed',
      ...(drill.effectMs !== undefined ? { effectMs: drill.effectMs } : {}),
      ...(action.elapsedMs !== undefined ? { restoreMs: action.elapsedMs } : {}),
      message: failure ?? `${drill.agent} was on legacy everywhere ${drill.effectMs} ms after the trigger and back on elicitation ${action.elapsedMs} ms after the restore`,
    };
    status.lastDrill = result;
    delete status.drill;
    record(ctx, pass, { action: 'drill.finished', actor: ctx.self, trigger: drill.trigger, reason: `rollback drill ${result.id} ${result.result}: ${result.message}`, details: { ...result }, severity: failure ? 'Warning' : 'Normal' });
    pass.outcomes.push({ applied: true, message: result.message });
    return pass;
  }
  pass.outcomes.push({ applied: false, message: `drill ${action.id} is ${drill.state}; ${action.step} does not apply` });
  return pass;
}

/** The flags while a drill rolls its agent back: the agent excluded from elicitation. */
export function drillFlags(settings: FlagSettings, drill: Pass['status']['drill']): FlagSettings {
  if (drill?.state !== 'rolling-back' || settings.elicitation.excludedAgents.includes(drill.agent)) return settings;
  const next = structuredClone(settings);
  next.elicitation.excludedAgents = [...next.elicitation.excludedAgents, drill.agent];
  return next;
}
