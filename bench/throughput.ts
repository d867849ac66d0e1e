/**
 * Throughput benchmark (`make bench`): the legacy protocol, the elicitation protocol, 2026-07-28
 * rounds and a no-op MCP baseline, on one real bridge (redis-server + router + legacy-poll +
 * elicitation as OS processes, started by libs/testkit/src/bridge/bridge.ts). All clients live in this one
 * process, so send and receive times come from one monotonic clock.
 *
 * Three rings of N agents each (agent i sends to agent (i+1) mod N), with the same sender side: one
 * legacy-endpoint client per agent calling send_message. Only the receiving side differs:
 *   legacy ring       — each target has a receiver client in a wait_for_messages loop (previous cursor).
 *   elicitation ring  — each target is a modern agent (an MCP session on the elicitation endpoint that
 *                       declares the elicitation capability, stream open, in the `elicitation.agents`
 *                       rollout); its messages arrive as elicitation/create requests, answered at once
 *                       with accept {} (which sends no reply message).
 *   2026 ring         — each target is a 2026-07-28 agent (SDK v2 client pinned: no session, no stream),
 *                       in the rollout, in a wait_for_messages loop on the elicitation endpoint. A
 *                       waiting call is answered input_required with one elicitation per waiting
 *                       push-lane message (up to ROUND_MAX_MESSAGES); the client's elicitation handler
 *                       answers each at once with accept {} (received = when the handler is called),
 *                       and the client retries by itself, which stores the answers and settles them.
 *
 *   noop baseline — N clients call a no-op tool, closed loop, on a stateless SDK v2 endpoint behind
 *                   legacy-poll's HTTP front (bench/noop-server.ts).
 *   peak          — N closed-loop senders (each awaits its send_message before the next). Rate =
 *                   messages the targets received (poll returned / elicitation arrived) per second.
 *   half peak     — open-loop senders paced by schedule at half that protocol's measured peak.
 *   elicit        — modern agent A calls `elicit` on modern agent B, who answers at once: 1 asker
 *                   (round trip p50/p99), then BENCH_ELICIT_ASKERS concurrent askers (elicits/s).
 * Noop and the ring peaks alternate in BENCH_ROUNDS slices (noop, legacy, elicitation, 2026, noop, …)
 * so all see the same machine: on a shared host the speed drifts by tens of percent, even between
 * slices. Then the legacy, elicitation and 2026 half peaks, and the elicit windows.
 * Latency of a message = time the target received it − time the sender's send_message resolved.
 *
 * Goals (from the issues): legacy msgs/s ≥ 40 % of noop calls/s; legacy p99 < 50 ms at half peak;
 * elicitation push p99 < 50 ms at half (its own) peak; elicitation msgs/s ≥ 80 % of legacy msgs/s;
 * 2026 delivery p99 < 50 ms at half (its own) peak; 2026 msgs/s ≥ 100 % of legacy msgs/s.
 * Results are printed and prepended to docs/benchmarks.md (the last 5 runs kept, and the newest run
 * on an earlier MCP SDK besides: bench/lib/runs-doc.ts). The exit code is
 * 0 even when a goal is missed (a benchmark, not a test); 1 only when the benchmark itself failed.
 *
 * Environment (defaults):
 *   BENCH_AGENTS=16           agents per ring (= sender clients = receiver clients = noop clients)
 *   BENCH_SECONDS=15          measured seconds of each of noop and each ring's peak (summed over the
 *                             slices) and of each half peak
 *   BENCH_WARMUP_SECONDS=3    warm-up before the first slice of each kind and before each half peak
 *                             (1 s, at most this, before the later slices)
 *   BENCH_ROUNDS=5            noop/legacy/elicitation/2026 slice rounds
 *   BENCH_ELICIT_SECONDS=5    measured seconds of each elicit window (1 asker, then several)
 *   BENCH_ELICIT_ASKERS=4     concurrent askers of the second elicit window
 *   BENCH_ELICITATION=1       0: no elicitation ring (and no elicit windows)
 *   BENCH_STATELESS=1         0: no 2026 ring
 *   BENCH_CONTENT_BYTES=200   message content size
 *   BENCH_DRAIN_SECONDS=10    after a ring window, how long to wait for messages still in flight
 *   BENCH_QUIET_WAIT_SECONDS=60  in total, how long to wait for an idle machine (before starting,
 *                             and before re-running a window another process disturbed)
 *   BENCH_RETRIES=2           re-run at most this many windows in which processes outside the
 *                             benchmark used > 20 % of a core (reported either way)
 *   BENCH_TIMEOUT_SECONDS=540 give up (exit 1, every process stopped) after this long
 *   BENCH_WRITE_DOCS=1        0: print only, leave docs/benchmarks.md alone
 *   BENCH_CPU_PROF_DIR=       write V8 CPU profiles of one window into this directory (of the
 *                             services of that window); start the benchmark with
 *                             `node --import ./bench/cpu-profile-preload.mjs …` to profile the clients too
 *   BENCH_CPU_PROF_PHASE=peak which window: noop | peak | half (legacy) | push-peak | push-half | elicit
 *                             | 2026-peak | 2026-half
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hashToken } from '@agent-bridge/service-kit';
import { connectAgent, freePort, REPO_ROOT, startService, type AgentClient, type ServiceHandle } from '@agent-bridge/testkit';
import { startBridge, type Bridge, type ModernAgent } from '@agent-bridge/testkit/bridge';
import { waitForQuietMachine, type CpuReport } from './lib/cpu.js';
import { CpuMeter } from './lib/cpu.js';
import { runElicitWindow } from './lib/load.js';
import { PushReceivers, RoundReceivers } from './lib/receivers.js';
import { meterWindow, now, planWindow } from './lib/window.js';
import { ringIds, runRingWindow, startLegacyRing, startPushRing, waitForPushPresence, type Ring as BaseRing, type Track } from './lib/rings.js';
import { Profiler } from './lib/profiling.js';
import { CONTENTION_LIMIT_PERCENT, evaluateGoals, renderRun, type ElicitationPart, type LegacyPart, type RoundsPart, type RunInfo } from './lib/report.js';
import { writeRunToDocs } from './lib/runs-doc.js';
import { mergeBridge, mergeNoop, type BridgeResult, type NoopResult } from './lib/results.js';
import { fmtPct, fmtRate } from './lib/stats.js';
import { envNumber } from './lib/env.js';
import { machineInfo } from './lib/run.js';

// ------------------------------------------------------------------ parameters


type ProfilePhase = 'noop' | 'peak' | 'half' | 'push-peak' | 'push-half' | 'elicit' | '2026-peak' | '2026-half';

const params = {
  agents: Math.floor(envNumber('BENCH_AGENTS', 16, 2)),
  seconds: envNumber('BENCH_SECONDS', 15, 1),
  warmupSeconds: envNumber('BENCH_WARMUP_SECONDS', 3, 0),
  rounds: Math.floor(envNumber('BENCH_ROUNDS', 5, 1)),
  elicitSeconds: envNumber('BENCH_ELICIT_SECONDS', 5, 1),
  elicitAskers: Math.floor(envNumber('BENCH_ELICIT_ASKERS', 4, 1)),
  elicitation: process.env.BENCH_ELICITATION !== '0',
  stateless: process.env.BENCH_STATELESS !== '0',
  contentBytes: Math.floor(envNumber('BENCH_CONTENT_BYTES', 200, 40)),
  drainSeconds: envNumber('BENCH_DRAIN_SECONDS', 10, 1),
  quietWaitSeconds: envNumber('BENCH_QUIET_WAIT_SECONDS', 60, 0),
  retries: Math.floor(envNumber('BENCH_RETRIES', 2, 0)),
  timeoutSeconds: envNumber('BENCH_TIMEOUT_SECONDS', 540, 10),
  writeDocs: process.env.BENCH_WRITE_DOCS !== '0',
  cpuProfDir: process.env.BENCH_CPU_PROF_DIR ? path.resolve(process.env.BENCH_CPU_PROF_DIR) : undefined,
  cpuProfPhase: (process.env.BENCH_CPU_PROF_PHASE || 'peak') as ProfilePhase,
};
if (params.elicitAskers > params.agents) throw new Error('BENCH_ELICIT_ASKERS must be at most BENCH_AGENTS');

const POLL_MAX_MESSAGES = 100;
const POLL_TIMEOUT_MS = 5_000;
/** "Quiet" = all cores together at most this busy over a 2 s sample. */
const QUIET_BUSY_PERCENT = 15;
const LATER_SLICE_WARMUP_SECONDS = Math.min(1, params.warmupSeconds);
const DOCS_FILE = path.join(REPO_ROOT, 'docs', 'benchmarks.md');
const MAX_RUNS_KEPT = 5;

