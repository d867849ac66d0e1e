/**
 * The deprecation schedule and the cutover sequence, pass by pass on a fake clock (reconcile is
 * pure): each step once on its date, its flags folded in, notices recorded once; the cutover's
 * snapshot, watch, emergency rollback and scheduled removal.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseFeatureFlags, type FeatureFlagsSpec, type FeatureFlagsStatus } from '@agent-bridge/flags';
import { reconcile, type ControlAction, type ReconcileInput, type ReconcileResult } from '../reconcile.js';
import { conditionOf, initialStatus } from '../status.js';

const T0 = Date.parse('2026-12-07T09:00:00Z');
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const SNAPSHOT = { id: 'cutover-20261221T0900Z-v12', at: new Date(T0).toISOString() };

function specOf(spec: Record<string, unknown>): FeatureFlagsSpec {
  return parseFeatureFlags({ apiVersion: 'agentbridge.io/v1alpha1', kind: 'FeatureFlags', metadata: { name: 'agent-bridge' }, spec }).spec;
}

class Harness {
  status: FeatureFlagsStatus = initialStatus();
  last!: ReconcileResult;
  constructor(public spec: FeatureFlagsSpec) {}
  pass(at: number, extra: Partial<ReconcileInput> = {}): ReconcileResult {
    this.last = reconcile({ spec: this.spec, generation: 1, status: JSON.parse(JSON.stringify(this.status)), now: at, ...extra });
    this.status = this.last.status;
    return this.last;
  }
  act(at: number, action: ControlAction, extra: Partial<ReconcileInput> = {}) {
    return this.pass(at, { ...extra, actions: [action] }).outcomes[0]!;
  }
}

const STABILIZATION = { phase: 'stabilization', flags: { elicitation: { enabled: true, percentage: 100 } } };
const CAMPAIGN = { start: '2026-12-07T09:00:00Z', sunset: '2026-12-21T09:00:00Z', migrationGuideUrl: 'https://docs.example.com/migrate' };

describe('the deprecation schedule', () => {
  test('the strategy steps run once each on day 1, 3, 5 and 7, and their flags accumulate', () => {
    const h = new Harness(specOf({ ...STABILIZATION, deprecation: CAMPAIGN }));
    const before = h.pass(T0 - MIN);
    assert.equal(before.settings.deprecation.warnings, false);
    assert.equal(before.settings.deprecationNotice, undefined);
    assert.deepEqual(h.status.deprecation?.next, { name: 'day-1', at: '2026-12-07T09:00:00.000Z' });

    const day1 = h.pass(T0);
    assert.deepEqual(
      day1.events.filter((e) => e.action === 'deprecation.step').map((e) => e.details?.step),
      ['day-1'],
    );
    assert.equal(day1.settings.deprecation.warnings, true);
    assert.equal(day1.settings.deprecation.throttleMs, 0);
    assert.deepEqual(day1.settings.deprecationNotice, { deprecatedAt: '2026-12-07T09:00:00.000Z', sunsetAt: '2026-12-21T09:00:00.000Z', link: 'https://docs.example.com/migrate', headers: false, final: false });
    assert.equal(h.pass(T0 + HOUR).events.filter((e) => e.action === 'deprecation.step').length, 0, 'a step runs once');

    const day3 = h.pass(T0 + 2 * DAY);
    assert.equal(day3.settings.deprecation.throttleMs, 100);
    assert.equal(day3.settings.deprecationNotice?.headers, true);
    h.pass(T0 + 4 * DAY);
    const day7 = h.pass(T0 + 6 * DAY);
    assert.equal(day7.settings.deprecationNotice?.final, true);
    assert.deepEqual(
      h.status.deprecation?.steps.map((s) => [s.name, s.state, s.executedAt]),
      [
        ['day-1', 'done', '2026-12-07T09:00:00.000Z'],
        ['day-3', 'done', '2026-12-09T09:00:00.000Z'],
        ['day-5', 'done', '2026-12-11T09:00:00.000Z'],
        ['day-7', 'done', '2026-12-13T09:00:00.000Z'],
      ],
    );
    assert.equal(h.status.deprecation?.next, undefined);
    assert.deepEqual(
      h.status.history.filter((e) => e.action === 'deprecation.step').map((e) => e.details?.step),
      ['day-1', 'day-3', 'day-5', 'day-7'],
      'each step once in the history',
    );
  });

  test('a controller that was down over several dates runs every due step in one pass, in order', () => {
    const h = new Harness(specOf({ ...STABILIZATION, deprecation: CAMPAIGN }));
    const late = h.pass(T0 + 5 * DAY);
    assert.deepEqual(
      late.events.filter((e) => e.action === 'deprecation.step').map((e) => e.details?.step),
      ['day-1', 'day-3', 'day-5'],
    );
    assert.equal(late.settings.deprecation.throttleMs, 100);
    assert.equal(h.status.deprecation?.next?.name, 'day-7');
  });

  test('a dry run plans each step on its date and changes nothing', () => {
    const h = new Harness(specOf({ ...STABILIZATION, deprecation: { ...CAMPAIGN, dryRun: true } }));
    const planned = h.pass(T0 + 3 * DAY);
    assert.equal(planned.settings.deprecation.warnings, false);
    assert.equal(planned.settings.deprecationNotice, undefined);
    assert.deepEqual(
      planned.events.map((e) => e.action),
      ['deprecation.planned', 'deprecation.planned'],
    );
    assert.deepEqual(
      h.status.deprecation?.steps.map((s) => s.state),
      ['planned', 'planned', 'pending', 'pending'],
    );
    assert.equal(h.pass(T0 + 3 * DAY + MIN).events.length, 0, 'planned once');
    h.spec = specOf({ ...STABILIZATION, deprecation: CAMPAIGN });
    const real = h.pass(T0 + 3 * DAY + 2 * MIN);
    assert.deepEqual(
      real.events.filter((e) => e.action === 'deprecation.step').map((e) => e.details?.step),
      ['day-1', 'day-3'],
      'turning the dry run off runs the due steps',
    );
  });

  test("a step's notices are recorded once; a full rollback lifts the throttle", () => {
    const h = new Harness(specOf({ ...STABILIZATION, deprecation: CAMPAIGN }));
    h.pass(T0 + 4 * DAY);
    const recorded = h.act(T0 + 4 * DAY + MIN, { type: 'deprecation-notices', step: 'day-5', queued: 3, already: 0, owners: 3 });
    assert.equal(recorded.applied, true);
    assert.deepEqual(h.status.deprecation?.steps.find((s) => s.name === 'day-5')?.notices, { queued: 3, already: 0, owners: 3, at: new Date(T0 + 4 * DAY + MIN).toISOString() });
    assert.equal(h.act(T0 + 4 * DAY + 2 * MIN, { type: 'deprecation-notices', step: 'day-5', queued: 0, already: 3, owners: 3 }).applied, false);
    h.act(T0 + 4 * DAY + 3 * MIN, { type: 'rollback', level: 'full', trigger: 'admin', actor: 'ops', reason: 'outage' });
    assert.equal(h.last.settings.deprecation.throttleMs, 0);
    assert.equal(h.last.settings.deprecation.warnings, true);
  });

  test('the resource refuses a sunset before the start, a step after the sunset and repeated names', () => {
    assert.throws(() => specOf({ deprecation: { start: '2026-12-07T09:00:00Z', sunset: '2026-12-01T09:00:00Z' } }), /sunset.*must come after the start/);
    assert.throws(() => specOf({ deprecation: { ...CAMPAIGN, steps: [{ name: 'late', after: '400h', actions: ['warnings'] }] } }), /would run after the sunset/);
    assert.throws(
      () =>
        specOf({
          deprecation: {
            ...CAMPAIGN,
            steps: [
              { name: 'a', after: '0s', actions: ['warnings'] },
              { name: 'a', after: '1h', actions: ['headers'] },
            ],
          },
        }),
      /used twice/,
    );
    assert.throws(() => specOf({ deprecation: { ...CAMPAIGN, steps: [{ name: 'a', after: '0s', actions: ['email'] }] } }), /expected one of warnings, headers/);
  });
});

describe('the cutover sequence', () => {
  const COMPLETION = { phase: 'completion', flags: { elicitation: { enabled: true, percentage: 100 }, legacyDisabled: true }, cutover: { watch: '30m' } };
  const READY = { cutover: { ready: true, message: 'all readiness checks hold' } };

  function watching(): Harness {
    const h = new Harness(specOf(COMPLETION));
    const taking = h.pass(T0, READY);
    assert.equal(taking.settings.legacyDisabled, false, 'no snapshot yet: legacy still serves');
    assert.equal(h.status.cutover?.state, 'snapshot');
    assert.equal(conditionOf(h.status, 'CutoverBlocked')?.reason, 'TakingSnapshot');
    const started = h.pass(T0 + 1000, { ...READY, cutoverSnapshot: SNAPSHOT });
    assert.equal(started.settings.legacyDisabled, true);
    assert.equal(h.status.cutover?.state, 'watching');
    assert.equal(h.status.cutover?.snapshot?.id, SNAPSHOT.id);
    assert.equal(JSON.parse(h.status.cutover!.snapshot!.flagsJson).legacyDisabled, false, 'the snapshot holds the flags before the cutover');
    assert.equal(h.status.cutover?.watchUntil, new Date(T0 + 1000 + 30 * MIN).toISOString());
    assert.equal(started.events.find((e) => e.action === 'cutover.started')?.details?.snapshotId, SNAPSHOT.id);
    return h;
  }

  test('a critical alert during the watch rolls back to the snapshot, and it stays rolled back', () => {
    const h = watching();
    const outcome = h.act(T0 + 10 * MIN, { type: 'alert-seen', name: 'MessageLossDetected', severity: 'critical', startsAt: new Date(T0 + 9 * MIN).toISOString(), summary: 'messages unaccounted' });
    assert.equal(outcome.applied, true);
    assert.equal(h.last.settings.legacyDisabled, false);
    assert.equal(h.last.settings.elicitation.percentage, 100, "the snapshot's flags");
    assert.equal(h.status.cutover?.state, 'rolled-back');
    assert.match(h.status.cutover!.rollbackReason!, /MessageLossDetected/);
    assert.equal(h.last.events.find((e) => e.action === 'cutover.rolled-back')?.details?.snapshotId, SNAPSHOT.id);
    assert.equal(conditionOf(h.status, 'CutoverBlocked')?.reason, 'RolledBackToSnapshot');
    const later = h.pass(T0 + 2 * HOUR, { ...READY, cutoverSnapshot: { id: 'another', at: new Date(T0 + 2 * HOUR).toISOString() } });
    assert.equal(later.settings.legacyDisabled, false, 'no second cutover until the operator retries');
    h.spec = specOf({ ...COMPLETION, flags: { ...COMPLETION.flags, legacyDisabled: false } });
    h.pass(T0 + 3 * HOUR);
    assert.equal(h.status.cutover, undefined, 'setting legacyDisabled to false clears it for a retry');
  });

  test('a minor alert is reported once and legacy stays disabled; a clean end schedules removal', () => {
    const h = watching();
    const alert: ControlAction = { type: 'alert-seen', name: 'ElicitationLatencyP95Increasing', severity: 'warning', startsAt: new Date(T0 + 5 * MIN).toISOString() };
    assert.equal(h.act(T0 + 6 * MIN, alert).applied, true);
    assert.equal(h.act(T0 + 7 * MIN, alert).applied, false, 'the same alert again is not a second issue');
    assert.equal(h.last.settings.legacyDisabled, true);
    assert.equal(h.status.cutover?.issues?.length, 1);
    h.pass(T0 + 29 * MIN);
    assert.equal(h.status.cutover?.state, 'watching');
    const done = h.pass(T0 + 31 * MIN);
    assert.equal(h.status.cutover?.state, 'removal-scheduled');
    assert.equal(done.settings.legacyDisabled, true);
    assert.equal(done.events.find((e) => e.action === 'cutover.completed')?.details?.minorIssues, 1);
    const afterwards = h.pass(T0 + 2 * HOUR, { cutover: { ready: false, message: 'legacy share 9%' } });
    assert.equal(afterwards.settings.legacyDisabled, true, 'once removal is scheduled the guard is not consulted again');
    assert.equal(h.act(T0 + 2 * HOUR + MIN, { type: 'alert-seen', name: 'X', severity: 'critical', startsAt: 'later' }).applied, false, 'alerts after the watch do not roll back');
  });

  test('a rollback during the watch, or the breaker, rolls back to the snapshot', () => {
    const h = watching();
    h.act(T0 + 5 * MIN, { type: 'rollback', level: 'full', trigger: 'health-check', actor: 'controller', reason: 'elicitation unhealthy' });
    assert.equal(h.status.cutover?.state, 'rolled-back');
    assert.equal(h.last.settings.legacyDisabled, false);
    assert.equal(h.last.settings.elicitation.enabled, false, 'the full rollback still applies');

    const b = watching();
    const tripped = b.act(T0 + 5 * MIN, { type: 'cutover-rollback', actor: 'ops', reason: 'agents report errors', trigger: 'cli' });
    assert.equal(tripped.applied, true);
    assert.equal(b.last.settings.legacyDisabled, false);
    assert.equal(b.act(T0 + 6 * MIN, { type: 'cutover-rollback', actor: 'ops', reason: 'again', trigger: 'cli' }).applied, false);
  });
});
