import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { AgentClient } from '@agent-bridge/testkit';
import { poll, receive, startBridge, type Bridge } from '@agent-bridge/testkit/bridge';

/** Content with multi-byte characters, quotes, newlines and control-ish text: must arrive byte-identical. */
function content(from: string, i: number): string {
  return `${from}#${i} ünïcødé ✓ "quoted" \\ back\nline\t${randomBytes(12).toString('base64')} 🙂`;
}

describe('two legacy agents exchange messages through the bridge', () => {
  let bridge: Bridge;
  let alice: AgentClient;
  let bob: AgentClient;

  before(async () => {
    // Senders here send as fast as they can on purpose, above the default per-agent rate.
    bridge = await startBridge({ agents: ['alice', 'bob', 'mallory'], env: { SEND_RATE_PER_SECOND: '10000', SEND_BURST: '10000' } });
    alice = await bridge.connect('alice');
    bob = await bridge.connect('bob');
  });
  after(async () => {
    await alice?.close();
    await bob?.close();
    await bridge?.stop();
  });

  test('1,000 messages each way: every message delivered once, in order, content byte-identical', async () => {
    const count = 1000;
    const sent: Record<string, string[]> = { alice: [], bob: [] };
    const sendAll = async (client: AgentClient, from: string, to: string) => {
      for (let i = 0; i < count; i++) {
        const text = content(from, i);
        sent[from]!.push(text);
        const result = await client.callToolJson<{ message_id: string; status: string }>('send_message', { to, content: text, metadata: { i } });
        assert.equal(result.status, 'accepted');
      }
    };
    const [, , toBob, toAlice] = await Promise.all([sendAll(alice, 'alice', 'bob'), sendAll(bob, 'bob', 'alice'), receive(bob, count, 120_000), receive(alice, count, 120_000)]);
    assert.equal(toBob.messages.length, count, 'bob received every message');
    assert.equal(toAlice.messages.length, count, 'alice received every message');
    assert.deepEqual(
      toBob.messages.map((m) => m.content),
      sent.alice,
      "bob got alice's messages in order, byte-identical",
    );
    assert.deepEqual(
      toAlice.messages.map((m) => m.content),
      sent.bob,
      "alice got bob's messages in order, byte-identical",
    );
    assert.deepEqual(
      toBob.messages.map((m) => m.metadata.i),
      Array.from({ length: count }, (_, i) => i),
    );
    assert.equal(new Set(toBob.messages.map((m) => m.message_id)).size, count, 'no message delivered twice');
    const sequences = toBob.messages.map((m) => m.sequence);
    assert.deepEqual(
      sequences,
      [...sequences].sort((a, b) => a - b),
      'sequence numbers increase',
    );
    assert.ok(toBob.messages.every((m) => m.from === 'alice'));

    // Acknowledge the tail and check the ledger marks messages delivered.
    const last = await poll(bob, { cursor: toBob.cursor, timeout_ms: 0 });
    assert.equal(last.messages.length, 0);
    const record = await bridge.store.store.getMessage(toBob.messages.at(-1)!.message_id, 'bob');
    assert.equal(record?.state, 'delivered');
    assert.equal(record?.via, 'legacy');
  });

  test('a poll whose response was lost is answered again with the same messages', async () => {
    const first = await poll(bob, { timeout_ms: 0 });
    await alice.callToolJson('send_message', { to: 'bob', content: 'lost once' });
    const delivered = await poll(bob, { cursor: first.cursor, timeout_ms: 5_000 });
    assert.deepEqual(
      delivered.messages.map((m) => m.content),
      ['lost once'],
    );
    // The agent never saw that response and polls again with its old cursor.
    const again = await poll(bob, { cursor: first.cursor, timeout_ms: 5_000 });
    assert.deepEqual(
      again.messages.map((m) => m.message_id),
      delivered.messages.map((m) => m.message_id),
    );
    const acked = await poll(bob, { cursor: again.cursor, timeout_ms: 0 });
    assert.equal(acked.messages.length, 0);
  });

  test('a waiting poll returns as soon as a message arrives, not at its timeout', async () => {
    const start = await poll(bob, { timeout_ms: 0 });
    const waiting = poll(bob, { cursor: start.cursor, timeout_ms: 50_000 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const sentAt = Date.now();
    await alice.callToolJson('send_message', { to: 'bob', content: 'wake up' });
    const result = await waiting;
    assert.deepEqual(
      result.messages.map((m) => m.content),
      ['wake up'],
    );
    assert.ok(Date.now() - sentAt < 10_000, 'returned long before the 50 s timeout');
    await poll(bob, { cursor: result.cursor, timeout_ms: 0 });
  });

  test('has_more tells the agent more messages are waiting than it asked for', async () => {
    const start = await poll(bob, { timeout_ms: 0 });
    for (let i = 0; i < 3; i++) await alice.callToolJson('send_message', { to: 'bob', content: `batch ${i}` });
    // The router places them in bob's lane one by one: re-read from the same cursor (acknowledging
    // nothing new) until all three are there, so has_more cannot race the third one's routing.
    let all = await poll(bob, { cursor: start.cursor, max_messages: 3, timeout_ms: 5_000 });
    for (let tries = 0; all.messages.length < 3 && tries < 20; tries++) all = await poll(bob, { cursor: start.cursor, max_messages: 3, timeout_ms: 1_000 });
    assert.equal(all.messages.length, 3, 'all three reached bob');
    const page = await poll(bob, { cursor: start.cursor, max_messages: 2, timeout_ms: 5_000 });
    assert.equal(page.messages.length, 2);
    assert.equal(page.has_more, true);
    const rest = await poll(bob, { cursor: page.cursor, max_messages: 2, timeout_ms: 5_000 });
    assert.deepEqual(
      rest.messages.map((m) => m.content),
      ['batch 2'],
    );
    assert.equal(rest.has_more, false);
    await poll(bob, { cursor: rest.cursor, timeout_ms: 0 });
  });

  test('an agent only ever reads its own mailbox', async () => {
    const mallory = await bridge.connect('mallory');
    try {
      await alice.callToolJson('send_message', { to: 'bob', content: 'for bob only' });
      const stolen = await poll(mallory, { timeout_ms: 1_000 });
      assert.equal(stolen.messages.length, 0);
      const bobs = await receive(bob, 1, 10_000);
      assert.deepEqual(
        bobs.messages.map((m) => m.content),
        ['for bob only'],
      );
      await poll(bob, { cursor: bobs.cursor, timeout_ms: 0 });
    } finally {
      await mallory.close();
    }
  });
});