const log = (message: string): void => void process.stderr.write(`[bench] ${message}\n`);
const ringOf = (prefix: string) => ringIds(prefix, params.agents);
const poll = { maxMessages: POLL_MAX_MESSAGES, timeoutMs: POLL_TIMEOUT_MS };
/** The legacy ring (also the noop clients' ids). */
const agentIds = ringOf('bench-agent');
/** The elicitation ring: the same shape, agents in the elicitation rollout. */
const modernIds = ringOf('bench-modern');
/** The 2026 ring: the same shape, 2026-07-28 agents in the elicitation rollout. */
const statelessIds = ringOf('bench-stateless');
const profiler = new Profiler(params.cpuProfDir);

// ------------------------------------------------------------------ noop baseline

interface NoopTarget {
  server: ServiceHandle;
  clients: AgentClient[];
  close(): Promise<void>;
}

async function startNoopTarget(): Promise<NoopTarget> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'agent-bridge-bench-'));
  const tokens = Object.fromEntries(agentIds.map((id) => [id, `bench-${id}-${Math.random().toString(36).slice(2)}`]));
  const tokensFile = path.join(dir, 'agent-tokens.json');
  writeFileSync(tokensFile, JSON.stringify({ agents: agentIds.map((id) => ({ id, tokenSha256: hashToken(tokens[id]!) })) }));
  const clients: AgentClient[] = [];
  let server: ServiceHandle | undefined;
  const close = async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const port = await freePort();
    server = await startService({
      name: 'noop-server',
      entry: 'bench/noop-server.ts',
      env: { PORT: String(port), HOST: '127.0.0.1', AGENT_TOKENS_FILE: tokensFile, ...profiler.env() },
      readyUrl: `http://127.0.0.1:${port}/readyz`,
    });
    for (const id of agentIds) clients.push(await connectAgent({ url: `http://127.0.0.1:${port}/mcp`, token: tokens[id]!, name: id }));
    return { server, clients, close };
  } catch (error) {
    await close();
    throw error;
  }
}

