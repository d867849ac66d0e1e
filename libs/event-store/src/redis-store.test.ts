import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import type { Envelope } from '@agent-bridge/protocol';
import { isStoreError } from './errors.js';
import { Keys, ROUTER_GROUP } from './keys.js';
import { ROUND_LEASE_OWNER_PREFIX } from './types.js';
import { DEFAULT_STORE_OPTIONS, type RedisEventStore } from './open.js';
import { envelope, envelopeOf, pollDecision, pushDecision, useStoreOnRedis } from './test-fixtures.js';

let redis: Redis;
let store: RedisEventStore;
const keys = new Keys(4, 'test');
useStoreOnRedis(keys, (fixture) => ({ redis, store } = fixture));

async function appendAndRead(from: string, to: string, content: string) {
  const env = envelope(from, to, content);
  await store.append({ envelope: env });
  const shard = keys.shardOf(to);
  await store.ensureShardGroup(shard);
  return { env, shard };
}

describe('idempotent append', () => {
  test('a retried send with the same idempotency key and content stores one message and returns its id', async () => {
    const first = await store.append({ envelope: envelope('alice', 'bob', 'hi'), idempotencyKey: 'k1' });
    const retry = await store.append({ envelope: envelope('alice', 'bob', 'hi'), idempotencyKey: 'k1' });
    assert.equal(first.duplicate, false);
    assert.equal(retry.duplicate, true);
    assert.equal(retry.messageId, first.messageId);
    assert.equal(retry.eventsEntryId, first.eventsEntryId);
    assert.equal(await redis.xlen(keys.events(keys.shardOf('bob'))), 1);
  });

  test('an idempotency key reused with different content is refused and stores nothing', async () => {
    await store.append({ envelope: envelope('alice', 'bob', 'hi'), idempotencyKey: 'k1' });
    const before = await redis.dbsize();
    await assert.rejects(store.append({ envelope: envelope('alice', 'bob', 'something else'), idempotencyKey: 'k1' }), (error) => isStoreError(error, 'IDEMPOTENCY_CONFLICT'));
    await assert.rejects(store.append({ envelope: envelope('alice', 'carol', 'hi'), idempotencyKey: 'k1' }), (error) => isStoreError(error, 'IDEMPOTENCY_CONFLICT'));
    assert.equal(await redis.dbsize(), before);
    assert.equal(await redis.xlen(keys.events(keys.shardOf('bob'))), 1);
  });

  test('the same key from two different senders names two different messages', async () => {
    const a = await store.append({ envelope: envelope('alice', 'bob', 'hi'), idempotencyKey: 'shared' });
    const c = await store.append({ envelope: envelope('carol', 'bob', 'hi'), idempotencyKey: 'shared' });
    assert.notEqual(a.messageId, c.messageId);
    assert.equal(c.duplicate, false);
  });

  test('a send that crashed after reserving its key is completed, once, by its retry', async () => {
    const first = await store.append({ envelope: envelope('alice', 'bob', 'hi'), idempotencyKey: 'k9' });
    // Make it as if the first attempt reserved the key and died before its append landed.
    await redis.xtrim(keys.events(keys.shardOf('bob')), 'MAXLEN', 0);
    await redis.del(keys.ledger('bob', first.messageId));
    const retry = await store.append({ envelope: envelope('alice', 'bob', 'hi'), idempotencyKey: 'k9' });
    assert.equal(retry.messageId, first.messageId);
    assert.equal(await redis.xlen(keys.events(keys.shardOf('bob'))), 1, 'the retry appended the message the crash lost');
    const again = await store.append({ envelope: envelope('alice', 'bob', 'hi'), idempotencyKey: 'k9' });
    assert.equal(again.duplicate, true);
    assert.equal(await redis.xlen(keys.events(keys.shardOf('bob'))), 1);
  });
});

