import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AgentClient } from '@agent-bridge/testkit';
import { receive, startBridge, type Bridge } from '@agent-bridge/testkit/bridge';

/**
 * Per-(sender, target) order and exactly-once delivery hold with two router replicas sharing the
 * shards, and across a kill -9 of one of them in the middle of traffic.
 */
describe('router replicas and crashes', () => {
  let bridge: Bridge;
  let alice: AgentClient;
  let bob: AgentClient;
  let carol: AgentClient;

  before(async () => {
    // Senders here send as fast as they can on purpose, above the default per-agent rate.
    bridge = await startBridge({ agents: ['alice', 'bob', 'carol'], routers: 2, shardCount: 8, env: { SEND_RATE_PER_SECOND: '10000', SEND_BURST: '10000' } });
    alice = await bridge.connect('alice');
    bob = await bridge.connect('bob');
    carol = await bridge.connect('carol');
  });
  after(async () => {
    await Promise.all([alice, bob, carol].map((c) => c?.close()));
    await bridge?.stop();
  });

  test('two router replicas share the shards out, each shard owned by exactly one', async () => {
    const deadline = Date.now() + 10_000;
    let owners: string[] = [];
    while (Date.now() < deadline) {
      const redis = bridge.redis.client();
      owners = await Promise.all(bridge.store.keys.allShards().map(async (shard) => (await redis.get(bridge.store.keys.lease(shard))) ?? ''));
      await redis.quit();
      const distinct = new Set(owners.map((o) => o.split('.')[0]));
      if (owners.every((o) => o !== '') && distinct.size === 2) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.ok(
      owners.every((o) => o !== ''),
      'every shard has a lease holder',
    );
    const perRouter = new Map<string, number>();
    for (const owner of owners) perRouter.set(owner.split('.')[0]!, (perRouter.get(owner.split('.')[0]!) ?? 0) + 1);
    assert.deepEqual([...perRouter.keys()].sort(), ['router-1', 'router-2']);
    assert.deepEqual([...perRouter.values()], [4, 4], 'eight shards split four and four');
  });

  test('kill -9 of a router mid-traffic, then restart: nothing lost, nothing twice, order kept', async () => {
    const count = 1000;
    const sent: Record<string, string[]> = { 'alice->bob': [], 'carol->bob': [], 'bob->alice': [] };
    let killed = false;
    const sendAll = async (client: AgentClient, from: string, to: string) => {
      for (let i = 0; i < count; i++) {
        const text = `${from}->${to} #${i}`;
        sent[`${from}->${to}`]!.push(text);
        await client.callToolJson('send_message', { to, content: text, idempotency_key: `${from}-${to}-${i}` });
        if (from === 'alice' && i === 300 && !killed) {
          killed = true;
          const victim = bridge.routers[0]!;
          const exit = await victim.kill9();
          assert.equal(exit.signal, 'SIGKILL');
          await bridge.startRouter('router-1');
        }
      }
    };
    const [, , , toBob, toAlice] = await Promise.all([sendAll(alice, 'alice', 'bob'), sendAll(carol, 'carol', 'bob'), sendAll(bob, 'bob', 'alice'), receive(bob, 2 * count, 180_000), receive(alice, count, 180_000)]);
    assert.ok(killed);
    assert.equal(toBob.messages.length, 2 * count, 'bob received every message from alice and carol');
    assert.equal(toAlice.messages.length, count, 'alice received every message from bob');
    const ids = [...toBob.messages, ...toAlice.messages].map((m) => m.message_id);
    assert.equal(new Set(ids).size, ids.length, 'no message delivered twice');
    const fromAlice = toBob.messages.filter((m) => m.from === 'alice').map((m) => m.content);
    const fromCarol = toBob.messages.filter((m) => m.from === 'carol').map((m) => m.content);
    assert.deepEqual(fromAlice, sent['alice->bob'], 'alice→bob order kept across the crash');
    assert.deepEqual(fromCarol, sent['carol->bob'], 'carol→bob order kept across the crash');
    assert.deepEqual(
      toAlice.messages.map((m) => m.content),
      sent['bob->alice'],
      'bob→alice order kept across the crash',
    );

    // Nothing left behind: every events stream has no pending entry.
    const redis = bridge.redis.client();
    for (const shard of bridge.store.keys.allShards()) {
      const pending = (await redis.xpending(bridge.store.keys.events(shard), 'router')) as [number];
      assert.equal(pending[0], 0, `shard ${shard} has no pending entry`);
    }
    await redis.quit();
  });
});
