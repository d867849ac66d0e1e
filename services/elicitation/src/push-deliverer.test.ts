import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import type { ElicitRequestParams, ElicitResult } from '@modelcontextprotocol/client';
import { doorbellTopics, openEventStore, type DeliveryFailedEvent, type MessageEvent, type OpenedEventStore, type RouteDecision, type ShardLease } from '@agent-bridge/event-store';
import { DEFAULT_FLAGS, type FlagSnapshot } from '@agent-bridge/flags';
import { BridgeMetrics, createLogger } from '@agent-bridge/observability';
import { derivedMessageId, newMessageId, toPollPayload, toPushPayload, type Envelope } from '@agent-bridge/protocol';
import { ActivityRecorder, AgentRegistry, hashToken, startHttpServer } from '@agent-bridge/service-kit';
import { connectAgent, sleep, startRedis, waitFor, type AgentClient, type RedisServerHandle } from '@agent-bridge/testkit';
import { loadElicitationConfig } from './config.js';
import { McpEndpoint } from './mcp-endpoint.js';
import { DelivererSupervisor, PUSH_LEASE_HOLD_MS } from './deliverer-supervisor.js';
import { PUSH_FAILURE_REASONS, PushDeliverer, failureReason } from './push-deliverer.js';
import { SessionLifecycle } from './session-lifecycle.js';
import { SessionRegistry } from './sessions.js';
import { elicitationToolHost } from './tool-host.js';

/**
 * The push deliverer in process, through its public API only (constructor deps, start, stop,
 * onFlagsChanged): a real Redis, the endpoint's real session handling, and a real MCP client whose
 * GET stream carries the elicitations. The test plays the router: it puts messages on the push
 * lane and applies hand-backs the way the router does with auto-fallback on.
 */
const AGENTS = ['sender', 'silent', 'decliner', 'contested', 'rolled', 'ignored', 'leaving', 'swept'];
const ROUTER = 'test-router';
const logger = createLogger('elicitation', 'silent');