describe('route and ack', () => {
  test('routing appends to the lane, records the ledger and acks the entry in one step; a redelivery changes nothing', async () => {
    const { env, shard } = await appendAndRead('alice', 'bob', 'hello');
    const lease = (await store.acquireShardLease(shard, 'r1', 5_000))!;
    const [entry] = await store.readShardEntries(shard, 'r1', 'new', 10);
    const [outcome] = await store.route(lease, [pollDecision(entry!.id, env)]);
    assert.equal(outcome!.status, 'routed');
    assert.equal(outcome!.sequence, 1);
    assert.equal(await redis.xlen(keys.lane('bob', 'poll')), 1);
    assert.equal((await redis.xpending(keys.events(shard), ROUTER_GROUP))[0], 0);
    const ledger = await store.getMessage(env.id);
    assert.equal(ledger?.state, 'routed');
    assert.equal(ledger?.lane, 'poll');
    assert.equal(ledger?.via, 'legacy');

    const [again] = await store.route(lease, [pollDecision(entry!.id, env)]);
    assert.equal(again!.status, 'duplicate');
    assert.equal(again!.laneEntryId, outcome!.laneEntryId);
    assert.equal(await redis.xlen(keys.lane('bob', 'poll')), 1);
    assert.equal((await store.mailboxState('bob')).sequence, 1);
  });

  test('a router whose lease was taken over writes nothing (fencing)', async () => {
    const { env, shard } = await appendAndRead('alice', 'bob', 'hello');
    const stale = (await store.acquireShardLease(shard, 'r1', 5_000))!;
    const [entry] = await store.readShardEntries(shard, 'r1', 'new', 10);
    await redis.del(keys.lease(shard)); // r1's lease expired…
    const current = (await store.acquireShardLease(shard, 'r2', 5_000))!; // …and r2 took the shard
    assert.ok(current.fence > stale.fence);
    await assert.rejects(store.route(stale, [pollDecision(entry!.id, env)]), (error) => isStoreError(error, 'LEASE_LOST'));
    assert.equal(await redis.xlen(keys.lane('bob', 'poll')), 0);
    assert.equal((await redis.xpending(keys.events(shard), ROUTER_GROUP))[0], 1, 'the entry is still pending for the new owner');
    assert.equal(await store.renewShardLease(stale, 5_000), false);
  });

  test("a dead consumer's pending entries are reclaimed by the next lease holder, in order", async () => {
    const shard = keys.shardOf('bob');
    const envs = [];
    for (let i = 0; i < 5; i++) envs.push((await appendAndRead('alice', 'bob', `m${i}`)).env);
    await store.acquireShardLease(shard, 'dead-router', 200);
    const read = await store.readShardEntries(shard, 'dead-router', 'new', 10);
    assert.equal(read.length, 5);
    // dead-router dies without acking; its lease runs out.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const lease = (await store.acquireShardLease(shard, 'r2', 5_000))!;
    assert.ok(lease, 'the expired lease can be taken');
    assert.equal(await store.claimShardPending(shard, 'r2'), 5);
    const pending = await store.readShardEntries(shard, 'r2', 'pending', 10);
    assert.deepEqual(
      pending.map((e) => envelopeOf(e).content),
      ['m0', 'm1', 'm2', 'm3', 'm4'],
    );
    await store.route(
      lease,
      pending.map((e) => pollDecision(e.id, envelopeOf(e))),
    );
    assert.equal((await redis.xpending(keys.events(shard), ROUTER_GROUP))[0], 0);
    assert.equal(await redis.xlen(keys.lane('bob', 'poll')), 5);
  });

  test('an entry that does not decode goes to the dead-letter stream instead of blocking its shard', async () => {
    const shard = keys.shardOf('bob');
    await store.ensureShardGroup(shard);
    await redis.xadd(keys.events(shard), '*', 't', 'message', 'm', 'x', 'e', '{not json');
    const lease = (await store.acquireShardLease(shard, 'r1', 5_000))!;
    const [entry] = await store.readShardEntries(shard, 'r1', 'new', 10);
    assert.equal(entry!.type, 'undecodable');
    await store.deadLetter(lease, entry!, 'test');
    assert.equal(await redis.xlen(keys.deadLetters(shard)), 1);
    assert.equal((await redis.xpending(keys.events(shard), ROUTER_GROUP))[0], 0);
  });
});

describe('trimming', () => {
  test('unacknowledged entries survive trimming; acknowledged ones go', async () => {
    const shard = keys.shardOf('bob');
    for (let i = 0; i < 10; i++) await appendAndRead('alice', 'bob', `m${i}`);
    const lease = (await store.acquireShardLease(shard, 'r1', 5_000))!;
    const firstSix = await store.readShardEntries(shard, 'r1', 'new', 6); // 6 delivered, 4 never read
    await store.route(
      lease,
      firstSix.slice(0, 4).map((e) => pollDecision(e.id, envelopeOf(e))),
    ); // 4 acked, 2 pending
    const trimmed = await store.trimShard(shard);
    assert.equal(trimmed, 4);
    const remaining = await redis.xrange(keys.events(shard), '-', '+');
    assert.equal(remaining.length, 6);
    assert.equal(remaining[0]![0], firstSix[4]!.id, 'the oldest pending entry is kept');
  });

  test('a stream nobody has read yet is not trimmed at all', async () => {
    const shard = keys.shardOf('bob');
    await store.append({ envelope: envelope('alice', 'bob', 'x') });
    assert.equal(await store.trimShard(shard), 0);
    assert.equal(await redis.xlen(keys.events(shard)), 1);
  });
});

