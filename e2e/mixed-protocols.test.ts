import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitFor, type AgentClient } from '@agent-bridge/testkit';
import { poll, receive, startBridge, waitForLedger, type Bridge, type ModernAgent } from '@agent-bridge/testkit/bridge';

describe('legacy and modern agents talk to each other', () => {
  let bridge: Bridge;
  let legacy: AgentClient;
  let modern: ModernAgent;

  before(async () => {
    bridge = await startBridge({
      agents: ['legacy', 'modern'],
      elicitations: 1,
      flags: { 'elicitation.enabled': 'true', 'elicitation.agents': 'modern' },
    });
    legacy = await bridge.connect('legacy');
    modern = await bridge.connectModern('modern', {
      answer: (request) => ({ action: 'accept', content: { response: request.message.includes('Hello from legacy') ? 'Hello from modern' : 'ok' } }),
    });
    // The modern agent is reachable by push once its session's stream is open (presence says so).
    await waitFor(async () => (await bridge.store.store.readPresence(['modern'])).get('modern')?.some((s) => s.streamOpen) ?? false, {
      timeoutMs: 10_000,
      description: 'the modern agent to be present with an open stream',
    });
  });
  after(async () => {
    await legacy?.close();
    await modern?.close();
    await bridge?.stop();
  });

  test("the strategy's scenario: legacy says hello, modern answers by elicitation, legacy reads the answer", async () => {
    const sent = await legacy.callToolJson<{ message_id: string }>('send_message', { to: 'modern', content: 'Hello from legacy' });
    const { messages } = await receive(legacy, 1, 20_000);
    assert.equal(modern.received.length, 1, 'the modern agent received one elicitation');
    assert.match(modern.received[0]!.message, /legacy/, 'the elicitation names the sender');
    assert.match(modern.received[0]!.message, /Hello from legacy/);
    assert.deepEqual(
      messages.map((m) => m.content),
      ['Hello from modern'],
    );
    assert.equal(messages[0]!.from, 'modern');
    assert.equal(messages[0]!.reply_to, sent.message_id);
    // The reply is stored before the lane entry is settled (never the other way round), so the
    // legacy agent can read it a moment before the ledger says answered.
    const ledger = await waitForLedger(bridge, sent.message_id, 'modern', (r) => r.state !== 'routed', 'the question to be settled');
    assert.equal(ledger.state, 'answered');
    assert.equal(ledger.via, 'elicitation');
    await poll(legacy, { cursor: (await poll(legacy, { timeout_ms: 0 })).cursor, timeout_ms: 0 });
  });

  test('a modern agent elicits from a legacy agent with a schema; the legacy reply completes elicit with structured content', async () => {
    const schema = {
      type: 'object',
      properties: { approved: { type: 'boolean', title: 'Approved' }, reason: { type: 'string' } },
      required: ['approved'],
    };
    const asking = modern.callToolJson<{ action: string; content: Record<string, unknown>; responder: string; via: string }>('elicit', {
      to: 'legacy',
      message: 'May I deploy?',
      requested_schema: schema,
      timeout_ms: 20_000,
    });
    const { messages, cursor } = await receive(legacy, 1, 15_000);
    assert.equal(messages[0]!.content, 'May I deploy?');
    assert.deepEqual(messages[0]!.reply_schema, schema, 'the legacy agent sees the schema to answer with');
    await legacy.callToolJson('send_message', { to: 'modern', content: JSON.stringify({ approved: true, reason: 'green build' }), in_reply_to: messages[0]!.message_id });
    const result = await asking;
    assert.equal(result.action, 'accept');
    assert.deepEqual(result.content, { approved: true, reason: 'green build' });
    assert.equal(result.responder, 'legacy');
    assert.equal(result.via, 'legacy');
    await poll(legacy, { cursor, timeout_ms: 0 });
  });
});
