import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ElicitResult } from '@modelcontextprotocol/client';
import { waitFor, type AgentClient } from '@agent-bridge/testkit';
import { connectManual, receive, startBridge, type Bridge, type ModernAgent } from '@agent-bridge/testkit/bridge';

describe('rollback drain', () => {
  let bridge: Bridge;
  let sender: AgentClient;

  before(async () => {
    bridge = await startBridge({
      agents: ['sender', 'slow', 'absent', 'stateless'],
      elicitations: 1,
      flags: { 'elicitation.enabled': 'true', 'elicitation.agents': 'slow,absent', elicitationTimeoutMs: '30000' },
      // Two messages per 2026 round, so a rollback finds a round outstanding and entries still waiting.
      env: { ROUND_MAX_MESSAGES: '2' },
    });
    sender = await bridge.connect('sender');
  });
  after(async () => {
    await sender?.close();
    await bridge?.stop();
  });

  async function pollLaneHolds(agent: string, ids: string[]): Promise<boolean> {
    for (const id of ids) if ((await bridge.store.store.getMessage(id, agent))?.lane !== 'poll') return false;
    return true;
  }

  test('an agent moved back to legacy has its undelivered push entries on its poll lane within 1 s, each delivered exactly once', async (t) => {
    const held: Array<(result: ElicitResult) => void> = [];
    const slow: ModernAgent = await bridge.connectModern('slow', { answer: () => new Promise<ElicitResult>((resolve) => held.push(resolve)) });
    try {
      await waitFor(async () => (await bridge.store.store.readPresence(['slow'])).get('slow')?.some((s) => s.streamOpen) ?? false, {
        timeoutMs: 10_000,
        description: 'slow to be reachable by push',
      });
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await sender.callToolJson<{ message_id: string }>('send_message', { to: 'slow', content: `queued ${i}` })).message_id);
      await waitFor(() => held.length === 1, { timeoutMs: 10_000, description: 'the first message to be in flight as an elicitation' });
      await waitFor(async () => (await bridge.store.store.getMessage(ids[4]!, 'slow'))?.lane === 'push', {
        timeoutMs: 5_000,
        description: 'the other messages to wait on the push lane',
      });
      assert.equal(held.length, 1, 'only one elicitation is in flight at a time');

      const rolledBackAt = Date.now();
      await bridge.setFlags({ 'elicitation.agents': '' }, 'rollback: slow goes back to legacy');
      await waitFor(() => pollLaneHolds('slow', ids), { timeoutMs: 5_000, intervalMs: 20, description: 'every entry to move to the poll lane' });
      const drainedInMs = Date.now() - rolledBackAt;
      t.diagnostic(`push lane drained to the poll lane ${drainedInMs} ms after the flag change`);
      assert.ok(drainedInMs < 1_000, `drained within 1 s (took ${drainedInMs} ms)`);

      held.splice(0).forEach((resolve) => resolve({ action: 'accept', content: { response: 'too late' } }));
      const legacy = await bridge.connect('slow');
      const { messages, cursor } = await receive(legacy, 5, 10_000);
      await legacy.callToolJson('ack_messages', { cursor: cursor! });
      assert.deepEqual(
        messages.map((m) => m.content),
        ['queued 0', 'queued 1', 'queued 2', 'queued 3', 'queued 4'],
        'each exactly once, in order',
      );
      const again = await receive(legacy, 1, 1_500, cursor);
      assert.equal(again.messages.length, 0, 'nothing delivered twice');
      const fromSlow = await receive(sender, 1, 1_500);
      assert.equal(fromSlow.messages.length, 0, 'the cancelled elicitation produced no answer');
      for (const id of ids) assert.equal((await bridge.store.store.getMessage(id, 'slow'))?.via, 'legacy_fallback');
      await legacy.close();
    } finally {
      await slow.close();
    }
  });

  test('a push lane nobody is serving (no session, auto-fallback off) is drained by the router on rollback', async () => {
    await bridge.setFlags({ 'elicitation.agents': 'absent', autoFallback: 'false' }, 'absent joins; keep its messages for push');
    await new Promise((r) => setTimeout(r, 300));
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await sender.callToolJson<{ message_id: string }>('send_message', { to: 'absent', content: `kept ${i}` })).message_id);
    await waitFor(async () => (await bridge.store.store.getMessage(ids[2]!, 'absent'))?.lane === 'push', { timeoutMs: 5_000, description: 'the messages to wait on the push lane' });

    const rolledBackAt = Date.now();
    await bridge.setFlags({ 'elicitation.agents': '', autoFallback: 'true' }, 'rollback: absent goes back to legacy');
    await waitFor(() => pollLaneHolds('absent', ids), { timeoutMs: 5_000, intervalMs: 20, description: 'the router to drain the push lane' });
    assert.ok(Date.now() - rolledBackAt < 1_000, `drained within 1 s (took ${Date.now() - rolledBackAt} ms)`);
    const absent = await bridge.connect('absent');
    const { messages } = await receive(absent, 3, 10_000);
    assert.deepEqual(
      messages.map((m) => m.content),
      ['kept 0', 'kept 1', 'kept 2'],
    );
    await absent.close();
  });

  test('a 2026-07-28 agent with a round outstanding has its push lane on its poll lane within 1 s of a rollback, each message once', async (t) => {
    await bridge.setFlags({ 'elicitation.agents': 'stateless', autoFallback: 'true' }, 'stateless joins');
    const agent = await connectManual(`${bridge.elicitationBaseUrls[0]}/mcp`, bridge.tokens.stateless!, 'stateless');
    try {
      await agent.wait({ timeout_ms: 100 }); // present from now on
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await sender.callToolJson<{ message_id: string }>('send_message', { to: 'stateless', content: `round ${i}` })).message_id);
      await waitFor(async () => (await bridge.store.store.getMessage(ids[4]!, 'stateless'))?.lane === 'push', { timeoutMs: 5_000, description: 'the messages on the push lane' });
      const round = await agent.wait({ timeout_ms: 5_000 });
      assert.deepEqual(Object.keys(round.inputRequests as object), ids.slice(0, 2), 'a round of two is outstanding (its lease lasts the 30 s answer window)');

      const rolledBackAt = Date.now();
      await bridge.setFlags({ 'elicitation.agents': '' }, 'rollback: stateless goes back to legacy');
      await waitFor(() => pollLaneHolds('stateless', ids), { timeoutMs: 5_000, intervalMs: 20, description: 'every entry, handed out or not, on the poll lane' });
      const drainedInMs = Date.now() - rolledBackAt;
      t.diagnostic(`2026 push lane drained ${drainedInMs} ms after the flag change`);
      assert.ok(drainedInMs < 1_000, `drained within 1 s (took ${drainedInMs} ms)`);

      const late = await agent.wait({ timeout_ms: 0 }, { requestState: round.requestState as string, inputResponses: { [ids[0]!]: { action: 'accept', content: { response: 'too late' } } } });
      assert.equal((late as { structuredContent?: { error?: { code?: string } } }).structuredContent?.error?.code, 'REQUEST_STATE_EXPIRED', 'the round was taken back');
      const legacy = await bridge.connect('stateless');
      const { messages, cursor } = await receive(legacy, 5, 10_000);
      assert.deepEqual(
        messages.map((m) => m.content),
        ['round 0', 'round 1', 'round 2', 'round 3', 'round 4'],
        'each exactly once, in order',
      );
      assert.equal((await receive(legacy, 1, 1_500, cursor)).messages.length, 0, 'nothing twice');
      assert.equal((await receive(sender, 1, 1_500)).messages.length, 0, 'the late answer produced no reply');
      await legacy.close();
    } finally {
      await agent.close();
    }
  });
});