describe('consumer pruning', () => {
  test('a departed router with nothing pending is forgotten; one that still owns entries is kept', async () => {
    const shard = keys.shardOf('bob');
    await appendAndRead('alice', 'bob', 'm0');
    await store.readShardEntries(shard, 'holder', 'new', 10); // owns one pending entry
    await redis.xgroup('CREATECONSUMER', keys.events(shard), ROUTER_GROUP, 'departed'); // a router that left with nothing pending
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(await store.pruneIdleConsumers(shard, 10), 1);
    const names = ((await redis.xinfo('CONSUMERS', keys.events(shard), ROUTER_GROUP)) as string[][]).map((c) => c[1]);
    assert.deepEqual(names, ['holder']);
  });
});

describe('poll lane', () => {
  async function deliver(count: number) {
    const shard = keys.shardOf('bob');
    const lease = (await store.acquireShardLease(shard, 'r1', 5_000))!;
    const envs = [];
    for (let i = 0; i < count; i++) envs.push((await appendAndRead('alice', 'bob', `m${i}`)).env);
    const entries = await store.readShardEntries(shard, 'r1', 'new', count);
    await store.route(
      lease,
      entries.map((e) => pollDecision(e.id, envelopeOf(e))),
    );
    return envs;
  }

  test('a cursor acknowledges up to itself: those messages become delivered and are trimmed, later ones stay; the outcome names the newest entry', async () => {
    const envs = await deliver(3);
    const page = await store.readPollLane('bob', '0-0', 10);
    assert.deepEqual(
      page.entries.map((e) => e.message.sequence),
      [1, 2, 3],
    );
    const outcome = await store.ackPollLane('bob', page.entries[1]!.cursor);
    assert.deepEqual(outcome, { status: 'acked', count: 2, acked: page.entries[1]!.cursor, last: page.entries[2]!.cursor });
    assert.equal((await store.getMessage(envs[0]!.id, 'bob'))?.state, 'delivered');
    assert.equal((await store.getMessage(envs[2]!.id, 'bob'))?.state, 'routed');
    assert.equal(await redis.xlen(keys.lane('bob', 'poll')), 1);
    assert.equal(await redis.zscore(keys.openMessages(keys.shardOf('bob')), envs[0]!.id), null);
    const rest = await store.readPollLane('bob', page.entries[1]!.cursor, 10);
    assert.deepEqual(
      rest.entries.map((e) => e.message.content),
      ['m2'],
    );
  });

  test('acknowledging the same cursor twice is harmless, an older one is expired, an unissued one unknown', async () => {
    await deliver(2);
    const page = await store.readPollLane('bob', '0-0', 10);
    await store.ackPollLane('bob', page.entries[1]!.cursor);
    assert.deepEqual(await store.ackPollLane('bob', page.entries[1]!.cursor), { status: 'acked', count: 0, acked: page.entries[1]!.cursor, last: page.entries[1]!.cursor });
    assert.equal((await store.ackPollLane('bob', page.entries[0]!.cursor)).status, 'expired');
    assert.equal((await store.ackPollLane('bob', '99999999999999-0')).status, 'unknown');
  });

  test('an acknowledged elicit question stays open (its call closes it); the ordinary message beside it leaves the open set', async () => {
    const [plain] = await deliver(1);
    const question = envelope('alice', 'bob', 'May I?', { kind: 'elicitation' });
    await store.append({ envelope: question, awaitsReply: true });
    const shard = keys.shardOf('bob');
    const lease = (await store.acquireShardLease(shard, 'r1', 5_000))!;
    const entries = await store.readShardEntries(shard, 'r1', 'new', 10);
    await store.route(
      lease,
      entries.map((e) => pollDecision(e.id, envelopeOf(e))),
    );
    const page = await store.readPollLane('bob', '0-0', 10);
    assert.equal((await store.ackPollLane('bob', page.entries.at(-1)!.cursor)).status, 'acked');
    assert.equal((await store.getMessage(question.id, 'bob'))?.state, 'delivered');
    assert.notEqual(await redis.zscore(keys.openMessages(shard), question.id), null, 'the question is still open');
    assert.equal(await redis.zscore(keys.openMessages(shard), plain!.id), null);
    assert.equal(await redis.ttl(keys.ledger('bob', question.id)), -1, 'and its record is kept until it is closed');
  });

  test('acknowledging a long backlog at once settles it in bounded chunks, all delivered', async () => {
    const envs = await deliver(1200);
    const page = await store.readPollLane('bob', '0-0', 1200);
    const outcome = await store.ackPollLane('bob', page.entries.at(-1)!.cursor);
    assert.deepEqual(outcome, { status: 'acked', count: 1200, acked: page.entries.at(-1)!.cursor, last: page.entries.at(-1)!.cursor });
    assert.equal(await redis.zcard(keys.openMessages(keys.shardOf('bob'))), 0, 'every one left the open set');
    assert.equal(await redis.xlen(keys.lane('bob', 'poll')), 0);
    assert.equal((await store.getMessage(envs[700]!.id, 'bob'))?.state, 'delivered');
  });

  test('has_more is set when more messages wait than were asked for', async () => {
    await deliver(3);
    const page = await store.readPollLane('bob', '0-0', 2);
    assert.equal(page.entries.length, 2);
    assert.equal(page.hasMore, true);
  });
});

