/**
 * route_message routes a router's batch in one script call (issue 16 item 5: Redis work per
 * message): per-message writes as before, and what can be said once per batch said once.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { isStoreError } from './errors.js';
import { Keys, ROUTER_GROUP } from './keys.js';
import type { RedisEventStore } from './open.js';
import { loadScripts } from './scripts.js';
import { envelope, envelopeOf, pollDecision, pushDecision, useStoreOnRedis } from './test-fixtures.js';
import type { Envelope } from '@agent-bridge/protocol';

let redis: Redis;
let store: RedisEventStore;
const keys = new Keys(4, 'rb');
useStoreOnRedis(keys, (fixture) => ({ redis, store } = fixture));

/** Two agents of bob's shard besides bob. */
const shard = keys.shardOf('bob');
const [carl, pia] = Array.from({ length: 200 }, (_, i) => `agent-${i}`).filter((id) => keys.shardOf(id) === shard);

/** Appends `envs` and reads them as router r1 holding the shard's lease. */
async function appended(envs: Envelope[]) {
  for (const env of envs) await store.append({ envelope: env });
  await store.ensureShardGroup(shard);
  const lease = (await store.acquireShardLease(shard, 'r1', 5_000))!;
  const entries = await store.readShardEntries(shard, 'r1', 'new', 1_000);
  return { lease, entries };
}

/** The commands Redis ran for `run`, by name (route_message loaded before, so no NOSCRIPT retry counts). */
async function commandCounts(run: () => Promise<unknown>): Promise<Record<string, number>> {
  await redis.script('LOAD', loadScripts().route_message.source);
  await redis.config('RESETSTAT');
  await run();
  const counts: Record<string, number> = {};
  for (const m of (await redis.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) if (m[1] !== 'config') counts[m[1]!] = Number(m[2]);
  return counts;
}

describe('routing a batch (route_message)', () => {
  test('a batch is one script call: one lease check, one XACK, one mailbox last per poll lane and one doorbell ring per lane', async () => {
    const envs = [envelope('alice', 'bob', 'b1'), envelope('alice', carl!, 'c1'), envelope('alice', 'bob', 'b2'), envelope('alice', pia!, 'p1'), envelope('alice', 'bob', 'b3')];
    const { lease, entries } = await appended(envs);
    const decisions = entries.map((e) => (envelopeOf(e).to === pia ? pushDecision(e.id, envelopeOf(e)) : pollDecision(e.id, envelopeOf(e))));
    let outcomes: Awaited<ReturnType<RedisEventStore['route']>> = [];
    const counts = await commandCounts(async () => (outcomes = await store.route(lease, decisions)));
    assert.deepEqual(
      outcomes.map((o) => [o.status, o.sequence]),
      [
        ['routed', 1],
        ['routed', 1],
        ['routed', 2],
        ['routed', 1],
        ['routed', 3],
      ],
    );
    assert.deepEqual(
      { evalsha: counts.evalsha, get: counts.get, xack: counts.xack, publish: counts.publish, hset: counts.hset, sadd: counts.sadd, xadd: counts.xadd },
      { evalsha: 1, get: 1, xack: 1, publish: 3, hset: 5 + 2, sadd: 1, xadd: 5 + 5 },
      'five ledger HSETs and two mailbox ones (bob, carl); a lane and a log XADD per message',
    );
    assert.equal((await redis.xpending(keys.events(shard), ROUTER_GROUP))[0], 0, 'every entry acknowledged');
    const bobLane = await redis.xrange(keys.lane('bob', 'poll'), '-', '+');
    assert.equal((await store.mailboxState('bob')).last, bobLane.at(-1)![0], "bob's last is his newest entry");
    assert.deepEqual(await redis.smembers(keys.pushAgents(shard)), [pia]);
    assert.equal(await redis.xlen(keys.communicationLog(shard)), 5);
    for (const env of envs) assert.equal((await store.getMessage(env.id, env.to))?.state, 'routed');
  });

  test('re-running a batch routes nothing twice, and a message twice in one batch is routed once', async () => {
    const envs = [envelope('alice', 'bob', 'b1'), envelope('alice', 'bob', 'b2')];
    const { lease, entries } = await appended(envs);
    const decisions = entries.map((e) => pollDecision(e.id, envelopeOf(e)));
    await store.route(lease, decisions);
    const again = await store.route(lease, [...decisions, decisions[0]!]);
    assert.deepEqual(
      again.map((o) => o.status),
      ['duplicate', 'duplicate', 'duplicate'],
    );
    assert.equal(await redis.xlen(keys.lane('bob', 'poll')), 2);
    assert.equal((await store.mailboxState('bob')).sequence, 2);
  });

  test('a batch longer than one script call is routed in order across the calls', async () => {
    const envs = Array.from({ length: 230 }, (_, i) => envelope('alice', 'bob', `m${i}`));
    const { lease, entries } = await appended(envs);
    const outcomes = await store.route(
      lease,
      entries.map((e) => pollDecision(e.id, envelopeOf(e))),
    );
    assert.deepEqual(
      outcomes.map((o) => o.sequence),
      envs.map((_, i) => i + 1),
    );
    const page = await store.readPollLane('bob', '0-0', 1_000);
    assert.deepEqual(
      page.entries.map((e) => e.message.content),
      envs.map((e) => e.content),
    );
    assert.equal((await store.mailboxState('bob')).last, page.entries.at(-1)!.cursor);
  });

  test('a fenced batch writes nothing at all', async () => {
    const { lease, entries } = await appended([envelope('alice', 'bob', 'b1'), envelope('alice', carl!, 'c1')]);
    await redis.set(keys.lease(shard), 'r2|999');
    await assert.rejects(
      store.route(
        lease,
        entries.map((e) => pollDecision(e.id, envelopeOf(e))),
      ),
      (error) => isStoreError(error, 'LEASE_LOST'),
    );
    assert.equal(await redis.exists(keys.lane('bob', 'poll'), keys.lane(carl!, 'poll'), keys.mailbox('bob')), 0);
    assert.equal((await redis.xpending(keys.events(shard), ROUTER_GROUP))[0], 2);
  });
});
