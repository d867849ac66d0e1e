import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import type { ElicitResult } from '@modelcontextprotocol/client';
import type { AgentClient } from '@agent-bridge/testkit';
import {
  assertStoresNothing,
  assertToolError,
  ledger,
  poll,
  receive,
  routingHistory,
  sleep,
  startBridge,
  waitForLedger,
  waitForPushReady,
  type Bridge,
  type ModernAgent,
  type ModernPollResult,
  type PolledMessage,
} from '@agent-bridge/testkit/bridge';

interface ElicitOutcome {
  message_id: string;
  action: 'accept' | 'decline' | 'cancel' | 'timeout';
  content?: Record<string, unknown>;
  responder: string;
  via?: string;
  reply_id?: string;
}

const APPROVAL = {
  type: 'object',
  properties: {
    approved: { type: 'boolean', title: 'Approved' },
    reason: { type: 'string', title: 'Reason', maxLength: 200 },
    priority: { type: 'integer', minimum: 1, maximum: 5 },
    color: { type: 'string', enum: ['green', 'red'] },
  },
  required: ['approved'],
};

describe('elicit: ask another agent and wait for its structured answer', () => {
  let bridge: Bridge;
  let redis: Redis;
  let asker: ModernAgent;
  let answerer: ModernAgent;
  let strict: ModernAgent;
  let stubborn: ModernAgent;
  let oldtimer: AgentClient;
  let quiet: AgentClient;

  before(async () => {
    bridge = await startBridge({
      agents: ['asker', 'answerer', 'strict', 'stubborn', 'oldtimer', 'quiet'],
      elicitations: 1,
      flags: { 'elicitation.enabled': 'true', 'elicitation.agents': 'asker,answerer,strict,stubborn' },
      // Progress every 300 ms; routers do not trim the events streams during the test (XLEN comparisons).
      env: { PROGRESS_INTERVAL_MS: '300', TRIM_INTERVAL_MS: '600000' },
    });
    redis = bridge.redis.client();
    asker = await bridge.connectModern('asker');
    answerer = await bridge.connectModern('answerer', {
      answer: (request): ElicitResult => {
        if (request.message.includes('DECLINE')) return { action: 'decline' };
        if (request.message.includes('CANCEL')) return { action: 'cancel' };
        return { action: 'accept', content: { approved: true, reason: 'looks good', priority: 2, color: 'green' } };
      },
    });
    // Answers "yes" to a boolean field: not a valid answer to the form.
    const invalid = (): ElicitResult => ({ action: 'accept', content: { approved: 'yes' } });
    strict = await bridge.connectModern('strict', { answer: invalid });
    stubborn = await bridge.connectModern('stubborn', { answer: invalid });
    oldtimer = await bridge.connect('oldtimer');
    quiet = await bridge.connect('quiet');
    for (const agent of ['asker', 'answerer', 'strict', 'stubborn']) await waitForPushReady(bridge, agent);
  });
  after(async () => {
    for (const client of [asker, answerer, strict, stubborn, oldtimer, quiet]) await client?.close().catch(() => undefined);
    await bridge?.stop();
  });

  const elicit = (args: Record<string, unknown>) => asker.callToolJson<ElicitOutcome>('elicit', { requested_schema: APPROVAL, timeout_ms: 20_000, ...args });

  /** Acknowledges everything on the agent's poll lane. */
  async function ackAll(agent: AgentClient): Promise<void> {
    const page = await poll(agent, { timeout_ms: 0, max_messages: 500 });
    await poll(agent, { cursor: page.cursor, timeout_ms: 0 });
  }

  // First: the "nothing stored" snapshots compare DBSIZE, which keys of earlier elicits expiring could move.
  test('an invalid requested_schema is refused with INVALID_SCHEMA naming the problem, and nothing is stored', async () => {
    const cases: Array<{ name: string; schema: Record<string, unknown>; mentions: string[] }> = [
      {
        name: 'a nested object property',
        schema: { type: 'object', properties: { address: { type: 'object', properties: { street: { type: 'string' } } } } },
        mentions: ['requested_schema.properties.address.type', 'nested objects'],
      },
      {
        name: 'an array property',
        schema: { type: 'object', properties: { tags: { type: 'array', items: { type: 'string' } } } },
        mentions: ['requested_schema.properties.tags.type', 'arrays'],
      },
      { name: 'no properties', schema: { type: 'object' }, mentions: ['requested_schema.properties'] },
      {
        name: '`required` naming an unknown property',
        schema: { type: 'object', properties: { approved: { type: 'boolean' } }, required: ['approved', 'ghost'] },
        mentions: ['"ghost"', 'requested_schema.required'],
      },
    ];
    for (const { name, schema, mentions } of cases) {
      const result = await assertStoresNothing(bridge, redis, () => asker.callTool('elicit', { to: 'answerer', message: `bad schema: ${name}`, requested_schema: schema }));
      assertToolError(result, { code: 'INVALID_SCHEMA', advice: /Use a flat object/, mentions });
    }
    assert.equal(answerer.received.filter((r) => r.message.includes('bad schema')).length, 0, 'no form reached the target');
  });

  test('modern to modern: elicit with a schema returns action accept with the content the target filled in', async () => {
    const result = await elicit({ to: 'answerer', message: 'May I deploy build 42?' });
    assert.equal(result.action, 'accept');
    assert.deepEqual(result.content, { approved: true, reason: 'looks good', priority: 2, color: 'green' });
    assert.equal(result.responder, 'answerer');
    assert.equal(result.via, 'elicitation');
    const form = answerer.received.find((r) => r.message.includes('May I deploy build 42?'));
    assert.ok(form, 'the target got the question as an elicitation');
    assert.match(form.message, /asker/, 'the form names the asker');
    assert.deepEqual(form.requestedSchema, APPROVAL, 'the target was shown the requested schema');
    // elicit returns once the reply is stored; the target's entry is settled right after.
    const record = await waitForLedger(bridge, result.message_id, 'answerer', (r) => r.state !== 'routed', 'the question to be settled');
    assert.equal(record.state, 'answered');
    assert.equal(record.via, 'elicitation');
  });

  test('a replayed elicit (same idempotency key) after its answer expired returns the recorded answer at once; the ledger stays answered', async () => {
    const first = await elicit({ to: 'answerer', message: 'May I deploy build 43?', idempotency_key: 'deploy-43' });
    assert.equal(first.action, 'accept');
    await waitForLedger(bridge, first.message_id, 'answerer', (r) => r.state === 'answered', 'the question to be settled');
    // What 60 s after the end would do: the call's wait record (and its answer) expires.
    assert.equal(await redis.del(bridge.store.keys.elicitWait('asker', first.message_id)), 1);
    const startedAt = Date.now();
    const replay = await elicit({ to: 'answerer', message: 'May I deploy build 43?', idempotency_key: 'deploy-43', timeout_ms: 5_000 });
    assert.ok(Date.now() - startedAt < 2_000, `answered from the record, without waiting (${Date.now() - startedAt} ms)`);
    assert.deepEqual(replay, first, 'the same message id, action, content and responder');
    assert.equal((await ledger(bridge, first.message_id, 'answerer')).state, 'answered', 'not overwritten with expired');
    assert.equal(answerer.received.filter((r) => r.message.includes('build 43')).length, 1, 'the target was asked once');
  });

  test('a replayed elicit whose first call timed out returns timeout at once, and a late answer does not reopen it', async () => {
    const first = await asker.callToolJson<ElicitOutcome>('elicit', { to: 'quiet', message: 'anyone there?', requested_schema: APPROVAL, timeout_ms: 500, idempotency_key: 'quiet-1' });
    assert.equal(first.action, 'timeout');
    const startedAt = Date.now();
    const replay = await asker.callToolJson<ElicitOutcome>('elicit', { to: 'quiet', message: 'anyone there?', requested_schema: APPROVAL, timeout_ms: 5_000, idempotency_key: 'quiet-1' });
    assert.ok(Date.now() - startedAt < 2_000, `no second wait (${Date.now() - startedAt} ms)`);
    assert.equal(replay.action, 'timeout');
    assert.equal(replay.message_id, first.message_id);
    assert.equal((await ledger(bridge, first.message_id, 'quiet')).state, 'expired');
    await ackAll(quiet);
  });

  test('decline and cancel reach the asker as action decline / cancel, without content', async () => {
    const declined = await elicit({ to: 'answerer', message: 'DECLINE this one please' });
    assert.equal(declined.action, 'decline');
    assert.equal(declined.content, undefined);
    assert.equal(declined.responder, 'answerer');
    await waitForLedger(bridge, declined.message_id, 'answerer', (r) => r.state === 'declined', 'the question to be settled declined');

    const cancelled = await elicit({ to: 'answerer', message: 'CANCEL this one please' });
    assert.equal(cancelled.action, 'cancel');
    assert.equal(cancelled.content, undefined);
    await waitForLedger(bridge, cancelled.message_id, 'answerer', (r) => r.state === 'cancelled', 'the question to be settled cancelled');
  });

  test('a target that never answers within timeout_ms: elicit returns action timeout and the question is expired in the ledger', async () => {
    const startedAt = Date.now();
    const result = await elicit({ to: 'quiet', message: 'anyone home?', timeout_ms: 1_500 });
    const took = Date.now() - startedAt;
    assert.equal(result.action, 'timeout');
    assert.equal(result.content, undefined);
    assert.equal(result.responder, 'quiet');
    assert.ok(took >= 1_400 && took < 10_000, `returned at its timeout (${took} ms)`);
    assert.equal((await ledger(bridge, result.message_id, 'quiet')).state, 'expired');
    await ackAll(quiet);
  });

  test('an answer that does not match the schema is not passed through: the push fails as invalid_answer, the question goes to the poll lane (legacy_fallback), and a reply by send_message(in_reply_to) completes the elicit', async () => {
    const asking = elicit({ to: 'strict', message: 'Approve the migration?', timeout_ms: 30_000 });
    let settled: ElicitOutcome | Error | undefined;
    asking.then(
      (value) => (settled = value),
      (error: Error) => (settled = error),
    );
    await waitFor(() => strict.received.some((r) => r.message.includes('Approve the migration?')), 10_000, 'the form to reach strict');
    const questionId = await waitForQuestion('strict');
    const record = await waitForLedger(bridge, questionId, 'strict', (r) => r.lane === 'poll', 'the question to be handed back to the poll lane');
    assert.equal(record.via, 'legacy_fallback');
    const history = await routingHistory(bridge, 'strict', questionId);
    assert.deepEqual(
      history.map((h) => [h.lane, h.via, h.failure]),
      [
        ['push', 'elicitation', undefined],
        ['poll', 'legacy_fallback', 'invalid_answer'],
      ],
    );
    await sleep(300);
    assert.equal(settled, undefined, `the invalid answer did not complete the elicit: ${JSON.stringify(settled)}`);

    // The target finds the question on its poll lane (elicitation endpoint) and answers it properly.
    const page = (await poll(strict, { timeout_ms: 1_000 })) as ModernPollResult;
    const question = page.messages.find((m) => m.message_id === questionId) as (PolledMessage & { reply_schema?: unknown }) | undefined;
    assert.ok(question, `the question is on strict's poll lane: ${JSON.stringify(page)}`);
    assert.equal(question.content, 'Approve the migration?');
    assert.deepEqual(question.reply_schema, APPROVAL);
    await strict.callToolJson('send_message', { to: 'asker', content: JSON.stringify({ approved: true, reason: 'second try' }), in_reply_to: questionId });
    const result = await asking;
    assert.equal(result.action, 'accept');
    assert.deepEqual(result.content, { approved: true, reason: 'second try' }, 'the valid reply, not the invalid answer');
    assert.equal(result.responder, 'strict');
    assert.equal(strict.received.filter((r) => r.message.includes('Approve the migration?')).length, 1, 'the form was pushed once');
    await poll(strict, { cursor: page.cursor, timeout_ms: 0 });
  });

  test('an answer that does not match the schema, with no reply afterwards: the elicit times out, never returning the invalid content', async () => {
    const result = await elicit({ to: 'stubborn', message: 'Approve the rollback?', timeout_ms: 3_000 });
    assert.ok(
      stubborn.received.some((r) => r.message.includes('Approve the rollback?')),
      'the form was pushed',
    );
    assert.equal(result.action, 'timeout');
    assert.equal(result.content, undefined);
    const record = await ledger(bridge, result.message_id, 'stubborn');
    assert.equal(record.state, 'expired');
    assert.equal(record.via, 'legacy_fallback');
    await ackAll(stubborn);
  });

  test('a legacy reply that is not JSON (or JSON that does not fit the schema) completes elicit with content {response: text}', async () => {
    const asking = elicit({ to: 'oldtimer', message: 'Ship it?' });
    const { messages, cursor } = await receive(oldtimer, 1, 15_000);
    assert.equal(messages[0]?.content, 'Ship it?');
    await oldtimer.callToolJson('send_message', { to: 'asker', content: 'sure, go ahead', in_reply_to: messages[0]!.message_id });
    const result = await asking;
    assert.equal(result.action, 'accept');
    assert.deepEqual(result.content, { response: 'sure, go ahead' });
    assert.equal(result.responder, 'oldtimer');
    assert.equal(result.via, 'legacy');

    const again = elicit({ to: 'oldtimer', message: 'Ship it now?' });
    const next = await receive(oldtimer, 1, 15_000, cursor);
    const misfit = JSON.stringify({ approved: 'yes' });
    await oldtimer.callToolJson('send_message', { to: 'asker', content: misfit, in_reply_to: next.messages[0]!.message_id });
    assert.deepEqual((await again).content, { response: misfit }, 'JSON that does not fit the form is passed as text');
    await poll(oldtimer, { cursor: next.cursor, timeout_ms: 0 });
  });

  test('a long elicit sends progress notifications when the caller asked for them', async () => {
    const progress: Array<{ progress: number; total?: number; at: number }> = [];
    const startedAt = Date.now();
    const result = await asker.callToolJson<ElicitOutcome>(
      'elicit',
      { to: 'quiet', message: 'take your time', requested_schema: APPROVAL, timeout_ms: 2_000 },
      { onprogress: (p) => progress.push({ progress: p.progress, ...(p.total !== undefined ? { total: p.total } : {}), at: Date.now() }) },
    );
    const endedAt = Date.now();
    assert.equal(result.action, 'timeout');
    assert.ok(progress.length >= 3, `at least 3 progress notifications in 2 s at a 300 ms interval, got ${progress.length}`);
    assert.ok(
      progress.every((p) => p.at >= startedAt && p.at <= endedAt),
      'all during the call',
    );
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i]!.progress > progress[i - 1]!.progress, 'progress increases');
    assert.ok(
      progress.every((p) => p.total === 2_000),
      'total is the timeout',
    );
    await ackAll(quiet);
  });

  test('the ledger keeps an expired question expired when the legacy target reads and acknowledges it afterwards', async () => {
    const expired = await elicit({ to: 'quiet', message: 'too late?', timeout_ms: 1_000 });
    assert.equal(expired.action, 'timeout');
    assert.equal((await ledger(bridge, expired.message_id, 'quiet')).state, 'expired');
    const late = await receive(quiet, 1, 10_000);
    assert.equal(late.messages[0]?.message_id, expired.message_id, 'the question still reaches the target');
    await poll(quiet, { cursor: late.cursor, timeout_ms: 0 });
    assert.equal((await ledger(bridge, expired.message_id, 'quiet')).state, 'expired', 'acknowledging an expired question does not reopen it');
  });

  test('the ledger keeps an answered question answered when the legacy target acknowledges it after replying', async () => {
    const asking = elicit({ to: 'oldtimer', message: 'one more?' });
    const { messages, cursor } = await receive(oldtimer, 1, 10_000);
    await oldtimer.callToolJson('send_message', { to: 'asker', content: JSON.stringify({ approved: false }), in_reply_to: messages[0]!.message_id });
    const answered = await asking;
    assert.equal(answered.action, 'accept');
    assert.deepEqual(answered.content, { approved: false });
    await waitForLedger(bridge, answered.message_id, 'oldtimer', (r) => r.state === 'answered', 'the question to be marked answered');
    // The legacy agent acknowledges what it read with its next poll's cursor, as agents do.
    await poll(oldtimer, { cursor, timeout_ms: 0 });
    assert.equal((await ledger(bridge, answered.message_id, 'oldtimer')).state, 'answered', 'acknowledging an answered question does not turn it back into delivered');
  });

  /** The id of the only question asker sent to `target` (from the routing log; `target` gets no other). */
  async function waitForQuestion(target: string): Promise<string> {
    let ids: string[] = [];
    const deadline = Date.now() + 10_000;
    while (ids.length === 0 && Date.now() < deadline) {
      const events = await bridge.store.store.readCommunicationLog(bridge.store.keys.shardOf(target), 10_000);
      ids = [...new Set(events.filter((e) => e.data.to === target && e.data.from === 'asker' && e.data.kind === 'elicitation').map((e) => String(e.data.message_id)))];
      if (ids.length === 0) await sleep(50);
    }
    assert.equal(ids.length, 1, `exactly one question to ${target} was routed: ${JSON.stringify(ids)}`);
    return ids[0]!;
  }
});

async function waitFor(predicate: () => boolean, timeoutMs: number, description: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}`);
    await sleep(50);
  }
}
