/**
 * The scripts that had no test of their own: what each writes, what it refuses, and that it can be
 * run twice. Through the store methods that run them (redis/*.ts), against a real redis-server.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RedisServerHandle } from '@agent-bridge/testkit';
import type { Redis } from 'ioredis';
import { EVENT_FIELDS, pairs } from './entry-codec.js';
import { isStoreError } from './errors.js';
import { doorbellTopics, Keys, PUSH_GROUP } from './keys.js';
import { type RedisEventStore } from './open.js';
import { envelope, envelopeOf, pushDecision, useStoreOnRedis } from './test-fixtures.js';
import { boundPushLeaseOwner, type AuditEntry, type PushLaneEntry, type PushLease } from './types.js';

let redisServer: RedisServerHandle;
let redis: Redis;
let store: RedisEventStore;
const keys = new Keys(4, 'fx');
useStoreOnRedis(keys, (fixture) => ({ server: redisServer, redis, store } = fixture));

/** Routes `count` messages from alice to pia's push lane and reads them as pia's deliverer, holding her push lease. */
async function pushed(count: number): Promise<{ lease: PushLease; entries: PushLaneEntry[]; ids: string[] }> {
  const shard = keys.shardOf('pia');
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const env = envelope('alice', 'pia', `m${i}`);
    await store.append({ envelope: env });
    ids.push(env.id);
  }
  await store.ensureShardGroup(shard);
  const shardLease = (await store.acquireShardLease(shard, 'r1', 5_000))!;
  const events = await store.readShardEntries(shard, 'r1', 'new', 100);
  await store.route(
    shardLease,
    events.map((entry) => pushDecision(entry.id, envelopeOf(entry))),
  );
  const lease = (await store.acquirePushLease('pia', 'deliverer-1', 5_000))!;
  await store.claimPushLane(lease, 'deliverer-1');
  return { lease, entries: await store.readPushLane('pia', 'deliverer-1', 'new', 100), ids };
}

