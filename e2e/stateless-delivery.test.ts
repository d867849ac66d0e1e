import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MESSAGE_META_KEY } from '@agent-bridge/protocol';
import { waitFor, type AgentClient } from '@agent-bridge/testkit';
import { connectManual, connectStateless, mailboxReader, sleep, startBridge, waitForLedger, type Bridge, type StatelessAgent } from '@agent-bridge/testkit/bridge';

const AGENTS = ['alice', 'bob', 'carol', 'dave', 'eve', 'frank', 'gina', 'hank'];
/** Served by elicitation; alice and frank stay on legacy. */
const MODERN = ['bob', 'carol', 'dave', 'eve', 'gina', 'hank'];

interface ToolErrorShape {
  isError?: boolean;
  structuredContent?: { error?: { code?: string; message?: string } };
}

function errorCode(result: Record<string, unknown>): string | undefined {
  const shaped = result as ToolErrorShape;
  return shaped.isError ? shaped.structuredContent?.error?.code : undefined;
}

describe('2026-07-28 agents receive their messages as elicitations of wait_for_messages rounds', () => {
  let bridge: Bridge;
  let legacy: AgentClient;
  let bob: StatelessAgent;
  let url: string;
  /** alice's next `count` messages, acknowledged as she goes. */
  const aliceReceives = mailboxReader(() => legacy, 15_000);

  before(async () => {
    bridge = await startBridge({
      agents: AGENTS,
      elicitations: 1,
      flags: { 'elicitation.enabled': 'true', 'elicitation.agents': MODERN.join(','), autoFallback: 'false' },
      env: { POLL_RECHECK_MS: '300', KEEPALIVE_MS: '1000', PROGRESS_INTERVAL_MS: '300' },
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

  test("a legacy sender's messages reach a 2026 agent in order, each naming its message id, and the answers come back as replies", async () => {
    // Presence: bob counts as present while his call waits, so the router chooses the push lane.
    await waitFor(async () => (await bridge.store.store.readPresence(['bob'])).get('bob')?.some((s) => s.streamOpen) ?? false, { description: 'bob present' });
    const sent: string[] = [];
    for (let i = 0; i < 5; i++) {
      const result = await legacy.callToolJson<{ message_id: string }>('send_message', { to: 'bob', content: `hello ${i}` });
      sent.push(result.message_id);
    }
    const messages = await aliceReceives(5);
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
    // A call goes on with more rounds while messages come, so its result (listing every answer) comes at its end.
    const answeredSoFar = () => bob.results.flatMap((r) => (r.answered as Array<{ message_id: string; action: string }> | undefined) ?? []);
    await waitFor(() => answeredSoFar().length >= sent.length, { timeoutMs: 15_000, description: "bob's calls to return their results" });
    const answered = answeredSoFar();
    assert.deepEqual(
      answered.map((a) => a.message_id),
      sent,
    );
    assert.ok(answered.every((a) => a.action === 'accept'));
    assert.equal(MESSAGE_META_KEY, 'io.agentbridge/message');
    assert.deepEqual(bob.errors, [], 'no wait_for_messages call failed');
  });

  test('a retry with tampered, foreign or expired requestState gets a stable code, settles nothing and loses nothing', async () => {
    const carol = await connectManual(url, bridge.tokens.carol!, 'carol');
    const dave = await connectManual(url, bridge.tokens.dave!, 'dave');
    try {
      await carol.wait({ timeout_ms: 100 }); // present from now on
      const { message_id: messageId } = await legacy.callToolJson<{ message_id: string }>('send_message', { to: 'carol', content: 'sign here' });
      const round = await carol.wait({ timeout_ms: 10_000 });
      const inputRequests = round.inputRequests as Record<string, { params?: Record<string, unknown> }>;
      assert.deepEqual(Object.keys(inputRequests), [messageId], 'one elicitation, keyed by the message id');
      const state = round.requestState as string;
      const answers = { [messageId]: { action: 'accept', content: { response: 'signed' } } };

      const [version, keyId, payload, signature] = state.split('.') as [string, string, string, string];
      const altered = `${version}.${keyId}.${payload.slice(0, -2)}${payload.endsWith('A') ? 'B' : 'A'}${payload.slice(-1)}.${signature}`;
      assert.equal(errorCode(await carol.wait({ timeout_ms: 0 }, { requestState: altered, inputResponses: answers })), 'REQUEST_STATE_INVALID');
      assert.equal(errorCode(await dave.wait({ timeout_ms: 0 }, { requestState: state, inputResponses: answers })), 'REQUEST_STATE_FOREIGN');
      const record = await bridge.store.store.getMessage(messageId, 'carol');
      assert.equal(record?.state, 'routed', 'nothing was settled');
      assert.equal(await bridge.store.store.laneLength('carol', 'push'), 1, 'the entry is still on the push lane');

      const done = await carol.wait({ timeout_ms: 0 }, { requestState: state, inputResponses: answers });
      assert.equal(errorCode(done), undefined, JSON.stringify(done));
      assert.deepEqual((done.structuredContent as { answered: unknown }).answered, [{ message_id: messageId, action: 'accept' }]);
      await waitForLedger(bridge, messageId, 'carol', (r) => r.state === 'answered', 'answered once the valid retry came');
      const replies = await aliceReceives(1);
      assert.deepEqual(
        replies.map((m) => [m.reply_to, m.content]),
        [[messageId, 'signed']],
      );
      assert.equal(errorCode(await carol.wait({ timeout_ms: 0 }, { requestState: state, inputResponses: answers })), 'REQUEST_STATE_EXPIRED', 'a round completes once');

      // Expired: the answer comes back after the answer window; the message is offered again.
      await bridge.setFlags({ elicitationTimeoutMs: '1000' });
      await sleep(400);
      const { message_id: lateId } = await legacy.callToolJson<{ message_id: string }>('send_message', { to: 'carol', content: 'late' });
      const lateRound = await carol.wait({ timeout_ms: 10_000 });
      await sleep(1_200);
      const late = await carol.wait({ timeout_ms: 0 }, { requestState: lateRound.requestState as string, inputResponses: { [lateId]: { action: 'accept', content: { response: 'too late' } } } });
      assert.equal(errorCode(late), 'REQUEST_STATE_EXPIRED');
      assert.equal((await bridge.store.store.getMessage(lateId, 'carol'))?.state, 'routed');
      const again = await carol.wait({ timeout_ms: 15_000 });
      assert.deepEqual(Object.keys(again.inputRequests as object), [lateId], 'the unanswered message is handed out again');
      const meta = (again.inputRequests as Record<string, { params?: { _meta?: Record<string, { message_id?: string }> } }>)[lateId]?.params?._meta?.[MESSAGE_META_KEY];
      assert.equal(meta?.message_id, lateId, 'with its message id, so the agent can tell it saw it before');
      const settled = await carol.wait({ timeout_ms: 0 }, { requestState: again.requestState as string, inputResponses: { [lateId]: { action: 'decline' } } });
      assert.deepEqual((settled.structuredContent as { answered: unknown }).answered, [{ message_id: lateId, action: 'decline' }]);
      await waitForLedger(bridge, lateId, 'carol', (r) => r.state === 'declined', 'declined');
    } finally {
      await bridge.setFlags({ elicitationTimeoutMs: '5000' });
      await carol.close();
      await dave.close();
    }
  });

  test('one call goes on with the next round while messages wait, and its result lists every answer', async () => {
    const hank = await connectManual(url, bridge.tokens.hank!, 'hank');
    try {
      await hank.wait({ timeout_ms: 100 });
      const first = (await legacy.callToolJson<{ message_id: string }>('send_message', { to: 'hank', content: 'one' })).message_id;
      const round1 = await hank.wait({ timeout_ms: 10_000 });
      assert.deepEqual(Object.keys(round1.inputRequests as object), [first]);
      const more = [];
      for (const content of ['two', 'three']) more.push((await legacy.callToolJson<{ message_id: string }>('send_message', { to: 'hank', content })).message_id);
      await waitFor(async () => (await bridge.store.store.laneLength('hank', 'push')) === 3, { description: 'two more on the push lane' });
      const accept = (text: string) => ({ action: 'accept', content: { response: text } });
      const round2 = await hank.wait({ timeout_ms: 10_000 }, { requestState: round1.requestState as string, inputResponses: { [first]: accept('1') } });
      assert.equal(errorCode(round2), undefined, JSON.stringify(round2));
      assert.deepEqual(Object.keys(round2.inputRequests as object), more, 'the retry is the next round of the same call');
      await waitForLedger(bridge, first, 'hank', (r) => r.state === 'answered', 'the first round settled before the second was handed out');
      const done = await hank.wait({ timeout_ms: 0 }, { requestState: round2.requestState as string, inputResponses: { [more[0]!]: accept('2'), [more[1]!]: { action: 'decline' } } });
      const result = done.structuredContent as { answered: unknown; has_more: boolean; messages: unknown[] };
      assert.deepEqual(result.answered, [
        { message_id: first, action: 'accept' },
        { message_id: more[0], action: 'accept' },
        { message_id: more[1], action: 'decline' },
      ]);
      assert.deepEqual([result.has_more, result.messages], [false, []]);
      const replies = await aliceReceives(2);
      assert.deepEqual(
        replies.map((m) => [m.reply_to, m.content]),
        [
          [first, '1'],
          [more[0], '2'],
        ],
        'a declined plain message sends no reply',
      );
    } finally {
      await hank.close();
    }
  });

  test('a 2026 call without the elicitation capability gets ELICITATION_REQUIRED and takes nothing off the mailbox', async () => {
    const eve = await connectManual(url, bridge.tokens.eve!, 'eve', { elicitation: false });
    try {
      const { message_id: messageId } = await legacy.callToolJson<{ message_id: string }>('send_message', { to: 'eve', content: 'for eve' });
      await waitForLedger(bridge, messageId, 'eve', (r) => r.state === 'routed', 'routed (to the poll lane: eve is not present for push)');
      const before = await bridge.store.store.mailboxState('eve');
      const result = await eve.wait({ timeout_ms: 1_000 });
      assert.equal(errorCode(result), 'ELICITATION_REQUIRED');
      assert.match((result as ToolErrorShape).structuredContent?.error?.message ?? '', /elicitation: \{ form: \{\} \}/);
      assert.deepEqual(await bridge.store.store.mailboxState('eve'), before, 'nothing acknowledged');
      assert.equal((await bridge.store.store.getMessage(messageId, 'eve'))?.state, 'routed');
    } finally {
      await eve.close();
    }
  });

  test('a 2026 sender sends messages and elicits, with progress while it waits, whatever the target uses', async () => {
    const gina = await connectStateless(url, bridge.tokens.gina!, 'gina');
    try {
      const sent = await gina.callJson<{ message_id: string; status: string }>('send_message', { to: 'alice', content: 'from the future' });
      assert.equal(sent.status, 'accepted');
      const messages = await aliceReceives(1);
      assert.deepEqual(
        messages.map((m) => [m.message_id, m.from, m.content]),
        [[sent.message_id, 'gina', 'from the future']],
      );

      const progress: number[] = [];
      const asked = await gina.client.callTool(
        { name: 'elicit', arguments: { to: 'bob', message: 'ready?', requested_schema: { type: 'object', properties: { response: { type: 'string' } } }, timeout_ms: 20_000 } },
        { onprogress: (p) => void progress.push(p.progress) },
      );
      assert.equal(asked.isError, undefined, JSON.stringify(asked));
      const outcome = asked.structuredContent as { action: string; content?: { response?: string }; responder: string; message_id: string };
      assert.equal(outcome.action, 'accept');
      assert.equal(outcome.responder, 'bob');
      assert.equal(outcome.content?.response, `bob read ${outcome.message_id}`, 'the 2026 target answered the 2026 asker');

      // elicit to a legacy agent: its reply (send_message in_reply_to) completes the call.
      const question = gina.client.callTool(
        { name: 'elicit', arguments: { to: 'alice', message: 'ok?', requested_schema: { type: 'object', properties: { response: { type: 'string' } } }, timeout_ms: 20_000 } },
        { onprogress: (p) => void progress.push(p.progress) },
      );
      const asks = await aliceReceives(1);
      await sleep(800); // long enough for progress notifications
      await legacy.callToolJson('send_message', { to: 'gina', content: 'fine', in_reply_to: asks[0]!.message_id });
      const reply = (await question).structuredContent as { action: string; content?: { response?: string }; via: string };
      assert.deepEqual([reply.action, reply.content?.response, reply.via], ['accept', 'fine', 'legacy']);
      assert.ok(progress.length >= 1, `progress notifications while elicit waited (${progress.length})`);
    } finally {
      await gina.stop();
    }
  });

  test('the legacy endpoint serves 2026-07-28 requests with the same tools and results, server/discover included', async () => {
    const future = await connectStateless(bridge.legacyUrls[0]!, bridge.tokens.frank!, 'frank', { elicitation: false });
    try {
      assert.equal(future.client.getProtocolEra(), 'modern');
      assert.equal(future.client.getServerVersion()?.name, 'agent-bridge-legacy', 'server/discover answered');
      const tools = await future.client.listTools();
      assert.deepEqual(tools.tools.map((t) => t.name).sort(), ['ack_messages', 'send_message', 'wait_for_messages']);
      const sent = await future.callJson<{ message_id: string }>('send_message', { to: 'frank', content: 'note to self', metadata: { k: 'v' } });
      const page = await future.callJson<{ messages: Array<Record<string, unknown>>; has_more: boolean; cursor: string }>('wait_for_messages', { timeout_ms: 10_000 });
      assert.deepEqual(
        page.messages.map((m) => [m.message_id, m.from, m.content, m.metadata]),
        [[sent.message_id, 'frank', 'note to self', { k: 'v' }]],
      );
      assert.equal(page.has_more, false);
      await future.callJson('ack_messages', { cursor: page.cursor });
      const modern = await connectStateless(url, bridge.tokens.frank!, 'frank', { elicitation: false });
      assert.equal(modern.client.getServerVersion()?.name, 'agent-bridge', 'the elicitation endpoint answers server/discover too');
      await modern.stop();
    } finally {
      await future.stop();
    }
  });

  test('a 2026 call that cannot hold past the keep-alive interval is one JSON body that still holds until a message arrives', async () => {
    const call = (args: Record<string, unknown>, progress: boolean) => rawWaitForMessages(bridge, 'frank', args, progress);
    // KEEPALIVE_MS is 1000 here: a 900 ms hold would carry no keep-alive on a stream either.
    const startedAt = Date.now();
    const held = call({ timeout_ms: 900 }, false);
    await sleep(300);
    await legacy.callToolJson('send_message', { to: 'frank', content: 'short wake' });
    const response = await held;
    assert.match(response.headers.get('content-type') ?? '', /application\/json/);
    const text = await response.text();
    assert.match(text, /short wake/, 'the held call returned the message that arrived while it waited');
    assert.ok(Date.now() - startedAt >= 250, 'it held until the message came');
    const { cursor } = (JSON.parse(text) as { result: { structuredContent: { cursor: string } } }).result.structuredContent;
    // Nothing waiting: the call holds to its timeout, still as one JSON body.
    const idleStart = Date.now();
    const idle = await call({ timeout_ms: 600, cursor }, false);
    assert.match(idle.headers.get('content-type') ?? '', /application\/json/);
    assert.match(await idle.text(), /"messages":\[\]/);
    assert.ok(Date.now() - idleStart >= 550, `it held for its timeout (${Date.now() - idleStart} ms)`);
    // Asking for progress streams it, however short.
    const withProgress = await call({ timeout_ms: 300, cursor }, true);
    assert.match(withProgress.headers.get('content-type') ?? '', /text\/event-stream/);
    await withProgress.text();
  });

  test('a held 2026 call streams keep-alives and returns the moment a message arrives', async () => {
    const startedAt = Date.now();
    const response = await rawWaitForMessages(bridge, 'frank', { timeout_ms: 20_000 }, false);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /text\/event-stream/);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    let sentAt = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      if (!sentAt && /^:/m.test(text)) {
        sentAt = Date.now();
        await legacy.callToolJson('send_message', { to: 'frank', content: 'wake up' });
      }
      if (text.includes('"result"')) break;
    }
    await reader.cancel().catch(() => undefined);
    assert.ok(sentAt > 0, `a keep-alive comment arrived before the result: ${JSON.stringify(text.slice(0, 200))}`);
    assert.match(text, /wake up/);
    assert.ok(Date.now() - startedAt < 15_000, 'the call returned when the message came, not at its 20 s timeout');
  });
});

/** A 2026-07-28 wait_for_messages call by hand (no SDK), on the legacy endpoint: the raw HTTP answer. */
function rawWaitForMessages(bridge: Bridge, agent: string, args: Record<string, unknown>, progress: boolean): Promise<Response> {
  return fetch(bridge.legacyUrls[0]!, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${bridge.tokens[agent]}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/call',
      'mcp-name': 'wait_for_messages',
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: {
        name: 'wait_for_messages',
        arguments: args,
        _meta: {
          'io.modelcontextprotocol/protocolVersion': '2026-07-28',
          'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
          'io.modelcontextprotocol/clientCapabilities': {},
          ...(progress ? { progressToken: 'p1' } : {}),
        },
      },
    }),
  });
}