describe('shard census', () => {
  test('active agents are counted per protocol within the window and older activity is forgotten', async () => {
    const agents = ['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8'].filter((agent) => keys.shardOf(agent) === keys.shardOf('a1'));
    assert.ok(agents.length >= 2, 'the fixture needs two agents in one shard');
    const [first, second] = agents as [string, string];
    const shard = keys.shardOf(first);
    const now = Date.now();
    await store.recordActivity(first, 'legacy', now - 10_000);
    await store.recordActivity(first, 'elicitation', now - 1_000);
    await store.recordActivity(second, 'other', now - 1_000);
    await store.recordActivity(second, 'legacy', now - 120_000);

    const census = await store.shardCensus(shard, now - 60_000);
    assert.deepEqual(census.activeAgents, { any: 2, legacy: 1, elicitation: 1, byGeneration: { '2025-11-25': 0, '2026-07-28': 0 } });
    assert.equal(await redis.zscore(keys.activity(shard, 'legacy'), second), null, 'activity older than the window is pruned');
  });

  test('active agents are counted per MCP generation within the window, an agent on both in both, and older generation activity is forgotten', async () => {
    const agents = ['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8', 'a9', 'a10', 'a11', 'a12'].filter((agent) => keys.shardOf(agent) === keys.shardOf('a1'));
    assert.ok(agents.length >= 3, 'the fixture needs three agents in one shard');
    const [both, modern, gone] = agents as [string, string, string];
    const shard = keys.shardOf(both);
    const now = Date.now();
    await store.recordActivity(both, 'legacy', now - 10_000, '2025-11-25');
    await store.recordActivity(both, 'elicitation', now - 1_000, '2026-07-28');
    await store.recordActivity(modern, 'other', now - 1_000, '2026-07-28');
    await store.recordActivity(gone, 'legacy', now - 120_000, '2025-11-25');

    const census = await store.shardCensus(shard, now - 60_000);
    assert.deepEqual(census.activeAgents, { any: 2, legacy: 1, elicitation: 1, byGeneration: { '2025-11-25': 1, '2026-07-28': 2 } });
    assert.equal(await redis.zscore(keys.generationActivity(shard, '2025-11-25'), gone), null, 'generation activity older than the window is pruned');
    assert.match(keys.generationActivity(shard, '2026-07-28'), new RegExp(`^test:\\{s${shard}\\}:`), 'the generation sets carry the shard hash tag');
  });

  test('a batch of sightings costs one ZADD per activity set it touches, however many agents it names', async () => {
    const agents = Array.from({ length: 300 }, (_, i) => `batch-${i}`);
    const now = Date.now();
    await redis.config('RESETSTAT');
    await store.recordActivities(agents.map((agentId, i) => ({ agentId, activity: i % 2 === 0 ? 'legacy' : 'elicitation', at: now - i, generation: '2026-07-28' })));
    const stats = (await redis.info('commandstats')).split('\r\n').filter((line) => /^cmdstat_zadd:/.test(line));
    const zadds = Number(/calls=(\d+)/.exec(stats[0] ?? '')?.[1]);
    const sets = new Set(agents.map((agent) => keys.shardOf(agent))).size * 4;
    assert.equal(zadds, sets, `any, legacy, elicitation and the generation set of each of the shards: ${sets} ZADDs for ${agents.length} agents`);
    const shard = keys.shardOf('batch-0');
    assert.equal(Number(await redis.zscore(keys.activity(shard, 'legacy'), 'batch-0')), now, 'each agent keeps its own last-seen time');
    await store.recordActivities([{ agentId: 'batch-0', activity: 'legacy', at: now - 60_000 }]);
    assert.equal(Number(await redis.zscore(keys.activity(shard, 'any'), 'batch-0')), now, 'a late batch never moves a last-seen time backwards');
  });

  test("the controller's counts add up every shard, by protocol and by MCP generation, within the window", async () => {
    const now = Date.now();
    const agents = ['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8'];
    assert.ok(new Set(agents.map((agent) => keys.shardOf(agent))).size > 1, 'the fixture spans several shards');
    for (const agent of agents.slice(0, 5)) await store.recordActivity(agent, 'legacy', now - 1_000, '2025-11-25');
    for (const agent of agents.slice(3, 7)) await store.recordActivity(agent, 'elicitation', now - 1_000, '2026-07-28');
    await store.recordActivity('a8', 'other', now - 1_000);
    await store.recordActivity('old', 'legacy', now - 120_000, '2026-07-28');
    // a4 and a5 used both endpoints: 3 legacy only + 2 elicitation only + 2 both + a8 (neither) = 8.
    assert.deepEqual(await store.activeAgentCounts(now - 60_000), { any: 8, legacy: 5, elicitation: 4, both: 2, byGeneration: { '2025-11-25': 5, '2026-07-28': 4 } });
    await store.recordActivity('a1', 'elicitation', now - 120_000, '2026-07-28');
    assert.equal((await store.activeAgentCounts(now - 60_000)).both, 2, 'elicitation use before the window does not make a1 count as both');
  });

  test('the backlog says how many accepted messages wait to be routed, in a push lane and in a poll lane', async () => {
    const shard = keys.shardOf('bob');
    assert.deepEqual((await store.shardCensus(shard, 0)).backlog, { events: 0, push: 0, poll: 0 }, 'an unused shard has no backlog');
    const routed = await appendAndRead('alice', 'bob', 'one');
    await store.append({ envelope: envelope('alice', 'bob', 'two') });
    await store.append({ envelope: envelope('alice', 'bob', 'three') });
    assert.deepEqual((await store.shardCensus(shard, 0)).backlog, { events: 3, push: 0, poll: 0 });

    const lease = (await store.acquireShardLease(shard, 'r1', 5_000))!;
    const [entry] = await store.readShardEntries(shard, 'r1', 'new', 1);
    assert.equal(envelopeOf(entry).id, routed.env.id);
    await store.route(lease, [pollDecision(entry!.id, routed.env)]);
    assert.deepEqual((await store.shardCensus(shard, 0)).backlog, { events: 2, push: 0, poll: 1 });

    const page = await store.readPollLane('bob', '0', 10);
    await store.ackPollLane('bob', page.entries.at(-1)!.cursor);
    assert.deepEqual((await store.shardCensus(shard, 0)).backlog, { events: 2, push: 0, poll: 0 }, 'an acknowledged message is no longer backlog');
  });
});