describe('push deliverer (in process: real Redis, real MCP session)', () => {
  let redis: RedisServerHandle;
  let opened: OpenedEventStore;
  let host: SessionHost;
  let flags: FlagSnapshot;
  let metrics: BridgeMetrics;
  const running: PushDeliverer[] = [];
  const clients: AgentClient[] = [];

  before(async () => {
    redis = await startRedis();
    opened = await openEventStore({ url: redis.url, name: 'push-deliverer-test', shardCount: 2, listen: 'lanes' });
    host = await startSessionHost(redis.url, opened);
  });
  after(async () => {
    await host?.close();
    await opened?.close();
    await redis?.cleanup();
  });
  beforeEach(() => {
    flags = elicitationFor(AGENTS, 5_000);
    metrics = new BridgeMetrics('elicitation', { defaultMetrics: false });
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((deliverer) => deliverer.stop(0)));
    await Promise.all(clients.splice(0).map((client) => client.close().catch(() => undefined)));
  });

  let started = 0;
  /** A deliverer of replica A for `agentId`, started (it is stopped after the test). */
  function startDeliverer(agentId: string): PushDeliverer {
    const deliverer = new PushDeliverer(agentId, {
      store: opened.store,
      doorbell: opened.doorbell,
      sessions: host.sessions,
      flags: () => flags,
      metrics,
      logger,
      instanceId: `replica-a-${++started}`,
      holder: { alive: () => true },
      leaseTtlMs: 900,
      recheckMs: 50,
      messageDeadlineMs: 60_000,
    });
    running.push(deliverer);
    deliverer.start();
    return deliverer;
  }

  /**
   * The agent connected over MCP (2025-11-25, its GET stream open), answering elicitations with
   * `answer`: what it was asked, and how many of those the server cancelled.
   */
  async function connect(agentId: string, answer: (params: ElicitRequestParams) => Promise<ElicitResult> | ElicitResult): Promise<{ asked: ElicitRequestParams[]; cancelled: () => number }> {
    const asked: ElicitRequestParams[] = [];
    let cancelled = 0;
    const client = await connectAgent({
      url: host.mcpUrl,
      token: host.tokens[agentId]!,
      name: agentId,
      capabilities: { elicitation: { form: {} } },
      setup: (sdk) =>
        sdk.setRequestHandler('elicitation/create', async (request, ctx) => {
          asked.push(request.params);
          ctx.mcpReq.signal.addEventListener('abort', () => cancelled++);
          return answer(request.params);
        }),
    });
    clients.push(client);
    await waitFor(() => host.sessions.pushSession(agentId) !== undefined, { timeoutMs: 5_000, description: `${agentId}'s session to have its stream open` });
    return { asked, cancelled: () => cancelled };
  }

  /** Appends a message and routes it to its target's push lane, as the router does; returns the lane entry id. */
  async function routeToPushLane(envelope: Envelope): Promise<string> {
    await opened.store.append({ envelope, awaitsReply: envelope.kind === 'elicitation' });
    const entries = await readShard(envelope.to);
    const entry = entries.find((e): e is MessageEvent => e.type === 'message' && e.envelope.id === envelope.id);
    assert.ok(entry, `${envelope.id} is on its shard`);
    const decision: RouteDecision = {
      entryId: entry.id,
      messageId: envelope.id,
      target: envelope.to,
      mode: 'route',
      lane: 'push',
      via: 'elicitation',
      payload: toPushPayload(envelope),
      pollPayload: toPollPayload(envelope),
      communicationEvent: { type: 'communication', subtype: 'elicitation', agent_id: envelope.to, data: { message_id: envelope.id }, timestamp: Date.now() },
    };
    const [outcome] = await asRouter(envelope.to, (lease) => opened.store.route(lease, [decision]));
    return outcome!.laneEntryId;
  }

  /** The router's turn on the agent's shard: new entries are read as its consumer and stay pending until routed. */
  async function readShard(agentId: string) {
    const shard = opened.keys.shardOf(agentId);
    await opened.store.ensureShardGroup(shard);
    return opened.store.readShardEntries(shard, ROUTER, 'new', 100);
  }

  async function asRouter<T>(agentId: string, write: (lease: ShardLease) => Promise<T>): Promise<T> {
    const lease = await opened.store.acquireShardLease(opened.keys.shardOf(agentId), ROUTER, 10_000);
    assert.ok(lease, 'the test router holds the shard');
    try {
      return await write(lease);
    } finally {
      await opened.store.releaseShardLease(lease);
    }
  }

  /** What the agent's poll lane holds, message ids in order. */
  async function pollLane(agentId: string): Promise<string[]> {
    return (await opened.store.readPollLane(agentId, '0-0', 100)).entries.map((entry) => entry.message.message_id);
  }

  test('(a) an agent that never answers: after elicitationTimeoutMs the message is handed back to the router (delivery.failed, timeout) with its poll rendering, asked once, nothing lost', async () => {
    flags = elicitationFor(AGENTS, 600);
    const { asked } = await connect('silent', () => new Promise<ElicitResult>(() => undefined));
    startDeliverer('silent');
    const message = envelopeOf('sender', 'silent', 'are you there?');
    const laneEntryId = await routeToPushLane(message);
    await waitFor(() => asked.length === 1, { timeoutMs: 5_000, description: 'the elicitation to reach the agent' });
    const askedAt = Date.now();
    assert.match(asked[0]!.message, /are you there\?/);

    let handBack: DeliveryFailedEvent | undefined;
    await waitFor(async () => (handBack = (await readShard('silent')).find((e): e is DeliveryFailedEvent => e.type === 'delivery.failed' && e.messageId === message.id)) !== undefined, {
      timeoutMs: 5_000,
      description: 'the hand-back on the shard',
    });
    assert.ok(Date.now() - askedAt >= 400, 'handed back only once the elicitation timed out');
    assert.equal(handBack!.reason, 'timeout');
    assert.ok((PUSH_FAILURE_REASONS as readonly string[]).includes(handBack!.reason), 'a reason of PUSH_FAILURE_REASONS');
    assert.equal(handBack!.target, 'silent');
    assert.equal(handBack!.failedLaneEntryId, laneEntryId, 'names the lane entry that failed, so a duplicated hand-back is a no-op');
    assert.equal(handBack!.pollPayload.content, 'are you there?', 'carries the poll rendering the fallback delivers');
    assert.equal((await opened.store.pushLaneState('silent')).length, 0, 'the push-lane entry is gone: the message is in exactly one place');
    assert.equal((await opened.store.getMessage(message.id, 'silent'))?.state, 'routed', 'not terminal: the router still owes its delivery');
    const errors = await metrics.registry.getSingleMetric('agentbridge_errors_total')!.get();
    assert.equal(errors.values.find((v) => v.labels.code === 'PUSH_TIMEOUT')?.value, 1, 'counted as PUSH_TIMEOUT');

    // The router with auto-fallback on: the poll lane, via legacy_fallback.
    await asRouter('silent', (lease) =>
      opened.store.route(lease, [
        {
          entryId: handBack!.id,
          messageId: message.id,
          target: 'silent',
          mode: 'reroute',
          failedLaneEntryId: handBack!.failedLaneEntryId,
          lane: 'poll',
          via: 'legacy_fallback',
          payload: handBack!.pollPayload,
          communicationEvent: { type: 'communication', subtype: 'legacy_polling', agent_id: 'silent', data: { message_id: message.id }, timestamp: Date.now() },
        },
      ]),
    );
    assert.deepEqual(await pollLane('silent'), [message.id], 'on the poll lane, once');
    assert.equal((await opened.store.getMessage(message.id, 'silent'))?.via, 'legacy_fallback');
    await sleep(1_000);
    assert.equal(asked.length, 1, 'never pushed again after the hand-back');
  });

  test('a push failure is classified by PUSH_FAILURE_REASONS: an unknown error is a transport error', () => {
    assert.equal(failureReason(new Error('socket hang up')), 'transport_error');
    assert.equal(failureReason(new Error('Client does not support form elicitation.')), 'no_capability');
    for (const reason of ['timeout', 'transport_error', 'no_capability']) assert.ok((PUSH_FAILURE_REASONS as readonly string[]).includes(reason));
  });

  test('(b) an agent that declines: the message is settled declined and never offered again; a plain message makes no reply, an elicit question answers its asker decline', async () => {
    const { asked } = await connect('decliner', () => ({ action: 'decline' }));
    startDeliverer('decliner');
    const plain = envelopeOf('sender', 'decliner', 'lunch?');
    const question = envelopeOf('sender', 'decliner', 'May I deploy?', { kind: 'elicitation', replySchema: { type: 'object', properties: { ok: { type: 'boolean' } } } });
    await routeToPushLane(plain);
    await routeToPushLane(question);
    await waitFor(async () => (await opened.store.getMessage(question.id, 'decliner'))?.state === 'declined', { timeoutMs: 5_000, description: 'the question to be declined' });

    assert.deepEqual(
      asked.map((params) => params.message.includes('May I deploy?')),
      [false, true],
      'pushed one at a time, in lane order',
    );
    const record = await opened.store.getMessage(plain.id, 'decliner');
    assert.equal(record?.state, 'declined');
    assert.equal(record?.via, 'elicitation');
    assert.equal((await opened.store.pushLaneState('decliner')).length, 0, 'both entries settled');
    assert.equal(await opened.store.getMessage(derivedMessageId(plain.id, 'answer'), 'sender'), null, 'a declined plain message sends nothing back');
    const replies = (await readShard('sender')).filter((e): e is MessageEvent => e.type === 'message' && e.envelope.inReplyTo !== undefined);
    assert.deepEqual(
      replies.map((e) => [e.envelope.inReplyTo, e.envelope.from, e.envelope.answer?.action]),
      [[question.id, 'decliner', 'decline']],
      'the asker gets action decline',
    );
    await sleep(500);
    assert.equal(asked.length, 2, 'not offered again');
  });

  test('(c) another holder takes the push lease: the deliverer stops at once, writes nothing for the message in flight and pushes nothing more; the new holder finds every entry', async () => {
    const answers: Array<(result: ElicitResult) => void> = [];
    const { asked } = await connect('contested', () => new Promise<ElicitResult>((resolve) => answers.push(resolve)));
    startDeliverer('contested');
    const first = envelopeOf('sender', 'contested', 'first');
    await routeToPushLane(first);
    await waitFor(() => asked.length === 1, { timeoutMs: 5_000, description: 'the first message to be in flight' });

    // Replica B takes the lease over (as if A had stalled past its TTL); the fence refuses A's writes from now on.
    const lease = await opened.store.acquirePushLease('contested', 'replica-b', 10_000, { preempt: 'replica-a-' });
    assert.ok(lease, 'replica B holds the push lease');
    const second = envelopeOf('sender', 'contested', 'second');
    await routeToPushLane(second);
    await sleep(1_200); // longer than A's lease renewal interval and a few re-checks
    answers.splice(0).forEach((resolve) => resolve({ action: 'accept', content: { response: 'too late' } }));
    await sleep(300);

    assert.equal(asked.length, 1, 'the deliverer that lost the lease pushed nothing more');
    assert.equal(await opened.store.getMessage(derivedMessageId(first.id, 'answer'), 'sender'), null, 'the answer that reached the old holder was not recorded');
    assert.equal((await opened.store.getMessage(first.id, 'contested'))?.state, 'routed', 'nor settled');
    assert.deepEqual(
      (await readShard('contested')).filter((e) => e.type === 'delivery.failed'),
      [],
      'nor handed back',
    );

    assert.equal(await opened.store.claimPushLane(lease, 'replica-b'), 1, 'the new holder takes over the entry left in flight');
    const pending = await opened.store.readPushLane('contested', 'replica-b', 'pending', 10);
    const fresh = await opened.store.readPushLane('contested', 'replica-b', 'new', 10);
    assert.deepEqual(
      [...pending, ...fresh].map((entry) => entry.messageId),
      [first.id, second.id],
      'every entry is there for the new holder, in order',
    );
    for (const entry of [...pending, ...fresh]) await opened.store.settlePush(lease, entry, 'delivered');
    await opened.store.releasePushLease(lease);
    await sleep(500);
    assert.equal(asked.length, 1, 'nothing the new holder delivered is pushed again');
  });

  test('(d) rolled back to legacy: the elicitation in flight may still be answered within the grace, then the rest of the lane moves to the poll lane within a second, each once', async () => {
    const answers: Array<(result: ElicitResult) => void> = [];
    const { asked } = await connect('rolled', () => new Promise<ElicitResult>((resolve) => answers.push(resolve)));
    const deliverer = startDeliverer('rolled');
    const messages = [0, 1, 2].map((i) => envelopeOf('sender', 'rolled', `queued ${i}`));
    for (const message of messages) await routeToPushLane(message);
    await waitFor(() => asked.length === 1, { timeoutMs: 5_000, description: 'the first message to be in flight' });

    const rolledBackAt = Date.now();
    flags = elicitationFor(
      AGENTS.filter((agent) => agent !== 'rolled'),
      5_000,
    );
    deliverer.onFlagsChanged(flags);
    await sleep(100);
    answers.shift()!({ action: 'accept', content: { response: 'just in time' } });
    await waitFor(async () => (await pollLane('rolled')).length === 2, { timeoutMs: 5_000, intervalMs: 20, description: 'the rest of the lane on the poll lane' });
    const drainedInMs = Date.now() - rolledBackAt;
    assert.ok(drainedInMs < 1_000, `drained within 1 s of the flag change (took ${drainedInMs} ms)`);

    assert.equal((await opened.store.getMessage(messages[0]!.id, 'rolled'))?.state, 'answered', 'the answer within the grace counts');
    assert.notEqual(await opened.store.getMessage(derivedMessageId(messages[0]!.id, 'answer'), 'sender'), null, 'and its reply reached the sender');
    assert.deepEqual(await pollLane('rolled'), [messages[1]!.id, messages[2]!.id], 'the others, in order, once');
    for (const message of messages.slice(1)) assert.equal((await opened.store.getMessage(message.id, 'rolled'))?.via, 'legacy_fallback');
    assert.equal(asked.length, 1, 'nothing more was pushed');
  });

  test('(d) rolled back to legacy with an elicitation nobody answers: it is cancelled after the grace and drained with the rest, and a late answer records nothing', async () => {
    const answers: Array<(result: ElicitResult) => void> = [];
    const { asked, cancelled } = await connect('ignored', () => new Promise<ElicitResult>((resolve) => answers.push(resolve)));
    const deliverer = startDeliverer('ignored');
    const messages = [0, 1].map((i) => envelopeOf('sender', 'ignored', `kept ${i}`));
    for (const message of messages) await routeToPushLane(message);
    await waitFor(() => asked.length === 1, { timeoutMs: 5_000, description: 'the first message to be in flight' });

    const rolledBackAt = Date.now();
    flags = elicitationFor(
      AGENTS.filter((agent) => agent !== 'ignored'),
      5_000,
    );
    deliverer.onFlagsChanged(flags);
    await waitFor(async () => (await pollLane('ignored')).length === 2, { timeoutMs: 5_000, intervalMs: 20, description: 'every entry on the poll lane' });
    const drainedInMs = Date.now() - rolledBackAt;
    assert.ok(drainedInMs < 1_000, `drained within 1 s of the flag change (took ${drainedInMs} ms)`);
    assert.deepEqual(
      await pollLane('ignored'),
      messages.map((m) => m.id),
      'the one in flight too, in order, once',
    );
    await waitFor(() => cancelled() === 1, { timeoutMs: 2_000, description: 'the agent to be told the elicitation in flight is cancelled' });

    answers.splice(0).forEach((resolve) => resolve({ action: 'accept', content: { response: 'too late' } }));
    await sleep(300);
    assert.equal(await opened.store.getMessage(derivedMessageId(messages[0]!.id, 'answer'), 'sender'), null, 'the late answer produced no reply');
    const record = await opened.store.getMessage(messages[0]!.id, 'ignored');
    assert.deepEqual([record?.lane, record?.via], ['poll', 'legacy_fallback'], 'the cancelled one waits on the poll lane');
    assert.equal(asked.length, 1, 'nothing more was pushed');
  });

  test("the supervisor's sweep delivers a push whose doorbell ring was lost, within PUSH_RECHECK_MS; the lease is bound to the replica's holder, not renewed alone", async () => {
    const supervisor = new DelivererSupervisor(
      { REPLICA_ID: 'replica-s', PUSH_LEASE_TTL_MS: 2_000, PUSH_RECHECK_MS: 200, MESSAGE_DEADLINE_MS: 60_000 },
      { store: opened.store, doorbell: opened.doorbell, sessions: host.sessions, flags: () => flags, metrics, logger },
    );
    await supervisor.start();
    const received: number[] = [];
    const { asked } = await connect('swept', () => {
      received.push(Date.now());
      return { action: 'accept', content: { response: 'ok' } };
    });
    await supervisor.sync('swept');
    await waitFor(async () => (await opened.redis.get(opened.keys.pushLease('swept'))) !== null, { timeoutMs: 5_000, description: 'the deliverer to take the push lease' });
    const leaseValue = (await opened.redis.get(opened.keys.pushLease('swept')))!;
    assert.match(leaseValue, /^replica-s-[0-9a-f]+\/\d+\|\d+$/, 'the owner is bound to the replica holder');
    assert.ok((await opened.redis.pttl(opened.keys.pushLease('swept'))) > PUSH_LEASE_HOLD_MS - 60_000, 'the lease itself lives long');
    await sleep(300); // the deliverer found its lane empty and waits on the doorbell

    // The next ring for the agent's push lane is lost on its way (as across a reconnect or a slot move).
    const doorbell = opened.doorbell;
    const ring = doorbell.ring.bind(doorbell);
    let dropped = 0;
    doorbell.ring = (topic: string) => {
      if (topic === doorbellTopics.lane('swept', 'push') && dropped === 0) {
        dropped++;
        return;
      }
      ring(topic);
    };
    try {
      const routedAt = Date.now();
      await routeToPushLane(envelopeOf('sender', 'swept', 'found by the sweep'));
      assert.equal(dropped, 1, "the route's ring was dropped");
      await waitFor(() => asked.length === 1, { timeoutMs: 3_000, description: 'the sweep to find the entry' });
      assert.ok(received[0]! - routedAt < 1_500, `pushed ${received[0]! - routedAt} ms after routing, with the ring lost`);
    } finally {
      doorbell.ring = ring;
      await supervisor.stopAll(0);
    }
    assert.equal(await opened.redis.get(opened.keys.pushLease('swept')), null, 'released at stop');
  });

  test('stop(graceMs): the elicitation in flight may be answered within the grace; one still unanswered after it is left pending and the lease released for the next holder', async () => {
    const answers: Array<(result: ElicitResult) => void> = [];
    const { asked } = await connect('leaving', () => new Promise<ElicitResult>((resolve) => answers.push(resolve)));
    const messages = [0, 1].map((i) => envelopeOf('sender', 'leaving', `shutdown ${i}`));
    for (const message of messages) await routeToPushLane(message);

    // Answered within the grace: recorded, and the deliverer takes nothing more.
    const first = startDeliverer('leaving');
    await waitFor(() => asked.length === 1, { timeoutMs: 5_000, description: 'the first message to be in flight' });
    const stopped = first.stop(2_000);
    await sleep(100);
    answers.shift()!({ action: 'accept', content: { response: 'bye' } });
    await stopped;
    assert.equal((await opened.store.getMessage(messages[0]!.id, 'leaving'))?.state, 'answered');
    assert.deepEqual(await opened.store.pushLaneState('leaving'), { length: 1, leased: false }, 'the second waits, the lease is free');
    assert.equal(asked.length, 1, 'a stopping deliverer takes no new entry');

    // Unanswered within the grace: stop returns after it, the entry stays pending, nothing is handed back.
    const second = startDeliverer('leaving');
    await waitFor(() => asked.length === 2, { timeoutMs: 5_000, description: 'the second message to be in flight' });
    const stoppingAt = Date.now();
    await second.stop(300);
    const tookMs = Date.now() - stoppingAt;
    assert.ok(tookMs >= 250 && tookMs < 1_500, `stopped after the grace (took ${tookMs} ms)`);
    assert.deepEqual(await opened.store.pushLaneState('leaving'), { length: 1, leased: false }, 'left pending for the next holder');
    assert.equal((await opened.store.getMessage(messages[1]!.id, 'leaving'))?.state, 'routed');
    assert.deepEqual(
      (await readShard('leaving')).filter((e) => e.type === 'delivery.failed'),
      [],
      'not handed back',
    );
  });
});