describe('push leases (acquire_lease, renew_lease, release_lease)', () => {
  test('one holder at a time; its own acquire extends it; renew and release only with the value held', async () => {
    const first = (await store.acquirePushLease('pia', 'replica-a', 5_000))!;
    assert.equal(await store.acquirePushLease('pia', 'replica-b', 5_000), null);
    const again = (await store.acquirePushLease('pia', 'replica-a', 5_000))!;
    assert.equal(again.value, first.value, 'the owner keeps its fence');
    assert.equal(await store.renewPushLease({ ...first, value: 'replica-a|999' }, 5_000), false);
    await store.releasePushLease({ ...first, value: 'replica-a|999' });
    assert.equal(await redis.get(keys.pushLease('pia')), first.value, 'a wrong value releases nothing');
    assert.equal(await store.renewPushLease(first, 60_000), true);
    assert.ok((await redis.pttl(keys.pushLease('pia'))) > 5_000, 'renewing sets the new time to live');
    await store.releasePushLease(first);
    const next = (await store.acquirePushLease('pia', 'replica-b', 5_000))!;
    assert.ok(next.fence > first.fence, 'the next holder gets a newer fence');
  });

  test('a lease runs out by itself when its holder stops renewing', async () => {
    await store.acquirePushLease('pia', 'replica-a', 50);
    await new Promise((resolve) => setTimeout(resolve, 80));
    assert.ok(await store.acquirePushLease('pia', 'replica-b', 5_000));
  });

  test("a lease bound to a holder is held while the holder's liveness lasts, however long the lease, and moves within the liveness TTL once it lapses", async () => {
    await store.heartbeatPushHolder('replica-a-1f', 300);
    const bound = (await store.acquirePushLease('pia', boundPushLeaseOwner('replica-a-1f', 1), 30 * 60 * 1000))!;
    assert.equal(bound.owner, 'replica-a-1f/1');
    assert.equal(await store.acquirePushLease('pia', 'replica-b', 5_000), null, 'the holder is alive: the lease is its');
    await store.heartbeatPushHolder('replica-a-1f', 300);
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(await store.acquirePushLease('pia', 'replica-b', 5_000), null, 'renewed: still its');
    await new Promise((resolve) => setTimeout(resolve, 400));
    const next = (await store.acquirePushLease('pia', 'replica-b', 5_000))!;
    assert.ok(next, "the holder's liveness lapsed: the next owner takes the lease");
    assert.ok(next.fence > bound.fence, 'with a newer fence, so the old holder writes nothing more');
    await assert.rejects(store.settlePush(bound, { id: '1-1', messageId: 'x' } as PushLaneEntry, 'delivered'), (error) => isStoreError(error, 'LEASE_LOST'));
  });

  test("a removed holder's leases move at once; an ordinary lease is never reclaimed", async () => {
    await store.heartbeatPushHolder('replica-c-2e', 60_000);
    assert.ok(await store.acquirePushLease('pia', boundPushLeaseOwner('replica-c-2e', 7), 30 * 60 * 1000));
    await store.removePushHolder('replica-c-2e');
    assert.ok(await store.acquirePushLease('quinn', 'drain', 60_000));
    assert.ok(await store.acquirePushLease('pia', 'replica-d', 5_000), 'the holder left: its lease is released and taken');
    assert.equal(await store.acquirePushLease('quinn', 'replica-d', 5_000), null, 'a lease bound to no holder waits for its TTL');
    assert.throws(() => boundPushLeaseOwner('a/b', 1), /may not contain "\/"/);
  });

  test('a 2026-07-28 round takes a lane whose lease a dead holder left', async () => {
    await pushed(1);
    await store.releasePushLease((await store.acquirePushLease('pia', 'deliverer-1', 5_000))!);
    await store.heartbeatPushHolder('replica-e-3d', 60_000);
    assert.ok(await store.acquirePushLease('pia', boundPushLeaseOwner('replica-e-3d', 1), 30 * 60 * 1000));
    assert.equal(await store.takeRound('pia', 'round:r1:x', 5_000, 'round', 10), 'held');
    await store.removePushHolder('replica-e-3d');
    const taken = await store.takeRound('pia', 'round:r1:y', 5_000, 'round', 10);
    assert.ok(taken !== 'held' && taken !== 'empty', 'the round has the lane');
    assert.equal(taken.pending.length + taken.fresh.length, 1);
  });
});

describe('settle_push', () => {
  test('records the terminal state, acks and removes the entry, and forgets the agent once its lane is empty', async () => {
    const { lease, entries, ids } = await pushed(2);
    await store.settlePush(lease, entries[0]!, 'answered');
    const record = await store.getMessage(ids[0]!, 'pia');
    assert.equal(record?.state, 'answered');
    assert.equal(record?.via, 'elicitation');
    assert.ok(record?.deliveredAt);
    assert.equal(await store.laneLength('pia', 'push'), 1);
    assert.equal(await redis.zscore(keys.openMessages(keys.shardOf('pia')), ids[0]!), null, 'no longer open');
    assert.deepEqual(await store.agentsWithPushBacklog(keys.shardOf('pia')), ['pia']);
    await store.settlePush(lease, entries[1]!, 'declined');
    assert.equal((await store.getMessage(ids[1]!, 'pia'))?.state, 'declined');
    assert.deepEqual(await store.agentsWithPushBacklog(keys.shardOf('pia')), []);
    const [, pendingCount] = (await redis.xpending(keys.lane('pia', 'push'), PUSH_GROUP)) as [number, number];
    assert.equal(pendingCount ?? 0, 0);
  });

  test('settling twice changes nothing the second time; a message already expired stays expired', async () => {
    const { lease, entries, ids } = await pushed(2);
    await store.settlePush(lease, entries[0]!, 'answered');
    await store.settlePush(lease, entries[0]!, 'declined');
    assert.equal((await store.getMessage(ids[0]!, 'pia'))?.state, 'answered');
    await redis.hset(keys.ledger('pia', ids[1]!), 'state', 'expired');
    await store.settlePush(lease, entries[1]!, 'answered');
    assert.equal((await store.getMessage(ids[1]!, 'pia'))?.state, 'expired');
  });

  test('a deliverer whose lease was taken over settles nothing (LEASE_LOST)', async () => {
    const { lease, entries, ids } = await pushed(1);
    await redis.set(keys.pushLease('pia'), 'replica-b|99');
    await assert.rejects(store.settlePush(lease, entries[0]!, 'answered'), (error) => isStoreError(error, 'LEASE_LOST'));
    assert.equal((await store.getMessage(ids[0]!, 'pia'))?.state, 'routed');
    assert.equal(await store.laneLength('pia', 'push'), 1);
  });
});