describe('push leases of 2026-07-28 rounds', () => {
  test('a round lease is taken over only by a caller that names the round prefix, and the round is fenced out', async () => {
    const round = await store.acquirePushLease('ria', `${ROUND_LEASE_OWNER_PREFIX}r1:abc`, 30_000);
    assert.ok(round);
    assert.equal(await store.acquirePushLease('ria', 'deliverer-1', 5_000), null, 'a deliverer waits for the round');
    assert.equal(await store.acquirePushLease('ria', 'router-1', 5_000, { preempt: 'other:' }), null, 'another prefix does not preempt');
    const drain = await store.acquirePushLease('ria', 'router-1', 5_000, { preempt: ROUND_LEASE_OWNER_PREFIX });
    assert.ok(drain && drain.fence > round.fence, 'the drain holds it with a newer fence');
    assert.equal(await store.renewPushLease(round, 30_000), false, 'the round can no longer renew (or write)');
    assert.equal(await store.acquirePushLease('ria', 'router-2', 5_000, { preempt: ROUND_LEASE_OWNER_PREFIX }), null, "a drain's lease is not a round's: not preemptable");
  });

  /** Routes `count` messages from alice to ria's push lane; returns their envelopes. */
  async function pushToRia(count: number) {
    const shard = keys.shardOf('ria');
    const envs = [];
    for (let i = 0; i < count; i++) {
      const env = envelope('alice', 'ria', `m${i}`);
      await store.append({ envelope: env });
      envs.push(env);
    }
    await store.ensureShardGroup(shard);
    const lease = (await store.acquireShardLease(shard, 'r1', 5_000))!;
    const entries = await store.readShardEntries(shard, 'r1', 'new', 100);
    await store.route(
      lease,
      entries.map((entry) => pushDecision(entry.id, envelopeOf(entry))),
    );
    return envs;
  }

  test('take_round: an empty lane takes no lease; a round reads new entries up to its size and holds the lease', async () => {
    assert.equal(await store.takeRound('ria', 'round:a', 30_000, 'rounds', 2), 'empty');
    assert.equal(await redis.exists(keys.pushLease('ria')), 0, 'no lease for an empty lane');
    const envs = await pushToRia(3);
    const round = await store.takeRound('ria', 'round:a', 30_000, 'rounds', 2);
    assert.ok(typeof round === 'object');
    assert.deepEqual(round.pending, []);
    assert.deepEqual(
      round.fresh.map((e) => e.messageId),
      [envs[0]!.id, envs[1]!.id],
    );
    assert.equal(await store.takeRound('ria', 'round:b', 30_000, 'rounds', 2), 'held', 'one round at a time');
  });

  test('an unanswered round is handed out again first, after its lease is gone, whoever consumed it before', async () => {
    const envs = await pushToRia(3);
    const deliverer = (await store.acquirePushLease('ria', 'deliverer', 5_000))!;
    await store.claimPushLane(deliverer, 'deliverer');
    await store.readPushLane('ria', 'deliverer', 'new', 1); // a session's push in flight when its replica died
    await store.releasePushLease(deliverer);
    const round = await store.takeRound('ria', 'round:a', 30_000, 'rounds', 8);
    assert.ok(typeof round === 'object');
    assert.deepEqual(
      round.pending.map((e) => e.messageId),
      [envs[0]!.id],
      'the entry another consumer had pending comes first',
    );
    assert.deepEqual(
      round.fresh.map((e) => e.messageId),
      [envs[1]!.id, envs[2]!.id],
    );
  });

  test('settle_round settles what was answered, leaves the rest pending, releases the lease and says what waits', async () => {
    const envs = await pushToRia(3);
    const round = await store.takeRound('ria', 'round:a', 30_000, 'rounds', 8);
    assert.ok(typeof round === 'object');
    const [first, second] = round.fresh;
    const outcome = await store.settleRound(round.lease, [
      { entry: first!, state: 'answered' },
      { entry: second!, state: 'declined' },
    ]);
    assert.equal(outcome.pushRemaining, 1, 'the unanswered entry is still on the lane');
    assert.equal((await store.getMessage(envs[0]!.id, 'ria'))?.state, 'answered');
    assert.equal((await store.getMessage(envs[1]!.id, 'ria'))?.state, 'declined');
    assert.equal((await store.getMessage(envs[2]!.id, 'ria'))?.state, 'routed');
    assert.equal(await redis.exists(keys.pushLease('ria')), 0, 'the lease is released');
    const again = await store.takeRound('ria', 'round:b', 30_000, 'rounds', 8);
    assert.ok(typeof again === 'object');
    assert.deepEqual(
      again.pending.map((e) => e.messageId),
      [envs[2]!.id],
      'the unanswered one comes again',
    );
    assert.deepEqual(await store.readPushEntries('ria', [first!.id, round.fresh[2]!.id]), [round.fresh[2]], 'only what is still on the lane, read by id');
  });

  test('pushLaneState says how long the lane is and whether its lease is held', async () => {
    assert.deepEqual(await store.pushLaneState('ria'), { length: 0, leased: false });
    await pushToRia(2);
    assert.deepEqual(await store.pushLaneState('ria'), { length: 2, leased: false });
    const round = await store.takeRound('ria', 'round:a', 30_000, 'rounds', 1);
    assert.ok(typeof round === 'object');
    assert.deepEqual(await store.pushLaneState('ria'), { length: 2, leased: true });
  });

  test('settle_round of a round whose lease was taken over changes nothing (LEASE_LOST)', async () => {
    const envs = await pushToRia(1);
    const round = await store.takeRound('ria', `${ROUND_LEASE_OWNER_PREFIX}a`, 30_000, 'rounds', 8);
    assert.ok(typeof round === 'object');
    await store.acquirePushLease('ria', 'router-1', 5_000, { preempt: ROUND_LEASE_OWNER_PREFIX });
    await assert.rejects(store.settleRound(round.lease, [{ entry: round.fresh[0]!, state: 'answered' }]), (error) => isStoreError(error, 'LEASE_LOST'));
    assert.equal((await store.getMessage(envs[0]!.id, 'ria'))?.state, 'routed');
    assert.equal(await store.laneLength('ria', 'push'), 1);
  });
});

