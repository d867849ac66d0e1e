import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { newMessageId } from '@agent-bridge/protocol';
import type { AgentClient } from '@agent-bridge/testkit';
import { assertStoresNothing, assertToolError, poll, receive, startBridge, type Bridge, type PolledMessage, type ToolErrorExpectation } from '@agent-bridge/testkit/bridge';

const KiB = 1024;

interface SendResult {
  message_id: string;
  status: string;
  duplicate: boolean;
}

describe('every bad input gets a tool error with a stable code and advice, and stores nothing', () => {
  let bridge: Bridge;
  let redis: Redis;
  let alice: AgentClient;
  let bob: AgentClient;
  let mallory: AgentClient;

  before(async () => {
    // Routers trim routed events-stream entries every TRIM_INTERVAL_MS; push that out of the test's
    // lifetime so XLEN only changes when something is appended.
    bridge = await startBridge({ agents: ['alice', 'bob', 'mallory'], env: { TRIM_INTERVAL_MS: '600000' } });
    redis = bridge.redis.client();
    alice = await bridge.connect('alice');
    bob = await bridge.connect('bob');
    mallory = await bridge.connect('mallory');
  });
  after(async () => {
    await alice?.close();
    await bob?.close();
    await mallory?.close();
    await bridge?.stop();
  });

  /** Calls a tool with bad input: asserts the tool error and that the store did not change. */
  async function refused(agent: AgentClient, tool: string, args: Record<string, unknown>, expected: ToolErrorExpectation): Promise<string> {
    const result = await assertStoresNothing(bridge, redis, () => agent.callTool(tool, args));
    return assertToolError(result, expected);
  }

  /** Receives exactly `count` messages (or fewer if the deadline passes) and acknowledges them. */
  async function drain(agent: AgentClient, count: number): Promise<PolledMessage[]> {
    const { messages, cursor } = await receive(agent, count, 20_000);
    if (cursor) await poll(agent, { cursor, timeout_ms: 0 });
    return messages;
  }

  const send = (from: AgentClient, args: Record<string, unknown>) => from.callToolJson<SendResult>('send_message', args);

  test('metadata nested 50,000 levels deep (fine for JSON.parse, fatal for what follows) is a 400 with a sentence, 33 levels INVALID_ARGUMENT, never INTERNAL', async () => {
    const nested = (depth: number) => {
      const root: Record<string, unknown> = {};
      let at = root;
      for (let i = 1; i < depth; i++) at = (at.a = {}) as Record<string, unknown>;
      return root;
    };
    // No client can serialize that either: the request is written by hand (a 2026-07-28 call).
    const deepText = '{"a":'.repeat(49_999) + '{}' + '}'.repeat(49_999);
    const raw = async (argumentsText: string) => {
      const response = await fetch(bridge.legacyUrls[0]!, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${bridge.tokens.alice}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2026-07-28',
          'mcp-method': 'tools/call',
          'mcp-name': 'send_message',
        },
        body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"send_message","arguments":${argumentsText},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}}}`,
      });
      return { status: response.status, text: await response.text() };
    };
    // Refused as the body is read, before MCP (whose validation cannot take that depth either).
    const deep = await assertStoresNothing(bridge, redis, () => raw(`{"to":"bob","content":"deep","metadata":${deepText}}`));
    assert.equal(deep.status, 400);
    assert.match(JSON.parse(deep.text).error, /nests objects or arrays deeper than 64 levels; flatten the data \(tool metadata may nest at most 32 levels\)/);
    // Deeper than 32 but within what a request may carry: the tool's own error.
    await refused(alice, 'send_message', { to: 'bob', content: 'deep', metadata: nested(33) }, { code: 'INVALID_ARGUMENT', advice: /flatten it/, mentions: ['deeper than 32 levels'] });
    const ok = await send(alice, { to: 'bob', content: 'deep enough', metadata: nested(32) });
    const [message] = await drain(bob, 1);
    assert.equal(message!.message_id, ok.message_id);
    assert.deepEqual(message!.metadata, nested(32), '32 levels arrive intact');
  });

  test('content over 64 KiB, counted in UTF-8 bytes, is refused with CONTENT_TOO_LARGE', async () => {
    const tooLarge = /Split it into several messages/;
    await refused(alice, 'send_message', { to: 'bob', content: 'x'.repeat(64 * KiB + 1) }, { code: 'CONTENT_TOO_LARGE', advice: tooLarge, mentions: ['65537', '65536'] });
    // 32,769 characters but 65,538 bytes: the limit is bytes, not characters.
    const accents = 'é'.repeat(32 * KiB + 1);
    assert.ok(accents.length < 64 * KiB);
    await refused(alice, 'send_message', { to: 'bob', content: accents }, { code: 'CONTENT_TOO_LARGE', advice: tooLarge, mentions: ['65538'] });
    // 4-byte characters (2 UTF-16 units each): 16,384 × 4 + 1 = 65,537 bytes.
    await refused(alice, 'send_message', { to: 'bob', content: `${'🙂'.repeat(16 * KiB)}x` }, { code: 'CONTENT_TOO_LARGE', advice: tooLarge, mentions: ['65537'] });
  });

  test('content of exactly 64 KiB (multi-byte characters included) is accepted and delivered byte-identical', async () => {
    const content = `${'é'.repeat(32 * KiB - 3)}🙂ab`; // 65,530 + 4 + 2 bytes
    assert.equal(Buffer.byteLength(content, 'utf8'), 64 * KiB);
    const sent = await send(alice, { to: 'bob', content });
    assert.equal(sent.status, 'accepted');
    const [message] = await drain(bob, 1);
    assert.equal(message?.message_id, sent.message_id);
    assert.ok(message?.content === content, 'the 64 KiB content arrived byte-identical');
  });

  test('metadata over 16 KiB of JSON is refused with CONTENT_TOO_LARGE; exactly 16 KiB is accepted', async () => {
    // JSON.stringify({ b: s }) is s.length + 8 bytes for ASCII s.
    const over = { b: 'x'.repeat(16 * KiB - 8 + 1) };
    assert.equal(Buffer.byteLength(JSON.stringify(over)), 16 * KiB + 1);
    await refused(
      alice,
      'send_message',
      { to: 'bob', content: 'small', metadata: over },
      {
        code: 'CONTENT_TOO_LARGE',
        advice: /Move large data into content or a reference/,
        mentions: ['metadata', String(16 * KiB + 1), String(16 * KiB)],
      },
    );
    const exact = { b: 'x'.repeat(16 * KiB - 8) };
    assert.equal(Buffer.byteLength(JSON.stringify(exact)), 16 * KiB);
    const sent = await send(alice, { to: 'bob', content: 'metadata at the limit', metadata: exact });
    const [message] = await drain(bob, 1);
    assert.equal(message?.message_id, sent.message_id);
    assert.deepEqual(message?.metadata, exact);
  });

  test('unknown fields are refused with UNKNOWN_FIELD naming the field', async () => {
    await refused(
      alice,
      'send_message',
      { to: 'bob', content: 'hi', priority: 'high' },
      {
        code: 'UNKNOWN_FIELD',
        advice: /remove it/,
        mentions: ['"priority"', 'send_message'],
      },
    );
    await refused(bob, 'wait_for_messages', { since: '0-0', timeout_ms: 0 }, { code: 'UNKNOWN_FIELD', advice: /remove it/, mentions: ['"since"', 'wait_for_messages'] });
  });

  test('arguments of the wrong type or out of range are refused with INVALID_ARGUMENT naming the field', async () => {
    const cases: Array<[AgentClient, string, Record<string, unknown>, string]> = [
      [alice, 'send_message', { to: 42, content: 'hi' }, 'to'],
      [alice, 'send_message', { to: 'bob', content: null }, 'content'],
      [alice, 'send_message', { to: 'bob', content: 7 }, 'content'],
      [alice, 'send_message', { to: 'bob', content: 'hi', metadata: 'not an object' }, 'metadata'],
      [bob, 'wait_for_messages', { timeout_ms: 'soon' }, 'timeout_ms'],
      [bob, 'wait_for_messages', { timeout_ms: -1 }, 'timeout_ms'],
      [bob, 'wait_for_messages', { timeout_ms: 1.5 }, 'timeout_ms'],
      [bob, 'wait_for_messages', { max_messages: 0, timeout_ms: 0 }, 'max_messages'],
      [bob, 'wait_for_messages', { max_messages: 1001, timeout_ms: 0 }, 'max_messages'],
    ];
    for (const [agent, tool, args, field] of cases) {
      await refused(agent, tool, args, { code: 'INVALID_ARGUMENT', advice: /is invalid: .*; got /, mentions: [`"${field}"`, tool] });
    }
  });

  test('a missing required field is refused with INVALID_ARGUMENT saying it is required', async () => {
    await refused(alice, 'send_message', { to: 'bob' }, { code: 'INVALID_ARGUMENT', advice: /"content" is required/ });
    await refused(alice, 'send_message', { content: 'to nobody' }, { code: 'INVALID_ARGUMENT', advice: /"to" is required/ });
  });

  test('an agent id that breaks the agent id rule is refused with INVALID_AGENT_ID', async () => {
    for (const to of ['bad id!', '', 'a'.repeat(129), '-leading-dash']) {
      await refused(alice, 'send_message', { to, content: 'hi' }, { code: 'INVALID_AGENT_ID', advice: /must be an agent id \(1 to 128 characters/, mentions: ['"to"'] });
    }
  });

  test('a well-formed recipient that is not an agent of this bridge is refused with UNKNOWN_RECIPIENT', async () => {
    await refused(alice, 'send_message', { to: 'zed', content: 'hi' }, { code: 'UNKNOWN_RECIPIENT', advice: /check the recipient id/, mentions: ['"zed"'] });
    // 128 characters is still a valid id (the boundary of the rule): unknown, not invalid.
    await refused(alice, 'send_message', { to: 'a'.repeat(128), content: 'hi' }, { code: 'UNKNOWN_RECIPIENT', advice: /check the recipient id/ });
  });

  test('a malformed cursor is refused with INVALID_CURSOR', async () => {
    for (const cursor of ['abc', '1-', '-1', '1-2-3']) {
      await refused(bob, 'wait_for_messages', { cursor, timeout_ms: 0 }, { code: 'INVALID_CURSOR', advice: /must be the cursor string returned by your previous wait_for_messages call/ });
      await refused(bob, 'ack_messages', { cursor }, { code: 'INVALID_CURSOR', advice: /must be the cursor string returned by your previous wait_for_messages call/ });
    }
  });

  test('a cursor never issued for this mailbox is refused with INVALID_CURSOR', async () => {
    const advice = /Use the cursor from your previous wait_for_messages result, or omit it/;
    await refused(bob, 'wait_for_messages', { cursor: '99999999999999-0', timeout_ms: 0 }, { code: 'INVALID_CURSOR', advice, mentions: ['99999999999999-0'] });
    await refused(bob, 'ack_messages', { cursor: '99999999999999-0' }, { code: 'INVALID_CURSOR', advice });
    // A cursor issued for bob's mailbox means nothing in mallory's.
    const sent = await send(alice, { to: 'bob', content: 'cursor owner' });
    const page = await poll(bob, { timeout_ms: 10_000 });
    assert.deepEqual(
      page.messages.map((m) => m.message_id),
      [sent.message_id],
    );
    await refused(mallory, 'wait_for_messages', { cursor: page.cursor, timeout_ms: 0 }, { code: 'INVALID_CURSOR', advice });
    await poll(bob, { cursor: page.cursor, timeout_ms: 0 });
  });

  test('a cursor older than the acknowledged position is refused with CURSOR_EXPIRED, and nothing is lost or re-delivered', async () => {
    const m1 = await send(alice, { to: 'bob', content: 'first' });
    const m2 = await send(alice, { to: 'bob', content: 'second' });
    const p1 = await poll(bob, { max_messages: 1, timeout_ms: 10_000 });
    assert.deepEqual(
      p1.messages.map((m) => m.message_id),
      [m1.message_id],
    );
    let p2 = await poll(bob, { cursor: p1.cursor, max_messages: 1, timeout_ms: 10_000 });
    for (let tries = 0; p2.messages.length === 0 && tries < 10; tries++) p2 = await poll(bob, { cursor: p1.cursor, max_messages: 1, timeout_ms: 2_000 });
    assert.deepEqual(
      p2.messages.map((m) => m.message_id),
      [m2.message_id],
    );
    const acked = await poll(bob, { cursor: p2.cursor, timeout_ms: 0 });
    assert.equal(acked.messages.length, 0);

    // A third message waits, unacknowledged, while bob polls with a stale cursor.
    const m3 = await send(alice, { to: 'bob', content: 'third' });
    const expiredAdvice = new RegExp(`Continue with cursor ${p2.cursor}, or omit the cursor`);
    await refused(bob, 'wait_for_messages', { cursor: p1.cursor, timeout_ms: 0 }, { code: 'CURSOR_EXPIRED', advice: expiredAdvice, mentions: [p1.cursor] });
    await refused(bob, 'ack_messages', { cursor: p1.cursor }, { code: 'CURSOR_EXPIRED', advice: expiredAdvice });

    // The refused calls neither acknowledged m3 nor brought m1/m2 back.
    const current = await poll(bob, { cursor: p2.cursor, timeout_ms: 10_000 });
    assert.deepEqual(
      current.messages.map((m) => m.message_id),
      [m3.message_id],
    );
    assert.equal((await bridge.store.store.getMessage(m3.message_id, 'bob'))?.state, 'routed', 'm3 not acknowledged by the refused calls');
    const resumed = await poll(bob, { timeout_ms: 0 });
    assert.deepEqual(
      resumed.messages.map((m) => m.message_id),
      [m3.message_id],
      'omitting the cursor resumes at the acknowledged position',
    );
    const done = await poll(bob, { cursor: current.cursor, timeout_ms: 0 });
    assert.equal(done.messages.length, 0);
    for (const { message_id } of [m1, m2, m3]) assert.equal((await bridge.store.store.getMessage(message_id, 'bob'))?.state, 'delivered');
  });

  test('an idempotency key reused with different content is refused with IDEMPOTENCY_CONFLICT; the same content returns the first message_id and is delivered once', async () => {
    const key = 'order-42';
    const first = await send(alice, { to: 'bob', content: 'A', idempotency_key: key });
    assert.equal(first.duplicate, false);
    const conflict = { code: 'IDEMPOTENCY_CONFLICT', advice: /Use a new key for new content; nothing was stored/, mentions: [key, first.message_id] } as const;
    await refused(alice, 'send_message', { to: 'bob', content: 'B', idempotency_key: key }, conflict);
    await refused(alice, 'send_message', { to: 'mallory', content: 'A', idempotency_key: key }, conflict);
    await refused(alice, 'send_message', { to: 'bob', content: 'A', metadata: { extra: true }, idempotency_key: key }, conflict);

    const retry = await assertStoresNothing(bridge, redis, () => send(alice, { to: 'bob', content: 'A', idempotency_key: key }));
    assert.equal(retry.message_id, first.message_id);
    assert.equal(retry.duplicate, true);
    assert.equal(retry.status, 'accepted');

    // Per-sender order holds, so a second copy of A would arrive before the sentinel.
    const sentinel = await send(alice, { to: 'bob', content: 'sentinel' });
    const delivered = await drain(bob, 2);
    assert.deepEqual(
      delivered.map((m) => m.message_id),
      [first.message_id, sentinel.message_id],
    );
    assert.deepEqual(
      delivered.map((m) => m.content),
      ['A', 'sentinel'],
    );
    assert.equal((await poll(mallory, { timeout_ms: 500 })).messages.length, 0, 'the conflicting send to mallory was not delivered');
  });

  test('in_reply_to naming a message the agent never received is refused with UNKNOWN_MESSAGE', async () => {
    const question = await send(alice, { to: 'bob', content: 'question' });
    assert.equal((await drain(bob, 1))[0]?.message_id, question.message_id);
    const advice = /is not a message you received; use the message_id from your wait_for_messages result/;
    const never = newMessageId();
    await refused(bob, 'send_message', { to: 'alice', content: 'answer', in_reply_to: never }, { code: 'UNKNOWN_MESSAGE', advice, mentions: [never] });
    // alice sent it, she did not receive it; mallory neither.
    await refused(alice, 'send_message', { to: 'bob', content: 'answer', in_reply_to: question.message_id }, { code: 'UNKNOWN_MESSAGE', advice });
    await refused(mallory, 'send_message', { to: 'alice', content: 'answer', in_reply_to: question.message_id }, { code: 'UNKNOWN_MESSAGE', advice });
    // Malformed ids are an argument error.
    await refused(bob, 'send_message', { to: 'alice', content: 'answer', in_reply_to: 'nope' }, { code: 'INVALID_ARGUMENT', advice: /must be the message_id of a message you received/ });

    // The recipient of the question can answer it.
    const answer = await send(bob, { to: 'alice', content: 'answer', in_reply_to: question.message_id });
    const [reply] = await drain(alice, 1);
    assert.equal(reply?.message_id, answer.message_id);
    assert.equal(reply?.reply_to, question.message_id);
  });

  test('an invalid idempotency key is refused with INVALID_ARGUMENT', async () => {
    for (const idempotency_key of ['has space', '', 'k'.repeat(129), 'slash/key']) {
      await refused(alice, 'send_message', { to: 'bob', content: 'hi', idempotency_key }, { code: 'INVALID_ARGUMENT', advice: /"idempotency_key" must be 1 to 128 characters/ });
    }
  });

  test('an unknown tool name is refused with a tool error naming the tool and the available ones', async () => {
    const message = await refused(alice, 'delete_everything', { to: 'bob' }, { code: 'INVALID_ARGUMENT', advice: /available tools: .*send_message/, mentions: ['"delete_everything"'] });
    assert.match(message, /wait_for_messages/);
  });

  test('after all the bad inputs, an accepted message is still delivered, and it is the only one waiting', async () => {
    const sent = await send(alice, { to: 'bob', content: 'still working' });
    const delivered = await drain(bob, 1);
    assert.deepEqual(
      delivered.map((m) => [m.message_id, m.content]),
      [[sent.message_id, 'still working']],
    );
    assert.equal((await poll(bob, { timeout_ms: 500 })).messages.length, 0, 'no refused input reached bob');
    assert.equal((await poll(mallory, { timeout_ms: 0 })).messages.length, 0, 'no refused input reached mallory');
    assert.equal((await bridge.store.store.getMessage(sent.message_id, 'bob'))?.state, 'delivered');
  });
});
