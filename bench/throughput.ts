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
import path from 'node:path';
import { REPO_ROOT } from '@agent-bridge/testkit';
import { startBridge, type Bridge, type ModernAgent } from '@agent-bridge/testkit/bridge';
import { envNumber, partLog, ringBenchSettings } from './lib/env.js';
import { runElicitWindow } from './lib/load.js';
import { runNoopWindow, startNoopTarget, type NoopTarget } from './lib/noop.js';
import { Profiler } from './lib/profiling.js';
import { PushReceivers, type RoundReceivers } from './lib/receivers.js';
import { CONTENTION_LIMIT_PERCENT, evaluateGoals, renderRun, type ElicitationPart, type LegacyPart, type RoundsPart, type RunInfo } from './lib/report.js';
import { mergeBridge, mergeNoop, type BridgeResult, type NoopResult } from './lib/results.js';
import { clientTracker, ringIds, runRingWindow, startLegacyRing, startPushRing, startRoundsRing, type Ring as BaseRing } from './lib/rings.js';
import { BENCH_SERVICE_ENV, logServiceWarnings, machineInfo, QuietGuard, redisVersion, runBenchmark, sdkLabel } from './lib/run.js';
import { BENCHMARKS_DOC, MAX_RUNS_KEPT, writeRunToDocs } from './lib/runs-doc.js';
import { fmtPct, fmtRate } from './lib/stats.js';

// ------------------------------------------------------------------ parameters

type ProfilePhase = 'noop' | 'peak' | 'half' | 'push-peak' | 'push-half' | 'elicit' | '2026-peak' | '2026-half';

const params = {
  ...ringBenchSettings(),
  seconds: envNumber('BENCH_SECONDS', 15, 1),
  warmupSeconds: envNumber('BENCH_WARMUP_SECONDS', 3, 0),
  rounds: Math.floor(envNumber('BENCH_ROUNDS', 5, 1)),
  elicitSeconds: envNumber('BENCH_ELICIT_SECONDS', 5, 1),
  elicitAskers: Math.floor(envNumber('BENCH_ELICIT_ASKERS', 4, 1)),
  elicitation: process.env.BENCH_ELICITATION !== '0',
  stateless: process.env.BENCH_STATELESS !== '0',
  retries: Math.floor(envNumber('BENCH_RETRIES', 2, 0)),
  timeoutSeconds: envNumber('BENCH_TIMEOUT_SECONDS', 540, 10),
  cpuProfDir: process.env.BENCH_CPU_PROF_DIR ? path.resolve(process.env.BENCH_CPU_PROF_DIR) : undefined,
  cpuProfPhase: (process.env.BENCH_CPU_PROF_PHASE || 'peak') as ProfilePhase,
};
if (params.elicitAskers > params.agents) throw new Error('BENCH_ELICIT_ASKERS must be at most BENCH_AGENTS');

const POLL_MAX_MESSAGES = 100;
const POLL_TIMEOUT_MS = 5_000;
const LATER_SLICE_WARMUP_SECONDS = Math.min(1, params.warmupSeconds);

const log = partLog('bench');
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

