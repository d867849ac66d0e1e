import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { waitFor, type AgentClient } from '@agent-bridge/testkit';
import { assertStoresNothing, assertToolError, poll, sleep, startBridge, waitForLegacyFlags, type Bridge, type PollResult } from '@agent-bridge/testkit/bridge';

/** ELICITATION_ENDPOINT_URL's default: startBridge does not set it. */
const ELICITATION_URL = 'http://127.0.0.1:8702/mcp';
const escaped = ELICITATION_URL.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

interface SendResult {
  message_id: string;
  status: string;
  deprecation?: { message: string; migrate_to: string };
}

describe('the legacy endpoint applies the deprecation and cut-over flags', () => {
  let bridge: Bridge;
  let redis: Redis;
  let alice: AgentClient;
  let bob: AgentClient;
  let carol: AgentClient;

  before(async () => {
    // FLAGS_POLL_INTERVAL_MS at its largest allowed value: services must still apply a snapshot
    // within 1 s, which then rests on the change notification rather than the polling safety net.
    bridge = await startBridge({ agents: ['alice', 'bob', 'carol'], env: { FLAGS_POLL_INTERVAL_MS: '1000' } });
    redis = bridge.redis.client();
    alice = await bridge.connect('alice');
    bob = await bridge.connect('bob');
    carol = await bridge.connect('carol');
  });
  after(async () => {
    await alice?.close();
    await bob?.close();
    await carol?.close();
    await bridge?.stop();
  });

  /** Publishes flags and waits (bounded) until every legacy-poll replica applies them. */
  async function applyFlags(assignments: Record<string, string>): Promise<number> {
    const version = await bridge.setFlags(assignments);
    await waitForLegacyFlags(bridge, version);
    return version;
  }

  const send = (from: AgentClient, to: string, content: string) => from.callToolJson<SendResult>('send_message', { to, content });

  async function timed<T>(action: () => Promise<T>): Promise<[T, number]> {
    const started = performance.now();
    const result = await action();
    return [result, performance.now() - started];
  }

  test('deprecation.warnings=true: wait_for_messages and send_message results carry {message, migrate_to} naming the elicitation endpoint', async () => {
    await applyFlags({ 'deprecation.warnings': 'true' });
    try {
      const sent = await send(alice, 'bob', 'deprecated but working');
      assert.equal(sent.status, 'accepted');
      assert.equal(sent.deprecation?.migrate_to, ELICITATION_URL);
      assert.match(sent.deprecation?.message ?? '', /send_message .*deprecated/);
      assert.ok(sent.deprecation?.message.includes(ELICITATION_URL), 'the notice says where to go');

      const page = await poll(bob, { timeout_ms: 10_000 });
      assert.deepEqual(
        page.messages.map((m) => m.message_id),
        [sent.message_id],
        'the notice does not replace the messages',
      );
      assert.equal(page.deprecation?.migrate_to, ELICITATION_URL);
      assert.match(page.deprecation?.message ?? '', /wait_for_messages .*deprecated/);
      const empty = await poll(bob, { cursor: page.cursor, timeout_ms: 0 });
      assert.equal(empty.deprecation?.migrate_to, ELICITATION_URL, 'an empty poll carries the notice too');
    } finally {
      await applyFlags({ 'deprecation.warnings': 'false' });
    }
  });

  test('deprecation.warnings=false: results carry no deprecation notice', async () => {
    const sent = await send(alice, 'bob', 'no notice');
    assert.equal(Object.hasOwn(sent, 'deprecation'), false);
    const page = await poll(bob, { timeout_ms: 10_000 });
    assert.deepEqual(
      page.messages.map((m) => m.message_id),
      [sent.message_id],
    );
    assert.equal(Object.hasOwn(page, 'deprecation'), false);
    await poll(bob, { cursor: page.cursor, timeout_ms: 0 });
  });

  test('deprecation.throttleMs=300 delays every legacy call by at least 300 ms; 0 removes the delay', async () => {
    await applyFlags({ 'deprecation.throttleMs': '300' });
    try {
      for (let i = 0; i < 3; i++) {
        const [result, ms] = await timed(() => poll(bob, { timeout_ms: 0 }));
        assert.equal(result.messages.length, 0);
        assert.ok(ms >= 300, `a poll with timeout_ms 0 took ${ms.toFixed(0)} ms, expected at least the 300 ms throttle`);
      }
      const [sent, sendMs] = await timed(() => send(alice, 'bob', 'throttled'));
      assert.equal(sent.status, 'accepted');
      assert.ok(sendMs >= 300, `send_message took ${sendMs.toFixed(0)} ms, expected at least the 300 ms throttle`);
      const page = await poll(bob, { timeout_ms: 10_000 });
      assert.deepEqual(
        page.messages.map((m) => m.message_id),
        [sent.message_id],
        'throttled, not dropped',
      );
      await poll(bob, { cursor: page.cursor, timeout_ms: 0 });
    } finally {
      await applyFlags({ 'deprecation.throttleMs': '0' });
    }
    // Generous: of three unthrottled polls at least one is well below the throttle.
    const durations: number[] = [];
    for (let i = 0; i < 3; i++) durations.push((await timed(() => poll(bob, { timeout_ms: 0 })))[1]);
    assert.ok(Math.min(...durations) < 300, `with throttleMs=0 polls took ${durations.map((d) => d.toFixed(0)).join(', ')} ms`);
  });

  test('legacyDisabled=true: both tools answer LEGACY_DISABLED naming the elicitation endpoint; a message sent before is kept and delivered once re-enabled', async () => {
    const kept = await send(alice, 'bob', 'sent before the cutover');
    await waitFor(async () => (await bridge.store.store.laneLength('bob', 'poll')) === 1, { timeoutMs: 10_000, intervalMs: 20, description: "the message to reach bob's poll lane" });

    await applyFlags({ legacyDisabled: 'true' });
    try {
      const expected = { code: 'LEGACY_DISABLED', advice: new RegExp(`Connect to the elicitation endpoint at ${escaped}`), mentions: ['undelivered messages are kept'] } as const;
      const pollRefusal = await assertStoresNothing(bridge, redis, () => bob.callTool('wait_for_messages', { timeout_ms: 0 }));
      assertToolError(pollRefusal, expected);
      assert.deepEqual((pollRefusal.structuredContent as { error: { details: unknown } }).error.details, { elicitation_endpoint: ELICITATION_URL });
      assertToolError(await assertStoresNothing(bridge, redis, () => alice.callTool('send_message', { to: 'bob', content: 'after the cutover' })), expected);
      assertToolError(await bob.callTool('ack_messages', { cursor: '0-0' }), expected);

      const record = await bridge.store.store.getMessage(kept.message_id, 'bob');
      assert.equal(record?.state, 'routed', 'the earlier message is kept, undelivered');
      assert.equal(await bridge.store.store.laneLength('bob', 'poll'), 1);
    } finally {
      await applyFlags({ legacyDisabled: 'false' });
    }
    const page = await poll(bob, { timeout_ms: 10_000 });
    assert.deepEqual(
      page.messages.map((m) => [m.message_id, m.content]),
      [[kept.message_id, 'sent before the cutover']],
    );
    await poll(bob, { cursor: page.cursor, timeout_ms: 0 });
    assert.equal((await bridge.store.store.getMessage(kept.message_id, 'bob'))?.state, 'delivered');
  });

  test('a running legacy-poll applies a newly published snapshot within 1 s', async (t) => {
    // Measured from just before publishing to the first call that shows the new behaviour, polling
    // every 20 ms. The bound is the design's (every service applies a snapshot within one second);
    // the call round trips themselves are included, so the real apply time is a little lower.
    const hasNotice = (result: PollResult) => result.deprecation !== undefined;
    const latencies: number[] = [];
    for (const warnings of [true, false, true, false]) {
      const publishedAt = performance.now();
      await bridge.setFlags({ 'deprecation.warnings': String(warnings) }, 'apply latency');
      let observedAt: number | undefined;
      while (performance.now() - publishedAt < 5_000) {
        if (hasNotice(await poll(bob, { timeout_ms: 0 })) === warnings) {
          observedAt = performance.now();
          break;
        }
        await sleep(20);
      }
      assert.ok(observedAt !== undefined, `deprecation.warnings=${warnings} not applied within 5 s`);
      latencies.push(observedAt - publishedAt);
    }
    t.diagnostic(`publish -> first observed effect: ${latencies.map((l) => l.toFixed(0)).join(', ')} ms`);
    for (const ms of latencies) assert.ok(ms < 1_000, `applied after ${latencies.map((l) => l.toFixed(0)).join(', ')} ms; the bound is 1000 ms`);
  });

  test('dualMode=false: an elicitation agent gets USE_ELICITATION when its poll lane is empty, but messages waiting there (legacy_fallback) are still delivered', async () => {
    const publishedAt = Date.now();
    await applyFlags({ 'elicitation.enabled': 'true', 'elicitation.agents': 'carol', dualMode: 'false' });
    try {
      const expected = { code: 'USE_ELICITATION', advice: new RegExp(`Connect to ${escaped}`) } as const;
      assertToolError(await assertStoresNothing(bridge, redis, () => carol.callTool('wait_for_messages', { timeout_ms: 0 })), expected);
      // bob is not selected for elicitation: dual mode changes nothing for him.
      assert.equal((await poll(bob, { timeout_ms: 0 })).messages.length, 0);

      // The router must have applied the snapshot too (design: within 1 s of publishing).
      await sleep(Math.max(0, publishedAt + 1_500 - Date.now()));
      const sent = await send(alice, 'carol', 'for an agent without an elicitation session');
      await waitFor(async () => (await bridge.store.store.laneLength('carol', 'poll')) === 1, {
        timeoutMs: 10_000,
        intervalMs: 20,
        description: "the router to fall back to carol's poll lane",
      });
      const page = await poll(carol, { timeout_ms: 5_000 });
      assert.deepEqual(
        page.messages.map((m) => [m.message_id, m.content]),
        [[sent.message_id, 'for an agent without an elicitation session']],
      );
      const routed = await bridge.store.store.getMessage(sent.message_id, 'carol');
      assert.equal(routed?.lane, 'poll');
      assert.equal(routed?.via, 'legacy_fallback');

      await carol.callToolJson('ack_messages', { cursor: page.cursor });
      assert.equal((await bridge.store.store.getMessage(sent.message_id, 'carol'))?.state, 'delivered');
      assertToolError(await carol.callTool('wait_for_messages', { timeout_ms: 0 }), expected);
    } finally {
      await applyFlags({ 'elicitation.enabled': 'false', 'elicitation.agents': '', dualMode: 'true' });
    }
    assert.equal((await poll(carol, { timeout_ms: 0 })).messages.length, 0, 'dual mode back on: carol polls again');
  });
});
