/** bridgectl reshard's store side (reshard.ts) against a real redis-server: what moves, what blocks it. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { Keys } from './keys.js';
import { RedisEventStore } from './open.js';
import { reshardBlockers, reshardStore } from './reshard.js';
import { envelope, pollDecision, useStoreOnRedis } from './test-fixtures.js';
import { utcDay } from './keys.js';

let redis: Redis;
let store: RedisEventStore;
const from = new Keys(4, 'rs');
const to = new Keys(16, 'rs');
useStoreOnRedis(from, (fixture) => ({ redis, store } = fixture));

const AGENTS = ['ann', 'bo', 'cy', 'dee', 'eve', 'fay', 'gus', 'hal'];

/** Every agent sends one message to the next (with an idempotency key), routed, polled and acknowledged: a drained store with history. */
async function drainedTraffic(): Promise<Map<string, string>> {
  const cursors = new Map<string, string>();
  for (const [i, sender] of AGENTS.entries()) {
    const target = AGENTS[(i + 1) % AGENTS.length]!;
    await store.append({ envelope: envelope(sender, target, `hello ${target}`), idempotencyKey: `k-${sender}` });
  }
  for (const shard of from.allShards()) {
    await store.ensureShardGroup(shard);
    const lease = (await store.acquireShardLease(shard, 'r1', 5_000))!;
    const entries = await store.readShardEntries(shard, 'r1', 'new', 100);
    const messages = entries.filter((e) => e.type === 'message');
    if (messages.length > 0)
      await store.route(
        lease,
        messages.map((e) => pollDecision(e.id, (e as { envelope: Parameters<typeof pollDecision>[1] }).envelope)),
      );
    await store.releaseShardLease(lease);
  }
  for (const agent of AGENTS) {
    const page = await store.readPollLane(agent, '0-0', 10);
    const cursor = page.entries.at(-1)!.cursor;
    assert.equal((await store.ackPollLane(agent, cursor)).status, 'acked');
    cursors.set(agent, cursor);
  }
  await store.recordUsage(AGENTS.map((agentId) => ({ agentId, seen: { any: Date.now(), legacy: Date.now() }, days: { [utcDay(Date.now())]: { 'calls:legacy': 3 } } })));
  return cursors;
}

describe('reshard', () => {
  test("every agent's keys move to its shard under the new count: cursors, sequence numbers, idempotency keys and the inventory carry over", async () => {
    const cursors = await drainedTraffic();
    const before = new Map(await Promise.all(AGENTS.map(async (agent) => [agent, await store.mailboxState(agent)] as const)));
    assert.deepEqual(await reshardBlockers(store, redis, from), []);
    const dry = await reshardStore(redis, from, 16, { dryRun: true });
    assert.equal(await redis.hget(from.layout(), 'shard_count'), null, 'a dry run changes nothing');
    const report = await reshardStore(redis, from, 16);
    assert.deepEqual(report.moved, dry.moved, 'the dry run said what would move');
    assert.equal(report.agents, AGENTS.length);
    assert.ok((report.moved.mailbox ?? 0) > 0 && (report.moved.idem ?? 0) > 0, JSON.stringify(report.moved));
    assert.equal(report.usageListed, AGENTS.length);
    assert.equal(await redis.hget(from.layout(), 'shard_count'), '16');

    const after = new RedisEventStore(redis, { keys: to });
    for (const agent of AGENTS) {
      assert.deepEqual(await after.mailboxState(agent), before.get(agent), `${agent}'s cursor and sequence are where they were`);
      assert.equal((await after.ackPollLane(agent, cursors.get(agent)!)).status, 'acked', `${agent}'s last cursor is still valid`);
    }
    const retry = await after.append({ envelope: envelope('ann', 'bo', 'hello bo'), idempotencyKey: 'k-ann' });
    assert.equal(retry.duplicate, true, 'a send retried across the change is recognised');
    const usage = await after.readAgentUsage(0, [utcDay(Date.now())], 100);
    assert.deepEqual(usage.map((u) => u.agentId).sort(), [...AGENTS].sort());
    assert.ok(usage.every((u) => u.days[utcDay(Date.now())]?.['calls:legacy'] === 3));
    const next = envelope('cy', 'dee', 'after');
    await after.append({ envelope: next });
    const shard = to.shardOf('dee');
    await after.ensureShardGroup(shard);
    const lease = (await after.acquireShardLease(shard, 'r2', 5_000))!;
    const entries = await after.readShardEntries(shard, 'r2', 'new', 10);
    await after.route(lease, [pollDecision(entries[0]!.id, next)]);
    assert.equal((await after.mailboxState('dee')).sequence, before.get('dee')!.sequence + 1, 'sequence numbers go on');
  });

  test('refused, with every reason, while a service runs or something is still on its way', async () => {
    await store.append({ envelope: envelope('ann', 'bo', 'not routed yet') });
    await store.heartbeatRouter('router-1', 60_000);
    await store.heartbeatPushHolder('elicitation-1-ab', 60_000);
    const blockers = await reshardBlockers(store, redis, from);
    assert.ok(
      blockers.some((b) => /router replicas are running \(router-1\)/.test(b)),
      blockers.join('; '),
    );
    assert.ok(blockers.some((b) => /still hold push leases/.test(b)));
    assert.ok(blockers.some((b) => new RegExp(`shard ${from.shardOf('bo')} has 1 accepted message\\(s\\) not routed yet`).test(b)));
    assert.ok(blockers.some((b) => /not delivered and acknowledged yet/.test(b)));
  });
});
