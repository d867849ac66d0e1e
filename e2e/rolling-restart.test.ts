import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connectAgent, freePort, startService, ToolCallError, waitFor, type ServiceHandle } from '@agent-bridge/testkit';
import type { ElicitResult } from '@modelcontextprotocol/client';
import { receive, startBridge, startNginx, startTrafficAgent, type Bridge, type NginxHandle, type TrafficAgent } from '@agent-bridge/testkit/bridge';

/** A held call answers within this long of its replica's SIGTERM (docs/operations.md, "Restarts"). */
const HELD_CALL_BOUND_MS = 3_000;
/** A replica exits within this long of SIGTERM here (at most 2 s of waiting for answers, then its connections end). */
const EXIT_BOUND_MS = 5_000;
/** Lease TTLs long enough that a takeover after expiry (≥ 2/3 of the TTL) and one after release (≤ 1/3) differ. */
const LEASE_TTL_MS = 6_000;
const POLL_HOLD_MS = 4_000;
/** nginx leaves a replica that refused a connection out this long; the next one is stopped only after (a Deployment waits for readiness alike). */
const NGINX_FAIL_TIMEOUT_S = 1;
const ADMIN = 'admin-token-rolling-restart';
const WEBHOOK = 'webhook-token-rolling-restart';

const FEATURE_FLAGS = `apiVersion: agentbridge.io/v1alpha1
kind: FeatureFlags
metadata:
  name: agent-bridge
spec:
  phase: canary
  flags:
    elicitation:
      enabled: true
      agents: [s25, m26]
    compatibility:
      autoFallback: true
      elicitationTimeoutMs: 10000
`;

/**
 * A rolling restart of every service under traffic: each replica in turn gets SIGTERM and a
 * replacement, while SDK 1.x agents on legacy-poll, an SDK 1.x 2025 session and a 2026-07-28 agent
 * on elicitation (both behind nginx, as behind an Ingress) keep sending to each other and
 * receiving. No call waits past its own hold plus the bound, nothing is lost, nothing reaches a
 * polling agent twice, and the router and controller hand their leases over instead of letting
 * them expire.
 */
