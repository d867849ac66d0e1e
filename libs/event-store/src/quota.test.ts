import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { isStoreError } from './errors.js';
import { Keys } from './keys.js';
import { RedisEventStore } from './open.js';
import { envelope, envelopeOf, pollDecision, useStoreOnRedis } from './test-fixtures.js';
import type { SendQuota } from './types.js';

let redis: Redis;
let store: RedisEventStore;
const keys = new Keys(4, 'test');
useStoreOnRedis(keys, (fixture) => ({ redis, store } = fixture));
beforeEach(async () => {
  await redis.config('SET', 'maxmemory', '0');
});

const admitOne = (quota: SendQuota, to = 'bob') => {
  const env = envelope('alice', to, 'x');
  return store.admitSend({ from: 'alice', to, messageId: env.id, deadlineAt: env.deadlineAt }, quota).then((admission) => ({ env, admission }));
};

/** Appends, routes and returns alice's messages to bob on bob's poll lane. */
async function sendRouted(count: number) {
  const shard = keys.shardOf('bob');
  await store.ensureShardGroup(shard);
  const lease = (await store.acquireShardLease(shard, 'r1', 5_000))!;
  const envs = [];
  for (let i = 0; i < count; i++) {
    const env = envelope('alice', 'bob', `m${i}`);
    await store.admitSend({ from: 'alice', to: 'bob', messageId: env.id, deadlineAt: env.deadlineAt }, { ratePerSecond: 1000, burst: 1000, backlogMax: 10_000 });
    await store.append({ envelope: env });
    envs.push(env);
  }
  const entries = await store.readShardEntries(shard, 'r1', 'new', count);
  await store.route(
    lease,
    entries.map((e) => pollDecision(e.id, envelopeOf(e))),
  );
  return envs;
}

