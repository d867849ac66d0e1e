/**
 * Where a rollback happens. Every trigger ends here: an Alertmanager alert (alerts.ts asks
 * alertRollbackLevel), a gate that failed failureLimit times (gateRollback), a rollback requested by
 * editing the resource (resourceRollback), and the admin API / CLI (a rollback action). This module
 * decides whether each one changes anything (applyRollback), what a rollback in force does to the
 * published flags (rollbackFlags), how resume lifts it (liftRollback), and how rollbacks are counted
 * in the published rollout state (countRollbacks). Pure: the controller publishes what it returns,
 * and measures the effect afterwards (controller.ts, measureEffect).
 */
import { ROLLBACK_LEVELS, compileAgentMatcher, withRollback, type ActiveRollback, type FeatureFlagsSpec, type FeatureFlagsStatus, type FlagSettings, type MetricValue, type RollbackLevel, type RolloutState } from '@agent-bridge/flags';
import { draft, record, type Pass, type PassContext } from './reconcile/pass.js';
import { plannedPercentage } from './reconcile/stages.js';
import type { ActionOutcome, RollbackAction } from './reconcile/types.js';
import { MAX_HANDLED_ALERTS, setCondition } from './status.js';

const SEVERITY: Record<RollbackLevel, number> = { canary: 1, partial: 2, full: 3 };

// ------------------------------------------------------------------ triggers: which rollback, if any

/**
 * The level a firing alert rolls back at: the resource's policy (spec.rollback.alerts), else the
 * alert's `rollback` label; or why it rolls nothing back.
 */
export function alertRollbackLevel(spec: FeatureFlagsSpec, alertname: string, label: string | undefined): { level: RollbackLevel } | { ignored: string } {
  const mapped = spec.rollback.alerts.find((entry) => entry.alertName === alertname)?.level;
  const level = mapped ?? label ?? 'none';
  if (level === 'none') return { ignored: mapped ? 'the resource maps this alert to none' : 'the alert has no rollback label and the resource does not map it' };
  if (!(ROLLBACK_LEVELS as readonly string[]).includes(level)) return { ignored: `unknown rollback level "${level}" in the alert's rollback label` };
  if (!spec.rollback.automatic) return { ignored: 'spec.rollback.automatic is false' };
  return { level: level as RollbackLevel };
}

/** A gate rolls back, at spec.rollback.onGateFailure, once failureLimit rounds failed in a row (when rollbacks are automatic). */
export function gateRollback(ctx: PassContext, status: FeatureFlagsStatus, failed: MetricValue[], analysis: MetricValue[]): RollbackAction | undefined {
  if (status.failedChecks < ctx.spec.analysis.failureLimit || !ctx.spec.rollback.automatic) return undefined;
  return {
    type: 'rollback',
    level: ctx.spec.rollback.onGateFailure,
    trigger: 'gate',
    actor: ctx.self,
    reason: `analysis failed ${status.failedChecks} times at stage ${status.stage}: ${failed.map((m) => m.name).join(', ')}`,
    details: { metrics: analysis },
  };
}

/** The rollback an operator requested in the resource (spec.rollback.request); applied once per id by the caller. */
export function resourceRollback(request: NonNullable<FeatureFlagsSpec['rollback']['request']>): RollbackAction {
  return { type: 'rollback', level: request.level, trigger: 'resource', reason: request.reason, actor: 'operator', ...(request.agents ? { agents: request.agents } : {}), details: { requestId: request.id } };
}

// ------------------------------------------------------------------ performing one

/** Applies a rollback action to the pass: the status holds it (levels accumulate), its outcome says what changed. */
export function applyRollback(ctx: PassContext, input: Pass, action: RollbackAction): Pass {
  const pass = draft(input);
  pass.outcomes.push(rollBack(ctx, pass, action));
  return pass;
}