describe('rolling restart of every service under traffic', () => {
  let dir: string;
  let bridge: Bridge;
  let legacyLb: NginxHandle;
  let modernLb: NginxHandle;
  const controllers: Array<{ id: string; port: number; handle: ServiceHandle }> = [];
  const agents: TrafficAgent[] = [];
  /** Each SIGTERM: what got it, when, and how long the process took to exit. */
  const signals: Array<{ service: string; at: number; exitedAfterMs: number; code: number | null }> = [];

  const startController = async (id: string, port?: number) => {
    const fixed = port ?? (await freePort());
    const handle = await startService({
      name: id,
      entry: 'services/controller/src/main.ts',
      env: { ...bridge.env, PORT: String(fixed), CONTROLLER_ID: id, FEATURE_FLAGS_FILE: join(dir, 'featureflags.yaml'), ADMIN_TOKEN: ADMIN, WEBHOOK_TOKEN: WEBHOOK, LEADER_LEASE_TTL_MS: String(LEASE_TTL_MS) },
      readyUrl: `http://127.0.0.1:${fixed}/readyz`,
    });
    return { id, port: fixed, handle };
  };

  /** Calls held by a replica when it got SIGTERM: how each ended, and when. */
  const probes: Array<{ service: string; what: string; signalAt: number; endedAt: number; outcome: string }> = [];

  /** A plain SDK 1.x client's wait_for_messages, held by the replica at `url` (nothing is waiting for `probe`). */
  async function holdPoll(url: string): Promise<{ ended: Promise<{ endedAt: number; outcome: string }> }> {
    const client = await connectAgent({ url, token: bridge.tokens.probe!, name: 'probe', generation: 'sdk1' });
    const ended = client
      .callToolJson<{ messages: unknown[]; has_more: boolean }>('wait_for_messages', { timeout_ms: 20_000 })
      .then((page) => ({ endedAt: Date.now(), outcome: `answered${page.messages.length ? ` ${page.messages.length} messages` : ''}, has_more ${page.has_more}` }))
      .catch((error: unknown) => ({ endedAt: Date.now(), outcome: `failed: ${(error as Error).message}` }))
      .finally(() => void client.close().catch(() => undefined));
    await new Promise((resolve) => setTimeout(resolve, 500));
    return { ended };
  }

  /** An SDK 1.x 2025 session on the replica at `url`, with an elicit held (its question to `lb`, who never answers). */
  async function holdElicit(url: string, turn: number): Promise<{ ended: Promise<{ endedAt: number; outcome: string }> }> {
    const client = await connectAgent({ url, token: bridge.tokens.probe!, name: 'probe', generation: 'sdk1' });
    const ended = client
      .callToolJson('elicit', { to: 'lb', message: 'still there?', requested_schema: { type: 'object', properties: { yes: { type: 'boolean' } } }, timeout_ms: 30_000, idempotency_key: `probe-${turn}` })
      .then(() => ({ endedAt: Date.now(), outcome: 'answered' }))
      .catch(async (error: unknown) => {
        const endedAt = Date.now();
        if (!(error instanceof ToolCallError)) return { endedAt, outcome: `failed: ${(error as Error).message}` };
        const messageId = (error.result.structuredContent as { error: { details: { message_id: string } } }).error.details.message_id;
        const record = await bridge.store.store.getMessage(messageId, 'lb');
        // Left open for a retry with the same key (not expired by the replica that went away).
        return { endedAt, outcome: `${error.code}, question ${record && !['expired', 'abandoned'].includes(record.state) ? 'open' : record?.state}` };
      })
      .finally(() => void client.close().catch(() => undefined));
    await new Promise((resolve) => setTimeout(resolve, 500));
    return { ended };
  }

  /** SIGTERM, then the replacement: how a rolling deploy replaces one pod. */
  async function terminate(service: string, handle: ServiceHandle): Promise<number> {
    const at = Date.now();
    const exit = await handle.stop();
    signals.push({ service, at, exitedAfterMs: Date.now() - at, code: exit.code });
    return at;
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'agent-bridge-rolling-'));
    writeFileSync(join(dir, 'featureflags.yaml'), FEATURE_FLAGS);
    bridge = await startBridge({
      agents: ['la', 'lb', 's25', 'm26', 'probe'],
      routers: 2,
      legacyPolls: 2,
      elicitations: 2,
      flags: { 'elicitation.enabled': 'true', 'elicitation.agents': 's25,m26', elicitationTimeoutMs: '10000', autoFallback: 'true' },
      env: { LEASE_TTL_MS: String(LEASE_TTL_MS), PUSH_LEASE_TTL_MS: '1500', PRESENCE_TTL_MS: '3000', KEEPALIVE_MS: '2000', POLL_RECHECK_MS: '500' },
    });
    for (const id of ['ctl-1', 'ctl-2']) controllers.push(await startController(id));
    legacyLb = await startNginx(
      bridge.legacyUrls.map((url) => new URL(url).origin),
      { failTimeoutS: NGINX_FAIL_TIMEOUT_S },
    );
    modernLb = await startNginx(bridge.elicitationBaseUrls, { failTimeoutS: NGINX_FAIL_TIMEOUT_S });
    const names = ['la', 'lb', 's25', 'm26'];
    const kinds = { la: 'legacy-sdk1', lb: 'legacy-sdk1', s25: 'session-sdk1', m26: 'stateless-2026' } as const;
    for (const name of names) {
      const kind = kinds[name as keyof typeof kinds];
      agents.push(
        await startTrafficAgent({
          name,
          kind,
          url: `${kind === 'legacy-sdk1' ? legacyLb.url : modernLb.url}/mcp`,
          token: bridge.tokens[name]!,
          peers: names.filter((n) => n !== name),
          sendIntervalMs: 250,
          pollHoldMs: POLL_HOLD_MS,
        }),
      );
    }
  });
  after(async () => {
    await Promise.all(agents.map((a) => a.close().catch(() => undefined)));
    await Promise.all(controllers.filter((c) => c.handle.running).map((c) => c.handle.stop()));
    await legacyLb?.stop();
    await modernLb?.stop();
    await bridge?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('each replica of each service is replaced in turn; no agent stalls, nothing is lost or delivered twice', async () => {
    await new Promise((resolve) => setTimeout(resolve, 2_000));

    // The replacement takes the port of the replica it replaces (nginx keeps its upstreams); the
    // bridge keeps every handle it started, so it stops the replacements too.
    for (const index of [0, 1]) {
      const url = new URL(bridge.legacyUrls[index]!);
      const { ended: held } = await holdPoll(bridge.legacyUrls[index]!);
      const signalAt = Date.now();
      const stopped = terminate(`legacy-poll-${index + 1}`, bridge.legacyPolls[index]!);
      probes.push({ service: `legacy-poll-${index + 1}`, what: 'a held wait_for_messages', signalAt, ...(await held) });
      await stopped;
      await bridge.startLegacyPoll(`legacy-poll-${index + 1}`, Number(url.port));
      await new Promise((resolve) => setTimeout(resolve, NGINX_FAIL_TIMEOUT_S * 1_000 + 200));
    }
    for (const index of [0, 1]) {
      const url = new URL(bridge.elicitationBaseUrls[index]!);
      const { ended: held } = await holdElicit(`${bridge.elicitationBaseUrls[index]!}/mcp`, index);
      const signalAt = Date.now();
      const stopped = terminate(`elicitation-${index + 1}`, bridge.elicitations[index]!);
      probes.push({ service: `elicitation-${index + 1}`, what: 'a held elicit', signalAt, ...(await held) });
      await stopped;
      await bridge.startElicitation(`elicitation-${index + 1}`, Number(url.port));
      await new Promise((resolve) => setTimeout(resolve, NGINX_FAIL_TIMEOUT_S * 1_000 + 200));
    }

    // Routers: the survivor owns every shard well before the released leases could have expired.
    const routers = bridge.routers.map((handle, i) => ({ handle, url: bridge.routerUrls[i]! }));
    for (const index of [0, 1]) {
      const survivor = routers[1 - index]!.url;
      const at = await terminate(`router-${index + 1}`, routers[index]!.handle);
      await waitFor(async () => ((await (await fetch(`${survivor}/readyz`)).json()) as { shards: number[] }).shards.length === 8, {
        timeoutMs: LEASE_TTL_MS,
        description: 'the other router to own every shard',
      });
      const takeover = Date.now() - at;
      assert.ok(takeover < LEASE_TTL_MS / 2, `router-${index + 1}'s shards were taken over ${takeover} ms after its SIGTERM (released, not expired: the TTL is ${LEASE_TTL_MS} ms)`);
      routers[index] = { handle: await bridge.startRouter(`router-${index + 1}`), url: bridge.routerUrls.at(-1)! };
    }

    // Controllers: the leader's lease is released, the other takes over at its next renewal tick.
    for (let turn = 0; turn < 2; turn++) {
      const holder = await bridge.store.store.controllerLeaseHolder();
      const leader = controllers.findIndex((c) => c.id === holder);
      assert.ok(leader >= 0, `a controller leads (${holder})`);
      const other = controllers[1 - leader]!;
      const at = await terminate(controllers[leader]!.id, controllers[leader]!.handle);
      await waitFor(async () => (await bridge.store.store.controllerLeaseHolder()) === other.id, { timeoutMs: LEASE_TTL_MS * 2, description: `${other.id} to lead` });
      const takeover = Date.now() - at;
      assert.ok(takeover < LEASE_TTL_MS / 2, `${other.id} led ${takeover} ms after the leader's SIGTERM (released, not expired: the TTL is ${LEASE_TTL_MS} ms)`);
      controllers[leader] = await startController(controllers[leader]!.id, controllers[leader]!.port);
    }

    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await Promise.all(agents.map((a) => a.stopSending()));

    // Everything sent arrives (the receivers keep receiving until then).
    const expected = agents.flatMap((sender) => [...sender.sent].map(([tag, record]) => ({ tag, ...record, from: sender.name })));
    const byName = new Map(agents.map((a) => [a.name, a]));
    await waitFor(() => expected.every((m) => byName.get(m.to)!.received.has(m.tag)), {
      timeoutMs: 20_000,
      description: 'every message sent to reach its target',
    }).catch((error: unknown) => {
      const missing = expected.filter((m) => !byName.get(m.to)!.received.has(m.tag)).map((m) => `${m.tag}→${m.to}`);
      throw new Error(`${(error as Error).message}; missing: ${missing.slice(0, 20).join(', ')} (${missing.length})`);
    });

    if (process.env.TEST_VERBOSE) console.log(JSON.stringify({ probes, signals }));
    for (const signal of signals) {
      assert.equal(signal.code, 0, `${signal.service} exited cleanly after SIGTERM`);
      assert.ok(signal.exitedAfterMs < EXIT_BOUND_MS, `${signal.service} exited ${signal.exitedAfterMs} ms after SIGTERM`);
    }
    const calls = agents.flatMap((a) => a.calls);
    const overrun = calls.map((c) => ({ ...c, over: c.endedAt - c.startedAt - c.holdMs })).sort((a, b) => b.over - a.over);
    assert.ok(overrun[0]!.over < HELD_CALL_BOUND_MS, `every call ended within its hold + ${HELD_CALL_BOUND_MS} ms; the slowest: ${JSON.stringify(overrun[0])}`);
    // The calls held by each replica when it got SIGTERM ended at once, each as documented.
    for (const probe of probes) {
      assert.ok(probe.endedAt - probe.signalAt < HELD_CALL_BOUND_MS, `${probe.what} on ${probe.service} ended ${probe.endedAt - probe.signalAt} ms after its SIGTERM`);
    }
    assert.deepEqual(
      probes.map((p) => [p.service, p.outcome]),
      [
        ['legacy-poll-1', 'answered, has_more false'],
        ['legacy-poll-2', 'answered, has_more false'],
        ['elicitation-1', 'SHUTTING_DOWN, question open'],
        ['elicitation-2', 'SHUTTING_DOWN, question open'],
      ],
    );
    for (const agent of agents) {
      // Carried on: a send succeeded every few hundred ms all along, however the restarts went.
      const sends = agent.calls.filter((c) => c.tool === 'send_message' && c.ok).map((c) => c.endedAt);
      const gaps = sends.slice(1).map((end, i) => end - sends[i]!);
      assert.ok(sends.length > 20, `${agent.name} carried on sending (${sends.length} sends)`);
      assert.ok(Math.max(...gaps) < HELD_CALL_BOUND_MS, `${agent.name} went at most ${HELD_CALL_BOUND_MS} ms without a send accepted (longest: ${Math.max(...gaps)} ms)`);
      // Each retried send was stored once: every attempt got the same message id.
      for (const [tag, record] of agent.sent) assert.equal(record.messageIds.size, 1, `${tag} has one message id`);
    }
    const latencies = expected.map((m) => byName.get(m.to)!.firstReceivedAt.get(m.tag)! - m.acceptedAt).sort((a, b) => b - a);
    for (const receiver of agents) {
      const twice = [...receiver.received].filter(([, times]) => times > 1).map(([tag]) => tag);
      if (receiver.kind === 'legacy-sdk1') assert.deepEqual(twice, [], `${receiver.name} (polling) got no message twice`);
      // A push or a round in flight when its replica stopped is asked again (same message id, documented).
      else assert.ok(twice.length <= 2, `${receiver.name} was asked again at most once per elicitation restart: ${twice.join(', ')}`);
    }
    const errors = calls.filter((c) => !c.ok);
    console.log(
      JSON.stringify({
        messages: expected.length,
        calls: calls.length,
        failedCalls: errors.length,
        errors: Object.fromEntries([...new Set(errors.map((c) => c.error?.slice(0, 60)))].map((e) => [e, errors.filter((c) => c.error?.slice(0, 60) === e).length])),
        slowestOverrunMs: overrun[0]!.over,
        deliveryLatencyMaxMs: latencies[0],
        reconnects: agents.find((a) => a.kind === 'session-sdk1')!.reconnects,
        exits: signals.map((s) => `${s.service}:${s.exitedAfterMs}ms`),
      }),
    );
    assert.ok(latencies[0]! < 10_000, `every message arrived within 10 s of being accepted (the slowest took ${latencies[0]} ms)`);
  });
});