async function runNoopWindow(target: NoopTarget, warmupSeconds: number, seconds: number): Promise<NoopResult> {
  const window = planWindow(warmupSeconds, seconds);
  const latencies: number[] = [];
  let calls = 0;
  let errors = 0;
  const loop = async (client: AgentClient) => {
    while (now() < window.end) {
      const started = now();
      try {
        await client.callToolJson('noop', {});
      } catch {
        errors++;
        continue;
      }
      const done = now();
      if (done >= window.start && done < window.end) {
        calls++;
        latencies.push(done - started);
      }
    }
  };
  const meter = new CpuMeter([{ name: 'noop-server', pid: target.server.pid }]);
  const profile = params.cpuProfPhase === 'noop' ? profiler.claim([['noop-server', target.server.pid]]) : [];
  const [cpu] = await Promise.all([meterWindow(window, meter, profiler, profile), ...target.clients.map(loop)]);
  return { seconds, calls, latencies, errors, cpu: cpu as CpuReport };
}

// ------------------------------------------------------------------ rings

/** A ring of bench/lib/rings.ts, and which profile phases its windows are. */
type Ring = BaseRing & { phases: { peak: ProfilePhase; half: ProfilePhase } };

function ringWindow(bridge: Bridge, ring: Ring, targetRate: number | undefined, warmupSeconds: number, seconds: number): Promise<BridgeResult> {
  return runRingWindow(bridge, ring, {
    targetRate,
    warmupSeconds,
    seconds,
    contentBytes: params.contentBytes,
    drainSeconds: params.drainSeconds,
    profiler,
    profile: params.cpuProfPhase === (targetRate === undefined ? ring.phases.peak : ring.phases.half),
  });
}

/**
 * The 2026 ring: a legacy-endpoint sender per agent, and per target a 2026-07-28 agent on the
 * elicitation endpoint whose elicitation handler is the receivers'. Returns once every target is
 * present for push (a waiting call records it), so the first window's messages go to push lanes.
 */
