import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startRedis, type RedisServerHandle } from '@agent-bridge/testkit';
import { openEventStore, type OpenedEventStore } from './open.js';
import { doorbellTopics } from './keys.js';
import { envelope, envelopeOf, pollDecision } from './test-fixtures.js';

let redisServer: RedisServerHandle;
let opened: OpenedEventStore;

before(async () => {
  redisServer = await startRedis();
  opened = await openEventStore({ url: redisServer.url, name: 'doorbell-test', shardCount: 4, keyPrefix: 'bell' });
});
after(async () => {
  await opened.close();
  await redisServer.cleanup();
});

async function routeOneTo(agentId: string, content: string): Promise<void> {
  const { store, keys } = opened;
  const env = envelope('sender', agentId, content);
  await store.append({ envelope: env });
  const shard = keys.shardOf(agentId);
  await store.ensureShardGroup(shard);
  const lease = (await store.acquireShardLease(shard, 'bell-router', 5_000))!;
  const entries = await store.readShardEntries(shard, 'bell-router', 'new', 100);
  await store.route(
    lease,
    entries.map((e) => pollDecision(e.id, envelopeOf(e))),
  );
}

describe('doorbell', () => {
  test('a waiter is woken when its lane gets an entry', async () => {
    const waiter = opened.doorbell.register('poll:dora');
    const woken = waiter.wait(5_000);
    await routeOneTo('dora', 'ding');
    assert.equal(await woken, 'rung');
    waiter.dispose();
  });

  test('a waiter of several topics wakes on any of them, is counted once, and leaves none behind', async () => {
    const waiter = opened.doorbell.register('poll:gus', 'push:gus');
    assert.equal(opened.doorbell.waiterCount('p'), 1);
    const woken = waiter.wait(5_000);
    opened.doorbell.ring('push:gus');
    assert.equal(await woken, 'rung');
    const again = waiter.wait(5_000);
    await routeOneTo('gus', 'ding');
    assert.equal(await again, 'rung');
    waiter.dispose();
    assert.equal(opened.doorbell.waiterCount('poll:gus'), 0);
    assert.equal(opened.doorbell.waiterCount('push:gus'), 0);
  });

  test('a ring that arrives between the check and the wait is not missed', async () => {
    const waiter = opened.doorbell.register('poll:eve');
    // The "check" happened here and found nothing; the message lands before wait() is called.
    await routeOneTo('eve', 'early');
    await new Promise((resolve) => setTimeout(resolve, 50)); // let the pub/sub message arrive
    const started = Date.now();
    assert.equal(await waiter.wait(5_000), 'rung');
    assert.ok(Date.now() - started < 1_000, 'the remembered ring resolves the wait at once');
    waiter.dispose();
  });

  test('a waiter times out when nothing arrives, and only its own topic wakes it', async () => {
    const mine = opened.doorbell.register('poll:frank');
    const other = opened.doorbell.register('poll:grace');
    const otherWoken = other.wait(5_000);
    await routeOneTo('grace', 'not for frank');
    assert.equal(await otherWoken, 'rung');
    assert.equal(await mine.wait(200), 'timeout');
    mine.dispose();
    other.dispose();
  });

  test('a thousand waiters share one subscriber connection and each wakes for its own lane', async () => {
    const agents = Array.from({ length: 1000 }, (_, i) => `crowd-${i}`);
    const waiters = agents.map((agent) => opened.doorbell.register(doorbellTopics.lane(agent, 'poll')));
    const results = waiters.map((w) => w.wait(10_000));
    assert.equal(opened.doorbell.waiterCount('poll:crowd-'), 1000);
    const chosen = [3, 500, 999];
    for (const i of chosen) await routeOneTo(agents[i]!, 'hi');
    for (const i of chosen) assert.equal(await results[i], 'rung');
    for (const w of waiters) w.dispose();
    const settled = await Promise.all(results);
    assert.equal(settled.filter((r) => r === 'rung').length, chosen.length, 'no other waiter was woken by a ring');
    assert.equal(opened.doorbell.waiterCount('poll:crowd-'), 0);
  });

  test('after the subscriber connection drops, every waiter is woken to re-check', async () => {
    const waiter = opened.doorbell.register('poll:heidi');
    const woken = waiter.wait(10_000);
    const admin = redisServer.client();
    const clients = (await admin.client('LIST')) as string;
    const line = clients.split('\n').find((l) => l.includes('name=doorbell-test:doorbell'));
    assert.ok(line, 'the doorbell connection is named in CLIENT LIST');
    const id = /id=(\d+)/.exec(line!)![1]!;
    await admin.client('KILL', 'ID', id);
    assert.equal(await woken, 'rung');
    waiter.dispose();
  });
});
