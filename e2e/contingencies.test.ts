/**
 * The strategy's contingencies on a running bridge (real Redis, router, both endpoints, the
 * controller, real MCP SDK clients): read-only mode switched by an operator (the admin API, as
 * bridgectl calls it) and by a trigger (a corrupted entry: its checksum fails at delivery), and a
 * corrupted events entry dead-lettered at routing. Load shedding under a real latency injection is
 * libs/agent-tools/src/contingencies.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ElicitResult } from '@modelcontextprotocol/client';
import { LANE_FIELDS, EVENT_FIELDS, pairs } from '@agent-bridge/event-store';
import { readPublishedFlags } from '@agent-bridge/flags';
import { freePort, startService, ToolCallError, waitFor, type AgentClient, type ServiceHandle } from '@agent-bridge/testkit';
import { receive, startBridge, type Bridge, type ModernAgent } from '@agent-bridge/testkit/bridge';

const ADMIN = 'e2e-admin-token-0123456789';

const FEATURE_FLAGS = `apiVersion: agentbridge.io/v1alpha1
kind: FeatureFlags
metadata:
  name: agent-bridge
spec:
  flags:
    elicitation:
      enabled: true
      agents: [carol, dave]
    compatibility:
      elicitationTimeoutMs: 30000
  contingencies:
    checksumMismatch:
      readOnly: true
`;

describe('contingencies: read-only mode and envelope checksums', () => {
  let dir: string;
  let bridge: Bridge;
  let controller: ServiceHandle;
  let controllerUrl: string;
  let alice: AgentClient;
  let bob: AgentClient;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'agent-bridge-contingencies-'));
    bridge = await startBridge({ agents: ['alice', 'bob', 'carol', 'dave'], elicitations: 1, shardCount: 4, env: { AUDIT_INTERVAL_MS: '500' } });
    const flagsFile = join(dir, 'featureflags.yaml');
    writeFileSync(flagsFile, FEATURE_FLAGS);
    const port = await freePort();
    controllerUrl = `http://127.0.0.1:${port}`;
    controller = await startService({
      name: 'controller',
      entry: 'services/controller/src/main.ts',
      env: { ...bridge.env, PORT: String(port), CONTROLLER_ID: 'ctl-e2e', FEATURE_FLAGS_FILE: flagsFile, ADMIN_TOKEN: ADMIN, WEBHOOK_TOKEN: 'e2e-webhook-token-0123456789', RECONCILE_INTERVAL_MS: '200' },
      readyUrl: `${controllerUrl}/readyz`,
    });
    await waitFor(async () => (await readPublishedFlags(bridge.store.store)).publishedBy === 'ctl-e2e', { timeoutMs: 10_000, description: 'the controller to publish its flags' });
    alice = await bridge.connect('alice');
    bob = await bridge.connect('bob');
  });
  after(async () => {
    await alice?.close();
    await bob?.close();
    await controller?.stop();
    await bridge?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const admin = async (path: string, body: Record<string, unknown>) => {
    const response = await fetch(`${controllerUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(response.status, 200, await response.clone().text());
    return (await response.json()) as { applied: boolean; message: string };
  };
  const status = async () => ((await (await fetch(`${controllerUrl}/health/status`)).json()) as { status: { readOnly?: { enabled: boolean; trigger: string; by: string; reason: string; at: string } } }).status;
  const refusal = async (call: Promise<unknown>) => {
    const error = await call.then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof ToolCallError, `refused (got ${String(error)})`);
    return error;
  };
  /** Every endpoint replica applies the snapshot published last (its flag reports), without sending anything. */
  const appliedEverywhere = async () => {
    const { version } = await readPublishedFlags(bridge.store.store);
    await waitFor(
      async () => {
        const reports = (await bridge.store.store.readFlagsApplied(Date.now() - 60_000)).filter((r) => r.service === 'legacy-poll' || r.service === 'elicitation');
        return reports.length >= 2 && reports.every((r) => r.version >= version);
      },
      { timeoutMs: 5_000, intervalMs: 50, description: `both endpoints to apply flag snapshot ${version}` },
    );
  };
  const readOnlyEverywhere = async () => {
    await waitFor(async () => (await readPublishedFlags(bridge.store.store)).contingencies.readOnly.enabled, { timeoutMs: 5_000, intervalMs: 50, description: 'read-only mode to be published' });
    await appliedEverywhere();
  };
  /**
   * Rewrites a routed message's lane entry in Redis the way corruption would (a new entry id, the
   * ledger and, for a poll lane, the mailbox pointing at it): `change` turns the stored payload into
   * what is stored instead. Returns the fields as they were.
   */
  const rewriteLaneEntry = async (agentId: string, lane: 'poll' | 'push', messageId: string, change: (payload: string) => string) => {
    const { redis, keys } = bridge.store;
    const stream = keys.lane(agentId, lane);
    const ledgerKey = keys.ledger(agentId, messageId);
    const laneId = (await redis.hget(ledgerKey, 'lane_id'))!;
    const [[, flat]] = (await redis.xrange(stream, laneId, laneId)) as [[string, string[]]];
    const original = pairs(flat);
    const fields = { ...original, [LANE_FIELDS.payload]: change(original[LANE_FIELDS.payload]!) };
    await redis.xdel(stream, laneId);
    const corruptId = (await redis.xadd(stream, '*', ...Object.entries(fields).flat()))!;
    await redis.hset(ledgerKey, 'lane_id', corruptId);
    if (lane === 'poll') await redis.hset(keys.mailbox(agentId), 'last', corruptId);
    return original;
  };
  const metric = async (baseUrl: string, name: string) => {
    const text = await (await fetch(`${baseUrl}/metrics`)).text();
    return text
      .split('\n')
      .filter((line) => line.startsWith(name))
      .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
  };

  test('an operator switches read-only on: new sends and elicits are refused with READ_ONLY, while accepted messages are still delivered by poll and push, and replies and answers go through', async () => {
    const before = await alice.callToolJson<{ message_id: string }>('send_message', { to: 'bob', content: 'accepted before read-only' });
    // carol holds her elicitation open: the push is in flight when read-only mode starts.
    const held: Array<(result: ElicitResult) => void> = [];
    const carol: ModernAgent = await bridge.connectModern('carol', { answer: () => new Promise<ElicitResult>((resolve) => held.push(resolve)) });
    const dave: ModernAgent = await bridge.connectModern('dave');
    try {
      await waitFor(async () => (await bridge.store.store.readPresence(['carol'])).get('carol')?.some((s) => s.streamOpen) ?? false, { timeoutMs: 10_000, description: 'carol to be reachable by push' });
      const pushed = await alice.callToolJson<{ message_id: string }>('send_message', { to: 'carol', content: 'pushed before read-only' });
      await waitFor(() => held.length === 1, { timeoutMs: 10_000, description: 'the push to carol to be in flight' });

      const bad = await fetch(`${controllerUrl}/admin/read-only`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'no switch given' }) });
      assert.equal(bad.status, 400);
      assert.match(((await bad.json()) as { error: { message: string } }).error.message, /enabled: enabled is required: true switches read-only mode on, false off/);
      const on = await admin('/admin/read-only', { enabled: true, reason: 'checksum investigation', actor: 'ops@example.com', trigger: 'cli' });
      assert.equal(on.applied, true, on.message);
      await readOnlyEverywhere();

      const sent = await refusal(alice.callToolJson('send_message', { to: 'bob', content: 'new during read-only' }));
      assert.equal(sent.code, 'READ_ONLY');
      assert.match(sent.message, /read-only mode since \S+ \(checksum investigation\); nothing was stored/);
      const elicited = await refusal(dave.callToolJson('elicit', { to: 'bob', message: 'a new question', requested_schema: { type: 'object', properties: { ok: { type: 'boolean' } } }, timeout_ms: 5_000 }));
      assert.equal(elicited.code, 'READ_ONLY', 'the elicitation endpoint refuses elicit too');
      const modernSend = await refusal(dave.callToolJson('send_message', { to: 'alice', content: 'new from the modern endpoint' }));
      assert.equal(modernSend.code, 'READ_ONLY');

      // Delivery goes on: bob's poll gets what was accepted, carol's answer to the push is recorded.
      const { messages, cursor } = await receive(bob, 1, 10_000);
      assert.deepEqual(
        messages.map((m) => m.message_id),
        [before.message_id],
      );
      await bob.callToolJson('ack_messages', { cursor: cursor! });
      const reply = await bob.callToolJson<{ status: string }>('send_message', { to: 'alice', content: 'a reply still goes through', in_reply_to: before.message_id });
      assert.equal(reply.status, 'accepted', 'a reply to an accepted message is not a new send');
      held.splice(0).forEach((resolve) => resolve({ action: 'accept', content: { response: 'answered during read-only' } }));
      await waitFor(async () => (await bridge.store.store.getMessage(pushed.message_id, 'carol'))?.state === 'answered', { timeoutMs: 10_000, description: 'carol’s answer to be recorded' });

      const current = await status();
      assert.equal(current.readOnly?.enabled, true);
      assert.equal(current.readOnly?.trigger, 'cli');
      assert.equal(current.readOnly?.by, 'ops@example.com');
      assert.equal(current.readOnly?.reason, 'checksum investigation');
      const audit = await bridge.store.store.readAudit(100);
      assert.ok(
        audit.some((entry) => entry.action === 'flags.publish' && entry.reason === 'checksum investigation'),
        'the switch is in the audit trail',
      );
      assert.ok((await metric(bridge.legacyUrls[0]!.replace(/\/mcp$/, ''), 'agentbridge_sends_refused_total{reason="read_only"')) >= 1, 'the legacy endpoint counts its read-only refusals');

      const off = await admin('/admin/read-only', { enabled: false, reason: 'investigation closed', actor: 'ops@example.com', trigger: 'cli' });
      assert.equal(off.applied, true, off.message);
      await appliedEverywhere();
      await alice.callToolJson('send_message', { to: 'bob', content: 'after read-only' });
      await receive(bob, 1, 10_000, cursor).then(async (page) => bob.callToolJson('ack_messages', { cursor: page.cursor! }));
    } finally {
      held.splice(0).forEach((resolve) => resolve({ action: 'cancel' }));
      await carol.close();
      await dave.close();
    }
  });

  test('a corrupted poll-lane entry is not delivered: it is dead-lettered, counted, its ledger says so, and the controller switches read-only on (trigger checksum)', async () => {
    const victim = await alice.callToolJson<{ message_id: string }>('send_message', { to: 'bob', content: 'the original content' });
    await waitFor(async () => (await bridge.store.store.getMessage(victim.message_id, 'bob'))?.state === 'routed', { timeoutMs: 10_000, description: 'the message to reach bob’s poll lane' });
    // Corrupt it in Redis: the lane entry's payload now says something its sender never sent.
    const { redis, keys } = bridge.store;
    const original = await rewriteLaneEntry('bob', 'poll', victim.message_id, (payload) => JSON.stringify({ ...(JSON.parse(payload) as object), content: 'pay the attacker' }));
    assert.ok(original[LANE_FIELDS.checksum], 'the lane entry carries the checksum');
    const good = await alice.callToolJson<{ message_id: string }>('send_message', { to: 'bob', content: 'an intact message after it' });

    const { messages, cursor } = await receive(bob, 1, 10_000);
    await bob.callToolJson('ack_messages', { cursor: cursor! });
    assert.deepEqual(
      messages.map((m) => [m.message_id, m.content]),
      [[good.message_id, 'an intact message after it']],
      'the corrupted message is never delivered; the next one is',
    );
    assert.equal((await bridge.store.store.getMessage(victim.message_id, 'bob'))?.state, 'dead_lettered', 'not silently dropped: the ledger says where it went');
    const dead = await redis.xrange(keys.deadLetters(keys.shardOf('bob')), '-', '+');
    assert.ok(
      dead.some(([, f]) => pairs(f).message_id === victim.message_id),
      'the entry is in the dead-letter stream',
    );
    assert.equal(await bridge.store.store.checksumMismatchCount(), 1);
    assert.equal(await metric(bridge.legacyUrls[0]!.replace(/\/mcp$/, ''), 'agentbridge_checksum_mismatches_total{stage="poll"'), 1);

    await waitFor(async () => (await status()).readOnly?.enabled === true, { timeoutMs: 10_000, description: 'the controller to switch read-only on' });
    const current = await status();
    assert.equal(current.readOnly?.trigger, 'checksum');
    assert.match(current.readOnly!.reason, /1 message\(s\) failed the envelope checksum/);
    await readOnlyEverywhere();
    const refused = await refusal(alice.callToolJson('send_message', { to: 'bob', content: 'refused after the mismatch' }));
    assert.equal(refused.code, 'READ_ONLY');
    assert.equal((await admin('/admin/read-only', { enabled: false, reason: 'restored from the last good state', trigger: 'cli' })).applied, true);
    await appliedEverywhere();
  });

  test('a corrupted push-lane entry is never pushed: the next intact one is, and the corrupted one is dead-lettered and counted', async () => {
    const received: string[] = [];
    const held: Array<(result: ElicitResult) => void> = [];
    const carol: ModernAgent = await bridge.connectModern('carol', {
      answer: (request) => {
        received.push(request.message);
        return new Promise<ElicitResult>((resolve) => held.push(resolve));
      },
    });
    try {
      await waitFor(async () => (await bridge.store.store.readPresence(['carol'])).get('carol')?.some((s) => s.streamOpen) ?? false, { timeoutMs: 10_000, description: 'carol to be reachable by push' });
      const first = await alice.callToolJson<{ message_id: string }>('send_message', { to: 'carol', content: 'push one' });
      await waitFor(() => held.length === 1, { timeoutMs: 10_000, description: 'the first push to be in flight' });
      const victim = await alice.callToolJson<{ message_id: string }>('send_message', { to: 'carol', content: 'push two, to be corrupted' });
      await waitFor(async () => (await bridge.store.store.getMessage(victim.message_id, 'carol'))?.lane === 'push', { timeoutMs: 10_000, description: 'the second message to wait on the push lane' });
      await rewriteLaneEntry('carol', 'push', victim.message_id, (payload) => JSON.stringify({ ...(JSON.parse(payload) as object), message: 'push two, rewritten in the store' }));
      const third = await alice.callToolJson<{ message_id: string }>('send_message', { to: 'carol', content: 'push three' });

      held.shift()!({ action: 'accept', content: { response: 'one' } });
      await waitFor(() => held.length === 1, { timeoutMs: 10_000, description: 'the next push to be in flight' });
      held.shift()!({ action: 'accept', content: { response: 'three' } });
      await waitFor(async () => (await bridge.store.store.getMessage(third.message_id, 'carol'))?.state === 'answered', { timeoutMs: 10_000, description: 'the third message to be answered' });
      assert.equal(received.length, 2, `carol was asked twice: ${received.join(' | ')}`);
      assert.match(received[0]!, /push one/);
      assert.match(received[1]!, /push three/);
      assert.ok(!received.some((text) => /rewritten/.test(text)), 'the corrupted content never reached the agent');
      assert.equal((await bridge.store.store.getMessage(first.message_id, 'carol'))?.state, 'answered');
      assert.equal((await bridge.store.store.getMessage(victim.message_id, 'carol'))?.state, 'dead_lettered');
      assert.equal(await bridge.store.store.checksumMismatchCount(), 2);
      assert.equal(await metric(bridge.elicitationBaseUrls[0]!, 'agentbridge_checksum_mismatches_total{stage="push"'), 1);
      await waitFor(async () => (await status()).readOnly?.enabled === true, { timeoutMs: 10_000, description: 'the controller to switch read-only on again' });
      assert.equal((await admin('/admin/read-only', { enabled: false, reason: 'push lane restored', trigger: 'cli' })).applied, true);
      await appliedEverywhere();
    } finally {
      held.splice(0).forEach((resolve) => resolve({ action: 'cancel' }));
      await carol.close();
    }
  });

  test('an Alertmanager alert labelled contingency=read-only switches read-only on through the webhook, once per firing', async () => {
    const alert = {
      status: 'firing',
      labels: { alertname: 'StorageCorruptionSuspected', contingency: 'read-only', severity: 'critical' },
      annotations: { summary: 'fsck errors on the Redis volume' },
      startsAt: new Date().toISOString(),
      fingerprint: 'feedbeef',
    };
    const post = async () => {
      const response = await fetch(`${controllerUrl}/webhook/alertmanager`, {
        method: 'POST',
        headers: { authorization: 'Bearer e2e-webhook-token-0123456789', 'content-type': 'application/json' },
        body: JSON.stringify({ version: '4', status: 'firing', alerts: [alert] }),
      });
      assert.equal(response.status, 200);
      return ((await response.json()) as { results: Array<{ applied: boolean; readOnly?: boolean }> }).results[0]!;
    };
    assert.deepEqual(await post(), { alert: 'StorageCorruptionSuspected', readOnly: true, applied: true, message: 'read-only: new sends are refused with READ_ONLY on every endpoint; accepted messages are still delivered' });
    const current = await status();
    assert.equal(current.readOnly?.trigger, 'alert');
    assert.equal(current.readOnly?.reason, 'StorageCorruptionSuspected: fsck errors on the Redis volume');
    await readOnlyEverywhere();
    assert.equal((await admin('/admin/read-only', { enabled: false, reason: 'volume checked', trigger: 'cli' })).applied, true);
    assert.equal((await post()).applied, false, 'a repeated notification of the same firing does not switch it on again');
    await appliedEverywhere();
    await alice.callToolJson('send_message', { to: 'bob', content: 'after the alert' });
    await receive(bob, 1, 10_000).then(async (page) => bob.callToolJson('ack_messages', { cursor: page.cursor! }));
  });

  test('a corrupted events entry is dead-lettered by the router before it reaches any lane', async () => {
    await bridge.routers[0]!.stop();
    try {
      const victim = await alice.callToolJson<{ message_id: string }>('send_message', { to: 'bob', content: 'an events entry to corrupt' });
      const { redis, keys } = bridge.store;
      const events = keys.events(keys.shardOf('bob'));
      const ledgerKey = keys.ledger('bob', victim.message_id);
      const entryId = (await redis.hget(ledgerKey, 'events_id'))!;
      const [[, flat]] = (await redis.xrange(events, entryId, entryId)) as [[string, string[]]];
      const fields = pairs(flat);
      const envelope = JSON.parse(fields[EVENT_FIELDS.envelope]!) as { content: string };
      envelope.content = 'tampered while stored';
      fields[EVENT_FIELDS.envelope] = JSON.stringify(envelope);
      await redis.xdel(events, entryId);
      await redis.xadd(events, '*', ...Object.entries(fields).flat());
      await bridge.startRouter('router-2');
      await waitFor(async () => (await bridge.store.store.getMessage(victim.message_id, 'bob'))?.state === 'dead_lettered', { timeoutMs: 10_000, description: 'the router to dead-letter the entry' });
      assert.equal(await bridge.store.store.checksumMismatchCount(), 3);
      assert.equal(await metric(bridge.routerUrls.at(-1)!, 'agentbridge_checksum_mismatches_total{stage="route"'), 1);
      // The loss census accounts for them: not unaccounted, in the shard's dead letters.
      await waitFor(async () => (await metric(bridge.routerUrls.at(-1)!, `agentbridge_dead_letters{shard="${keys.shardOf('bob')}"`)) >= 2, { timeoutMs: 10_000, description: 'the census to count bob’s shard’s dead letters' });
      assert.equal(await metric(bridge.routerUrls.at(-1)!, 'agentbridge_messages_unaccounted'), 0);
    } finally {
      if (!bridge.routers.some((r) => r.running)) await bridge.startRouter('router-3');
    }
  });

  test('a poll-lane entry whose payload no longer parses does not block the mailbox: it is dead-lettered as undecodable and the next message is delivered', async () => {
    // The events entry before switched read-only on (trigger checksum): off again, so the sends below are accepted.
    await waitFor(async () => (await status()).readOnly?.enabled === true, { timeoutMs: 10_000, description: 'the controller to act on the earlier mismatch' });
    assert.equal((await admin('/admin/read-only', { enabled: false, reason: 'e2e: the events entry was dealt with', trigger: 'cli' })).applied, true);
    await appliedEverywhere();
    const before = await bridge.store.store.checksumMismatchCount();
    const victim = await alice.callToolJson<{ message_id: string }>('send_message', { to: 'bob', content: 'to be truncated in storage' });
    await waitFor(async () => (await bridge.store.store.getMessage(victim.message_id, 'bob'))?.state === 'routed', { timeoutMs: 10_000, description: 'the message to reach bob’s poll lane' });
    const { redis, keys } = bridge.store;
    // A torn write: the payload cut in the middle, no longer JSON.
    await rewriteLaneEntry('bob', 'poll', victim.message_id, (payload) => payload.slice(0, 20));
    const good = await alice.callToolJson<{ message_id: string }>('send_message', { to: 'bob', content: 'delivered past the torn entry' });

    const { messages, cursor } = await receive(bob, 1, 10_000);
    await bob.callToolJson('ack_messages', { cursor: cursor! });
    assert.deepEqual(
      messages.map((m) => [m.message_id, m.content]),
      [[good.message_id, 'delivered past the torn entry']],
    );
    assert.equal((await bridge.store.store.getMessage(victim.message_id, 'bob'))?.state, 'dead_lettered');
    const dead = (await redis.xrange(keys.deadLetters(keys.shardOf('bob')), '-', '+')).map(([, f]) => pairs(f)).find((entry) => entry.message_id === victim.message_id);
    assert.match(dead?.reason ?? '', /^undecodable poll lane entry at poll delivery: the payload does not parse as JSON/);
    assert.equal(await bridge.store.store.checksumMismatchCount(), before + 1, 'counted with the mismatches');
    await waitFor(async () => (await status()).readOnly?.enabled === true, { timeoutMs: 10_000, description: 'the controller to switch read-only on for it, as for a mismatch' });
  });
});
