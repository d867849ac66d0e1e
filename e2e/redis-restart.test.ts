import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connectAgent, waitFor, type AgentClient } from '@agent-bridge/testkit';
import { poll, receive, startBridge, type Bridge } from '@agent-bridge/testkit/bridge';

describe('Redis restart between a send and the poll', () => {
  let bridge: Bridge;

  before(async () => {
    bridge = await startBridge({ agents: ['alice', 'bob'], appendfsync: 'always' });
  });
  after(async () => {
    await bridge?.stop();
  });

  test('messages accepted before Redis is killed (AOF, appendfsync always) are delivered after it restarts', async () => {
    const alice = await bridge.connect('alice');
    const routed = await alice.callToolJson<{ message_id: string }>('send_message', { to: 'bob', content: 'routed before the crash' });
    await waitFor(async () => (await bridge.store.store.getMessage(routed.message_id, 'bob'))?.state === 'routed', {
      timeoutMs: 10_000,
      description: 'the first message to be routed',
    });
    // The second message is accepted while no router runs: it waits in the events stream.
    await bridge.routers[0]!.stop();
    const unrouted = await alice.callToolJson<{ message_id: string }>('send_message', { to: 'bob', content: 'accepted, not yet routed' });
    await alice.close();

    await bridge.redis.kill();
    await bridge.redis.restart();
    await bridge.startRouter('router-after-restart');

    // Services reconnect on their own; the first calls may fail while they do.
    let bob: AgentClient | undefined;
    await waitFor(
      async () => {
        try {
          bob ??= await connectAgent({ url: bridge.legacyUrls[0]!, token: bridge.tokens.bob! });
          await poll(bob, { timeout_ms: 0 });
          return true;
        } catch {
          return false;
        }
      },
      { timeoutMs: 20_000, intervalMs: 250, description: 'legacy-poll to serve again after the Redis restart' },
    );
    const { messages } = await receive(bob!, 2, 20_000);
    assert.deepEqual(
      messages.map((m) => m.message_id),
      [routed.message_id, unrouted.message_id],
    );
    assert.deepEqual(
      messages.map((m) => m.content),
      ['routed before the crash', 'accepted, not yet routed'],
    );
    await bob!.close();
  });
});