describe('closing an elicit question', () => {
  test('close_message records the state and the answer once; a terminal state is never rewritten', async () => {
    const env = envelope('alice', 'bob', 'May I?');
    await store.append({ envelope: env, awaitsReply: true });
    const answer = { in_reply_to: env.id, message_id: `${env.id}-a`, responder: 'bob', action: 'accept' as const, text: '{"ok":true}', content: { ok: true }, via: 'elicitation' as const, answered_at: 1 };
    assert.equal(await store.closeMessage(env.id, 'bob', 'answered', answer), 'answered');
    assert.equal(await store.closeMessage(env.id, 'bob', 'expired'), 'answered', 'a late timeout does not turn answered into expired');
    const record = await store.getMessage(env.id, 'bob');
    assert.equal(record?.state, 'answered');
    assert.deepEqual(record?.answer, answer);
    assert.equal(await redis.zscore(keys.openMessages(keys.shardOf('bob')), env.id), null, 'no longer open');
    assert.equal(await store.closeMessage('msg_unknown', 'bob', 'expired'), null, 'no record: nothing is created');
    assert.equal(await redis.exists(keys.ledger('bob', 'msg_unknown')), 0);
  });
});

describe('abandoned elicit questions (the caller crashed or went away)', () => {
  const GRACE = DEFAULT_STORE_OPTIONS.elicitCloseGraceMs;

  /** An `elicit` from alice to bob, as the tool opens it: the wait record first, then the question. */
  async function askBob(timeoutMs = 1_000) {
    const question = envelope('alice', 'bob', 'May I?', { kind: 'elicitation', deadlineAt: Date.now() + timeoutMs });
    await store.beginElicitWait('alice', question.id, timeoutMs + 60_000);
    await store.append({ envelope: question, awaitsReply: true });
    return question;
  }

  /** bob's reply travels as the router routes it: into alice's wait while that still waits. */
  async function bobReplies(question: Envelope) {
    const reply = envelope('bob', 'alice', '{"ok":true}', { inReplyTo: question.id });
    await store.append({ envelope: reply });
    const shard = keys.shardOf('alice');
    await store.ensureShardGroup(shard);
    const lease = (await store.acquireShardLease(shard, 'r1', 5_000))!;
    const [entry] = await store.readShardEntries(shard, 'r1', 'new', 10);
    const answer = { in_reply_to: question.id, message_id: reply.id, responder: 'bob', action: 'accept' as const, text: reply.content, via: 'legacy' as const, answered_at: reply.acceptedAt };
    const [outcome] = await store.route(lease, [{ ...pollDecision(entry!.id, envelopeOf(entry)), answer }]);
    await store.releaseShardLease(lease);
    return { outcome, answer };
  }

  test('a question nobody waits for any more is closed abandoned after its deadline and grace, and no longer counts as unaccounted', async () => {
    const question = await askBob();
    const shard = keys.shardOf('bob');
    const pastDeadline = question.deadlineAt + 1;
    assert.deepEqual(await store.abandonOverdueElicits(shard, pastDeadline, 100), [], 'within the grace its caller may still be recording how it ended');
    assert.equal((await store.unaccountedMessages(shard, pastDeadline, 10)).count, 0, 'nor does it count as unaccounted meanwhile');

    const afterGrace = question.deadlineAt + GRACE + 1;
    assert.equal((await store.unaccountedMessages(shard, afterGrace, 10)).count, 1, 'before the census closes it, it would count');
    assert.deepEqual(await store.abandonOverdueElicits(shard, afterGrace, 100), [question.id]);
    assert.equal((await store.unaccountedMessages(shard, afterGrace, 10)).count, 0);
    const record = await store.getMessage(question.id, 'bob');
    assert.equal(record?.state, 'abandoned');
    assert.equal(record?.answer, undefined);
    assert.equal(await store.closeMessage(question.id, 'bob', 'expired'), 'abandoned', 'terminal: a late close keeps it');
    assert.deepEqual(await store.abandonOverdueElicits(shard, afterGrace, 100), [], 'closed once');

    // A reply from now on is not swallowed by the ended wait: it is routed to alice as a message.
    const { outcome } = await bobReplies(question);
    assert.equal(outcome?.status, 'routed');
  });

  test('an answer that reached the wait after its caller left is recorded beside the abandoned question', async () => {
    const question = await askBob();
    const { outcome, answer } = await bobReplies(question);
    assert.equal(outcome?.status, 'answered', 'stored in the wait record, which nobody reads any more');
    const shard = keys.shardOf('bob');
    assert.deepEqual(await store.abandonOverdueElicits(shard, question.deadlineAt + GRACE + 1, 100), [question.id]);
    const record = await store.getMessage(question.id, 'bob');
    assert.equal(record?.state, 'abandoned');
    assert.deepEqual(record?.answer, answer, 'a replay of the elicit returns it');
  });

  test('a replay that waits longer keeps its question open; ordinary messages are never abandoned', async () => {
    const question = await askBob();
    const ordinary = envelope('carol', 'bob', 'hello', { deadlineAt: Date.now() + 1_000 });
    await store.append({ envelope: ordinary });
    const shard = keys.shardOf('bob');
    await store.extendElicitDeadline(question.id, 'bob', question.deadlineAt + 30_000);
    const afterFirstDeadline = question.deadlineAt + GRACE + 1;
    assert.deepEqual(await store.abandonOverdueElicits(shard, afterFirstDeadline, 100), []);
    assert.deepEqual((await store.unaccountedMessages(shard, afterFirstDeadline, 10)).sample, [ordinary.id], 'the ordinary message counts; the question waited for does not');
    assert.equal((await store.getMessage(question.id, 'bob'))?.state, 'accepted');
    await store.extendElicitDeadline(question.id, 'bob', question.deadlineAt + 1);
    assert.equal(await redis.zscore(keys.openMessages(shard), question.id), String(question.deadlineAt + 30_000 + GRACE), 'never moved earlier');
    assert.deepEqual(await store.abandonOverdueElicits(shard, question.deadlineAt + 30_000 + GRACE + 1, 100), [question.id]);
  });
});

