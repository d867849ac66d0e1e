/** The inventory's usage is counted in memory and written in batches; a failed write loses nothing. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AgentUsageDelta } from '@agent-bridge/event-store';
import { createLogger } from '@agent-bridge/observability';
import { ActivityRecorder } from './activity.js';
import { UsageRecorder } from './usage.js';

const AT = Date.parse('2026-12-03T10:00:00Z');

function recorder() {
  const writes: AgentUsageDelta[][] = [];
  let failing = false;
  const store = {
    recordUsage: async (deltas: readonly AgentUsageDelta[]) => {
      if (failing) throw new Error('redis is down');
      writes.push(structuredClone([...deltas]));
    },
  };
  return { writes, fail: (on: boolean) => (failing = on), usage: new UsageRecorder(store, createLogger('test', 'silent'), { flushIntervalMs: 60_000 }) };
}

test('many requests of one agent become one delta per flush: latest times, summed counts by UTC day', async () => {
  const { writes, usage } = recorder();
  usage.saw('alice', 'legacy', '2025-11-25', AT);
  usage.saw('alice', 'legacy', '2026-07-28', AT + 5);
  usage.saw('alice', 'other', undefined, AT + 9);
  for (let i = 0; i < 5; i++) usage.call('alice', 'legacy', AT + i);
  usage.messages('alice', 'legacy', 3, AT);
  usage.messages('alice', 'legacy', 0, AT);
  usage.call('alice', 'legacy', Date.parse('2026-12-04T00:00:01Z'));
  await usage.flush();
  assert.deepEqual(writes, [
    [
      {
        agentId: 'alice',
        seen: { any: AT + 9, legacy: AT + 5, 'generation:2025-11-25': AT, 'generation:2026-07-28': AT + 5 },
        days: { '2026-12-03': { 'calls:legacy': 5, 'messages:legacy': 3 }, '2026-12-04': { 'calls:legacy': 1 } },
        refreshExpiry: true,
      },
    ],
  ]);
  await usage.flush();
  assert.equal(writes.length, 1, 'nothing new, nothing written');
});

test('a failed flush keeps its counts for the next one, merged with what came meanwhile', async () => {
  const { writes, fail, usage } = recorder();
  usage.call('bob', 'elicitation', AT);
  usage.saw('bob', 'elicitation', '2025-11-25', AT);
  fail(true);
  await usage.flush();
  usage.call('bob', 'elicitation', AT + 1);
  usage.saw('bob', 'elicitation', '2025-11-25', AT - 100);
  fail(false);
  await usage.flush();
  assert.deepEqual(writes, [[{ agentId: 'bob', seen: { any: AT, elicitation: AT, 'generation:2025-11-25': AT }, days: { '2026-12-03': { 'calls:elicitation': 2 } }, refreshExpiry: true }]]);
});

test("an agent's keys get their expiry on its first write of the day in this process, not on every flush", async () => {
  const { writes, usage } = recorder();
  usage.call('erin', 'legacy');
  await usage.flush();
  usage.call('erin', 'legacy');
  usage.call('frank', 'legacy');
  await usage.flush();
  assert.deepEqual(
    writes.map((batch) => batch.map(({ agentId, refreshExpiry }) => [agentId, refreshExpiry])),
    [
      [['erin', true]],
      [
        ['erin', false],
        ['frank', true],
      ],
    ],
  );
});

test('close writes what is left', async () => {
  const { writes, usage } = recorder();
  usage.start();
  usage.messages('carol', 'elicitation', 2, AT);
  await usage.close();
  assert.equal(writes.length, 1);
  assert.deepEqual(writes[0]![0]!.days, { '2026-12-03': { 'messages:elicitation': 2 } });
});

test('the activity recorder tells the usage recorder of every request, even those its throttle skips', async () => {
  const { writes, usage } = recorder();
  const activity = new ActivityRecorder({ recordActivities: async () => undefined }, createLogger('test', 'silent'), { intervalMs: 60_000, usage });
  activity.saw('dave', 'legacy', '2025-11-25', AT);
  activity.saw('dave', 'legacy', '2025-11-25', AT + 1_000);
  await usage.flush();
  assert.equal(writes[0]![0]!.seen.legacy, AT + 1_000);
});
