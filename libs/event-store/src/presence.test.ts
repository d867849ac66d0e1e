/** Presence records and the replica registry they can be bound to (redis/presence.ts), against a real redis-server. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { Keys } from './keys.js';
import { type RedisEventStore } from './open.js';
import { useStoreOnRedis } from './test-fixtures.js';
import type { PresenceSession } from './types.js';

let redis: Redis;
let store: RedisEventStore;
const keys = new Keys(4, 'pr');
useStoreOnRedis(keys, (fixture) => ({ redis, store } = fixture));

const HOUR_MS = 60 * 60 * 1000;

function session(sessionId: string, replica: string, instance: string | undefined, expiresAt = Date.now() + HOUR_MS): PresenceSession {
  return { sessionId, replica, elicitation: { form: true, url: false }, streamOpen: true, expiresAt, ...(instance !== undefined ? { instance } : {}) };
}

const sessionIds = async (agentId: string) => ((await store.readPresence([agentId])).get(agentId) ?? []).map((s) => s.sessionId).sort();

describe('presence bound to a replica process', () => {
  test('a session bound to a process counts while that process is registered, and not once it restarted (same replica id, new instance) or left', async () => {
    await store.heartbeatReplica('elicitation', 'el-1', 'http://127.0.0.1:1', 60_000, 'boot-a');
    await store.recordPresence('ana', session('s1', 'el-1', 'boot-a'));
    await store.recordPresence('ana', session('s2', 'el-1', undefined));
    assert.deepEqual(await sessionIds('ana'), ['s1', 's2']);

    await store.heartbeatReplica('elicitation', 'el-1', 'http://127.0.0.1:1', 60_000, 'boot-b');
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // past the registry cache
    assert.deepEqual(await sessionIds('ana'), ['s2'], "the restarted replica does not hold the old process's session; an unbound record keeps its own expiry");

    await store.removeReplica('elicitation', 'el-1');
    await store.recordPresence('ana', session('s3', 'el-1', 'boot-b'));
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // a registry read is trusted for a second
    assert.deepEqual(await sessionIds('ana'), ['s2'], 'no registration, no bound session');
  });

  test('a replica registered just now is found at once, though the registry was read a moment before (a miss reads it again)', async () => {
    await store.heartbeatReplica('elicitation', 'el-2', 'http://127.0.0.1:2', 60_000, 'boot-x');
    await store.recordPresence('bea', session('t1', 'el-2', 'boot-x'));
    assert.deepEqual(await sessionIds('bea'), ['t1']);
    await new Promise((resolve) => setTimeout(resolve, 150));
    await store.heartbeatReplica('elicitation', 'el-3', 'http://127.0.0.1:3', 60_000, 'boot-y');
    await store.recordPresence('bea', session('t2', 'el-3', 'boot-y'));
    assert.deepEqual(await sessionIds('bea'), ['t1', 't2']);
  });

  test("a registration past its expiry takes its sessions' presence with it, whatever the records' own expiry", async () => {
    await store.heartbeatReplica('elicitation', 'el-4', 'http://127.0.0.1:4', 200, 'boot-z');
    await store.recordPresence('cal', session('u1', 'el-4', 'boot-z'));
    assert.deepEqual(await sessionIds('cal'), ['u1']);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    assert.deepEqual(await sessionIds('cal'), []);
  });

  test("the presence hash outlives its sessions' records by at least half an hour, and its expiry is not set again at every write", async () => {
    await redis.config('RESETSTAT');
    for (let i = 0; i < 5; i++) await store.recordPresence('dan', session('stateless:el-9', 'el-9', undefined, Date.now() + 60_000));
    const stats = Object.fromEntries(
      (await redis.info('commandstats'))
        .split('\r\n')
        .filter((line) => /^cmdstat_(hset|pexpire):/.test(line))
        .map((line) => [line.slice(8, line.indexOf(':')), Number(/calls=(\d+)/.exec(line)?.[1])]),
    );
    assert.deepEqual(stats, { hset: 5, pexpire: 1 });
    assert.ok((await redis.pttl(keys.presence('dan'))) > 29 * 60 * 1000);
    await store.recordPresence('dan', session('long', 'el-9', undefined, Date.now() + 2 * HOUR_MS));
    assert.ok((await redis.pttl(keys.presence('dan'))) > HOUR_MS, 'a record living longer extends the hash');
  });
});
