/** The legacy inventory's usage store, against a real redis-server: bounded, never backwards, expiring on its own. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { DAY_MS, Keys, USAGE_RETENTION_DAYS, utcDay } from './keys.js';
import type { RedisEventStore } from './open.js';
import { useStoreOnRedis } from './test-fixtures.js';

let redis: Redis;
let store: RedisEventStore;
const keys = new Keys(4, 'test');
useStoreOnRedis(keys, (fixture) => ({ redis, store } = fixture));

describe('inventory usage', () => {
  test('counters add up across flushes and replicas; last-seen times keep the latest; the read gives both by day', async () => {
    const now = Date.now();
    const today = utcDay(now);
    const yesterday = utcDay(now - DAY_MS);
    await store.recordUsage([
      { agentId: 'alice', seen: { any: now - 1000, legacy: now - 1000, 'generation:2025-11-25': now - 1000 }, days: { [today]: { 'calls:legacy': 3, 'messages:legacy': 2 }, [yesterday]: { 'calls:legacy': 5 } } },
      { agentId: 'bob', seen: { any: now - 500, elicitation: now - 500, 'generation:2026-07-28': now - 500 }, days: { [today]: { 'calls:elicitation': 1, 'messages:elicitation': 4 } } },
    ]);
    // Another replica's flush arrives late with an older last-seen time: it adds counts, moves no time back.
    await store.recordUsage([{ agentId: 'alice', seen: { any: now - 5000, elicitation: now - 5000 }, days: { [today]: { 'calls:legacy': 1, 'calls:elicitation': 2 } } }]);

    const usage = await store.readAgentUsage(now - DAY_MS, [yesterday, today], 100);
    assert.deepEqual(
      usage.map((u) => u.agentId),
      ['bob', 'alice'],
      'most recently seen first',
    );
    const alice = usage.find((u) => u.agentId === 'alice')!;
    assert.deepEqual(alice.seen, { any: now - 1000, legacy: now - 1000, elicitation: now - 5000, 'generation:2025-11-25': now - 1000 });
    assert.deepEqual(alice.days, { [today]: { 'calls:legacy': 4, 'messages:legacy': 2, 'calls:elicitation': 2 }, [yesterday]: { 'calls:legacy': 5 } });
    const bob = usage.find((u) => u.agentId === 'bob')!;
    assert.deepEqual(bob.days, { [today]: { 'calls:elicitation': 1, 'messages:elicitation': 4 } });
  });

  test('the read is bounded: agents seen before `since` are left out, and at most `limit` come back', async () => {
    const now = Date.now();
    await store.recordUsage(Array.from({ length: 30 }, (_, i) => ({ agentId: `agent_${i}`, seen: { any: now - i * 1000 }, days: {} })));
    assert.equal((await store.readAgentUsage(now - 9_500, [], 100)).length, 10);
    const limited = await store.readAgentUsage(0, [], 5);
    assert.deepEqual(
      limited.map((u) => u.agentId),
      ['agent_0', 'agent_1', 'agent_2', 'agent_3', 'agent_4'],
    );
  });

  test('every usage key expires: last-seen times after the retention, a day after its end plus the retention', async () => {
    const now = Date.now();
    const day = utcDay(now);
    await store.recordUsage([{ agentId: 'carol', seen: { any: now, legacy: now }, days: { [day]: { 'calls:legacy': 1 } } }]);
    const retentionMs = USAGE_RETENTION_DAYS * DAY_MS;
    const seenTtl = await redis.pttl(keys.usageSeen('carol'));
    assert.ok(seenTtl > retentionMs - 60_000 && seenTtl <= retentionMs, `seen TTL ${seenTtl}`);
    const agentsTtl = await redis.pttl(keys.usageAgents(keys.shardOf('carol')));
    assert.ok(agentsTtl > retentionMs - 60_000 && agentsTtl <= retentionMs, `agents TTL ${agentsTtl}`);
    const dayExpiresAt = (await redis.pexpiretime(keys.usageDay('carol', day))) as number;
    assert.equal(dayExpiresAt, Date.parse(`${day}T00:00:00Z`) + DAY_MS + retentionMs);
  });

  test("a flush costs one write per agent and counter, one ZADD per shard's list, and expiries only when asked for", async () => {
    const now = Date.now();
    const day = utcDay(now);
    const agents = Array.from({ length: 200 }, (_, i) => `flush_${i}`);
    const calls = async (refreshExpiry: boolean) => {
      await redis.config('RESETSTAT');
      await store.recordUsage(agents.map((agentId) => ({ agentId, seen: { any: now }, days: { [day]: { 'calls:legacy': 1 } }, refreshExpiry })));
      const stats = (await redis.info('commandstats')).split('\r\n').filter((line) => line.startsWith('cmdstat_'));
      return Object.fromEntries(stats.map((line) => [line.slice(8, line.indexOf(':')), Number(/calls=(\d+)/.exec(line)?.[1])]).filter(([name]) => !String(name).startsWith('config') && name !== 'info'));
    };
    const shards = new Set(agents.map((agent) => keys.shardOf(agent))).size;
    assert.deepEqual(await calls(true), { zadd: agents.length + shards, hincrby: agents.length, pexpire: agents.length + shards, pexpireat: agents.length });
    assert.deepEqual(await calls(false), { zadd: agents.length + shards, hincrby: agents.length, pexpire: shards });
    assert.equal(Number(await redis.zscore(keys.usageAgents(keys.shardOf('flush_7')), 'flush_7')), now, "each agent is on its shard's list with its last-seen time");
  });

  test('an agent last seen before the retention is forgotten by the next read', async () => {
    const old = Date.now() - (USAGE_RETENTION_DAYS * DAY_MS + 60_000);
    await store.recordUsage([{ agentId: 'dave', seen: { any: old }, days: {} }]);
    assert.deepEqual(await store.readAgentUsage(0, [], 10), []);
    assert.equal(await redis.zscore(keys.usageAgents(keys.shardOf('dave')), 'dave'), null);
  });

  test('usage keys carry the agent shard hash tag (decision 0001)', () => {
    const tag = `{s${keys.shardOf('erin')}}`;
    for (const key of [keys.usageSeen('erin'), keys.usageDay('erin', '2026-12-03'), keys.usageAgents(keys.shardOf('erin'))]) assert.ok(key.includes(tag), key);
  });
});