describe('send admission', () => {
  test('the token bucket admits a burst, then refuses with a retry-after, and a refusal takes no token', async () => {
    const quota = { ratePerSecond: 2, burst: 3, backlogMax: 100 };
    for (let i = 0; i < 3; i++) assert.deepEqual((await admitOne(quota)).admission, { admitted: true });
    const refused = (await admitOne(quota)).admission;
    assert.equal(refused.admitted, false);
    assert.equal(refused.admitted === false && refused.reason, 'rate');
    assert.ok(refused.admitted === false && refused.retryAfterMs > 0 && refused.retryAfterMs <= 500, JSON.stringify(refused));
    assert.equal(await redis.zcard(keys.openSends('alice')), 3, 'the refused send is not counted');
    await new Promise((resolve) => setTimeout(resolve, 520));
    assert.deepEqual((await admitOne(quota)).admission, { admitted: true }, 'one token came back after 1/rate seconds');
  });

  test('each sender has its own bucket', async () => {
    const quota = { ratePerSecond: 1, burst: 1, backlogMax: 100 };
    assert.equal((await admitOne(quota)).admission.admitted, true);
    assert.equal((await admitOne(quota)).admission.admitted, false);
    const carol = envelope('carol', 'bob', 'x');
    assert.equal((await store.admitSend({ from: 'carol', to: 'bob', messageId: carol.id, deadlineAt: carol.deadlineAt }, quota)).admitted, true);
  });

  test('the backlog cap counts undelivered sends; delivered ones leave it when it is re-counted', async () => {
    const envs = await sendRouted(3);
    const quota = { ratePerSecond: 1000, burst: 1000, backlogMax: 3 };
    const refused = (await admitOne(quota)).admission;
    assert.deepEqual(refused, { admitted: false, reason: 'backlog', retryAfterMs: 1000, open: 3 });
    // bob receives two of them
    const page = await store.readPollLane('bob', '0-0', 10);
    await store.ackPollLane('bob', page.entries[1]!.cursor);
    assert.equal((await store.getMessage(envs[0]!.id, 'bob'))?.state, 'delivered');
    // This store re-counted a moment ago (and found nothing delivered): it waits before scanning again.
    assert.equal((await admitOne(quota)).admission.admitted, false);
    const fresh = new RedisEventStore(redis, { keys });
    const admitted = await fresh.admitSend({ from: 'alice', to: 'bob', messageId: 'm-new', deadlineAt: Date.now() + 60_000 }, quota);
    assert.deepEqual(admitted, { admitted: true });
    assert.equal(await redis.zcard(keys.openSends('alice')), 2, 'the undelivered one and the new one');
  });

  test('concurrent sends at the cap share one re-count and are all admitted when it freed room', async () => {
    const envs = await sendRouted(4);
    const page = await store.readPollLane('bob', '0-0', 10);
    await store.ackPollLane('bob', page.entries[3]!.cursor);
    assert.equal((await store.getMessage(envs[3]!.id, 'bob'))?.state, 'delivered');
    const quota = { ratePerSecond: 1000, burst: 1000, backlogMax: 4 };
    const admissions = await Promise.all(Array.from({ length: 4 }, () => admitOne(quota)));
    assert.deepEqual(
      admissions.map((a) => a.admission),
      Array.from({ length: 4 }, () => ({ admitted: true })),
    );
    assert.equal(await redis.zcard(keys.openSends('alice')), 4, 'the four new ones; the delivered ones were forgotten once');
  });

  test('an admitted send asked about again (a retry) is admitted once', async () => {
    const quota = { ratePerSecond: 1, burst: 1, backlogMax: 100 };
    const env = envelope('alice', 'bob', 'x');
    const send = { from: 'alice', to: 'bob', messageId: env.id, deadlineAt: env.deadlineAt };
    assert.equal((await store.admitSend(send, quota)).admitted, true);
    assert.equal((await store.admitSend(send, quota)).admitted, true);
    assert.equal(await redis.zcard(keys.openSends('alice')), 1);
  });

  test('a refused send leaves the backlog set and its expiry as they were; an admitted one keeps the set alive past its deadline', async () => {
    const quota = { ratePerSecond: 1, burst: 1, backlogMax: 100 };
    const first = await admitOne(quota);
    assert.equal(first.admission.admitted, true);
    const ttl = await redis.pexpiretime(keys.openSends('alice'));
    assert.ok(ttl >= first.env.deadlineAt + 1000, `the set outlives its send's deadline (expires ${ttl}, deadline ${first.env.deadlineAt})`);
    assert.equal((await admitOne(quota)).admission.admitted, false);
    assert.deepEqual(await redis.zrange(keys.openSends('alice'), '0', '-1'), [`bob\n${first.env.id}`]);
    assert.equal(await redis.pexpiretime(keys.openSends('alice')), ttl);
    // A new sender refused on its first send leaves no set at all.
    await redis.hset(keys.sendQuota('dan'), 'tokens', '0', 'at', String(Date.now()));
    const dan = envelope('dan', 'bob', 'x');
    assert.equal((await store.admitSend({ from: 'dan', to: 'bob', messageId: dan.id, deadlineAt: dan.deadlineAt }, quota)).admitted, false);
    assert.equal(await redis.exists(keys.openSends('dan')), 0);
  });

  test('an admitted elicit opens its wait record; its retry leaves an answer alone; a refused one opens none', async () => {
    const quota = { ratePerSecond: 1, burst: 1, backlogMax: 100 };
    const question = envelope('alice', 'bob', 'May I?', { kind: 'elicitation' });
    const send = { from: 'alice', to: 'bob', messageId: question.id, deadlineAt: question.deadlineAt, elicitWaitTtlMs: 30_000 };
    assert.equal((await store.admitSend(send, quota)).admitted, true);
    const wait = keys.elicitWait('alice', question.id);
    assert.deepEqual(await redis.hgetall(wait), { state: 'waiting' });
    assert.ok((await redis.pttl(wait)) > 29_000);
    await redis.hset(wait, 'state', 'answered', 'answer', '{}');
    assert.equal((await store.admitSend(send, quota)).admitted, true, 'a retry is admitted once more');
    assert.equal(await redis.hget(wait, 'state'), 'answered');
    const refused = envelope('alice', 'bob', 'And now?', { kind: 'elicitation' });
    assert.equal((await store.admitSend({ ...send, messageId: refused.id }, quota)).admitted, false);
    assert.equal(await redis.exists(keys.elicitWait('alice', refused.id)), 0);
  });

  test('sends past their deadline are pruned when the backlog is at its cap, and the set re-created then still expires', async () => {
    const quota = { ratePerSecond: 1000, burst: 1000, backlogMax: 2 };
    const past = Date.now() - 1;
    for (const id of ['old-1', 'old-2']) assert.equal((await store.admitSend({ from: 'alice', to: 'bob', messageId: id, deadlineAt: past }, quota)).admitted, true);
    const admitted = await admitOne(quota);
    assert.deepEqual(admitted.admission, { admitted: true });
    assert.deepEqual(await redis.zrange(keys.openSends('alice'), '0', '-1'), [`bob\n${admitted.env.id}`], 'the two past their deadline were pruned');
    assert.ok((await redis.pexpiretime(keys.openSends('alice'))) >= admitted.env.deadlineAt + 1000);
  });
});