const noopWindow = (target: NoopTarget, warmupSeconds: number, seconds: number): Promise<NoopResult> => runNoopWindow(target, warmupSeconds, seconds, profiler, params.cpuProfPhase === 'noop');

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
  const guard = new QuietGuard(params.quietWaitSeconds, params.retries, CONTENTION_LIMIT_PERCENT, log);
  const noopTarget = await startNoopTarget(agentIds, profiler);
  let bridge: Bridge | undefined;
  const { track, closeAll } = clientTracker();
  const push = new PushReceivers();
  try {
    const rolledOut = [...(params.elicitation ? modernIds : []), ...(params.stateless ? statelessIds : [])];
    bridge = await startBridge({
      agents: [...agentIds, ...rolledOut],
      shardCount: 16,
      env: { ...BENCH_SERVICE_ENV, ...profiler.env() },
      ...(rolledOut.length > 0 ? { elicitations: 1, flags: { 'elicitation.enabled': 'true', 'elicitation.agents': rolledOut.join(',') } } : {}),
    });
    const b = bridge;
    info.redis = await redisVersion(b);

    const legacyRing: Ring = { ...(await startLegacyRing(b, agentIds, poll, track)), phases: { peak: 'peak', half: 'half' } };
    let pushRing: Ring | undefined;
    let modern: ModernAgent[] = [];
    if (params.elicitation) {
      const ring = await startPushRing(b, modernIds, push, track);
      modern = ring.modern;
      pushRing = { ...ring, phases: { peak: 'push-peak', half: 'push-half' } };
    }

    const roundsRing: (Ring & { receivers: RoundReceivers }) | undefined = params.stateless ? { ...(await startRoundsRing(b, statelessIds, poll, track, log)), phases: { peak: '2026-peak', half: '2026-half' } } : undefined;

    info.busyBefore = await guard.waitQuiet();
    const noopSlices: NoopResult[] = [];
    const peakSlices: BridgeResult[] = [];
    const pushSlices: BridgeResult[] = [];
    const roundsSlices: BridgeResult[] = [];
    const sliceSeconds = params.seconds / params.rounds;
    for (let round = 0; round < params.rounds; round++) {
      const warmup = round === 0 ? params.warmupSeconds : LATER_SLICE_WARMUP_SECONDS;
      const tag = `round ${round + 1}/${params.rounds}`;
      const noopSlice = await guard.measured('noop', () => noopWindow(noopTarget, warmup, sliceSeconds));
      noopSlices.push(noopSlice);
      const noopRate = noopSlice.calls / noopSlice.seconds;
      log(`${tag}: noop ${fmtRate(noopRate)} calls/s`);
      const peakSlice = await guard.measured('legacy peak', () => ringWindow(b, legacyRing, undefined, warmup, sliceSeconds));
      peakSlices.push(peakSlice);
      const legacyRate = peakSlice.delivered / peakSlice.seconds;
      log(`${tag}: legacy peak ${fmtRate(legacyRate)} msgs/s (${fmtPct((legacyRate / noopRate) * 100)} of noop), lost ${peakSlice.lost}`);
      if (pushRing) {
        const ring = pushRing;
        const pushSlice = await guard.measured('elicitation peak', () => ringWindow(b, ring, undefined, warmup, sliceSeconds));
        pushSlices.push(pushSlice);
        const pushRate = pushSlice.delivered / pushSlice.seconds;
        log(`${tag}: elicitation peak ${fmtRate(pushRate)} msgs/s (${fmtPct((pushRate / legacyRate) * 100)} of legacy), lost ${pushSlice.lost}`);
      }
      if (roundsRing) {
        const roundsSlice = await guard.measured('2026 peak', () => ringWindow(b, roundsRing, undefined, warmup, sliceSeconds));
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
    const half = await halfPeak('legacy', peak, (rate) => guard.measured('legacy half peak', () => ringWindow(b, legacyRing, rate, params.warmupSeconds, params.seconds)));
    const legacy: LegacyPart = { noopSlices, peakSlices, noop, peak, half };

    const pushPeak = pushRing ? mergeBridge(pushSlices) : undefined;
    const pushHalf = pushRing && pushPeak ? await halfPeak('elicitation', pushPeak, (rate) => guard.measured('elicitation half peak', () => ringWindow(b, pushRing, rate, params.warmupSeconds, params.seconds))) : undefined;
    let rounds: RoundsPart | undefined;
    if (roundsRing) {
      const roundsPeak = mergeBridge(roundsSlices);
      const roundsHalf = await halfPeak('2026', roundsPeak, (rate) => guard.measured('2026 half peak', () => ringWindow(b, roundsRing, rate, params.warmupSeconds, params.seconds)));
      rounds = { peakSlices: roundsSlices, peak: roundsPeak, half: roundsHalf, stray: roundsRing.receivers.stray };
    }

    let elicitation: ElicitationPart | undefined;
    if (pushPeak && pushHalf) {
      const elicitServices: Array<[string, number | undefined]> = [
        ['router', b.routers[0]?.pid],
        ['elicitation', b.elicitations[0]?.pid],
      ];
      const elicitWindow = (askers: number) =>
        guard.measured(`elicit ×${askers}`, () =>
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

    info.reruns = guard.reruns;
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
      writeRunToDocs(BENCHMARKS_DOC, report, MAX_RUNS_KEPT);
      log(`results written to ${path.relative(REPO_ROOT, BENCHMARKS_DOC)}`);
    }
  } finally {
    logServiceWarnings([...(bridge?.routers ?? []), ...(bridge?.legacyPolls ?? []), ...(bridge?.elicitations ?? []), noopTarget.server], log);
    await closeAll();
    await bridge?.stop();
    await noopTarget.close();
    const dir = profiler.finish();
    if (dir) log(`CPU profiles in ${dir}`);
  }
}

await runBenchmark(main, params.timeoutSeconds, 'BENCH_TIMEOUT_SECONDS', log);
