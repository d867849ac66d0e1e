import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '@agent-bridge/testkit';
import { ledger, poll, receive, startBridge, waitForLedger, type Bridge } from '@agent-bridge/testkit/bridge';

/** Sum of agentbridge_messages_unaccounted over every router's /metrics. */
async function unaccounted(bridge: Bridge): Promise<number> {
  let total = 0;
  for (const url of bridge.routerUrls) {
    const text = await (await fetch(`${url}/metrics`)).text();
    for (const match of text.matchAll(/^agentbridge_messages_unaccounted\{[^}]*\} (\d+)/gm)) total += Number(match[1]);
  }
  return total;
}

describe('message-loss auditor', () => {
  let bridge: Bridge;

  before(async () => {
    bridge = await startBridge({ agents: ['sender', 'sleepy'], routers: 2, env: { MESSAGE_DEADLINE_MS: '1000', AUDIT_INTERVAL_MS: '200' } });
  });
  after(async () => {
    await bridge?.stop();
  });

  test('a message routed but never delivered shows up as unaccounted after its deadline, exactly once across two routers, and leaves the count once delivered', async () => {
    const sender = await bridge.connect('sender');
    const { message_id } = await sender.callToolJson<{ message_id: string }>('send_message', { to: 'sleepy', content: 'nobody reads me' });
    await waitFor(async () => (await unaccounted(bridge)) >= 1, { timeoutMs: 10_000, intervalMs: 100, description: 'the auditor to count the overdue message' });
    // Several audit rounds of both routers later, it is still counted once.
    for (let i = 0; i < 5; i++) {
      assert.equal(await unaccounted(bridge), 1, 'counted by exactly one router');
      await new Promise((r) => setTimeout(r, 250));
    }
    const named = bridge.routers.some((router) => router.logs().some((line) => line.includes(message_id) && line.includes('past their deadline')));
    assert.ok(named, 'the auditor names the message id in its log');

    const sleepy = await bridge.connect('sleepy');
    const { cursor } = await receive(sleepy, 1, 10_000);
    await sleepy.callToolJson('ack_messages', { cursor: cursor! });
    await waitFor(async () => (await unaccounted(bridge)) === 0, { timeoutMs: 10_000, intervalMs: 100, description: 'the delivered message to leave the count' });
    await Promise.all([sender.close(), sleepy.close()]);
  });
});

describe('message-loss auditor and abandoned elicits', () => {
  let bridge: Bridge;

  before(async () => {
    bridge = await startBridge({ agents: ['asker', 'sleepy'], elicitations: 1, env: { AUDIT_INTERVAL_MS: '200' } });
  });
  after(async () => {
    await bridge?.stop();
  });

  test('an elicit whose caller crashed before the answer ends abandoned instead of counting as unaccounted; the late reply reaches the asker as a message', async () => {
    const open = bridge.store.keys.openMessages(bridge.store.keys.shardOf('sleepy'));
    const raw = bridge.redis.client();
    const asker = await bridge.connectModern('asker');
    const asking = asker.callToolJson('elicit', { to: 'sleepy', message: 'May I deploy?', requested_schema: { type: 'object', properties: { ok: { type: 'boolean' } } }, timeout_ms: 1_000 }).catch((error: Error) => error);
    let questionId: string | undefined;
    await waitFor(async () => ([questionId] = await raw.zrange(open, '0', '-1')).length > 0, { timeoutMs: 10_000, intervalMs: 20, description: 'the question to be accepted' });
    await waitForLedger(bridge, questionId!, 'sleepy', (record) => record.state === 'routed', 'the question to reach the poll lane of sleepy');
    // The caller's replica dies with the elicit waiting: nobody ends its wait or closes the question.
    await bridge.elicitations[0]!.kill9();

    // Until the census closes it (deadline + 10 s grace), and after, it never counts as unaccounted.
    let counted = 0;
    await waitFor(
      async () => {
        counted = Math.max(counted, await unaccounted(bridge));
        return (await ledger(bridge, questionId!, 'sleepy')).state === 'abandoned';
      },
      { timeoutMs: 30_000, intervalMs: 100, description: 'the census to close the question abandoned' },
    );
    await new Promise((resolve) => setTimeout(resolve, 600)); // a few more audit rounds
    counted = Math.max(counted, await unaccounted(bridge));
    assert.equal(counted, 0, 'the abandoned elicit never counted as unaccounted');

    // sleepy answers late: the reply is not lost in the ended wait, it reaches the asker's poll lane.
    const sleepy = await bridge.connect('sleepy');
    const { messages, cursor } = await receive(sleepy, 1, 10_000);
    assert.equal(messages[0]?.message_id, questionId);
    await sleepy.callToolJson('send_message', { to: 'asker', content: '{"ok":true}', in_reply_to: questionId });
    await poll(sleepy, { cursor, timeout_ms: 0 });
    await waitFor(async () => (await bridge.store.store.laneLength('asker', 'poll')) === 1, { timeoutMs: 10_000, description: 'the late reply on the poll lane of asker' });
    assert.equal((await ledger(bridge, questionId!, 'sleepy')).state, 'abandoned', 'read and acknowledged afterwards, it stays abandoned');
    assert.equal(await unaccounted(bridge), 0);
    await Promise.all([sleepy.close(), asker.close().catch(() => undefined)]);
    assert.ok((await asking) instanceof Error, 'the call died with its replica');
  });
});
