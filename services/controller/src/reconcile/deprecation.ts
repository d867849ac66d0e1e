/**
 * Step 6: the deprecation campaign (spec.deprecation, the strategy's week 9). Each step runs once,
 * on its date (start + after), in order — all the due ones in one pass if the controller was down
 * over several dates — and is recorded in the status and the audit trail (`deprecation.step`). What
 * the steps that ran ask for is folded into the effective flags: warnings in results and logs, the
 * standard headers (deprecationNotice), the throttle, the final deadline in every warning. Owner
 * notifications are the controller's I/O after the pass (controller.ts queues them with the
 * notifier, whose ledger makes them once per owner); the pass records what was queued
 * (`deprecation-notices`). A dry run plans the steps (state `planned`) and changes nothing.
 */
import { parseDuration, type DeprecationAction, type DeprecationStatus, type DeprecationStepStatus, type FlagSettings } from '@agent-bridge/flags';
import { draft, record, type Pass, type PassContext } from './pass.js';
import type { ActionOutcome, ControlAction } from './types.js';

/** The actions after which owners are told (the notifier's milestone is `deprecation:<step>`). */
const NOTIFYING_ACTIONS: ReadonlySet<DeprecationAction> = new Set(['notify-owners', 'final-notice']);

export function runDeprecation(ctx: PassContext, input: Pass, settings: FlagSettings): { pass: Pass; settings: FlagSettings } {
  const pass = draft(input);
  const { status } = pass;
  const spec = ctx.spec.deprecation;
  if (!spec) {
    delete status.deprecation;
    return { pass, settings };
  }
  const start = Date.parse(spec.start);
  const before = new Map((status.deprecation?.steps ?? []).map((step) => [step.name, step]));
  const steps: DeprecationStepStatus[] = spec.steps
    .map((step) => ({ step, dueMs: start + parseDuration(step.after) }))
    .sort((a, b) => a.dueMs - b.dueMs)
    .map(({ step, dueMs }) => {
      const previous = before.get(step.name);
      const dueAt = new Date(dueMs).toISOString();
      if (previous?.state === 'done') return { ...previous, actions: [...step.actions], dueAt };
      if (dueMs > ctx.now) return { name: step.name, actions: [...step.actions], dueAt, state: 'pending' };
      if (spec.dryRun) {
        if (previous?.state !== 'planned') {
          record(ctx, pass, {
            action: 'deprecation.planned',
            actor: ctx.self,
            trigger: 'schedule',
            reason: `dry run: step ${step.name} (${step.actions.join(', ')}) is due since ${dueAt}; nothing was done`,
            details: { step: step.name, actions: step.actions, dueAt, dryRun: true },
            severity: 'Normal',
          });
        }
        return { name: step.name, actions: [...step.actions], dueAt, state: 'planned' };
      }
      record(ctx, pass, {
        action: 'deprecation.step',
        actor: ctx.self,
        trigger: 'schedule',
        reason: `deprecation step ${step.name}: ${step.actions.map(describe).join('; ')}`,
        details: { step: step.name, actions: step.actions, dueAt, sunset: spec.sunset },
        severity: 'Normal',
      });
      return { name: step.name, actions: [...step.actions], dueAt, state: 'done', executedAt: ctx.at };
    });
  const next = steps.find((step) => step.state === 'pending');
  const deprecation: DeprecationStatus = { start: spec.start, sunset: spec.sunset, dryRun: spec.dryRun, steps, ...(next ? { next: { name: next.name, at: next.dueAt } } : {}) };
  status.deprecation = deprecation;
  return { pass, settings: deprecationFlags(ctx, settings, deprecation, status.rollback?.level === 'full') };
}

/** The effective flags with what the steps that ran ask for; a full rollback in force lifts the throttle (the agents it sent back must be served at full speed). */
function deprecationFlags(ctx: PassContext, settings: FlagSettings, deprecation: DeprecationStatus, fullRollback: boolean): FlagSettings {
  const spec = ctx.spec.deprecation!;
  const done = new Set(deprecation.steps.filter((step) => step.state === 'done').flatMap((step) => step.actions));
  if (done.size === 0) return settings;
  const next = structuredClone(settings);
  if (done.has('warnings') || done.has('final-notice')) next.deprecation.warnings = true;
  if (done.has('throttle') && !fullRollback) next.deprecation.throttleMs = Math.max(next.deprecation.throttleMs, spec.throttleMs);
  next.deprecationNotice = {
    deprecatedAt: new Date(Date.parse(spec.start)).toISOString(),
    sunsetAt: new Date(Date.parse(spec.sunset)).toISOString(),
    ...(spec.migrationGuideUrl ? { link: spec.migrationGuideUrl } : {}),
    headers: done.has('headers'),
    final: done.has('final-notice'),
  };
  return next;
}

/** Records what the controller queued with the notifier for a step (once; a repeat changes nothing). */
export function recordNotices(ctx: PassContext, input: Pass, action: Extract<ControlAction, { type: 'deprecation-notices' }>): Pass {
  const pass = draft(input);
  const step = pass.status.deprecation?.steps.find((s) => s.name === action.step);
  let outcome: ActionOutcome;
  if (!step) outcome = { applied: false, message: `no deprecation step ${action.step} in the status` };
  else if (step.notices) outcome = { applied: false, message: `the notices of ${action.step} were already recorded` };
  else {
    step.notices = { queued: action.queued, already: action.already, owners: action.owners, at: ctx.at };
    record(ctx, pass, {
      action: 'deprecation.notified',
      actor: ctx.self,
      trigger: 'schedule',
      reason: `deprecation step ${action.step}: ${action.owners} owner(s) of agents still on legacy, ${action.queued} notice(s) queued, ${action.already} already sent or queued`,
      details: { step: action.step, owners: action.owners, queued: action.queued, already: action.already },
      severity: 'Normal',
    });
    outcome = { applied: true, message: `${action.queued} notice(s) queued` };
  }
  pass.outcomes.push(outcome);
  return pass;
}

/** The steps that ran and still have owner notices to queue. */
export function noticesDue(status: DeprecationStatus | undefined): DeprecationStepStatus[] {
  return (status?.steps ?? []).filter((step) => step.state === 'done' && !step.notices && step.actions.some((action) => NOTIFYING_ACTIONS.has(action as DeprecationAction)));
}

function describe(action: string): string {
  switch (action) {
    case 'warnings':
      return 'deprecation warnings in every legacy result and log';
    case 'headers':
      return 'Deprecation, Sunset and Link headers on legacy responses';
    case 'throttle':
      return 'the legacy endpoint throttled';
    case 'notify-owners':
      return 'owners of agents still on legacy notified';
    default:
      return 'the final deadline announced to owners and in every warning';
  }
}
