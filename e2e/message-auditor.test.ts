import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '@agent-bridge/testkit';
import { receive, startBridge, type Bridge } from './support/bridge.js';

/** Sum of agentbridge_messages_unaccounted over every router's /metrics. */
async function unaccounted(bridge: Bridge): Promise<number> {
  let total = 0;
  for (const url of bridge.routerUrls) {
    const text = await (await fetch(`${url}/metrics`)).text();
    for (const match of text.matchAll(/^agentbridge_messages_unaccounted\{[^}]*\} (\d+)/gm)) total += Number(match[1]);
  }
  return total;
}

describe('message-loss auditor', () => {
  let bridge: Bridge;

  before(async () => {
    bridge = await startBridge({ agents: ['sender', 'sleepy'], routers: 2, env: { MESSAGE_DEADLINE_MS: '1000', AUDIT_INTERVAL_MS: '200' } });
  });
  after(async () => {
    await bridge?.stop();
  });

  test('a message routed but never delivered shows up as unaccounted after its deadline, exactly once across two routers, and leaves the count once delivered', async () => {
    const sender = await bridge.connect('sender');
    const { message_id } = await sender.callToolJson<{ message_id: string }>('send_message', { to: 'sleepy', content: 'nobody reads me' });
    await waitFor(async () => (await unaccounted(bridge)) >= 1, { timeoutMs: 10_000, intervalMs: 100, description: 'the auditor to count the overdue message' });
    // Several audit rounds of both routers later, it is still counted once.
    for (let i = 0; i < 5; i++) {
      assert.equal(await unaccounted(bridge), 1, 'counted by exactly one router');
      await new Promise((r) => setTimeout(r, 250));
    }
    const named = bridge.routers.some((router) => router.logs().some((line) => line.includes(message_id) && line.includes('past their deadline')));
    assert.ok(named, 'the auditor names the message id in its log');

    const sleepy = await bridge.connect('sleepy');
    const { cursor } = await receive(sleepy, 1, 10_000);
    await sleepy.callToolJson('ack_messages', { cursor: cursor! });
    await waitFor(async () => (await unaccounted(bridge)) === 0, { timeoutMs: 10_000, intervalMs: 100, description: 'the delivered message to leave the count' });
    await Promise.all([sender.close(), sleepy.close()]);
  });
});
