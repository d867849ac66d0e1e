/** bridgectl deprecation and cutover render what an operator needs at the end of the migration. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CutoverStatus } from '@agent-bridge/flags';
import type { DeprecationPlan } from './controller-client.js';
import { renderCutover, renderDeprecation } from './sequence-commands.js';

const NOW = Date.parse('2026-12-10T09:00:00Z');

const PLAN: DeprecationPlan = {
  start: '2026-12-07T09:00:00Z',
  sunset: '2026-12-21T09:00:00Z',
  dryRun: true,
  throttleMs: 100,
  migrationGuideUrl: 'https://docs.example.com/migrate',
  steps: [
    { name: 'day-1', actions: ['warnings'], dueAt: '2026-12-07T09:00:00.000Z', state: 'planned' },
    { name: 'day-3', actions: ['headers', 'throttle'], dueAt: '2026-12-09T09:00:00.000Z', state: 'planned' },
    { name: 'day-5', actions: ['notify-owners'], dueAt: '2026-12-11T09:00:00.000Z', state: 'pending' },
  ],
  next: { name: 'day-5', at: '2026-12-11T09:00:00.000Z' },
  wouldNotify: { owners: 2, agents: 3, unowned: 1 },
};

describe('bridgectl deprecation', () => {
  test('a dry run says nothing is done, when each step would run, what it does, and who would be told', () => {
    const out = renderDeprecation(PLAN, NOW);
    assert.match(out, /DRY RUN \(nothing is done, nobody is notified\)/);
    assert.match(out, /next: day-5 at 2026-12-11T09:00:00.000Z \(in 24h\)/);
    assert.match(out, /day-3 +2026-12-09T09:00:00.000Z \(24h ago\) +would run/);
    assert.match(out, /legacy calls throttled by 100 ms/);
    assert.match(out, /owners to notify now: 2 owner\(s\) of 3 agent\(s\) still on legacy; 1 agent\(s\) without an owner/);
  });

  test('without a schedule it says where to describe one', () => {
    assert.match(renderDeprecation(null, NOW), /spec\.deprecation/);
  });
});

describe('bridgectl cutover', () => {
  test('the sequence: snapshot, watch, minor issues, and a rollback to the snapshot', () => {
    const cutover: CutoverStatus = {
      ready: false,
      forced: true,
      message: 'rolled back to snapshot cutover-1',
      checkedAt: '2026-12-10T08:00:00.000Z',
      state: 'rolled-back',
      snapshot: { id: 'cutover-20261210T080000Z-v9', at: '2026-12-10T08:00:00.000Z', flagsJson: '{}' },
      startedAt: '2026-12-10T08:00:01.000Z',
      watchUntil: '2026-12-10T08:30:01.000Z',
      endedAt: '2026-12-10T08:10:00.000Z',
      rollbackReason: 'critical alert MessageLossDetected during the post-cutover watch',
      issues: [{ alert: 'ElicitationLatencyP95Increasing', severity: 'warning', at: '2026-12-10T08:05:00.000Z' }],
    };
    const out = renderCutover(cutover, { id: 'cutover-20261210T080000Z-v9', backlog: { events: 0, push: 2, poll: 5 }, legacyAgents: 4 }, NOW);
    assert.match(out, /state +rolled-back/);
    assert.match(out, /checks +FORCED/);
    assert.match(out, /snapshot +cutover-20261210T080000Z-v9/);
    assert.match(out, /rolled back +critical alert MessageLossDetected/);
    assert.match(out, /minor issue +ElicitationLatencyP95Increasing \(warning\)/);
    assert.match(out, /backlog then +0 to route, 2 in push lanes, 5 in poll lanes/);
    assert.match(out, /legacy agents then +4/);
  });
});