/** Flags with elicitation on for `agents`. */
function elicitationFor(agents: string[], elicitationTimeoutMs: number): FlagSnapshot {
  return { ...DEFAULT_FLAGS, elicitation: { ...DEFAULT_FLAGS.elicitation, enabled: true, agents }, elicitationTimeoutMs };
}

function envelopeOf(from: string, to: string, content: string, extra: Partial<Envelope> = {}): Envelope {
  const now = Date.now();
  return { id: newMessageId(now), kind: 'message', from, to, content, metadata: {}, sourceProtocol: 'legacy', acceptedAt: now, deadlineAt: now + 60_000, ...extra };
}

interface SessionHost {
  mcpUrl: string;
  sessions: SessionRegistry;
  tokens: Record<string, string>;
  close(): Promise<void>;
}

/**
 * The endpoint's session handling without its deliverer supervision: the tests start the one
 * deliverer they look at. A session change rings the agent's push doorbell, as the supervisor does.
 */
async function startSessionHost(redisUrl: string, opened: OpenedEventStore): Promise<SessionHost> {
  const dir = mkdtempSync(join(tmpdir(), 'push-deliverer-test-'));
  const tokens = Object.fromEntries(AGENTS.map((agent) => [agent, `token-${agent}-${randomBytes(8).toString('hex')}`]));
  const tokensFile = join(dir, 'agent-tokens.json');
  writeFileSync(tokensFile, JSON.stringify({ agents: Object.entries(tokens).map(([id, token]) => ({ id, tokenSha256: hashToken(token) })) }));
  const config = loadElicitationConfig({ AGENT_TOKENS_FILE: tokensFile, REDIS_URL: redisUrl, SHARD_COUNT: '2', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'silent', REQUEST_STATE_KEY: randomBytes(32).toString('base64') });
  const { store, doorbell } = opened;
  const metrics = new BridgeMetrics('elicitation', { defaultMetrics: false });
  const sessions = new SessionRegistry((session) => doorbell.ring(doorbellTopics.lane(session.agentId, 'push')));
  const registry = AgentRegistry.fromFile(tokensFile);
  const activity = new ActivityRecorder(store, logger, { intervalMs: config.ACTIVITY_RECORD_INTERVAL_MS });
  const shutdown = new AbortController();
  const info = { name: 'agent-bridge', version: 'test' };
  const tools = elicitationToolHost(config, { service: 'elicitation', info, store, doorbell, flags: () => DEFAULT_FLAGS, registry, sessions, metrics, logger, shutdownSignal: shutdown.signal });
  const lifecycle = new SessionLifecycle(config, { sessions, metrics, logger, newServer: (agentId) => tools.sessionServer(agentId) });
  const endpoint = new McpEndpoint(config, { service: 'elicitation', store, registry, activity, sessions, lifecycle, tools, metrics, logger });
  const http = await startHttpServer({ host: config.HOST, port: 0, routes: { '/mcp': endpoint.handle } });
  return {
    mcpUrl: `${http.url}/mcp`,
    sessions,
    tokens,
    async close() {
      shutdown.abort();
      await lifecycle.closeAll(sessions.all());
      await http.close(1_000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
