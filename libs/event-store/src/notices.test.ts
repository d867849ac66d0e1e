/** The owner notification ledger's scripts (notice_enqueue, notice_claim, notice_settle) on a real Redis. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { Keys } from './keys.js';
import type { RedisEventStore } from './open.js';
import { useStoreOnRedis } from './test-fixtures.js';
import type { NoticeBatch } from './types.js';

const keys = new Keys(2);
let store: RedisEventStore;
let redis: Redis;
useStoreOnRedis(keys, (fixture) => ({ store, redis } = fixture));

const NOW = 1_800_000_000_000;
const batch = (milestone: string, owners: string[], extra: Partial<NoticeBatch> = {}): NoticeBatch => ({
  milestone,
  channels: ['webhook'],
  notices: owners.map((owner) => ({ owner, noticeJson: JSON.stringify({ owner }), initial: [{ state: 'pending' }] })),
  now: NOW,
  retentionSeconds: 3600,
  maxOwners: 10,
  maxMilestones: 5,
  ...extra,
});

describe('the notification ledger', () => {
  test('a claim that is never settled is claimed again once it runs out, each claim an attempt, and recorded failed when the attempts are used up', async () => {
    const lease = (await store.acquireControllerLease('ctl', 60_000))!.value;
    await store.enqueueNotices(batch('m1', ['ada']), lease);
    const claim = (now: number, token: string) => store.claimDueNotices('webhook', { now, claimUntil: now + 1_000, token, maxAttempts: 2, limit: 10 }, lease);
    const first = await claim(NOW, 't1');
    assert.equal(first.length, 1);
    assert.equal(first[0]!.state.attempts, 1);
    assert.deepEqual(await claim(NOW + 500, 't2'), [], 'a live claim is not taken');
    const second = await claim(NOW + 1_000, 't3');
    assert.equal(second[0]!.state.attempts, 2);
    assert.equal(second[0]!.state.token, 't3');
    assert.deepEqual(await store.settleNotice({ milestone: 'm1', owner: 'ada', channel: 'webhook', token: 't1' }, { result: 'sent' }, '', NOW + 1_100, 3600), { status: 'stale' }, 'the first claim cannot settle any more');
    const third = await claim(NOW + 2_000, 't4');
    assert.equal(third.length, 1);
    assert.ok('exhausted' in third[0]!);
    assert.equal(third[0]!.state.state, 'failed');
    assert.match(third[0]!.state.lastError!, /gave up after 2 attempts; the last one did not report back/);
    const [m1] = await store.noticeMilestones();
    assert.deepEqual(m1!.counts.webhook, { failed: 1 });
    assert.equal(await redis.zcard(keys.noticesDue('webhook')), 0);
  });

  test('a retry is due again at its time; counts follow each step', async () => {
    const lease = (await store.acquireControllerLease('ctl', 60_000))!.value;
    await store.enqueueNotices(batch('m1', ['ada', 'bob']), lease);
    const claimed = await store.claimDueNotices('webhook', { now: NOW, claimUntil: NOW + 1_000, token: 't', maxAttempts: 5, limit: 10 }, lease);
    assert.equal(claimed.length, 2);
    assert.deepEqual((await store.noticeMilestones())[0]!.counts.webhook, { sending: 2 });
    assert.deepEqual(await store.settleNotice({ milestone: 'm1', owner: 'ada', channel: 'webhook', token: 't' }, { result: 'retry', dueAt: NOW + 5_000 }, 'HTTP 500', NOW + 10, 3600), { status: 'settled', open: 2 });
    assert.deepEqual(await store.settleNotice({ milestone: 'm1', owner: 'bob', channel: 'webhook', token: 't' }, { result: 'sent' }, '', NOW + 10, 3600), { status: 'settled', open: 1 });
    assert.equal(await store.nextNoticeDueAt('webhook'), NOW + 5_000);
    assert.deepEqual(await store.claimDueNotices('webhook', { now: NOW + 4_999, claimUntil: NOW + 6_000, token: 'u', maxAttempts: 5, limit: 10 }, lease), []);
    assert.equal((await store.claimDueNotices('webhook', { now: NOW + 5_000, claimUntil: NOW + 6_000, token: 'u', maxAttempts: 5, limit: 10 }, lease)).length, 1);
    const [ada] = (await store.readNotices('m1')).filter((n) => n.owner === 'ada');
    assert.equal(ada!.channels.webhook!.lastError, 'HTTP 500');
    assert.equal(ada!.channels.webhook!.attempts, 2);
  });

  test('the oldest milestones beyond the cap are forgotten with their keys; their due entries are dropped when met', async () => {
    const lease = (await store.acquireControllerLease('ctl', 60_000))!.value;
    for (let i = 1; i <= 3; i++) await store.enqueueNotices(batch(`m${i}`, ['ada'], { now: NOW + i, maxMilestones: 2 }), lease);
    assert.deepEqual(
      (await store.noticeMilestones()).map((m) => m.milestone),
      ['m2', 'm3'],
    );
    assert.equal(await redis.exists(keys.notices('m1'), keys.noticeCounts('m1')), 0);
    assert.equal(await redis.zcard(keys.noticesDue('webhook')), 3, 'm1 is still in the due set');
    const claimed = await store.claimDueNotices('webhook', { now: NOW + 10, claimUntil: NOW + 1_000, token: 't', maxAttempts: 5, limit: 10 }, lease);
    assert.deepEqual(claimed.map((c) => c.milestone).sort(), ['m2', 'm3']);
    assert.deepEqual(await redis.zrange(keys.noticesDue('webhook'), '0', '-1'), ['m2|ada', 'm3|ada'], 'the forgotten entry was dropped');
  });
});
