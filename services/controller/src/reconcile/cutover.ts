/**
 * Step 7: the cutover sequence (strategy phase 4). flags.legacyDisabled takes effect only once the
 * readiness checks hold (analysis.ts, checkCutover) or the operator forces it; then the controller
 * takes a system snapshot (controller.ts, cutover-snapshot.ts: flags, rollout, backlog, legacy
 * inventory, under an id), disables legacy and watches for spec.cutover.watch (30 m): a critical
 * alert, a rollback or the operator's breaker (`bridgectl cutover rollback`) during the watch opens
 * legacy again with the snapshot's flags (`rolled-back`, until the operator sets legacyDisabled to
 * false and tries again); a minor alert is reported and legacy stays disabled (fix forward); a clean
 * watch schedules the removal of legacy (`removal-scheduled`, final: the guard is not consulted
 * again). A rollback in force before the cutover started keeps legacy open, as always.
 */
import type { CutoverStatus, FlagSettings } from '@agent-bridge/flags';
import { rollbackFlags } from '../rollback.js';
import { draft, record, type Pass, type PassContext } from './pass.js';
import type { ActionOutcome, ControlAction, CutoverCheck } from './types.js';
import { conditionOf } from '../status.js';

/** Minor alerts kept in status.cutover.issues. */
const MAX_ISSUES = 20;

export function guardCutover(ctx: PassContext, input: Pass, settings: FlagSettings, check: CutoverCheck | undefined, snapshot?: { id: string; at: string }): { pass: Pass; settings: FlagSettings } {
  const pass = draft(input);
  const { status } = pass;
  const guarded = structuredClone(settings);
  const previous = status.cutover;
  const state = previous?.state;
  if (!ctx.requested.legacyDisabled) {
    if (state === 'watching' || state === 'removal-scheduled') {
      record(ctx, pass, {
        action: 'cutover.cancelled',
        actor: 'operator',
        trigger: 'resource',
        reason: `flags.legacyDisabled set back to false: the legacy endpoint serves again (snapshot ${previous!.snapshot?.id ?? 'none'})`,
        severity: 'Warning',
      });
    }
    delete status.cutover;
    return { pass, settings: guarded };
  }
  if (state === 'watching' && status.rollback) {
    rollBackCutover(
      ctx,
      pass,
      `${status.rollback.level} rollback during the post-cutover watch (${status.rollback.trigger}: ${status.rollback.reason})`,
      status.rollback.trigger === 'alert' ? 'alertmanager' : ctx.self,
      status.rollback.trigger,
    );
  }
  if (status.cutover?.state === 'rolled-back') return { pass, settings: restoredFlags(status.cutover, guarded, status) };
  if (state === 'watching' || state === 'removal-scheduled') {
    const cutover = status.cutover!;
    if (state === 'watching' && ctx.now >= Date.parse(cutover.watchUntil ?? ctx.at)) {
      cutover.state = 'removal-scheduled';
      cutover.endedAt = ctx.at;
      cutover.message = `post-cutover watch clean${cutover.issues?.length ? ` apart from ${cutover.issues.length} minor issue(s)` : ''}: legacy removal scheduled`;
      record(ctx, pass, {
        action: 'cutover.completed',
        actor: ctx.self,
        trigger: 'watch',
        reason: `no critical alert during the post-cutover watch (since ${cutover.startedAt}): legacy stays disabled and its removal is scheduled (docs/operations.md, "After the cutover")`,
        details: { snapshotId: cutover.snapshot?.id, minorIssues: cutover.issues?.length ?? 0 },
        severity: 'Normal',
      });
    }
    guarded.legacyDisabled = true;
    return { pass, settings: guarded };
  }
  if (status.rollback) {
    delete status.cutover;
    return { pass, settings: guarded };
  }

  const forced = ctx.spec.cutover.force;
  const checked = check ?? { ready: false, message: 'readiness not checked yet' };
  const wasReady = previous?.ready || previous?.forced;
  const next: CutoverStatus = { ready: checked.ready, forced: !checked.ready && forced !== undefined, message: checked.message, checkedAt: ctx.at, state: 'blocked' };
  status.cutover = next;
  if (!checked.ready && !forced) {
    guarded.legacyDisabled = false;
    if (!wasReady && !pass.events.some((e) => e.action === 'cutover.blocked') && conditionOf(status, 'CutoverBlocked')?.status !== 'True') {
      record(ctx, pass, { action: 'cutover.blocked', actor: ctx.self, trigger: 'guard', reason: checked.message, severity: 'Warning' });
    }
    return { pass, settings: guarded };
  }
  if (!checked.ready && forced && !wasReady) {
    record(ctx, pass, { action: 'cutover.forced', actor: 'operator', trigger: 'resource', reason: forced.reason, details: { checks: checked.message }, severity: 'Warning' });
  }
  if (!snapshot) {
    // The controller takes the snapshot before the pass that disables legacy; until it has one, legacy serves.
    next.state = 'snapshot';
    next.message = `${checked.message}; taking the system snapshot before legacy is disabled`;
    guarded.legacyDisabled = false;
    return { pass, settings: guarded };
  }
  const before = structuredClone(settings);
  before.legacyDisabled = false;
  const watchUntil = new Date(ctx.now + ctx.cutoverWatchMs).toISOString();
  Object.assign(next, { state: 'watching', snapshot: { id: snapshot.id, at: snapshot.at, flagsJson: JSON.stringify(before) }, startedAt: ctx.at, watchUntil, message: `legacy disabled; watching until ${watchUntil}` });
  record(ctx, pass, {
    action: 'cutover.started',
    actor: next.forced ? 'operator' : ctx.self,
    trigger: next.forced ? 'resource' : 'guard',
    reason: `legacy disabled after system snapshot ${snapshot.id}; a critical alert before ${watchUntil} rolls back to it`,
    details: { snapshotId: snapshot.id, watchUntil, checks: checked.message },
    severity: 'Normal',
  });
  guarded.legacyDisabled = true;
  return { pass, settings: guarded };
}

