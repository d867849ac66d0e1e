import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { waitFor } from '@agent-bridge/testkit';
import type { Redis } from 'ioredis';
import { Keys } from './keys.js';
import { LeaseKeeper, type LeaseLossReason } from './lease-keeper.js';
import { type RedisEventStore } from './open.js';
import { useStoreOnRedis } from './test-fixtures.js';
import type { PushLease } from './types.js';

let redis: Redis;
let store: RedisEventStore;
const keys = new Keys(2, 'keeper');
useStoreOnRedis(keys, (fixture) => ({ redis, store } = fixture));

function keeperOf(ttlMs: number, losses: LeaseLossReason[], renew?: (lease: PushLease, ttl: number) => Promise<boolean>) {
  return new LeaseKeeper<PushLease>({
    ttlMs,
    renew: renew ?? ((lease, ttl) => store.renewPushLease(lease, ttl)),
    release: (lease) => store.releasePushLease(lease),
    onLost: (reason) => losses.push(reason),
  });
}

describe('LeaseKeeper', () => {
  test('keeps a lease alive well past its TTL by renewing it, and gives it back on release', async () => {
    const losses: LeaseLossReason[] = [];
    const lease = (await store.acquirePushLease('kim', 'replica-a', 300))!;
    const keeper = keeperOf(300, losses);
    keeper.hold(lease);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.equal(await redis.get(keys.pushLease('kim')), lease.value, 'still held after more than three TTLs');
    assert.equal(keeper.current(), lease);
    assert.deepEqual(losses, []);
    await keeper.release();
    assert.equal(await redis.exists(keys.pushLease('kim')), 0);
    assert.equal(keeper.current(), undefined);
  });

  test('reports the loss once, as expired, when another holder took the lease over', async () => {
    const losses: LeaseLossReason[] = [];
    const lease = (await store.acquirePushLease('kim', 'replica-a', 300))!;
    const keeper = keeperOf(300, losses);
    keeper.hold(lease);
    await redis.set(keys.pushLease('kim'), 'replica-b|99', 'PX', 10_000);
    await waitFor(() => losses.length > 0, { timeoutMs: 2_000, description: 'the keeper to notice' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(losses, ['expired']);
    assert.equal(keeper.lease, undefined);
    await keeper.release();
    assert.equal(await redis.get(keys.pushLease('kim')), 'replica-b|99', 'releasing a lost lease leaves the new holder alone');
  });

  test('while the store does not answer it keeps the lease only until TTL minus the margin, then reports it unreachable', async () => {
    const losses: LeaseLossReason[] = [];
    let renewals = 0;
    const keeper = keeperOf(1_200, losses, async () => {
      renewals++;
      throw new Error('store down');
    });
    const lease = (await store.acquirePushLease('kim', 'replica-a', 1_200))!;
    keeper.hold(lease);
    // TTL 1.2 s, margin 0.5 s, renewals every 0.4 s: the first renewal fails while the lease is surely still ours.
    await waitFor(() => renewals >= 1, { timeoutMs: 2_000, description: 'the first renewal' });
    assert.deepEqual(losses, [], 'one failed renewal within the TTL does not give the lease up');
    assert.equal(keeper.current(), lease);
    await waitFor(() => losses.length > 0, { timeoutMs: 3_000, description: 'the keeper to give up' });
    assert.deepEqual(losses, ['unreachable']);
    assert.equal(keeper.current(), undefined);
  });

  test('current() stops counting a lease as held before its TTL runs out (the safety margin)', async () => {
    const losses: LeaseLossReason[] = [];
    let answer: (renewed: boolean) => void = () => undefined;
    const keeper = keeperOf(1_000, losses, () => new Promise<boolean>((resolve) => (answer = resolve)));
    const lease = (await store.acquirePushLease('kim', 'replica-a', 1_000))!;
    keeper.hold(lease, Date.now() - 600); // acquired 600 ms ago: 400 ms of TTL left, margin 500 ms
    assert.equal(keeper.current(), undefined, 'not surely ours any more');
    assert.equal(keeper.lease, lease, 'but still the lease to fence writes with');
    const renewing = keeper.renewNow();
    answer(true);
    assert.equal(await renewing, true);
    assert.equal(keeper.current(), lease, 'a renewal makes it surely ours again');
    await keeper.release();
  });
});