function rollBack(ctx: PassContext, pass: Pass, action: RollbackAction): ActionOutcome {
  const { status } = pass;
  const { spec, stages, requested, at } = ctx;
  if (action.alert) {
    const seen = status.handledAlerts.some((a) => a.fingerprint === action.alert!.fingerprint && a.startsAt === action.alert!.startsAt);
    if (seen) return { applied: false, message: `alert ${action.alert.fingerprint} (since ${action.alert.startsAt}) was already acted on; not a second rollback` };
    status.handledAlerts = [...status.handledAlerts, action.alert].slice(-MAX_HANDLED_ALERTS);
  }
  const current = status.rollback;
  const next: ActiveRollback = { ...(current ?? {}), level: action.level, trigger: action.trigger, reason: action.reason, at };
  if (current && SEVERITY[current.level] > SEVERITY[action.level]) next.level = current.level;
  let effect: string;
  if (action.level === 'full') {
    const alreadyOff = !requested.elicitation.enabled || current?.level === 'full';
    if (alreadyOff) return { applied: false, message: 'elicitation is already off for every agent; nothing changed' };
    effect = 'elicitation off for every agent';
  } else if (action.level === 'partial') {
    const from = status.rollback?.percentage ?? plannedPercentage(ctx, status);
    if (from === 0) return { applied: false, message: 'the percentage is already 0; nothing changed' };
    const step = action.percentageReduction ?? spec.rollback.partialStep;
    const to = Math.max(0, from - step);
    next.percentage = to;
    // The stage goes back to the last one at or below the new percentage, so a resume re-holds it.
    let stage = 0;
    stages.forEach((s, i) => {
      if (s.percentage <= to) stage = i + 1;
    });
    status.stage = Math.min(status.stage, stage);
    if (status.stage < stages.length) setCondition(status, 'StagesComplete', 'False', 'StagesRemaining', `${status.stage}/${stages.length} stages`, at, ctx.generation);
    effect = `percentage ${from}% → ${to}%`;
  } else {
    const agents = action.agents?.length ? action.agents : (spec.rollback.canaryAgents ?? requested.elicitation.agents);
    if (agents.length === 0) return { applied: false, message: 'no canary agents to roll back: give agents, or set spec.rollback.canaryAgents or flags.elicitation.agents' };
    const already = new Set(current?.agents ?? []);
    const matcher = compileAgentMatcher(requested.elicitation.excludedAgents);
    const added = agents.filter((agent) => !already.has(agent) && !matcher.matches(agent));
    if (added.length === 0) return { applied: false, message: `${agents.join(', ')} already on legacy; nothing changed` };
    next.agents = unique([...(current?.agents ?? []), ...added]);
    effect = `${added.join(', ')} back to legacy`;
  }
  status.rollback = next;
  status.lastRollback = { level: action.level, trigger: action.trigger, reason: action.reason, at };
  pass.rollbacks.push(action);
  record(ctx, pass, {
    action: 'rollback',
    actor: action.actor,
    trigger: action.trigger,
    reason: action.reason,
    details: { level: action.level, effect, ...(action.details ?? {}) },
    severity: 'Warning',
  });
  return { applied: true, message: `${action.level} rollback: ${effect}` };
}

// ------------------------------------------------------------------ a rollback in force

/**
 * What a rollback in force does to the flags: full turns elicitation off, partial caps the
 * percentage, canary excludes its agents; and the legacy endpoint serves again, because the agents
 * moved back must be served.
 */
export function rollbackFlags(settings: FlagSettings, rollback: ActiveRollback | undefined): FlagSettings {
  if (!rollback) return settings;
  const next = structuredClone(settings);
  if (rollback.level === 'full') next.elicitation.enabled = false;
  if (rollback.percentage !== undefined) next.elicitation.percentage = rollback.percentage;
  if (rollback.agents?.length) next.elicitation.excludedAgents = unique([...next.elicitation.excludedAgents, ...rollback.agents]);
  next.legacyDisabled = false;
  return next;
}

/**
 * Resume lifts the rollback in force from a draft's status and returns it: the stage it left is
 * held again from the start.
 */
export function liftRollback(ctx: PassContext, status: FeatureFlagsStatus): ActiveRollback | undefined {
  const lifted = status.rollback;
  if (lifted && status.stage > 0) {
    status.stageStartedAt = ctx.at;
    delete status.pausedAt;
  }
  delete status.rollback;
  return lifted;
}

/** The rollout state published with the flags counts each rollback of the pass by level and trigger. */
export function countRollbacks(state: RolloutState, rollbacks: readonly RollbackAction[], at: string): RolloutState {
  return rollbacks.reduce((next, r) => withRollback(next, { level: r.level, trigger: r.trigger, reason: r.reason, at }), state);
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