/** Whether the next pass needs a system snapshot: legacy is asked to go, the guard lets it, nothing has started yet. */
export function snapshotWanted(ctx: { legacyDisabledRequested: boolean; forced: boolean }, status: { cutover?: CutoverStatus; rollback?: unknown }, check: CutoverCheck | undefined): boolean {
  if (!ctx.legacyDisabledRequested || status.rollback) return false;
  const state = status.cutover?.state;
  if (state === 'watching' || state === 'rolled-back' || state === 'removal-scheduled') return false;
  return check?.ready === true || ctx.forced;
}

/** An alert during the post-cutover watch: critical rolls back to the snapshot, anything else is reported. */
export function observeCutoverAlert(ctx: PassContext, input: Pass, action: Extract<ControlAction, { type: 'alert-seen' }>): Pass {
  const pass = draft(input);
  const cutover = pass.status.cutover;
  let outcome: ActionOutcome;
  if (cutover?.state !== 'watching') {
    outcome = { applied: false, message: 'no post-cutover watch in progress' };
  } else if (action.severity === 'critical') {
    rollBackCutover(ctx, pass, `critical alert ${action.name} during the post-cutover watch${action.summary ? `: ${action.summary}` : ''}`, 'alertmanager', 'alert');
    outcome = { applied: true, message: `rolled back to snapshot ${cutover.snapshot?.id}` };
  } else if (cutover.issues?.some((issue) => issue.alert === action.name && issue.at === action.startsAt)) {
    outcome = { applied: false, message: `${action.name} (since ${action.startsAt}) is already reported` };
  } else {
    cutover.issues = [...(cutover.issues ?? []), { alert: action.name, severity: action.severity, at: action.startsAt, ...(action.summary ? { summary: action.summary } : {}) }].slice(-MAX_ISSUES);
    record(ctx, pass, {
      action: 'cutover.issue',
      actor: 'alertmanager',
      trigger: 'alert',
      reason: `${action.severity} alert ${action.name} during the post-cutover watch: legacy stays disabled (fix forward)${action.summary ? `; ${action.summary}` : ''}`,
      details: { alert: action.name, severity: action.severity },
      severity: 'Warning',
    });
    outcome = { applied: true, message: `reported; legacy stays disabled` };
  }
  pass.outcomes.push(outcome);
  return pass;
}

/** The operator's breaker: back to the snapshot now (during the watch, or after it). */
export function tripCutoverBreaker(ctx: PassContext, input: Pass, action: Extract<ControlAction, { type: 'cutover-rollback' }>): Pass {
  const pass = draft(input);
  const state = pass.status.cutover?.state;
  let outcome: ActionOutcome;
  if (state !== 'watching' && state !== 'removal-scheduled') {
    outcome = { applied: false, message: state === 'rolled-back' ? 'already rolled back to the snapshot' : 'legacy is not disabled by a cutover; nothing to roll back' };
  } else {
    rollBackCutover(ctx, pass, action.reason, action.actor, action.trigger);
    outcome = { applied: true, message: `rolled back to snapshot ${pass.status.cutover!.snapshot?.id}: the legacy endpoint serves again` };
  }
  pass.outcomes.push(outcome);
  return pass;
}

function rollBackCutover(ctx: PassContext, pass: Pass, reason: string, actor: string, trigger: string): void {
  const cutover = pass.status.cutover!;
  cutover.state = 'rolled-back';
  cutover.endedAt = ctx.at;
  cutover.rollbackReason = reason;
  cutover.message = `rolled back to snapshot ${cutover.snapshot?.id}: ${reason}. Set flags.legacyDisabled to false, fix the cause, then set it to true again to retry`;
  record(ctx, pass, { action: 'cutover.rolled-back', actor, trigger, reason, details: { snapshotId: cutover.snapshot?.id, startedAt: cutover.startedAt }, severity: 'Warning' });
}

/** Rolled back: the snapshot's flags (legacy serving), with any rollback in force on top. */
function restoredFlags(cutover: CutoverStatus, current: FlagSettings, status: Pass['status']): FlagSettings {
  const snapshot = cutover.snapshot ? (JSON.parse(cutover.snapshot.flagsJson) as FlagSettings) : current;
  const restored = rollbackFlags(structuredClone(snapshot), status.rollback);
  restored.legacyDisabled = false;
  return restored;
}