describe('a full Redis', () => {
  /** Sets maxmemory just above what Redis uses now and fills it with a filler key until writes are refused. */
  async function fillRedis(): Promise<void> {
    const used = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
    await redis.config('SET', 'maxmemory', String(used + 256 * 1024));
    for (let i = 0; ; i++) {
      try {
        await redis.set(`filler:${i}`, 'x'.repeat(16 * 1024));
      } catch (error) {
        assert.match(String(error), /OOM/);
        return;
      }
    }
  }

  test('new sends are refused with STORE_FULL and store nothing, while routing, delivery, acknowledgement and trimming go on', async () => {
    const delivered = await sendRouted(3); // accepted and on bob's poll lane before Redis filled up
    const env4 = envelope('alice', 'bob', 'accepted before, not routed yet');
    await store.append({ envelope: env4 });
    await fillRedis();
    const pressure = await new RedisEventStore(redis, { keys }).memoryPressure();
    assert.ok(pressure.limitBytes > 0 && pressure.ratio >= 0.9, JSON.stringify(pressure));

    const before = await redis.dbsize();
    const late = envelope('alice', 'bob', 'too late');
    await assert.rejects(store.admitSend({ from: 'alice', to: 'bob', messageId: late.id, deadlineAt: late.deadlineAt }, { ratePerSecond: 1000, burst: 1000, backlogMax: 10_000 }), (error) => isStoreError(error, 'STORE_FULL'));
    await assert.rejects(store.append({ envelope: late }), (error) => isStoreError(error, 'STORE_FULL'));
    await assert.rejects(store.append({ envelope: envelope('alice', 'bob', 'too late'), idempotencyKey: 'k' }), (error) => isStoreError(error, 'STORE_FULL'));
    assert.equal(await redis.dbsize(), before, 'a refused send leaves nothing behind');

    // What was accepted before still moves: routing, acknowledgement, trimming.
    const shard = keys.shardOf('bob');
    const lease = (await store.acquireShardLease(shard, 'r2', 5_000)) ?? (await store.acquireShardLease(shard, 'r1', 5_000));
    assert.ok(lease, 'a router can take (or keep) the shard lease');
    const entries = await store.readShardEntries(shard, 'r1', 'new', 10);
    const [routed] = await store.route(
      { ...lease },
      entries.map((e) => pollDecision(e.id, envelopeOf(e))),
    );
    assert.equal(routed?.status, 'routed');
    const page = await store.readPollLane('bob', '0-0', 10);
    assert.deepEqual(
      page.entries.map((e) => e.message.message_id),
      [...delivered.map((e) => e.id), env4.id],
    );
    const acked = await store.ackPollLane('bob', page.entries.at(-1)!.cursor);
    assert.equal(acked.status, 'acked');
    assert.equal((await store.getMessage(env4.id, 'bob'))?.state, 'delivered');
    await store.trimShard(shard);
    assert.equal(await redis.xlen(keys.lane('bob', 'poll')), 0, 'acknowledged entries are trimmed while full');
  });
});
