import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ActivitySighting, AgentActivity } from '@agent-bridge/event-store';
import { createLogger } from '@agent-bridge/observability';
import type { McpGeneration } from '@agent-bridge/protocol';
import { ActivityRecorder } from './activity.js';

type Write = [agentId: string, activity: AgentActivity, at: number, generation: McpGeneration | undefined];

function recorder(intervalMs = 1_000, fail = false) {
  const writes: Write[] = [];
  const batches: number[] = [];
  const store = {
    recordActivities: async (sightings: readonly ActivitySighting[]) => {
      batches.push(sightings.length);
      for (const { agentId, activity, at, generation } of sightings) writes.push([agentId, activity, at, generation]);
      if (fail) throw new Error('redis is down');
    },
  };
  return { writes, batches, recorder: new ActivityRecorder(store, createLogger('test', 'silent'), { intervalMs }) };
}

test('an agent seen again within the interval on the same endpoint and MCP generation costs no second write', async () => {
  const { writes, recorder: activity } = recorder();
  activity.saw('alice', 'legacy', '2025-11-25', 10_000);
  activity.saw('alice', 'legacy', '2025-11-25', 10_500);
  await activity.flush();
  activity.saw('alice', 'legacy', '2025-11-25', 11_000);
  await activity.flush();
  assert.deepEqual(writes, [
    ['alice', 'legacy', 10_000, '2025-11-25'],
    ['alice', 'legacy', 11_000, '2025-11-25'],
  ]);
});

test('the throttle is per (activity, generation): another generation or activity of the same agent is recorded at once, all in one batch', async () => {
  const { writes, batches, recorder: activity } = recorder();
  activity.saw('alice', 'legacy', '2025-11-25', 10_000);
  activity.saw('alice', 'legacy', '2026-07-28', 10_001);
  activity.saw('alice', 'elicitation', '2026-07-28', 10_002);
  activity.saw('alice', 'legacy', undefined, 10_003);
  activity.saw('bob', 'legacy', '2025-11-25', 10_004);
  activity.saw('alice', 'legacy', '2026-07-28', 10_005);
  await activity.flush();
  assert.deepEqual(batches, [5]);
  assert.deepEqual(writes, [
    ['alice', 'legacy', 10_000, '2025-11-25'],
    ['alice', 'legacy', 10_001, '2026-07-28'],
    ['alice', 'elicitation', 10_002, '2026-07-28'],
    ['alice', 'legacy', 10_003, undefined],
    ['bob', 'legacy', 10_004, '2025-11-25'],
  ]);
});

test('a failed write is retried by the next sighting instead of waiting out the interval', async () => {
  const { writes, recorder: activity } = recorder(1_000, true);
  activity.saw('alice', 'legacy', '2026-07-28', 10_000);
  await activity.flush();
  activity.saw('alice', 'legacy', '2026-07-28', 10_001);
  await activity.flush();
  assert.deepEqual(
    writes.map(([, , at]) => at),
    [10_000, 10_001],
  );
});

test('sightings are written by themselves within the batch delay, without a flush', async () => {
  const { writes, recorder: activity } = recorder(200);
  activity.saw('alice', 'legacy', undefined);
  activity.saw('bob', 'elicitation', '2025-11-25');
  assert.equal(writes.length, 0, 'nothing is written on the request path');
  await new Promise((resolve) => setTimeout(resolve, 400));
  assert.deepEqual(
    writes.map(([agentId]) => agentId),
    ['alice', 'bob'],
  );
});
