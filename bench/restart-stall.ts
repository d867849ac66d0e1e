/**
 * Restart stall: how long a client is held up when the replica serving it stops, on SIGTERM (a
 * rolling deploy) and on kill -9 (a crash). Real processes (libs/testkit/src/bridge/bridge.ts: redis-server,
 * a router, two legacy-poll and two elicitation replicas) behind nginx, one nginx per endpoint, as
 * an Ingress would be; the clients are plain SDK 1.x clients (@modelcontextprotocol/sdk), with the
 * SDK's default 60 s request timeout.
 *
 * Two scenarios, each BENCH_RESTART_TRIALS times per signal; after each trial the stopped replica
 * is started again on its port (a rolling restart's replacement):
 *   legacy-poll — a stateless SDK 1.x client's `wait_for_messages` (timeout_ms 30000) is held by a
 *                 replica when that replica is signalled.
 *   elicitation — an SDK 1.x 2025-11-25 session (elicitation capability, in the rollout, GET stream
 *                 open) has an `elicit` (with an idempotency key) held by the replica owning the
 *                 session when that replica is signalled. The agent does what docs/agent-guide.md
 *                 says: on SHUTTING_DOWN or any transport error it opens a new session (through
 *                 nginx, so on the other replica) and calls wait_for_messages once.
 * Each call is held 3 s before the signal, past the first keep-alive (KEEPALIVE_MS=2000 here), so
 * its response stream has started, as for any call held longer than 15 s with the defaults.
 * Measured from the signal: `held call ends` (the held call returns or fails), `next call ok` (a
 * following call succeeds: wait_for_messages with timeout_ms 0, on the new session for the 2025
 * one), for the session when a message sent to the agent just after the signal reaches it (pushed
 * on its new session, or polled by that first call), and when the process exited.
 *
 * Run: node --conditions=agentbridge-source --import tsx bench/restart-stall.ts
 * Environment: BENCH_RESTART_TRIALS (3); BENCH_RESTART_ONLY (legacy-poll or elicitation: one
 * scenario). Prints a Markdown table (docs/operations.md, "Restarts").
 */
import { performance } from 'node:perf_hooks';
import { connectAgent, waitFor, type AgentClient, type ServiceHandle } from '@agent-bridge/testkit';
import { startBridge, startNginx, type Bridge, type NginxHandle } from '@agent-bridge/testkit/bridge';

const TRIALS = Number(process.env.BENCH_RESTART_TRIALS ?? 3);
const ONLY = process.env.BENCH_RESTART_ONLY;
type Signal = 'SIGTERM' | 'SIGKILL';
/** The services' keep-alive interval here (15 s by default), and how long a call is held before the signal. */
const KEEPALIVE_MS = 2_000;
const HOLD_BEFORE_SIGNAL_MS = 3_000;
/** nginx leaves an upstream that refused a connection out this long (its fail_timeout). */
const NGINX_FAIL_TIMEOUT_S = 1;

interface Trial {
  heldCallEndsMs: number;
  heldCallOutcome: string;
  nextCallOkMs: number;
  /** The message sent just after the signal reached the agent (pushed or polled, `arrivedBy`). */
  pushAgainMs?: number;
  arrivedBy?: string;
  exitedMs: number;
}

const since = (t0: number) => Math.round(performance.now() - t0);