describe('fail_push', () => {
  test('moves the entry off the push lane into a delivery.failed event with both payloads, once', async () => {
    const { lease, entries, ids } = await pushed(1);
    const shard = keys.shardOf('pia');
    const before = await redis.xlen(keys.events(shard));
    await store.failPush(lease, entries[0]!, 'timeout');
    await store.failPush(lease, entries[0]!, 'timeout');
    assert.equal(await store.laneLength('pia', 'push'), 0);
    assert.deepEqual(await store.agentsWithPushBacklog(shard), []);
    const added = (await redis.xrange(keys.events(shard), '-', '+')).slice(before);
    assert.equal(added.length, 1, 'handed back once');
    const fields = pairs(added[0]![1]);
    assert.equal(fields[EVENT_FIELDS.type], 'delivery.failed');
    assert.equal(fields[EVENT_FIELDS.messageId], ids[0]);
    assert.equal(fields[EVENT_FIELDS.target], 'pia');
    assert.equal(fields[EVENT_FIELDS.reason], 'timeout');
    assert.equal(fields[EVENT_FIELDS.failedLaneEntryId], entries[0]!.id);
    const [decoded] = await store.readShardEntries(shard, 'r2', 'new', 10).then((all) => all.filter((e) => e.type === 'delivery.failed'));
    assert.equal(decoded?.type, 'delivery.failed');
    if (decoded?.type === 'delivery.failed') {
      assert.deepEqual(decoded.pushPayload, entries[0]!.payload);
      assert.equal(decoded.pollPayload.message_id, entries[0]!.messageId);
    }
  });

  test('a deliverer whose lease was taken over hands nothing back (LEASE_LOST)', async () => {
    const { lease, entries } = await pushed(1);
    await redis.set(keys.pushLease('pia'), 'replica-b|99');
    await assert.rejects(store.failPush(lease, entries[0]!, 'timeout'), (error) => isStoreError(error, 'LEASE_LOST'));
    assert.equal(await store.laneLength('pia', 'push'), 1);
  });
});

describe('drain_push_lane', () => {
  test('moves every undelivered push entry to the poll lane in order, each once, and rings the poll topic', async () => {
    const { lease, ids } = await pushed(3);
    const subscriber = redisServer.client();
    const rung: string[] = [];
    await subscriber.subscribe(keys.lanesBell(keys.shardOf('pia')));
    subscriber.on('message', (_channel, topic: string) => rung.push(topic));
    try {
      assert.equal(await store.drainPushLane(lease, 'legacy_fallback'), 3);
      assert.equal(await store.drainPushLane(lease, 'legacy_fallback'), 0, 'a second drain finds nothing');
      assert.equal(await store.laneLength('pia', 'push'), 0);
      const page = await store.readPollLane('pia', '0-0', 10);
      assert.deepEqual(
        page.entries.map((e) => e.message.message_id),
        ids,
      );
      assert.deepEqual(
        page.entries.map((e) => e.via),
        ['legacy_fallback', 'legacy_fallback', 'legacy_fallback'],
      );
      const record = await store.getMessage(ids[0]!, 'pia');
      assert.equal(record?.lane, 'poll');
      assert.equal(record?.laneEntryId, page.entries[0]!.cursor);
      assert.equal((await store.mailboxState('pia')).last, page.entries[2]!.cursor);
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(rung, [doorbellTopics.lane('pia', 'poll')]);
    } finally {
      subscriber.disconnect();
    }
  });

  test('an entry whose message was already settled elsewhere is dropped, not delivered twice', async () => {
    const { lease, entries, ids } = await pushed(2);
    await redis.hset(keys.ledger('pia', ids[0]!), 'lane_id', 'elsewhere');
    assert.equal(await store.drainPushLane(lease, 'legacy_fallback'), 1);
    assert.deepEqual(
      (await store.readPollLane('pia', '0-0', 10)).entries.map((e) => e.message.message_id),
      [ids[1]],
    );
    assert.equal(entries.length, 2);
  });

  test('without the push lease it drains nothing (LEASE_LOST)', async () => {
    const { lease } = await pushed(1);
    await redis.set(keys.pushLease('pia'), 'replica-b|99');
    await assert.rejects(store.drainPushLane(lease, 'legacy_fallback'), (error) => isStoreError(error, 'LEASE_LOST'));
    assert.equal(await store.laneLength('pia', 'push'), 1);
  });
});

