import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AgentClient } from '@agent-bridge/testkit';
import { connectManual, mailboxReader, receive, startBridge, waitForLedger, waitForPresence, type Bridge } from '@agent-bridge/testkit/bridge';

/**
 * kill -9 of the elicitation replica that handed out a 2026-07-28 round, before the client's retry.
 * The round lives in the signed requestState and the push lease, not in the replica: the retry
 * against another replica completes it; a client that never retries gets the message again.
 */
describe('2026-07-28 rounds survive the replica that handed them out', () => {
  let bridge: Bridge;
  let alice: AgentClient;
  const aliceReceives = mailboxReader(() => alice);

  before(async () => {
    bridge = await startBridge({
      agents: ['alice', 'bob', 'carol', 'dave'],
      elicitations: 2,
      flags: { 'elicitation.enabled': 'true', 'elicitation.agents': 'bob,carol,dave', elicitationTimeoutMs: '2000', autoFallback: 'true' },
      // Every replica signs and verifies with the one key startBridge gives them (as the chart's Secret does).
      env: { POLL_RECHECK_MS: '300', STATELESS_PRESENCE_WINDOW_MS: '1500' },
    });
    alice = await bridge.connect('alice');
  });
  after(async () => {
    await alice?.close();
    await bridge?.stop();
  });

  const replicaUrl = (i: number) => `${bridge.elicitationBaseUrls[i]}/mcp`;

  test('the retry against another replica completes the round with the same state', async () => {
    const bob = await connectManual(replicaUrl(0), bridge.tokens.bob!, 'bob');
    await bob.wait({ timeout_ms: 100 });
    const { message_id: messageId } = await alice.callToolJson<{ message_id: string }>('send_message', { to: 'bob', content: 'survive this' });
    const round = await bob.wait({ timeout_ms: 10_000 });
    assert.deepEqual(Object.keys(round.inputRequests as object), [messageId]);
    await bridge.elicitations[0]!.kill9();
    await bob.close().catch(() => undefined);

    const bobElsewhere = await connectManual(replicaUrl(1), bridge.tokens.bob!, 'bob');
    try {
      const done = await bobElsewhere.wait({ timeout_ms: 0 }, { requestState: round.requestState as string, inputResponses: { [messageId]: { action: 'accept', content: { response: 'survived' } } } });
      assert.deepEqual((done.structuredContent as { answered?: unknown }).answered, [{ message_id: messageId, action: 'accept' }], JSON.stringify(done));
      await waitForLedger(bridge, messageId, 'bob', (r) => r.state === 'answered', 'answered');
      assert.deepEqual(
        (await aliceReceives(1)).map((m) => [m.reply_to, m.content]),
        [[messageId, 'survived']],
      );
    } finally {
      await bobElsewhere.close();
      await bridge.startElicitation('elicitation-1b');
    }
  });

  test('a client that never retries is asked again by its next call, on any replica, and answers once', async () => {
    const carol = await connectManual(replicaUrl(1), bridge.tokens.carol!, 'carol');
    await carol.wait({ timeout_ms: 100 });
    const { message_id: messageId } = await alice.callToolJson<{ message_id: string }>('send_message', { to: 'carol', content: 'ask me again' });
    const lost = await carol.wait({ timeout_ms: 10_000 });
    assert.deepEqual(Object.keys(lost.inputRequests as object), [messageId]);
    await bridge.elicitations[1]!.kill9(); // the answer is lost with the replica and the client
    await carol.close().catch(() => undefined);

    const carolAgain = await connectManual(replicaUrl(2), bridge.tokens.carol!, 'carol');
    try {
      const again = await carolAgain.wait({ timeout_ms: 15_000 });
      assert.deepEqual(Object.keys(again.inputRequests as object), [messageId], 'the same message, once its round expired');
      await carolAgain.wait({ timeout_ms: 0 }, { requestState: again.requestState as string, inputResponses: { [messageId]: { action: 'accept', content: { response: 'once' } } } });
      await waitForLedger(bridge, messageId, 'carol', (r) => r.state === 'answered', 'answered');
      assert.deepEqual(
        (await aliceReceives(1)).map((m) => [m.reply_to, m.content]),
        [[messageId, 'once']],
      );
    } finally {
      await carolAgain.close();
    }
  });

  test('an agent that goes away with a round unanswered gets the message on its poll lane (auto-fallback)', async () => {
    const dave = await connectManual(replicaUrl(2), bridge.tokens.dave!, 'dave');
    await dave.wait({ timeout_ms: 100 });
    const { message_id: messageId } = await alice.callToolJson<{ message_id: string }>('send_message', { to: 'dave', content: 'fall back' });
    const round = await dave.wait({ timeout_ms: 10_000 });
    assert.deepEqual(Object.keys(round.inputRequests as object), [messageId]);
    await dave.close();
    // No retry and no new call: the round's lease expires, then dave's presence, then the router drains.
    const record = await waitForLedger(bridge, messageId, 'dave', (r) => r.lane === 'poll', 'moved to the poll lane', 30_000);
    assert.equal(record.via, 'legacy_fallback');
    await waitForPresence(bridge, 'dave', (sessions) => sessions.length === 0, 'dave no longer present');
    const legacyDave = await bridge.connect('dave');
    try {
      const { messages } = await receive(legacyDave, 1, 10_000);
      assert.deepEqual(
        messages.map((m) => [m.message_id, m.content]),
        [[messageId, 'fall back']],
        'delivered once, never lost',
      );
    } finally {
      await legacyDave.close();
    }
  });
});