async function startRoundsRing(bridge: Bridge, connectSender: (agent: string) => Promise<AgentClient>, track: (client: AgentClient) => void): Promise<Ring & { receivers: RoundReceivers }> {
  const receivers = new RoundReceivers(POLL_MAX_MESSAGES, POLL_TIMEOUT_MS);
  const senders: AgentClient[] = [];
  for (const agent of statelessIds) {
    senders.push(await connectSender(agent));
    const client = await receivers.add((onElicitation) =>
      connectAgent({ url: `${bridge.elicitationBaseUrls[0]}/mcp`, token: bridge.tokens[agent]!, name: agent, generation: '2026-07-28', onElicitation }),
    );
    track(client);
  }
  receivers.start('presence', () => undefined);
  try {
    await waitForPushPresence(bridge, statelessIds, 'every 2026-07-28 agent to be present for push (waiting on the elicitation endpoint)');
  } finally {
    const counts = await receivers.stop();
    if (counts.errors > 0) log(`2026 ring: ${counts.errors} wait_for_messages calls failed while waiting for presence`);
  }
  return {
    ids: statelessIds,
    senders,
    receivers,
    services: [
      ['legacy-poll', bridge.legacyPolls[0]?.pid],
      ['router', bridge.routers[0]?.pid],
      ['elicitation', bridge.elicitations[0]?.pid],
    ],
    phases: { peak: '2026-peak', half: '2026-half' },
  };
}

/** "MCP SDK v2 (client 2.4.0, server 2.4.0, node 2.1.2)", from the installed packages. */
function sdkLabel(): string {
  const version = (name: string) => {
    try {
      return (JSON.parse(readFileSync(path.join(REPO_ROOT, 'node_modules', '@modelcontextprotocol', name, 'package.json'), 'utf8')) as { version?: string }).version ?? '?';
    } catch {
      return '?';
    }
  };
  return `MCP SDK v2 (client ${version('client')}, server ${version('server')}, node ${version('node')})`;
}