describe('finish_elicit', () => {
  test('a wait without an answer ends expired (a late reply then arrives as a message); an answered one returns its answer', async () => {
    await store.beginElicitWait('alice', 'q1', 30_000);
    assert.equal(await store.finishElicitWait('alice', 'q1'), null);
    assert.equal(await redis.hget(keys.elicitWait('alice', 'q1'), 'state'), 'expired');
    assert.ok((await redis.pttl(keys.elicitWait('alice', 'q1'))) <= 60_000, 'kept for its afterlife only');

    await store.beginElicitWait('alice', 'q2', 30_000);
    const answer = { in_reply_to: 'q2', action: 'accept', content: { ok: true } };
    await redis.hset(keys.elicitWait('alice', 'q2'), 'state', 'answered', 'answer', JSON.stringify(answer));
    assert.deepEqual(await store.finishElicitWait('alice', 'q2'), answer);
    assert.deepEqual(await store.finishElicitWait('alice', 'q2'), answer, 'finishing again returns the same answer');
    assert.equal(await store.finishElicitWait('alice', 'never-began'), null);
    assert.equal(await redis.exists(keys.elicitWait('alice', 'never-began')), 0, 'a missing wait is not created');
  });
});

describe('publish_flags', () => {
  const audit: AuditEntry = { at: 0, actor: 'test', action: 'publish', detail: {} } as unknown as AuditEntry;
  const snapshot = (version: number) => JSON.stringify({ version, flags: {} });

  test('publishes only over the version read, with its audit entry, and rings the change channel with the new version', async () => {
    const subscriber = redisServer.client();
    const rung: string[] = [];
    await subscriber.subscribe(keys.flagChannel());
    subscriber.on('message', (_channel, payload: string) => rung.push(payload));
    try {
      const first = await store.publishFlagSnapshotJson(snapshot(1), 0, audit);
      assert.equal(first.status, 'published');
      assert.deepEqual(await store.publishFlagSnapshotJson(snapshot(2), 0, audit), { status: 'conflict', currentVersion: 1 });
      assert.equal((await store.publishFlagSnapshotJson(snapshot(2), 1, audit)).status, 'published');
      assert.equal(await store.readFlagSnapshotJson(), snapshot(2));
      assert.equal((await store.readAudit(10)).length, 2, 'one audit entry per publication, none for the refused one');
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(rung, ['1', '2']);
    } finally {
      subscriber.disconnect();
    }
  });

  test('a controller publishes only while it holds the lease, and its status is stored in the same step', async () => {
    const lease = (await store.acquireControllerLease('ctl-a', 5_000))!;
    const published = await store.publishFlagSnapshotJson(snapshot(1), 0, audit, lease.value, '{"stage":1}');
    assert.equal(published.status, 'published');
    assert.equal(await store.readControllerStatusJson(), '{"stage":1}');
    assert.deepEqual(await store.publishFlagSnapshotJson(snapshot(2), 1, audit, 'ctl-b|99', '{"stage":2}'), { status: 'fenced', currentVersion: 1 });
    assert.equal(await store.readControllerStatusJson(), '{"stage":1}', 'a fenced publication writes no status');
    assert.equal(await store.readFlagSnapshotJson(), snapshot(1));
  });
});
