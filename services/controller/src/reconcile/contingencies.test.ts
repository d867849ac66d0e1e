/** Read-only mode as the controller decides it: the operator, the admin API / bridgectl, an alert, a checksum mismatch. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseFeatureFlags, type FeatureFlagsStatus } from '@agent-bridge/flags';
import { decideAlerts } from '../alerts.js';
import { reconcile, type ControlAction } from '../reconcile.js';
import { initialStatus } from '../status.js';

const T0 = Date.parse('2026-12-03T14:00:00Z');
const specOf = (contingencies: Record<string, unknown> = {}) => parseFeatureFlags({ apiVersion: 'agentbridge.io/v1alpha1', kind: 'FeatureFlags', metadata: { name: 'agent-bridge' }, spec: { contingencies } }).spec;
const readOnly = (enabled: boolean, extra: Partial<Extract<ControlAction, { type: 'read-only' }>> = {}): ControlAction => ({ type: 'read-only', enabled, actor: 'ops@example.com', trigger: 'cli', reason: 'investigating', ...extra });

function pass(status: FeatureFlagsStatus, options: { actions?: ControlAction[]; checksumMismatches?: number; contingencies?: Record<string, unknown>; now?: number } = {}) {
  return reconcile({
    spec: specOf(options.contingencies),
    generation: 1,
    status,
    now: options.now ?? T0,
    actions: options.actions ?? [],
    controllerId: 'controller-a',
    ...(options.checksumMismatches !== undefined ? { checksumMismatches: options.checksumMismatches } : {}),
  });
}

describe('read-only mode', () => {
  test('bridgectl / the admin API switch it on and off: published in the contingencies, in the status (when, by whom, why) and in the history', () => {
    const on = pass(initialStatus(), { actions: [readOnly(true)] });
    assert.deepEqual(
      on.outcomes.map((o) => o.applied),
      [true],
    );
    assert.deepEqual(on.contingencies.readOnly, { enabled: true, reason: 'investigating', since: '2026-12-03T14:00:00.000Z', by: 'ops@example.com', trigger: 'cli' });
    assert.deepEqual(on.status.readOnly, { enabled: true, at: '2026-12-03T14:00:00.000Z', by: 'ops@example.com', trigger: 'cli', reason: 'investigating' });
    assert.equal(on.status.history.at(-1)!.action, 'read-only.on');
    const again = pass(on.status, { actions: [readOnly(true)] });
    assert.equal(again.outcomes[0]!.applied, false);
    assert.match(again.outcomes[0]!.message, /already read-only since 2026-12-03T14:00:00.000Z \(cli: investigating\)/);
    const off = pass(on.status, { actions: [readOnly(false, { reason: 'restored from the last good state' })], now: T0 + 60_000 });
    assert.equal(off.outcomes[0]!.applied, true);
    assert.equal(off.contingencies.readOnly.enabled, false);
    assert.equal(off.status.history.at(-1)!.action, 'read-only.off');
  });

  test('the operator switch in the resource wins: bridgectl cannot end it, and says where to', () => {
    const result = pass(initialStatus(), { contingencies: { readOnly: { enabled: true, reason: 'maintenance' } }, actions: [readOnly(false)] });
    assert.equal(result.contingencies.readOnly.enabled, true);
    assert.equal(result.contingencies.readOnly.reason, 'maintenance');
    assert.equal(result.contingencies.readOnly.trigger, 'resource');
    assert.equal(result.outcomes[0]!.applied, false);
    assert.match(result.outcomes[0]!.message, /spec\.contingencies\.readOnly\.enabled is true/);
  });

  test('an alert labelled contingency=read-only switches it on once per firing (fingerprint + startsAt), not a rollback', () => {
    const payload = {
      alerts: [
        { status: 'firing' as const, labels: { alertname: 'EnvelopeChecksumMismatch', contingency: 'read-only', rollback: 'none' }, annotations: { summary: 'corrupted entries' }, startsAt: '2026-12-03T13:59:00Z', fingerprint: 'c0ffee' },
      ],
    };
    const [decision] = decideAlerts(payload, specOf());
    assert.equal(decision!.outcome, 'read-only');
    const action = (decision as { action: ControlAction }).action;
    const first = pass(initialStatus(), { actions: [action] });
    assert.equal(first.outcomes[0]!.applied, true);
    assert.equal(first.status.readOnly!.trigger, 'alert');
    assert.equal(first.status.readOnly!.reason, 'EnvelopeChecksumMismatch: corrupted entries');
    assert.equal(first.rollbacks.length, 0);
    const off = pass(first.status, { actions: [readOnly(false)] });
    const repeated = pass(off.status, { actions: [action] });
    assert.equal(repeated.outcomes[0]!.applied, false, 'a repeated notification of the same firing does not switch it on again');
    assert.equal(repeated.contingencies.readOnly.enabled, false);
  });

  test('a new checksum mismatch switches it on once (trigger checksum), when configured; with checksumMismatch.readOnly false it is only recorded', () => {
    const clean = pass(initialStatus(), { checksumMismatches: 0 });
    assert.equal(clean.contingencies.readOnly.enabled, false);
    const hit = pass(clean.status, { checksumMismatches: 2 });
    assert.equal(hit.contingencies.readOnly.enabled, true);
    assert.equal(hit.status.readOnly!.trigger, 'checksum');
    assert.match(hit.status.readOnly!.reason, /2 message\(s\) failed the envelope checksum/);
    assert.deepEqual(hit.status.checksums, { mismatches: 2, lastSeenAt: '2026-12-03T14:00:00.000Z' });
    assert.deepEqual(hit.outcomes, [], 'no caller waits on the controller’s own switch');
    const off = pass(hit.status, { actions: [readOnly(false)], checksumMismatches: 2 });
    assert.equal(off.contingencies.readOnly.enabled, false, 'the same count does not switch it on again');
    assert.equal(pass(off.status, { checksumMismatches: 3 }).contingencies.readOnly.enabled, true, 'a further mismatch does');
    const recordOnly = pass(initialStatus(), { checksumMismatches: 1, contingencies: { checksumMismatch: { readOnly: false } } });
    assert.equal(recordOnly.contingencies.readOnly.enabled, false);
    assert.equal(recordOnly.status.history.at(-1)!.action, 'checksum.mismatch');
  });

  test('load shedding settings are published from the spec (retryAfter as ms)', () => {
    const result = pass(initialStatus(), { contingencies: { loadShedding: { enabled: true, share: 0.25, retryAfter: '2s' } } });
    assert.deepEqual(result.contingencies.loadShedding, { enabled: true, latencyMultiple: 10, share: 0.25, retryAfterMs: 2_000, minSamples: 100 });
  });
});
