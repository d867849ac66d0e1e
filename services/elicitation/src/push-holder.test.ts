import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openEventStore, type OpenedEventStore } from '@agent-bridge/event-store';
import { createLogger } from '@agent-bridge/observability';
import { sleep, startRedis, waitFor, type RedisServerHandle } from '@agent-bridge/testkit';
import { PushHolder } from './push-holder.js';

/** The push-lease holder's liveness against a real Redis; the store can be made to hang, as an unreachable Redis does. */
let redis: RedisServerHandle;
let opened: OpenedEventStore;
before(async () => {
  redis = await startRedis();
  opened = await openEventStore({ url: redis.url, name: 'push-holder-test', shardCount: 2 });
});
after(async () => {
  await opened?.close();
  await redis?.cleanup();
});

function holder(id: string, ttlMs: number) {
  let hanging = false;
  const events: string[] = [];
  const store = {
    heartbeatPushHolder: (holderId: string, ttl: number) => (hanging ? new Promise<void>(() => undefined) : opened.store.heartbeatPushHolder(holderId, ttl)),
    removePushHolder: (holderId: string) => opened.store.removePushHolder(holderId),
  };
  const push = new PushHolder(id, { store, logger: createLogger('elicitation', 'silent'), ttlMs, onLost: () => events.push('lost'), onRegained: () => events.push('regained') });
  return { push, events, hang: (on: boolean) => (hanging = on) };
}

test('the holder is alive once its liveness key is written, renews it every third of the TTL, and removes it on stop', async () => {
  const { push, events } = holder('h-renew', 600);
  assert.equal(push.alive(), false, 'not before the first renewal');
  await push.start();
  assert.equal(push.alive(), true);
  assert.deepEqual(events, ['regained'], 'the first renewal lets deliverers start');
  await sleep(1_000);
  assert.equal(push.alive(), true, 'kept alive past its TTL by the renewals');
  assert.equal(await opened.redis.exists(opened.keys.pushHolder('h-renew')), 1);
  await push.stop();
  assert.equal(push.alive(), false);
  assert.equal(await opened.redis.exists(opened.keys.pushHolder('h-renew')), 0, 'gone at once: what is bound to it may move');
});

test('a holder that cannot renew stops counting itself alive before its key expires in Redis, says so once, and comes back when a renewal succeeds', async () => {
  const { push, events, hang } = holder('h-hang', 900);
  await push.start();
  hang(true);
  const hungAt = Date.now();
  await waitFor(() => !push.alive(), { timeoutMs: 2_000, description: 'the holder to stop counting itself alive' });
  const ttl = await opened.redis.pttl(opened.keys.pushHolder('h-hang'));
  assert.ok(ttl > 0, `its key still exists in Redis (${ttl} ms left) when it stops: no overlap with a successor`);
  await waitFor(() => events.includes('lost'), { timeoutMs: 2_000, description: 'the loss to be reported' });
  assert.ok(Date.now() - hungAt < 1_500);
  hang(false);
  await waitFor(() => push.alive(), { timeoutMs: 2_000, description: 'the holder to renew again' });
  assert.deepEqual(events, ['regained', 'lost', 'regained']);
  await push.stop();
});
