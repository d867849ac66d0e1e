import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AgentClient } from '@agent-bridge/testkit';
import {
  ledger,
  occurrences,
  poll,
  RawMcpSession,
  routingHistory,
  sleep,
  startBridge,
  waitForLedger,
  waitForPresence,
  waitForPushReady,
  type Bridge,
  type ModernAgent,
  type ModernPollResult,
  type PolledMessage,
} from '@agent-bridge/testkit/bridge';

/**
 * "A client without the elicitation capability, one that never answers, one that drops its
 * connection mid-elicitation: each message is delivered via legacy_fallback, none lost."
 */
describe('a push that cannot complete falls back to the poll lane (legacy_fallback), none lost, none doubled', () => {
  const inRollout = ['nocap', 'silent', 'dropper', 'vanisher', 'absent', 'wobbler'];
  let bridge: Bridge;
  let sender: AgentClient;
  const opened: Array<{ close(): Promise<void> }> = [];

  before(async () => {
    bridge = await startBridge({
      agents: ['sender', ...inRollout],
      elicitations: 1,
      flags: { 'elicitation.enabled': 'true', 'elicitation.agents': inRollout.join(','), elicitationTimeoutMs: '1000', autoFallback: 'true' },
    });
    sender = await bridge.connect('sender');
  });
  after(async () => {
    for (const client of opened) await client.close().catch(() => undefined);
    await sender?.close();
    await bridge?.stop();
  });

  const send = (to: string, content: string) => sender.callToolJson<{ message_id: string }>('send_message', { to, content });

  /**
   * Polls `agent` (acknowledging as it goes) until `messageId` arrived, then acknowledges and polls
   * once more for a while: returns everything it saw, so the caller can count copies.
   */
  async function receiveOnce(agent: AgentClient, messageId: string, deadlineMs = 20_000): Promise<{ seen: PolledMessage[]; results: ModernPollResult[] }> {
    const seen: PolledMessage[] = [];
    const results: ModernPollResult[] = [];
    let cursor: string | undefined;
    const deadline = Date.now() + deadlineMs;
    while (occurrences(seen, messageId) === 0 && Date.now() < deadline) {
      const result = (await poll(agent, { ...(cursor ? { cursor } : {}), timeout_ms: 1_000 })) as ModernPollResult;
      results.push(result);
      seen.push(...result.messages);
      cursor = result.cursor;
      if (result.messages.length === 0 && result.notice) await sleep(100); // push agents' polls return at once
    }
    assert.equal(occurrences(seen, messageId), 1, `${messageId} arrived by wait_for_messages (saw ${JSON.stringify(seen.map((m) => m.message_id))})`);
    // Acknowledge, then look for a second copy for longer than one elicitation timeout.
    const until = Date.now() + 2_500;
    while (Date.now() < until) {
      const result = (await poll(agent, { ...(cursor ? { cursor } : {}), timeout_ms: 500 })) as ModernPollResult;
      results.push(result);
      seen.push(...result.messages);
      cursor = result.cursor;
      await sleep(100);
    }
    return { seen, results };
  }

  /** The ledger says: delivered, on the poll lane, via legacy_fallback. */
  async function assertDeliveredByFallback(messageId: string, target: string): Promise<void> {
    const record = await ledger(bridge, messageId, target);
    assert.equal(record.via, 'legacy_fallback', `ledger via of ${messageId}`);
    assert.equal(record.lane, 'poll');
    assert.equal(record.state, 'delivered');
  }

  async function assertSenderGotNothing(): Promise<void> {
    const result = await poll(sender, { timeout_ms: 0 });
    assert.deepEqual(
      result.messages.map((m) => m.content),
      [],
      'no reply (or copy) reached the sender',
    );
  }

  test('(a) a rollout agent whose client did not declare elicitation gets its message on the poll lane via legacy_fallback, from wait_for_messages on the elicitation endpoint', async () => {
    const nocap = await bridge.connectModern('nocap', { elicitation: false });
    opened.push(nocap);
    // Present, stream open, but no elicitation capability: the capability branch, not "no session".
    await waitForPresence(bridge, 'nocap', (sessions) => sessions.some((s) => s.streamOpen && !s.elicitation.form), 'nocap to be present without elicitation');

    const { message_id } = await send('nocap', 'hello, no-capability client');
    const { seen, results } = await receiveOnce(nocap, message_id);
    assert.equal(occurrences(seen, message_id), 1, 'delivered exactly once');
    assert.equal(seen.find((m) => m.message_id === message_id)?.content, 'hello, no-capability client');
    assert.ok(
      results.every((r) => r.notice === undefined),
      'no push-delivery notice for a client that cannot receive elicitations',
    );
    assert.equal(nocap.received.length, 0, 'nothing was pushed');
    await assertDeliveredByFallback(message_id, 'nocap');
    const history = await routingHistory(bridge, 'nocap', message_id);
    assert.deepEqual(
      history.map((h) => [h.lane, h.via]),
      [['poll', 'legacy_fallback']],
      'routed straight to the poll lane, never to the push lane',
    );
    await assertSenderGotNothing();
  });

  test('(b) a client that never answers: after elicitationTimeoutMs the message is handed back and arrives once by wait_for_messages via legacy_fallback', async () => {
    const silent = await bridge.connectModern('silent', { answer: () => new Promise(() => undefined) });
    opened.push(silent);
    await waitForPushReady(bridge, 'silent');

    const sentAt = Date.now();
    const { message_id } = await send('silent', 'are you there?');
    await waitFor(() => silent.received.length > 0, 10_000, 'the elicitation to reach the silent client');
    assert.match(silent.received[0]!.message, /are you there\?/);
    const record = await waitForLedger(bridge, message_id, 'silent', (r) => r.lane === 'poll', 'the message to be handed back to the poll lane');
    assert.equal(record.via, 'legacy_fallback');
    assert.ok(Date.now() - sentAt >= 1_000, 'handed back only after the elicitation timeout');

    const { seen, results } = await receiveOnce(silent, message_id);
    assert.equal(occurrences(seen, message_id), 1, 'delivered exactly once by wait_for_messages');
    assert.ok(
      results.some((r) => r.notice !== undefined),
      'the elicitation endpoint tells a push agent its messages arrive as elicitations',
    );
    assert.equal(silent.received.length, 1, 'pushed once, never pushed again after the hand-back');
    await assertDeliveredByFallback(message_id, 'silent');
    const history = await routingHistory(bridge, 'silent', message_id);
    assert.deepEqual(
      history.map((h) => [h.lane, h.via, h.failure]),
      [
        ['push', 'elicitation', undefined],
        ['poll', 'legacy_fallback', 'timeout'],
      ],
      'pushed, then re-routed to the poll lane because no answer came in time',
    );
    await assertSenderGotNothing();
  });

  test('(c) a client that drops its connection mid-elicitation: the message arrives once, later, by wait_for_messages from a fresh connection, via legacy_fallback', async () => {
    const dropper: ModernAgent = await bridge.connectModern('dropper', {
      answer: async () => {
        await dropper.close(); // vanish without answering
        return new Promise(() => undefined);
      },
    });
    await waitForPushReady(bridge, 'dropper');

    const { message_id } = await send('dropper', 'catch me if you can');
    await waitFor(() => dropper!.received.length > 0, 10_000, 'the elicitation to reach the dropping client');
    const record = await waitForLedger(bridge, message_id, 'dropper', (r) => r.lane === 'poll', 'the message to be handed back to the poll lane');
    assert.equal(record.via, 'legacy_fallback');

    const fresh = await bridge.connect('dropper'); // the agent comes back, on the legacy endpoint
    opened.push(fresh);
    const { seen } = await receiveOnce(fresh, message_id);
    assert.equal(occurrences(seen, message_id), 1, 'delivered exactly once');
    assert.equal(seen.find((m) => m.message_id === message_id)?.content, 'catch me if you can');
    assert.equal(dropper.received.length, 1, 'one push attempt');
    await assertDeliveredByFallback(message_id, 'dropper');
    const history = await routingHistory(bridge, 'dropper', message_id);
    assert.deepEqual(
      history.map((h) => [h.lane, h.via]),
      [
        ['push', 'elicitation'],
        ['poll', 'legacy_fallback'],
      ],
    );
    assert.ok(['timeout', 'transport_error'].includes(String(history[1]!.failure)), `failure reason ${String(history[1]!.failure)}`);
    await assertSenderGotNothing();
  });

  test('(c) a raw client whose GET stream is cut mid-elicitation gets the message once by wait_for_messages via legacy_fallback, and later messages are pushed again when its stream returns', async () => {
    const url = `${bridge.elicitationBaseUrls[0]}/mcp`;
    const session = await RawMcpSession.open(url, bridge.tokens.vanisher!);
    const stream = await session.openStream();
    await waitForPushReady(bridge, 'vanisher');

    const { message_id } = await send('vanisher', 'cut the wire');
    const request = await stream.next((m) => m.method === 'elicitation/create');
    assert.match(String(request.params?.message), /cut the wire/);
    stream.destroy();
    const record = await waitForLedger(bridge, message_id, 'vanisher', (r) => r.lane === 'poll', 'the message to be handed back to the poll lane');
    assert.equal(record.via, 'legacy_fallback');

    // The same session, over a new connection: the message is waiting on its poll lane.
    const first = await session.callToolJson<ModernPollResult>('wait_for_messages', { timeout_ms: 1_000 });
    assert.equal(occurrences(first.messages, message_id), 1, 'delivered by wait_for_messages');
    const acked = await session.callToolJson<ModernPollResult>('wait_for_messages', { cursor: first.cursor, timeout_ms: 0 });
    assert.equal(acked.messages.length, 0);
    await assertDeliveredByFallback(message_id, 'vanisher');

    // The stream comes back: the fallen-back message is not pushed again; a new one is pushed.
    const again = await session.openStream();
    try {
      await waitForPushReady(bridge, 'vanisher');
      const { message_id: second } = await send('vanisher', 'welcome back');
      const pushed = await again.next((m) => m.method === 'elicitation/create');
      assert.match(String(pushed.params?.message), /welcome back/, 'the new message is pushed on the new stream');
      assert.equal(await session.respond(pushed.id!, { action: 'accept', content: { response: 'thanks' } }), 202);
      await waitForLedger(bridge, second, 'vanisher', (r) => r.state === 'answered', 'the new message to be answered by elicitation');
      await sleep(1_500);
      assert.equal(again.messages.filter((m) => m.method === 'elicitation/create' && String(m.params?.message).includes('cut the wire')).length, 0, 'the message delivered by fallback is never pushed again');
      const late = await session.callToolJson<ModernPollResult>('wait_for_messages', { cursor: acked.cursor, timeout_ms: 0 });
      assert.equal(late.messages.length, 0, 'no second copy on the poll lane');
      assert.equal((await ledger(bridge, message_id, 'vanisher')).state, 'delivered');
      // The answer to the pushed message reaches the (legacy) sender as a reply.
      const reply = (await poll(sender, { timeout_ms: 5_000 })).messages;
      assert.deepEqual(
        reply.map((m) => [m.reply_to, m.from]),
        [[second, 'vanisher']],
      );
      await poll(sender, { cursor: (await poll(sender, { timeout_ms: 0 })).cursor, timeout_ms: 0 });
    } finally {
      again.destroy();
    }
  });

  test('(d) a rollout agent with no session at all is routed straight to the poll lane via legacy_fallback', async () => {
    const presence = (await bridge.store.store.readPresence(['absent'])).get('absent') ?? [];
    assert.equal(presence.length, 0, 'the agent has no session');
    const { message_id } = await send('absent', 'for when you come back');
    const record = await waitForLedger(bridge, message_id, 'absent', (r) => r.state === 'routed', 'the message to be routed');
    assert.equal(record.lane, 'poll');
    assert.equal(record.via, 'legacy_fallback');

    const absent = await bridge.connect('absent');
    opened.push(absent);
    const { seen } = await receiveOnce(absent, message_id);
    assert.equal(occurrences(seen, message_id), 1, 'delivered exactly once');
    await assertDeliveredByFallback(message_id, 'absent');
    const history = await routingHistory(bridge, 'absent', message_id);
    assert.deepEqual(
      history.map((h) => [h.lane, h.via]),
      [['poll', 'legacy_fallback']],
      'never on the push lane',
    );
    await assertSenderGotNothing();
  });

  // Last: it changes elicitationTimeoutMs for its duration.
  test('a client whose stream drops and comes back while an elicitation is in flight is not asked the same message twice; its answer by POST completes it', async () => {
    // A window wide enough to reconnect and answer before the push times out.
    await applyFlags({ elicitationTimeoutMs: '5000' });
    const url = `${bridge.elicitationBaseUrls[0]}/mcp`;
    const session = await RawMcpSession.open(url, bridge.tokens.wobbler!);
    const first = await session.openStream();
    let second: Awaited<ReturnType<RawMcpSession['openStream']>> | undefined;
    try {
      await waitForPushReady(bridge, 'wobbler');
      const { message_id } = await send('wobbler', 'network blip');
      const request = await first.next((m) => m.method === 'elicitation/create');
      first.destroy();
      // The client reconnects its stream at once, as SDK clients do (409 until the server saw the old one close).
      for (let tries = 0; !second; tries++) {
        try {
          second = await session.openStream();
        } catch (error) {
          if (tries > 50) throw error;
          await sleep(20);
        }
      }
      await sleep(1_000);
      // The client answers the elicitation it got (responses travel by POST, not on the stream).
      assert.equal(await session.respond(request.id!, { action: 'accept', content: { response: 'answered once' } }), 202);
      await waitForLedger(bridge, message_id, 'wobbler', (r) => r.state === 'answered', 'the message to be answered');
      const replies = (await poll(sender, { timeout_ms: 2_000 })).messages;
      assert.deepEqual(
        replies.map((m) => [m.reply_to, m.content]),
        [[message_id, 'answered once']],
        'one reply reached the sender',
      );
      await poll(sender, { cursor: (await poll(sender, { timeout_ms: 0 })).cursor, timeout_ms: 0 });
      const repeats = second.messages.filter((m) => m.method === 'elicitation/create' && String(m.params?.message).includes('network blip'));
      assert.equal(repeats.length, 0, `the message in flight was pushed again on the new stream (request ids ${JSON.stringify(repeats.map((m) => m.id))}): the agent was asked twice`);
    } finally {
      first.destroy();
      second?.destroy();
      await applyFlags({ elicitationTimeoutMs: '1000' });
    }
  });

  let applied = -1;
  /** Publishes flags and waits until the elicitation replica applies them. */
  async function applyFlags(assignments: Record<string, string>): Promise<void> {
    const version = await bridge.setFlags(assignments);
    await waitFor(
      () => applied >= version,
      5_000,
      `the elicitation replica to apply flags version ${version}`,
      async () => {
        const body = (await (await fetch(`${bridge.elicitationBaseUrls[0]}/readyz`)).json()) as Record<string, unknown>;
        applied = Number((body.detail as Record<string, unknown> | undefined)?.flagsVersion ?? body.flagsVersion ?? -1);
      },
    );
  }
});

async function waitFor(predicate: () => boolean, timeoutMs: number, description: string, refresh?: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await refresh?.();
    if (predicate()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}`);
    await sleep(20);
  }
}