/** The half-peak window of a ring: open loop at half its measured peak. */
async function halfPeak(name: string, peak: BridgeResult, run: (rate: number) => Promise<BridgeResult>): Promise<BridgeResult> {
  const rate = peak.delivered / peak.seconds / 2;
  if (!(rate > 0)) throw new Error(`the ${name} ring delivered nothing at peak (service logs follow)`);
  log(`${name} half peak: open loop at ${fmtRate(rate)} msgs/s`);
  const half = await run(rate);
  log(`${name} half peak: p99 computed over ${half.latencies.length} messages, lost ${half.lost}`);
  return half;
}

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  const info: RunInfo = {
    ...machineInfo(),
    sdk: sdkLabel(),
    busyBefore: Number.NaN,
    reruns: 0,
    aofStalls: 0,
    serviceLogLines: 'n/a',
    agents: params.agents,
    rounds: params.rounds,
    warmupSeconds: params.warmupSeconds,
    seconds: params.seconds,
    contentBytes: params.contentBytes,
    pollMaxMessages: POLL_MAX_MESSAGES,
    pollTimeoutMs: POLL_TIMEOUT_MS,
    elicitSeconds: params.elicitSeconds,
  };
  log(
    `${params.agents} agents per ring, ${params.rounds} rounds, ${params.seconds} s measured per kind, ${info.cores} cores, ${info.sdk}` +
      (params.elicitation ? '' : ' (BENCH_ELICITATION=0: no elicitation ring)') +
      (params.stateless ? '' : ' (BENCH_STATELESS=0: no 2026 ring)'),
  );

  // Another test run on this machine skews everything: wait for quiet before starting, and run a
  // window again when other processes used much CPU during it.
  let quietBudget = params.quietWaitSeconds;
  let retriesLeft = params.retries;
  const waitQuiet = async () => {
    const started = now();
    const busy = await waitForQuietMachine(quietBudget, QUIET_BUSY_PERCENT, log);
    quietBudget = Math.max(0, quietBudget - (now() - started) / 1000);
    return busy;
  };
  const measured = async <T extends { cpu: CpuReport }>(name: string, run: () => Promise<T>): Promise<T> => {
    let result = await run();
    while (retriesLeft > 0 && result.cpu.otherPercent > CONTENTION_LIMIT_PERCENT) {
      retriesLeft--;
      info.reruns++;
      log(`${name}: processes outside the benchmark used ${fmtPct(result.cpu.otherPercent)} of a core (${result.cpu.otherTop}); running the window again`);
      await waitQuiet();
      result = await run();
    }
    return result;
  };

  const serviceEnv: Record<string, string> = {
    LOG_LEVEL: 'warn',
    // Production defaults (the e2e harness shortens these for its failover tests).
    LEASE_TTL_MS: '5000',
    FLAGS_POLL_INTERVAL_MS: '500',
    ...profiler.env(),
  };
  const noopTarget = await startNoopTarget();
  let bridge: Bridge | undefined;
  const clients: AgentClient[] = [];
  const push = new PushReceivers();
  try {
    const rolledOut = [...(params.elicitation ? modernIds : []), ...(params.stateless ? statelessIds : [])];
    bridge = await startBridge({
      agents: [...agentIds, ...rolledOut],
      shardCount: 16,
      env: serviceEnv,
      ...(rolledOut.length > 0 ? { elicitations: 1, flags: { 'elicitation.enabled': 'true', 'elicitation.agents': rolledOut.join(',') } } : {}),
    });
    const b = bridge;
    const redisClient = b.redis.client();
    info.redis = /redis_version:(\S+)/.exec(await redisClient.info('server'))?.[1] ?? 'unknown';
    redisClient.disconnect();
    const track: Track = (client) => {
      clients.push(client);
      return client;
    };
    const connect = async (agent: string) => track(await b.connect(agent));

    const legacyRing: Ring = { ...(await startLegacyRing(b, agentIds, poll, track)), phases: { peak: 'peak', half: 'half' } };
    let pushRing: Ring | undefined;
    let modern: ModernAgent[] = [];
    if (params.elicitation) {
      const ring = await startPushRing(b, modernIds, push, track);
      modern = ring.modern;
      pushRing = { ...ring, phases: { peak: 'push-peak', half: 'push-half' } };
    }

    const roundsRing = params.stateless ? await startRoundsRing(b, connect, (client) => clients.push(client)) : undefined;

    info.busyBefore = await waitQuiet();
    const noopSlices: NoopResult[] = [];
    const peakSlices: BridgeResult[] = [];
    const pushSlices: BridgeResult[] = [];
    const roundsSlices: BridgeResult[] = [];
    const sliceSeconds = params.seconds / params.rounds;
    for (let round = 0; round < params.rounds; round++) {
      const warmup = round === 0 ? params.warmupSeconds : LATER_SLICE_WARMUP_SECONDS;
      const tag = `round ${round + 1}/${params.rounds}`;
      const noopSlice = await measured('noop', () => runNoopWindow(noopTarget, warmup, sliceSeconds));
      noopSlices.push(noopSlice);
      const noopRate = noopSlice.calls / noopSlice.seconds;
      log(`${tag}: noop ${fmtRate(noopRate)} calls/s`);
      const peakSlice = await measured('legacy peak', () => ringWindow(b, legacyRing, undefined, warmup, sliceSeconds));
      peakSlices.push(peakSlice);
      const legacyRate = peakSlice.delivered / peakSlice.seconds;
      log(`${tag}: legacy peak ${fmtRate(legacyRate)} msgs/s (${fmtPct((legacyRate / noopRate) * 100)} of noop), lost ${peakSlice.lost}`);
      if (pushRing) {
        const ring = pushRing;
        const pushSlice = await measured('elicitation peak', () => ringWindow(b, ring, undefined, warmup, sliceSeconds));
        pushSlices.push(pushSlice);
        const pushRate = pushSlice.delivered / pushSlice.seconds;
        log(`${tag}: elicitation peak ${fmtRate(pushRate)} msgs/s (${fmtPct((pushRate / legacyRate) * 100)} of legacy), lost ${pushSlice.lost}`);
      }
      if (roundsRing) {
        const roundsSlice = await measured('2026 peak', () => ringWindow(b, roundsRing, undefined, warmup, sliceSeconds));
        roundsSlices.push(roundsSlice);
        const roundsRate = roundsSlice.delivered / roundsSlice.seconds;
        log(
          `${tag}: 2026 peak ${fmtRate(roundsRate)} msgs/s (${fmtPct((roundsRate / legacyRate) * 100)} of legacy), ` +
            `${roundsSlice.roundsHandedOut ? (roundsSlice.delivered / roundsSlice.roundsHandedOut).toFixed(2) : 'n/a'} per round, lost ${roundsSlice.lost}, wait errors ${roundsSlice.pollErrors}`,
        );
      }
    }
    const noop = mergeNoop(noopSlices);
    const peak = mergeBridge(peakSlices);
    const half = await halfPeak('legacy', peak, (rate) => measured('legacy half peak', () => ringWindow(b, legacyRing, rate, params.warmupSeconds, params.seconds)));
    const legacy: LegacyPart = { noopSlices, peakSlices, noop, peak, half };

    const pushPeak = pushRing ? mergeBridge(pushSlices) : undefined;
    const pushHalf =
      pushRing && pushPeak
        ? await halfPeak('elicitation', pushPeak, (rate) => measured('elicitation half peak', () => ringWindow(b, pushRing, rate, params.warmupSeconds, params.seconds)))
        : undefined;
    let rounds: RoundsPart | undefined;
    if (roundsRing) {
      const roundsPeak = mergeBridge(roundsSlices);
      const roundsHalf = await halfPeak('2026', roundsPeak, (rate) => measured('2026 half peak', () => ringWindow(b, roundsRing, rate, params.warmupSeconds, params.seconds)));
      rounds = { peakSlices: roundsSlices, peak: roundsPeak, half: roundsHalf, stray: roundsRing.receivers.stray };
    }

    let elicitation: ElicitationPart | undefined;
    if (pushPeak && pushHalf) {
      const elicitServices: Array<[string, number | undefined]> = [
        ['router', b.routers[0]?.pid],
        ['elicitation', b.elicitations[0]?.pid],
      ];
      const elicitWindow = (askers: number) =>
        measured(`elicit ×${askers}`, () =>
          runElicitWindow({
            bridge: b,
            askers: modern.slice(0, askers),
            targets: modernIds.slice(0, askers).map((_, i) => modernIds[(i + 1) % modernIds.length]!),
            warmupSeconds: LATER_SLICE_WARMUP_SECONDS,
            seconds: params.elicitSeconds,
            services: elicitServices,
            profiler,
            profile: params.cpuProfPhase === 'elicit' && askers > 1,
          }),
        );
      const elicitSerial = await elicitWindow(1);
      log(`elicit, 1 asker: ${fmtRate(elicitSerial.calls / elicitSerial.seconds)} elicits/s, errors ${elicitSerial.errors}`);
      const elicitConcurrent = await elicitWindow(params.elicitAskers);
      log(`elicit, ${params.elicitAskers} askers: ${fmtRate(elicitConcurrent.calls / elicitConcurrent.seconds)} elicits/s, errors ${elicitConcurrent.errors}`);
      elicitation = { peakSlices: pushSlices, peak: pushPeak, half: pushHalf, elicitSerial, elicitConcurrent, stray: push.stray };
    }

    info.serviceLogLines = [...b.routers, ...b.legacyPolls, ...b.elicitations].map((service) => `${service.name} ${service.logs().length}`).join(', ');
    info.aofStalls = (await b.redis.logTail(1_000)).split('\n').filter((line) => /fsync/i.test(line)).length;

    const parts = { legacy, elicitation, rounds };
    const goals = evaluateGoals(parts);
    const report = renderRun(info, parts, goals);
    process.stdout.write(`\n${report}\n\n`);
    for (const goal of goals) process.stdout.write(`${goal.pass ? 'PASS' : 'FAIL'}  ${goal.name}: ${goal.detail}\n`);
    const failed = goals.filter((g) => !g.pass);
    if (failed.length > 0) process.stdout.write(`\nGOALS MISSED (${failed.length}): ${failed.map((g) => g.name).join('; ')}\n`);
    const lost = [peak, half, elicitation?.peak, elicitation?.half, rounds?.peak, rounds?.half].reduce((sum, r) => sum + (r?.lost ?? 0), 0);
    if (lost > 0) process.stdout.write(`\nWARNING: ${lost} messages accepted in a window did not arrive within ${params.drainSeconds} s\n`);
    if (params.writeDocs) {
      writeRunToDocs(DOCS_FILE, report, MAX_RUNS_KEPT);
      log(`results written to ${path.relative(REPO_ROOT, DOCS_FILE)}`);
    }
  } finally {
    for (const service of [...(bridge?.routers ?? []), ...(bridge?.legacyPolls ?? []), ...(bridge?.elicitations ?? []), noopTarget.server]) {
      const distinct = [...new Set(service.logs().map((line) => line.slice(0, 400)))];
      if (distinct.length > 0) log(`${service.name} logged ${service.logs().length} lines (LOG_LEVEL=warn), e.g.:\n  ${distinct.slice(0, 3).join('\n  ')}`);
    }
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await bridge?.stop();
    await noopTarget.close();
    const dir = profiler.finish();
    if (dir) log(`CPU profiles in ${dir}`);
  }
}

// A hung benchmark must not hold the machine: exiting kills every child (testkit's reaper).
setTimeout(() => {
  log(`gave up after ${params.timeoutSeconds} s (BENCH_TIMEOUT_SECONDS)`);
  process.exit(1);
}, params.timeoutSeconds * 1000).unref();

try {
  await main();
} catch (error) {
  log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
}