describe('push-lane consumers', () => {
  test('claiming the lane (a deliverer) or taking a round forgets the consumers that own nothing: reconnects do not pile them up', async () => {
    const lane = keys.lane('pia', 'push');
    const names = async () => ((await redis.xinfo('CONSUMERS', lane, 'push')) as string[][]).map((c) => c[1]).sort();
    const env = envelope('alice', 'pia', 'hello');
    await store.append({ envelope: env });
    const shard = keys.shardOf('pia');
    await store.ensureShardGroup(shard);
    const routerLease = (await store.acquireShardLease(shard, 'r1', 5_000))!;
    await store.route(
      routerLease,
      (await store.readShardEntries(shard, 'r1', 'new', 10)).map((entry) => pushDecision(entry.id, envelopeOf(entry))),
    );
    await store.releaseShardLease(routerLease);
    await redis.xgroup('CREATE', lane, 'push', '0');
    for (const departed of ['replica-a-1', 'replica-b-2', 'replica-c-3']) await redis.xgroup('CREATECONSUMER', lane, 'push', departed);
    const deliverer = (await store.acquirePushLease('pia', 'replica-d-4', 5_000))!;
    await store.claimPushLane(deliverer, 'replica-d-4');
    const [entry] = await store.readPushLane('pia', 'replica-d-4', 'new', 1);
    assert.ok(entry, 'the message is handed to the new deliverer');
    assert.deepEqual(await names(), ['replica-d-4']);
    await store.releasePushLease(deliverer);
    const round = await store.takeRound('pia', 'round:x', 30_000, 'rounds', 8);
    assert.ok(typeof round === 'object');
    assert.deepEqual(
      round.pending.map((e) => e.messageId),
      [env.id],
      'the pending entry moved to the round',
    );
    assert.deepEqual(await names(), ['rounds'], 'the deliverer that owned it is gone once it owns nothing');
  });
});
