/** The owner notices of a deprecation step: one per owner of agents still on legacy, bounded, and what the notifier accepts. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseFeatureFlags } from '@agent-bridge/flags';
import { checkNotices } from '../notify/notice.js';
import { ownerNotices, type NoticeAgent } from './owner-notices.js';

const spec = parseFeatureFlags({
  apiVersion: 'agentbridge.io/v1alpha1',
  kind: 'FeatureFlags',
  metadata: { name: 'agent-bridge' },
  spec: { deprecation: { start: '2026-12-07T09:00:00Z', sunset: '2026-12-21T09:00:00Z', migrationGuideUrl: 'https://docs.example.com/migrate' } },
}).spec.deprecation!;

const ada = { name: 'Ada', contact: 'ada@example.com', team: 'billing' };

describe('owner notices', () => {
  test('one per owner (by contact), only agents on legacy or both, unowned ones listed apart', () => {
    const agents: NoticeAgent[] = [
      { agentId: 'pay', owner: ada, protocol: 'legacy', lastLegacyAt: '2026-12-10T08:00:00.000Z' },
      { agentId: 'refund', owner: { ...ada, name: 'Ada L.' }, protocol: 'both' },
      { agentId: 'search', owner: { name: 'Bo' }, protocol: 'elicitation' },
      { agentId: 'ghost', owner: null, protocol: 'legacy' },
    ];
    const { notices, unowned } = ownerNotices({ name: 'day-5', actions: ['notify-owners'] }, spec, agents, 'https://agents.example.com/mcp');
    assert.equal(notices.length, 1);
    assert.deepEqual(notices[0]!.agents, ['pay', 'refund']);
    assert.equal(notices[0]!.milestone, 'deprecation:day-5');
    assert.match(notices[0]!.subject, /^Action needed by 2026-12-21: 2 of your agents/);
    assert.match(notices[0]!.text, /refund \(also on elicitation\)/);
    assert.match(notices[0]!.text, /pay, last legacy call 2026-12-10T08:00:00.000Z/);
    assert.deepEqual(unowned, ['ghost']);
    assert.doesNotThrow(() => checkNotices(notices), 'the notifier accepts them');
  });

  test('the final notice says so; an owner with more agents than a notice lists gets the first 1000 and the count of the rest', () => {
    const many: NoticeAgent[] = Array.from({ length: 1_005 }, (_, i) => ({ agentId: `bot-${String(i).padStart(4, '0')}`, owner: ada, protocol: 'legacy' }));
    const { notices } = ownerNotices({ name: 'day-7', actions: ['final-notice'] }, spec, many, undefined);
    assert.equal(notices[0]!.agents.length, 1_000);
    assert.match(notices[0]!.subject, /^Final deadline 2026-12-21: 1005 of your agents/);
    assert.match(notices[0]!.text, /… and 5 more/);
    assert.doesNotThrow(() => checkNotices(notices));
  });
});