describe('an elicitation replica stopped with a push in flight', () => {
  let bridge: Bridge;

  before(async () => {
    bridge = await startBridge({
      agents: ['sender', 'slow'],
      elicitations: 2,
      flags: { 'elicitation.enabled': 'true', 'elicitation.agents': 'slow', elicitationTimeoutMs: '30000' },
      // The default push lease (5 s): asked again sooner than that, the lease was released, not expired.
      env: { PUSH_LEASE_TTL_MS: '5000' },
    });
  });
  after(async () => {
    await bridge?.stop();
  });

  test('gives the push 1 s, exits, and the agent is asked again at once on its new session; one answer reaches the sender', async () => {
    const sender = await bridge.connect('sender');
    let first: ((answer: ElicitResult) => void) | undefined;
    const slow = await bridge.connectModern('slow', { replica: 0, answer: () => new Promise<ElicitResult>((resolve) => (first = resolve)) });
    try {
      await waitFor(async () => (await bridge.store.store.readPresence(['slow'])).get('slow')?.some((s) => s.streamOpen) ?? false, { timeoutMs: 10_000, description: 'slow to have its stream open' });
      const { message_id: messageId } = await sender.callToolJson<{ message_id: string }>('send_message', { to: 'slow', content: 'take your time' });
      await waitFor(() => first !== undefined, { timeoutMs: 10_000, description: 'the push to reach slow' });

      const at = Date.now();
      const exit = await bridge.elicitations[0]!.stop();
      const exitedAfter = Date.now() - at;
      assert.equal(exit.code, 0);
      assert.ok(exitedAfter >= 900 && exitedAfter < 2_500, `the replica gave the push its 1 s and exited (${exitedAfter} ms)`);
      first!({ action: 'accept', content: { response: 'too late' } });

      const again = await bridge.connectModern('slow', { replica: 1, answer: () => ({ action: 'accept', content: { response: 'on the new session' } }) });
      try {
        await waitFor(() => again.received.length > 0, { timeoutMs: 10_000, description: 'the message to be asked again' });
        const askedAfter = Date.now() - at;
        assert.ok(askedAfter < 5_000, `asked again ${askedAfter} ms after the SIGTERM, before the 5 s push lease could expire`);
        assert.match(again.received[0]!.message, new RegExp(messageId));
        const replies = await receive(sender, 1, 10_000);
        assert.deepEqual(
          replies.messages.map((m) => [m.reply_to, m.content]),
          [[messageId, 'on the new session']],
        );
        assert.equal((await receive(sender, 1, 1_500, replies.cursor)).messages.length, 0, 'one answer reached the sender');
      } finally {
        await again.close();
      }
    } finally {
      await slow.close().catch(() => undefined);
      await sender.close();
    }
  });
});
