/**
 * Redis with a small maxmemory (noeviction), under the real services: above the high-water mark new
 * sends are refused with STORE_FULL and nothing is stored; everything accepted before is delivered
 * and acknowledged, even while Redis refuses every write that could grow it; once the backlog is
 * delivered and trimmed, sends are accepted again without anyone stepping in.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import type { AgentClient } from '@agent-bridge/testkit';
import { assertToolError, mailboxReader, sleep, startBridge, type Bridge } from '@agent-bridge/testkit/bridge';

const CONTENT = 'x'.repeat(8 * 1024);

describe('a full Redis refuses new sends and still drains what it accepted', () => {
  let bridge: Bridge;
  let redis: Redis;
  let alice: AgentClient;
  let bob: AgentClient;
  let readBob: (count: number, deadlineMs?: number) => Promise<Array<{ message_id: string; content: string }>>;

  before(async () => {
    bridge = await startBridge({
      agents: ['alice', 'bob', 'erin'],
      elicitations: 1,
      flags: { 'elicitation.enabled': 'true', 'elicitation.agents': 'erin' },
      env: { TRIM_INTERVAL_MS: '1000', SEND_RATE_PER_SECOND: '1000', SEND_BURST: '1000' },
    });
    redis = bridge.redis.client();
    alice = await bridge.connect('alice');
    bob = await bridge.connect('bob');
    readBob = mailboxReader(() => bob);
  });
  after(async () => {
    await alice?.close();
    await bob?.close();
    redis?.disconnect();
    await bridge?.stop();
  });

  const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
  const eventsAppended = async () => {
    let total = 0;
    for (const key of await redis.keys('ab:{s*}:events')) {
      const info = (await redis.xinfo('STREAM', key)) as unknown[];
      total += Number(info[info.indexOf('entries-added') + 1]);
    }
    return total;
  };

  /** Something else fills Redis: maxmemory just above its use, then writes in smaller and smaller pieces until every growing write is refused. */
  async function fillToTheLimit(): Promise<void> {
    await redis.config('SET', 'maxmemory', String((await usedMemory()) + 512 * 1024));
    let filler = 0;
    for (const size of [32 * 1024, 1024, 64]) {
      for (;;) {
        try {
          await redis.set(`filler:${filler++}`, 'f'.repeat(size));
        } catch (error) {
          assert.match(String(error), /OOM/);
          break;
        }
      }
    }
  }

  async function emptyFiller(): Promise<void> {
    const fillers = await redis.keys('filler:*');
    if (fillers.length > 0) await redis.del(...fillers);
    await redis.config('SET', 'maxmemory', '0');
  }

  test('above the high-water mark: STORE_FULL with a retry-after, nothing stored; delivered and trimmed, sends resume by themselves', async () => {
    await redis.config('SET', 'maxmemory', String((await usedMemory()) + 3 * 1024 * 1024));
    const accepted: string[] = [];
    let refusal: Awaited<ReturnType<AgentClient['callTool']>> | undefined;
    for (let i = 0; i < 1_000 && !refusal; i++) {
      const result = await alice.callTool('send_message', { to: 'bob', content: CONTENT });
      if (result.isError) refusal = result;
      else accepted.push((result.structuredContent as { message_id: string }).message_id);
    }
    assert.ok(refusal, 'sends were refused before Redis filled up');
    assertToolError(refusal, { code: 'STORE_FULL', advice: /retry in 5 s/, mentions: ['nothing was stored', 'already accepted are still delivered'] });
    assert.equal((refusal.structuredContent as { error: { details: { retryAfterMs: number } } }).error.details.retryAfterMs, 5_000);
    assert.ok(accepted.length > 20, `${accepted.length} accepted first`);
    const appended = await eventsAppended();
    assert.equal((await alice.callTool('send_message', { to: 'bob', content: CONTENT })).isError, true);
    assert.equal(await eventsAppended(), appended, 'a refused send appends nothing');

    const received = await readBob(accepted.length, 30_000);
    assert.deepEqual(
      received.map((m) => m.message_id),
      accepted,
      'every accepted message, in order',
    );
    assert.deepEqual(await readBob(1, 200), [], 'acknowledged');

    // Nobody steps in: trimming frees the memory and the next send is accepted.
    const deadline = Date.now() + 30_000;
    let resumed: Awaited<ReturnType<AgentClient['callTool']>> | undefined;
    while (Date.now() < deadline) {
      resumed = await alice.callTool('send_message', { to: 'bob', content: 'after the drain' });
      if (!resumed.isError) break;
      await sleep(1_000);
    }
    assert.equal(resumed?.isError, undefined, `sends resumed: ${JSON.stringify(resumed?.structuredContent)}`);
    assert.deepEqual(
      (await readBob(1, 5_000)).map((m) => m.content),
      ['after the drain'],
    );
  });

  test('at maxmemory itself (every growing write refused), accepted messages to legacy and 2026 agents are delivered and settled', async () => {
    await redis.config('SET', 'maxmemory', '0');
    const toBob: string[] = [];
    const toErin: string[] = [];
    for (let i = 0; i < 10; i++) {
      toBob.push((await alice.callToolJson<{ message_id: string }>('send_message', { to: 'bob', content: `bob ${i}` })).message_id);
      toErin.push((await alice.callToolJson<{ message_id: string }>('send_message', { to: 'erin', content: `erin ${i}` })).message_id);
    }
    await fillToTheLimit();
    try {
      const refused = await alice.callTool('send_message', { to: 'bob', content: 'no room' });
      assertToolError(refused, { code: 'STORE_FULL', advice: /retry in/ });

      assert.deepEqual(
        (await readBob(10, 20_000)).map((m) => m.message_id),
        toBob,
      );
      assert.deepEqual(await readBob(1, 200), [], 'acknowledged while full');
      const erin = await bridge.connectModern('erin', { generation: '2026-07-28' });
      try {
        type Page = { messages: Array<{ message_id: string }>; answered?: Array<{ message_id: string }>; cursor?: string };
        const seen: string[] = [];
        let cursor: string | undefined;
        const deadline = Date.now() + 20_000;
        while (seen.length < 10 && Date.now() < deadline) {
          const result = await erin.callToolJson<Page>('wait_for_messages', { timeout_ms: 2_000, ...(cursor ? { cursor } : {}) });
          seen.push(...result.messages.map((m) => m.message_id), ...(result.answered ?? []).map((a) => a.message_id));
          cursor = result.cursor ?? cursor;
        }
        // The last page is acknowledged by passing its cursor once more.
        if (cursor) await erin.callToolJson<Page>('wait_for_messages', { timeout_ms: 0, cursor });
        assert.deepEqual([...new Set(seen)].sort(), [...toErin].sort(), 'the 2026 agent got every message accepted before');
      } finally {
        await erin.close();
      }
      for (const id of toBob) assert.equal((await bridge.store.store.getMessage(id, 'bob'))?.state, 'delivered');
      for (const id of toErin) assert.match(String((await bridge.store.store.getMessage(id, 'erin'))?.state), /^(delivered|answered)$/);
    } finally {
      await emptyFiller();
    }
  });

  test('at maxmemory, a 2026 agent answering a round it was handed before still has its answers recorded and its messages settled', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const erin = await bridge.connectModern('erin', {
      generation: '2026-07-28',
      answer: async () => {
        await gate;
        return { action: 'accept', content: { response: 'answered while full' } };
      },
    });
    let waiting = true;
    const waits = (async () => {
      while (waiting) await erin.callToolJson('wait_for_messages', { timeout_ms: 1_000 });
    })();
    try {
      await sleep(300); // erin is waiting: the next messages go to her push lane
      const asked: string[] = [];
      for (let i = 0; i < 5; i++) asked.push((await alice.callToolJson<{ message_id: string }>('send_message', { to: 'erin', content: `question ${i}` })).message_id);
      const handedOut = Date.now() + 10_000;
      while (erin.received.length === 0 && Date.now() < handedOut) await sleep(50);
      assert.ok(erin.received.length > 0, 'a round was handed out before Redis filled up');
      await fillToTheLimit();
      try {
        release();
        const deadline = Date.now() + 20_000;
        const states = async () => Promise.all(asked.map(async (id) => (await bridge.store.store.getMessage(id, 'erin'))?.state));
        while ((await states()).some((state) => state !== 'answered') && Date.now() < deadline) await sleep(200);
        assert.deepEqual(
          await states(),
          asked.map(() => 'answered'),
          'every answer recorded, every entry settled, while full',
        );
        const readAlice = mailboxReader(() => alice);
        const replies = await readAlice(5, 20_000);
        assert.deepEqual(replies.map((m) => m.reply_to).sort(), [...asked].sort(), 'and the replies reach the sender');
        assert.deepEqual(await readAlice(1, 200), []);
      } finally {
        await emptyFiller();
      }
    } finally {
      waiting = false;
      release();
      await waits.catch(() => undefined);
      await erin.close();
    }
  });
});