async function gauge(baseUrl: string, name: string): Promise<number> {
  try {
    const text = await (await fetch(`${baseUrl}/metrics`)).text();
    const match = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** Stops `handle` with `signal`; resolves when it exited, in ms after the signal. */
function signalReplica(handle: ServiceHandle, signal: Signal, t0: number): Promise<number> {
  const stopped = signal === 'SIGTERM' ? handle.stop() : handle.kill9();
  return stopped.then(() => since(t0));
}

function outcomeOf(error: unknown): string {
  const message = error instanceof Error ? `${(error as { code?: unknown }).code ?? ''} ${error.message}` : String(error);
  if (/SHUTTING_DOWN/.test(message)) return 'SHUTTING_DOWN';
  if (/timed out|-32001/i.test(message)) return 'SDK request timeout';
  if (/HTTP 50\d|502|503/.test(message)) return message.match(/HTTP \d+/)?.[0] ?? 'HTTP 5xx';
  return message.trim().slice(0, 60);
}

async function legacyTrial(bridge: Bridge, lb: NginxHandle, replicas: Array<{ id: string; port: number; handle: ServiceHandle }>, signal: Signal): Promise<Trial> {
  const client = await connectAgent({ url: `${lb.url}/mcp`, token: bridge.tokens.poller!, name: 'poller', generation: 'sdk1' });
  try {
    const held = client.callToolJson<{ messages: unknown[]; has_more: boolean }>('wait_for_messages', { timeout_ms: 30_000 });
    held.catch(() => undefined);
    let victim: (typeof replicas)[number] | undefined;
    await waitFor(
      async () => {
        for (const replica of replicas) if ((await gauge(`http://127.0.0.1:${replica.port}`, 'agentbridge_waiting_polls')) > 0) victim = replica;
        return victim !== undefined;
      },
      { timeoutMs: 10_000, description: 'the poll to be held' },
    );
    // Past the first keep-alive: the response has started (an SSE stream), as for any poll held a while.
    await new Promise((resolve) => setTimeout(resolve, HOLD_BEFORE_SIGNAL_MS));
    const t0 = performance.now();
    const exited = signalReplica(victim!.handle, signal, t0);
    let heldCallOutcome: string;
    try {
      const result = await held;
      heldCallOutcome = `answered (${result.messages.length} messages, has_more ${result.has_more})`;
    } catch (error) {
      heldCallOutcome = outcomeOf(error);
    }
    const heldCallEndsMs = since(t0);
    for (;;) {
      try {
        await client.callToolJson('wait_for_messages', { timeout_ms: 0 });
        break;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    const nextCallOkMs = since(t0);
    const exitedMs = await exited;
    await restart(bridge, victim!);
    return { heldCallEndsMs, heldCallOutcome, nextCallOkMs, exitedMs };
  } finally {
    await client.close().catch(() => undefined);
  }
}

async function restart(bridge: Bridge, replica: { id: string; port: number; handle: ServiceHandle }): Promise<void> {
  replica.handle = replica.id.startsWith('legacy') ? await bridge.startLegacyPoll(replica.id, replica.port) : await bridge.startElicitation(replica.id, replica.port);
  // nginx left the replica out when it refused a connection: the next trial starts once it is back in.
  await new Promise((resolve) => setTimeout(resolve, NGINX_FAIL_TIMEOUT_S * 1_000 + 200));
}

async function sessionTrial(bridge: Bridge, lb: NginxHandle, replicas: Array<{ id: string; port: number; handle: ServiceHandle }>, signal: Signal, sender: AgentClient<'sdk1'>, trial: number): Promise<Trial> {
  const pushed: Array<{ text: string; at: number }> = [];
  const connect = () =>
    connectAgent({
      url: `${lb.url}/mcp`,
      token: bridge.tokens.asker!,
      name: 'asker',
      generation: 'sdk1',
      capabilities: { elicitation: {} },
      onElicitation: (params) => {
        pushed.push({ text: params.message, at: performance.now() });
        return { action: 'accept', content: {} };
      },
    });
  let client = await connect();
  try {
    await waitFor(async () => (await bridge.store.store.readPresence(['asker'])).get('asker')?.some((s) => s.streamOpen && s.sessionId === client.sessionId) ?? false, {
      timeoutMs: 10_000,
      description: 'the session stream to be open',
    });
    const owner = client.sessionId!.split('.')[0]!;
    const victim = replicas.find((r) => r.id === owner)!;
    const key = `stall-${signal}-${trial}`;
    const ask = (agent: AgentClient<'sdk1'>) =>
      agent.callToolJson('elicit', { to: 'mute', message: 'are you there?', requested_schema: { type: 'object', properties: { ok: { type: 'boolean' } } }, timeout_ms: 40_000, idempotency_key: key });
    const before = await bridge.store.store.laneLength('mute', 'poll');
    const held = ask(client);
    let failed: unknown;
    held.catch((error: unknown) => (failed = error));
    await waitFor(
      async () => {
        if (failed) throw failed;
        return (await bridge.store.store.laneLength('mute', 'poll')) > before;
      },
      { timeoutMs: 10_000, description: 'the question to be routed (the elicit is held)' },
    );
    await new Promise((resolve) => setTimeout(resolve, HOLD_BEFORE_SIGNAL_MS));

    const t0 = performance.now();
    const exited = signalReplica(victim.handle, signal, t0);
    const tag = `after the signal ${signal} ${trial}`;
    const sent = sender.callToolJson<{ message_id: string }>('send_message', { to: 'asker', content: tag, idempotency_key: `after-${signal}-${trial}` });
    let heldCallOutcome: string;
    try {
      await held;
      heldCallOutcome = 'answered';
    } catch (error) {
      heldCallOutcome = outcomeOf(error);
    }
    const heldCallEndsMs = since(t0);
    // What an agent does on SHUTTING_DOWN or a transport error (docs/agent-guide.md): a new
    // session, then wait_for_messages once for what fell back to polling while it had none.
    let polled: { text: string; at: number } | undefined;
    let nextCallOkMs: number | undefined;
    for (;;) {
      try {
        await client.close().catch(() => undefined);
        client = await connect();
        const page = await client.callToolJson<{ messages: Array<{ content: string }> }>('wait_for_messages', { timeout_ms: 0 });
        nextCallOkMs = since(t0);
        const found = page.messages.find((m) => m.content === tag);
        if (found) polled = { text: found.content, at: performance.now() };
        break;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    const messageId = (await sent).message_id;
    await waitFor(() => polled !== undefined || pushed.some((p) => p.text.includes(tag)), { timeoutMs: 60_000, description: 'the message sent after the signal to arrive' }).catch(async (error: unknown) => {
      console.error(
        JSON.stringify(await bridge.store.store.getMessage(messageId, 'asker')),
        pushed.map((p) => p.text),
      );
      throw error;
    });
    const pushAgainMs = Math.round((polled ?? pushed.find((p) => p.text.includes(tag))!).at - t0);
    const arrivedBy = polled ? 'polled' : 'pushed';
    const exitedMs = await exited;
    await restart(bridge, victim);
    return { heldCallEndsMs, heldCallOutcome, nextCallOkMs, pushAgainMs, arrivedBy, exitedMs };
  } finally {
    await client.close().catch(() => undefined);
  }
}

function row(scenario: string, signal: Signal, trials: Trial[]): string {
  const show = (pick: (t: Trial) => number | undefined) => trials.map((t) => pick(t) ?? '–').join(' / ');
  const outcomes = [...new Set(trials.map((t) => t.heldCallOutcome))].join('; ');
  const arrived = [...new Set(trials.map((t) => t.arrivedBy).filter(Boolean))].join(', ');
  return `| ${scenario} | ${signal === 'SIGKILL' ? 'kill -9' : 'SIGTERM'} | ${show((t) => t.heldCallEndsMs)} | ${outcomes} | ${show((t) => t.nextCallOkMs)} | ${show((t) => t.pushAgainMs)}${arrived ? ` (${arrived})` : ''} | ${show((t) => t.exitedMs)} |`;
}

async function main(): Promise<void> {
  const bridge = await startBridge({
    agents: ['poller', 'asker', 'sender', 'mute'],
    legacyPolls: 2,
    elicitations: 2,
    flags: { 'elicitation.enabled': 'true', 'elicitation.agents': 'asker', elicitationTimeoutMs: '30000' },
    env: { PUSH_LEASE_TTL_MS: '1500', PRESENCE_TTL_MS: '3000', KEEPALIVE_MS: String(KEEPALIVE_MS) },
  });
  const legacy = bridge.legacyUrls.map((url, i) => ({ id: `legacy-poll-${i + 1}`, port: Number(new URL(url).port), handle: bridge.legacyPolls[i]! }));
  const modern = bridge.elicitationBaseUrls.map((url, i) => ({ id: `elicitation-${i + 1}`, port: Number(new URL(url).port), handle: bridge.elicitations[i]! }));
  const legacyLb = await startNginx(
    bridge.legacyUrls.map((url) => new URL(url).origin),
    { failTimeoutS: NGINX_FAIL_TIMEOUT_S },
  );
  const modernLb = await startNginx(bridge.elicitationBaseUrls, { failTimeoutS: NGINX_FAIL_TIMEOUT_S });
  const sender = await connectAgent({ url: bridge.legacyUrls[0]!, token: bridge.tokens.sender!, name: 'sender', generation: 'sdk1' });
  const rows: string[] = [];
  try {
    for (const signal of ONLY === 'elicitation' ? [] : (['SIGTERM', 'SIGKILL'] as const)) {
      const trials: Trial[] = [];
      for (let i = 0; i < TRIALS; i++) {
        trials.push(await legacyTrial(bridge, legacyLb, legacy, signal));
        console.error(`legacy-poll ${signal} trial ${i + 1}: ${JSON.stringify(trials.at(-1))}`);
      }
      rows.push(row('legacy-poll, SDK 1.x `wait_for_messages`', signal, trials));
    }
    for (const signal of ONLY === 'legacy-poll' ? [] : (['SIGTERM', 'SIGKILL'] as const)) {
      const trials: Trial[] = [];
      for (let i = 0; i < TRIALS; i++) {
        trials.push(await sessionTrial(bridge, modernLb, modern, signal, sender, i));
        console.error(`elicitation ${signal} trial ${i + 1}: ${JSON.stringify(trials.at(-1))}`);
      }
      rows.push(row('elicitation, SDK 1.x 2025 session, `elicit` held', signal, trials));
    }
  } finally {
    await sender.close().catch(() => undefined);
    await legacyLb.stop();
    await modernLb.stop();
    await bridge.stop();
  }
  console.log(`Restart stall, ms after the signal (${TRIALS} trials each, in order; ${new Date().toISOString()}):\n`);
  console.log('| client | signal | held call ends | how it ends | next call ok | message sent after the signal arrives | process exited |');
  console.log('|---|---|---|---|---|---|---|');
  for (const line of rows) console.log(line);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
