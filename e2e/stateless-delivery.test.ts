import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MESSAGE_META_KEY } from '@agent-bridge/protocol';
import { waitFor, type AgentClient } from '@agent-bridge/testkit';
import { receive, startBridge, type Bridge } from './support/bridge.js';
import { waitForLedger } from './support/modern.js';
import { connectStateless, type StatelessAgent } from './support/stateless.js';

describe('2026-07-28 agents receive their messages as elicitations of wait_for_messages rounds', () => {
  let bridge: Bridge;
  let legacy: AgentClient;
  let bob: StatelessAgent;
  let url: string;

  before(async () => {
    bridge = await startBridge({
      agents: ['alice', 'bob', 'carol', 'dave'],
      elicitations: 1,
      flags: { 'elicitation.enabled': 'true', 'elicitation.agents': 'bob,carol,dave' },
    });
    url = `${bridge.elicitationBaseUrls[0]}/mcp`;
    legacy = await bridge.connect('alice');
    bob = await connectStateless(url, bridge.tokens.bob!, 'bob', {
      answer: (request) => ({ action: 'accept', content: { response: `bob read ${request.meta?.message_id}` } }),
    });
    bob.run(5_000);
  });
  after(async () => {
    await bob?.stop();
    await legacy?.close();
    await bridge?.stop();
  });

  test('a legacy sender\'s messages reach a 2026 agent in order, each naming its message id, and the answers come back as replies', async () => {
    // Presence: bob counts as present while his call waits, so the router chooses the push lane.
    await waitFor(async () => (await bridge.store.store.readPresence(['bob'])).get('bob')?.some((s) => s.streamOpen) ?? false, { description: 'bob present' });
    const sent: string[] = [];
    for (let i = 0; i < 5; i++) {
      const result = await legacy.callToolJson<{ message_id: string }>('send_message', { to: 'bob', content: `hello ${i}` });
      sent.push(result.message_id);
    }
    const { messages } = await receive(legacy, 5, 30_000);
    assert.deepEqual(
      messages.map((m) => m.reply_to),
      sent,
      'one reply per message, in order',
    );
    assert.deepEqual(
      messages.map((m) => m.content),
      sent.map((id) => `bob read ${id}`),
    );
    assert.deepEqual(
      bob.received.map((r) => r.meta?.message_id),
      sent,
      'every elicitation carries its message id in _meta, each delivered once',
    );
    for (const [i, r] of bob.received.entries()) {
      assert.equal(r.meta?.from, 'alice');
      assert.ok(r.message.includes(`hello ${i}`) && r.message.includes(`(message ${sent[i]})`), r.message);
    }
    for (const id of sent) await waitForLedger(bridge, id, 'bob', (record) => record.state === 'answered' && record.via === 'elicitation', `${id} answered`);
    const answered = bob.results.flatMap((r) => (r.answered as Array<{ message_id: string; action: string }> | undefined) ?? []);
    assert.deepEqual(
      answered.map((a) => a.message_id),
      sent,
    );
    assert.ok(answered.every((a) => a.action === 'accept'));
    assert.equal(MESSAGE_META_KEY, 'io.agentbridge/message');
  });
});
