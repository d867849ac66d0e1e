/**
 * The strategy's contingencies as the controller decides them (decision 0024): read-only mode
 * switched by the operator (spec.contingencies.readOnly), the admin API or bridgectl, an alert (label
 * `contingency: read-only`) or a new envelope checksum mismatch; and the contingencies every service
 * applies, published with the flags.
 */
import { parseDuration, type Contingencies, type ReadOnlyStatus } from '@agent-bridge/flags';
import { MAX_HANDLED_ALERTS } from '../status.js';
import { draft, record, type Pass, type PassContext } from './pass.js';
import type { ActionOutcome, ControlAction } from './types.js';

export type ReadOnlyAction = Extract<ControlAction, { type: 'read-only' }>;

/** The read-only switch of the admin API, bridgectl or an alert (reconcile/actions.ts calls it in order). */
export function switchReadOnly(ctx: PassContext, input: Pass, action: ReadOnlyAction): Pass {
  const pass = draft(input);
  pass.outcomes.push(readOnlyOutcome(ctx, pass, action));
  return pass;
}

function readOnlyOutcome(ctx: PassContext, pass: Pass, action: ReadOnlyAction): ActionOutcome {
  const { status } = pass;
  if (action.alert) {
    const seen = status.handledAlerts.some((a) => a.fingerprint === action.alert!.fingerprint && a.startsAt === action.alert!.startsAt);
    if (seen) return { applied: false, message: `alert ${action.alert.fingerprint} (since ${action.alert.startsAt}) was already acted on; read-only mode is not switched again` };
    status.handledAlerts = [...status.handledAlerts, action.alert].slice(-MAX_HANDLED_ALERTS);
  }
  const current = status.readOnly?.enabled ?? false;
  if (!action.enabled && ctx.spec.contingencies.readOnly.enabled) {
    return { applied: false, message: 'spec.contingencies.readOnly.enabled is true in the FeatureFlags resource; set it to false there to end read-only mode' };
  }
  if (current === action.enabled) {
    const since = status.readOnly ? ` since ${status.readOnly.at} (${status.readOnly.trigger}: ${status.readOnly.reason})` : '';
    return { applied: false, message: action.enabled ? `already read-only${since}; nothing changed` : 'not in read-only mode; nothing changed' };
  }
  status.readOnly = { enabled: action.enabled, at: ctx.at, by: action.actor, trigger: action.trigger, reason: action.reason };
  record(ctx, pass, {
    action: action.enabled ? 'read-only.on' : 'read-only.off',
    actor: action.actor,
    trigger: action.trigger,
    reason: action.reason,
    ...(action.details ? { details: action.details } : {}),
    severity: action.enabled ? 'Warning' : 'Normal',
  });
  return { applied: true, message: action.enabled ? 'read-only: new sends are refused with READ_ONLY on every endpoint; accepted messages are still delivered' : 'read-only mode is off: new sends are accepted again' };
}

/**
 * A rise of the store's checksum mismatch count switches read-only on once (when
 * spec.contingencies.checksumMismatch.readOnly), whatever happens later to the count.
 */
export function onChecksumMismatches(ctx: PassContext, input: Pass, mismatches: number | undefined): Pass {
  if (mismatches === undefined) return input;
  const seen = input.status.checksums?.mismatches ?? 0;
  if (mismatches <= seen) return input;
  const pass = draft(input);
  pass.status.checksums = { mismatches, lastSeenAt: ctx.at };
  const reason = `${mismatches - seen} message(s) failed the envelope checksum at delivery and were dead-lettered (${mismatches} in all); data may be corrupted`;
  if (!ctx.spec.contingencies.checksumMismatch.readOnly) {
    record(ctx, pass, { action: 'checksum.mismatch', actor: ctx.self, trigger: 'checksum', reason: `${reason}; read-only mode not switched (spec.contingencies.checksumMismatch.readOnly is false)`, severity: 'Warning' });
    return pass;
  }
  record(ctx, pass, { action: 'checksum.mismatch', actor: ctx.self, trigger: 'checksum', reason, severity: 'Warning' });
  // No caller waits on the controller's own switch: its outcome is not one of the pass's outcomes.
  readOnlyOutcome(ctx, pass, { type: 'read-only', enabled: true, actor: ctx.self, trigger: 'checksum', reason, details: { mismatches, previously: seen } });
  return pass;
}

/** What every service applies: read-only when the spec or the status says so; load shedding from the spec. */
export function effectiveContingencies(ctx: PassContext, status: { readOnly?: ReadOnlyStatus }): Contingencies {
  const spec = ctx.spec.contingencies;
  const shedding = spec.loadShedding;
  const loadShedding = { enabled: shedding.enabled, latencyMultiple: shedding.latencyMultiple, share: shedding.share, retryAfterMs: parseDuration(shedding.retryAfter), minSamples: shedding.minSamples };
  if (spec.readOnly.enabled) {
    return { readOnly: { enabled: true, reason: spec.readOnly.reason ?? 'read-only mode set in the FeatureFlags resource', since: null, by: 'FeatureFlags resource', trigger: 'resource' }, loadShedding };
  }
  const readOnly = status.readOnly;
  if (readOnly?.enabled) return { readOnly: { enabled: true, reason: readOnly.reason, since: readOnly.at, by: readOnly.by, trigger: readOnly.trigger }, loadShedding };
  return { readOnly: { enabled: false, reason: '', since: null, by: '', trigger: null }, loadShedding };
}
