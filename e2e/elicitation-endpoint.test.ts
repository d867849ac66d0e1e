import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ToolCallError, type AgentClient } from '@agent-bridge/testkit';
import { ledger, poll, receive, sleep, startBridge, waitForLedger, waitForPushReady, type Bridge, type ModernAgent, type ModernPollResult } from '@agent-bridge/testkit/bridge';

const TOOLS_LIST = { jsonrpc: '2.0', id: 7, method: 'tools/list', params: {} };

describe('the elicitation endpoint: mailbox tools, sessions, auth and probes', () => {
  let bridge: Bridge;
  let base: string;
  let mcpUrl: string;
  let plain: AgentClient; // legacy agent, legacy endpoint
  let twin: AgentClient; // legacy agent, legacy endpoint: the reference behaviour
  let pusher: ModernAgent; // in the rollout, elicitation-capable: served by push
  let outsider: ModernAgent; // elicitation-capable but outside the rollout
  const opened: AgentClient[] = [];

  before(async () => {
    bridge = await startBridge({
      agents: ['plain', 'twin', 'pusher', 'backlog', 'outsider', 'alice', 'bob'],
      elicitations: 1,
      flags: { 'elicitation.enabled': 'true', 'elicitation.agents': 'pusher,backlog,alice,bob' },
    });
    base = bridge.elicitationBaseUrls[0]!;
    mcpUrl = `${base}/mcp`;
    plain = await bridge.connect('plain');
    twin = await bridge.connect('twin');
    pusher = await bridge.connectModern('pusher');
    outsider = await bridge.connectModern('outsider');
    opened.push(plain, twin, pusher, outsider);
    await waitForPushReady(bridge, 'pusher');
    await waitForPushReady(bridge, 'outsider');
  });
  after(async () => {
    for (const client of opened) await client.close().catch(() => undefined);
    await bridge?.stop();
  });

  const send = (from: AgentClient, to: string, content: string) => from.callToolJson<{ message_id: string }>('send_message', { to, content });

  function rawPost(body: unknown, headers: Record<string, string>, method = 'POST'): Promise<Response> {
    return fetch(mcpUrl, {
      method,
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18', ...headers },
      ...(method === 'POST' ? { body: JSON.stringify(body) } : {}),
    });
  }

  async function assertSessionNotFound(response: Response, what: string): Promise<void> {
    assert.equal(response.status, 404, `${what}: HTTP status`);
    const body = (await response.json()) as { jsonrpc?: string; error?: { code?: number; message?: string } };
    assert.equal(body.jsonrpc, '2.0', what);
    assert.equal(body.error?.message, 'Session not found', what);
    assert.equal(typeof body.error?.code, 'number', what);
  }

  test('wait_for_messages for an agent on push delivery returns at once with a notice that its messages arrive as elicitations', async () => {
    const startedAt = Date.now();
    const result = (await poll(pusher, { timeout_ms: 20_000 })) as ModernPollResult;
    const took = Date.now() - startedAt;
    assert.ok(took < 2_000, `returned at once, not after its 20 s timeout (${took} ms)`);
    assert.deepEqual(result.messages, []);
    assert.equal(result.has_more, false);
    assert.equal(typeof result.cursor, 'string');
    assert.match(result.notice ?? '', /elicitation/i, 'the notice says messages arrive as elicitations');

    // And they do: a message to it is pushed, not left for wait_for_messages.
    const before = pusher.received.length;
    const { message_id } = await send(plain, 'pusher', 'pushed, not polled');
    await waitForLedger(bridge, message_id, 'pusher', (r) => r.state === 'answered', 'the message to be answered by elicitation');
    assert.equal(pusher.received.length, before + 1);
    const after = (await poll(pusher, { timeout_ms: 5_000 })) as ModernPollResult;
    assert.deepEqual(after.messages, [], 'nothing on the poll lane');
    await takeReply(plain, message_id);
  });

  test('wait_for_messages for an agent on push delivery still returns, at once, the messages its poll lane holds (sent while it had no session)', async () => {
    const first = await send(plain, 'backlog', 'while you were away 1');
    const second = await send(plain, 'backlog', 'while you were away 2');
    await waitForLedger(bridge, second.message_id, 'backlog', (r) => r.state === 'routed', 'the messages to be routed');
    assert.equal((await ledger(bridge, first.message_id, 'backlog')).via, 'legacy_fallback');

    const backlog = await bridge.connectModern('backlog');
    opened.push(backlog);
    await waitForPushReady(bridge, 'backlog');
    const startedAt = Date.now();
    const result = (await poll(backlog, { timeout_ms: 20_000 })) as ModernPollResult;
    assert.ok(Date.now() - startedAt < 2_000, 'returned at once');
    assert.deepEqual(
      result.messages.map((m) => m.content),
      ['while you were away 1', 'while you were away 2'],
    );
    assert.match(result.notice ?? '', /elicitation/i);
    const acked = (await poll(backlog, { cursor: result.cursor, timeout_ms: 20_000 })) as ModernPollResult;
    assert.deepEqual(acked.messages, []);
    assert.equal((await ledger(bridge, first.message_id, 'backlog')).state, 'delivered');
    assert.equal(backlog.received.length, 0, 'the poll-lane messages were not pushed as well');
  });

  /**
   * The legacy long-poll contract, as a transcript: an empty poll waits out its timeout, a waiting
   * poll wakes on a message, a lost response is answered again, has_more, acknowledgement by
   * cursor, CURSOR_EXPIRED and INVALID_CURSOR.
   */
  async function mailboxTranscript(agent: AgentClient, agentId: string): Promise<unknown[]> {
    const transcript: unknown[] = [];
    const shape = (r: ModernPollResult) => ({ keys: Object.keys(r).sort(), contents: r.messages.map((m) => m.content), has_more: r.has_more });

    let startedAt = Date.now();
    const empty = (await poll(agent, { timeout_ms: 1_000 })) as ModernPollResult;
    transcript.push(['empty poll', shape(empty), 'waited its timeout', Date.now() - startedAt >= 900]);

    const waiting = poll(agent, { cursor: empty.cursor, timeout_ms: 20_000 });
    await sleep(300);
    startedAt = Date.now();
    const { message_id } = await send(plain, agentId, 'wake up');
    const woken = (await waiting) as ModernPollResult;
    transcript.push(['waiting poll', shape(woken), 'woke on the message', Date.now() - startedAt < 5_000]);
    transcript.push(['ledger', (await ledger(bridge, message_id, agentId)).via]);

    const again = (await poll(agent, { cursor: empty.cursor, timeout_ms: 5_000 })) as ModernPollResult;
    transcript.push(['same cursor again', shape(again), 'same ids', JSON.stringify(again.messages.map((m) => m.message_id)) === JSON.stringify(woken.messages.map((m) => m.message_id))]);

    let last = '';
    for (let i = 0; i < 3; i++) last = (await send(plain, agentId, `batch ${i}`)).message_id;
    await waitForLedger(bridge, last, agentId, (r) => r.state === 'routed', 'the batch to be routed');
    const page = (await poll(agent, { cursor: woken.cursor, max_messages: 2, timeout_ms: 5_000 })) as ModernPollResult;
    transcript.push(['page of 2', shape(page)]);
    const rest = (await poll(agent, { cursor: page.cursor, max_messages: 2, timeout_ms: 5_000 })) as ModernPollResult;
    transcript.push(['rest', shape(rest)]);
    const drained = (await poll(agent, { cursor: rest.cursor, timeout_ms: 0 })) as ModernPollResult;
    transcript.push(['acknowledged', shape(drained), (await ledger(bridge, last, agentId)).state]);

    for (const [what, cursor] of [
      ['old cursor', woken.cursor],
      ['unknown cursor', `${Date.now() + 10_000_000}-0`],
    ] as const) {
      try {
        await poll(agent, { cursor, timeout_ms: 0 });
        transcript.push([what, 'accepted']);
      } catch (error) {
        transcript.push([what, error instanceof ToolCallError ? error.code : String(error)]);
      }
    }
    return transcript;
  }

  test('for an elicitation-capable agent outside the rollout, wait_for_messages behaves exactly like legacy (waits, returns messages, cursor semantics)', async () => {
    const [modern, legacy] = await Promise.all([mailboxTranscript(outsider, 'outsider'), mailboxTranscript(twin, 'twin')]);
    assert.deepEqual(modern, legacy, 'the elicitation endpoint and the legacy endpoint give the same transcript');
    // Spell out the expected contract too, so both cannot be wrong the same way.
    assert.deepEqual(legacy, [
      ['empty poll', { keys: ['cursor', 'has_more', 'messages'], contents: [], has_more: false }, 'waited its timeout', true],
      ['waiting poll', { keys: ['cursor', 'has_more', 'messages'], contents: ['wake up'], has_more: false }, 'woke on the message', true],
      ['ledger', 'legacy'],
      ['same cursor again', { keys: ['cursor', 'has_more', 'messages'], contents: ['wake up'], has_more: false }, 'same ids', true],
      ['page of 2', { keys: ['cursor', 'has_more', 'messages'], contents: ['batch 0', 'batch 1'], has_more: true }],
      ['rest', { keys: ['cursor', 'has_more', 'messages'], contents: ['batch 2'], has_more: false }],
      ['acknowledged', { keys: ['cursor', 'has_more', 'messages'], contents: [], has_more: false }, 'delivered'],
      ['old cursor', 'CURSOR_EXPIRED'],
      ['unknown cursor', 'INVALID_CURSOR'],
    ]);
    assert.equal(outsider.received.length, 0, 'nothing was pushed to the agent outside the rollout');
    assert.deepEqual((await poll(plain, { timeout_ms: 0 })).messages, [], 'no replies to the sender');
  });

  test('send_message works on the elicitation endpoint, to legacy, polled and pushed agents', async () => {
    // To a legacy agent.
    const toLegacy = await pusher.callToolJson<{ message_id: string; status: string }>('send_message', { to: 'plain', content: 'from the modern side', metadata: { k: 1 } });
    assert.equal(toLegacy.status, 'accepted');
    const { messages, cursor } = await receive(plain, 1, 10_000);
    assert.deepEqual(
      messages.map((m) => [m.message_id, m.from, m.content, m.metadata]),
      [[toLegacy.message_id, 'pusher', 'from the modern side', { k: 1 }]],
    );
    await poll(plain, { cursor, timeout_ms: 0 });
    const record = await ledger(bridge, toLegacy.message_id, 'plain');
    assert.equal(record.protocol, 'elicitation', 'recorded as sent on the elicitation endpoint');
    assert.equal(record.via, 'legacy');

    // To an agent outside the rollout (poll lane), and to a push agent, whose answer comes back as a reply.
    const toOutsider = await pusher.callToolJson<{ message_id: string }>('send_message', { to: 'outsider', content: 'polled' });
    const polled = await receive(outsider, 1, 10_000);
    assert.equal(polled.messages[0]?.message_id, toOutsider.message_id);
    await poll(outsider, { cursor: polled.cursor, timeout_ms: 0 });

    const toPusher = await outsider.callToolJson<{ message_id: string }>('send_message', { to: 'pusher', content: 'pushed from the modern endpoint' });
    const reply = await receive(outsider, 1, 10_000);
    assert.equal(reply.messages[0]?.reply_to, toPusher.message_id, "the push agent's elicitation answer came back as a reply");
    assert.equal(reply.messages[0]?.from, 'pusher');
    await poll(outsider, { cursor: reply.cursor, timeout_ms: 0 });
    assert.ok(pusher.received.some((r) => r.message.includes('pushed from the modern endpoint')));

    // And its errors are tool errors with stable codes.
    await assert.rejects(pusher.callToolJson('send_message', { to: 'nobody', content: 'x' }), (error: unknown) => error instanceof ToolCallError && error.code === 'UNKNOWN_RECIPIENT');
  });

  test('an unknown session id is answered HTTP 404 with the JSON-RPC error "Session not found"', async () => {
    const auth = { authorization: `Bearer ${bridge.tokens.alice}` };
    await assertSessionNotFound(await rawPost(TOOLS_LIST, { ...auth, 'mcp-session-id': 'bogus.123' }), 'POST with a session of an unknown replica');
    await assertSessionNotFound(await rawPost(TOOLS_LIST, { ...auth, 'mcp-session-id': 'elicitation-1.00000000-0000-0000-0000-000000000000' }), 'POST with an unknown session of this replica');
    await assertSessionNotFound(await rawPost(undefined, { ...auth, 'mcp-session-id': 'bogus.123', accept: 'text/event-stream' }, 'GET'), 'GET with an unknown session');
    await assertSessionNotFound(await rawPost(undefined, { ...auth, 'mcp-session-id': 'bogus.123' }, 'DELETE'), 'DELETE with an unknown session');
  });

  test("a session id of another agent is 404 for the intruder, and the owner's session keeps working", async () => {
    const alice = await bridge.connectModern('alice');
    opened.push(alice);
    const aliceSession = alice.sessionId;
    assert.ok(aliceSession);
    const bobAuth = { authorization: `Bearer ${bridge.tokens.bob}`, 'mcp-session-id': aliceSession };
    const call = { jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 'wait_for_messages', arguments: { timeout_ms: 0 } } };
    await assertSessionNotFound(await rawPost(call, bobAuth), "bob POSTing to alice's session");
    await assertSessionNotFound(await rawPost(undefined, { ...bobAuth, accept: 'text/event-stream' }, 'GET'), "bob opening alice's stream");
    await assertSessionNotFound(await rawPost(undefined, bobAuth, 'DELETE'), "bob deleting alice's session");

    // Alice's session is untouched: her tools work and she still receives pushes.
    const result = (await poll(alice, { timeout_ms: 0 })) as ModernPollResult;
    assert.deepEqual(result.messages, []);
    await waitForPushReady(bridge, 'alice');
    const { message_id } = await send(plain, 'alice', 'still yours');
    await waitForLedger(bridge, message_id, 'alice', (r) => r.state === 'answered', 'the message to be answered by alice');
    assert.ok(alice.received.some((r) => r.message.includes('still yours')));
    await takeReply(plain, message_id);
  });

  test('a request without a valid bearer token is 401 with www-authenticate, even with a valid session id', async () => {
    const pusherSession = pusher.sessionId!;
    for (const [what, headers] of [
      ['no token', {}],
      ['a wrong token', { authorization: 'Bearer not-a-token' }],
      ['no token, a valid session id', { 'mcp-session-id': pusherSession }],
      ["another agent's session id and a wrong token", { authorization: 'Bearer nope', 'mcp-session-id': pusherSession }],
    ] as const) {
      const response = await rawPost(TOOLS_LIST, headers);
      assert.equal(response.status, 401, what);
      assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer\b/, what);
      const body = (await response.json()) as { error?: { message?: string } };
      assert.match(body.error?.message ?? '', /Authorization: Bearer/, `${what}: the error says how to authenticate`);
    }
    const result = (await poll(pusher, { timeout_ms: 0 })) as ModernPollResult;
    assert.ok(Array.isArray(result.messages), 'the real session still works');
  });

  test('/readyz is 200 and /metrics exposes agentbridge_active_sessions', async () => {
    const ready = await fetch(`${base}/readyz`);
    assert.equal(ready.status, 200);
    const detail = JSON.stringify(await ready.json());
    assert.match(detail, /elicitation-1/, `readyz names the replica: ${detail}`);

    const metrics = await fetch(`${base}/metrics`);
    assert.equal(metrics.status, 200);
    const text = await metrics.text();
    const line = text.split('\n').find((l) => l.startsWith('agentbridge_active_sessions'));
    assert.ok(line, 'agentbridge_active_sessions is exported');
    const value = Number(line.split(' ').at(-1));
    assert.ok(value >= 4, `counts the sessions this replica holds (pusher, outsider, backlog, alice): ${line}`);
  });

  /** Receives (and acknowledges) the reply to `messageId`, so the next test starts with an empty mailbox. */
  async function takeReply(agent: AgentClient, messageId: string): Promise<void> {
    const { messages, cursor } = await receive(agent, 1, 10_000);
    assert.deepEqual(
      messages.map((m) => m.reply_to),
      [messageId],
      "the push agent's answer came back as a reply",
    );
    await poll(agent, { cursor, timeout_ms: 0 });
  }
});
