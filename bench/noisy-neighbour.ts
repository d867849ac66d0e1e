/**
 * Noisy-neighbour benchmark (`make bench BENCH_PARTS=noisy`): does one agent sending as fast as it
 * can hurt the others? Goal (issue 11): with the flooder, the ring's agents keep ≥ 80 % of their
 * messages/s and at most 2× their p99 latency of the same run without it.
 *
 * One bridge (redis-server + router + legacy-poll + elicitation as OS processes, started by
 * libs/testkit/src/bridge/bridge.ts with the send quotas at their defaults), the usual rings of
 * bench/lib/rings.ts: N agents, each sending to the next with send_message on the legacy endpoint,
 * closed loop (peak), received by wait_for_messages loops (legacy ring) or as elicitation/create
 * pushes on 2025 sessions (elicitation ring). Rate = ring messages the targets received in the
 * measured window per second; latency = send accepted → received.
 *
 * The flooder (bench/flooder.ts) is its own process, started before each "with" window and stopped
 * after it: agent noisy-flooder, BENCH_NOISY_LOOPS concurrent send loops (one MCP client each) on
 * the same legacy endpoint as the ring's senders, sending to noisy-sink as fast as they can; refused
 * sends (RATE_LIMITED, BACKLOG_FULL) are ignored and sent again at once (or after their retryAfterMs,
 * BENCH_NOISY_RETRY=after). With BENCH_NOISY_SINK=drained (default) a poller in the flooder process
 * drains noisy-sink, so the flood keeps its whole rate quota and its admitted messages cost routing
 * and delivery; with `none` nobody reads them and the flood fills its backlog, then is refused
 * BACKLOG_FULL.
 *
 * Per ring, BENCH_NOISY_ROUNDS rounds of a window without and a window with the flooder, in ABBA
 * order (without, with; with, without; …) so the drift of a shared machine favours neither; the
 * goal compares the medians over the rounds. Before the first window, and before re-running a
 * window that processes outside the benchmark disturbed (> 20 % of a core, at most BENCH_RETRIES
 * times), it waits for an idle machine. The ring's agents must stay below the per-agent quota for
 * the comparison to mean anything: the busiest ring sender's rate and the ring's refusals are
 * reported beside the quota.
 *
 * Results are printed and prepended to docs/benchmarks.md, section "Noisy neighbour" (5 runs kept).
 * Exit code 0 even when a goal is missed; 1 when the benchmark itself failed.
 *
 * Environment (defaults):
 *   BENCH_NOISY_ROUNDS=3 (or BENCH_ROUNDS)           rounds per ring (one window without, one with)
 *   BENCH_NOISY_ROUND_SECONDS=10 (or BENCH_ROUND_SECONDS)  measured seconds of each window
 *   BENCH_NOISY_WARMUP_SECONDS=2                     warm-up before each window
 *   BENCH_NOISY_LOOPS=8                              the flooder's concurrent send loops
 *   BENCH_NOISY_RETRY=at-once                        at-once | after (sleep retryAfterMs after a refusal)
 *   BENCH_NOISY_SINK=drained                         drained | none
 *   BENCH_NOISY_LOAD=peak                            peak: closed-loop senders; half: open loop at half
 *                                                    the ring's peak without the flooder (one peak
 *                                                    window per ring first), latency without queueing
 *   BENCH_NOISY_FLOODER_NICE=0                       nice value (1–19) of the flooder process, to keep
 *                                                    its own client CPU from the bridge's share
 *   BENCH_NOISY_ELICITATION=1                        0: the legacy ring only
 *   BENCH_NOISY_TIMEOUT_SECONDS=480                  give up (exit 1) after this long
 *   BENCH_AGENTS=16, BENCH_CONTENT_BYTES=200, BENCH_DRAIN_SECONDS=10, BENCH_QUIET_WAIT_SECONDS=60,
 *   BENCH_RETRIES=2, BENCH_WRITE_DOCS=1              as in bench/throughput.ts
 */
import os from 'node:os';
import path from 'node:path';
import { mailboxSettings } from '@agent-bridge/agent-tools';
import { REPO_ROOT, startService, type ServiceHandle } from '@agent-bridge/testkit';
import { startBridge, type Bridge } from '@agent-bridge/testkit/bridge';
import { envNumber, partLog, ringBenchSettings } from './lib/env.js';
import { PushReceivers } from './lib/receivers.js';
import { CONTENTION_LIMIT_PERCENT } from './lib/report.js';
import { deliveredRate, latencyP50, latencyP99, type BridgeResult } from './lib/results.js';
import { clientTracker, ringIds, runRingWindow, startLegacyRing, startPushRing, windowsOf, type ArmWindow, type Ring, type RingProtocol } from './lib/rings.js';
import { abbaOrder, BENCH_SERVICE_ENV, contentionNote, describeMachine, logServiceWarnings, machineInfo, QuietGuard, redisVersion, runBenchmark, type MachineInfo } from './lib/run.js';
import { BENCHMARKS_DOC, MAX_RUNS_KEPT, writeSectionRunToDocs } from './lib/runs-doc.js';
import { fmtMs, fmtPct, fmtRate, median } from './lib/stats.js';

const enumSetting = <T extends string>(name: string, allowed: readonly T[], fallback: T): T => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) throw new Error(`${name} must be one of ${allowed.join(', ')} (got "${raw}")`);
  return raw as T;
};

const params = {
  ...ringBenchSettings(),
  rounds: Math.floor(envNumber(['BENCH_NOISY_ROUNDS', 'BENCH_ROUNDS'], 3, 1)),
  roundSeconds: envNumber(['BENCH_NOISY_ROUND_SECONDS', 'BENCH_ROUND_SECONDS'], 10, 1),
  warmupSeconds: envNumber('BENCH_NOISY_WARMUP_SECONDS', 2, 0),
  loops: Math.floor(envNumber('BENCH_NOISY_LOOPS', 8, 1)),
  retry: enumSetting('BENCH_NOISY_RETRY', ['at-once', 'after'] as const, 'at-once'),
  sink: enumSetting('BENCH_NOISY_SINK', ['drained', 'none'] as const, 'drained'),
  load: enumSetting('BENCH_NOISY_LOAD', ['peak', 'half'] as const, 'peak'),
  flooderNice: Math.floor(envNumber('BENCH_NOISY_FLOODER_NICE', 0, 0)),
  elicitation: process.env.BENCH_NOISY_ELICITATION !== '0',
  timeoutSeconds: envNumber('BENCH_NOISY_TIMEOUT_SECONDS', 480, 10),
  retries: Math.floor(envNumber('BENCH_RETRIES', 2, 0)),
};

/** The ring keeps at least this share of its messages/s with the flooder … */
const GOAL_RATE_RATIO = 0.8;
/** … and its p99 latency grows at most this many times. */
const GOAL_P99_FACTOR = 2;
const POLL = { maxMessages: 100, timeoutMs: 5_000 };
const FLOODER = 'noisy-flooder';
const SINK = 'noisy-sink';
const SECTION = { heading: '## Noisy neighbour', mark: '<!-- bench-noisy-run -->' };
/** The per-agent quota the services run with: nothing here sets it, so the settings' defaults. */
const QUOTA = {
  rate: mailboxSettings.SEND_RATE_PER_SECOND.parse(process.env.SEND_RATE_PER_SECOND),
  burst: mailboxSettings.SEND_BURST.parse(process.env.SEND_BURST),
  backlog: mailboxSettings.SEND_BACKLOG_MAX.parse(process.env.SEND_BACKLOG_MAX),
};

const log = partLog('bench-noisy');

type Protocol = RingProtocol;
type Arm = 'without' | 'with';

/** What the flooder process counted over its life (bench/flooder.ts "flood-result"). */
interface FloodResult {
  calls: number;
  admitted: number;
  refused: Record<string, number>;
  otherErrors: number;
  drained: number;
  drainErrors: number;
  seconds: number;
}

interface Window extends ArmWindow<Arm> {
  flood: FloodResult | undefined;
}

async function startFlooder(bridge: Bridge): Promise<ServiceHandle> {
  const flooder = await startService({
    name: 'flooder',
    entry: 'bench/flooder.ts',
    env: {
      FLOOD_URL: bridge.legacyUrls[0]!,
      FLOOD_AGENT: FLOODER,
      FLOOD_TOKEN: bridge.tokens[FLOODER]!,
      FLOOD_TO: SINK,
      FLOOD_LOOPS: String(params.loops),
      FLOOD_RETRY: params.retry,
      FLOOD_CONTENT_BYTES: String(params.contentBytes),
      ...(params.sink === 'drained' ? { FLOOD_SINK_TOKEN: bridge.tokens[SINK]! } : {}),
    },
    readyLogLine: /^flooding$/,
  });
  if (params.flooderNice > 0) os.setPriority(flooder.pid, Math.min(19, params.flooderNice));
  return flooder;
}

async function stopFlooder(flooder: ServiceHandle): Promise<FloodResult> {
  await flooder.stop();
  const line = flooder.logs().find((l) => l.startsWith('flood-result '));
  if (!line) throw new Error(`the flooder printed no result; its last lines:\n${flooder.logs().slice(-20).join('\n')}`);
  return JSON.parse(line.slice('flood-result '.length)) as FloodResult;
}

/** One window of `ring`, with the flooder running from before its warm-up to after its drain when `arm` is "with". */
async function runWindow(bridge: Bridge, ring: Ring, arm: Arm, targetRate: number | undefined): Promise<{ result: BridgeResult; flood: FloodResult | undefined; cpu: BridgeResult['cpu'] }> {
  const options = { targetRate, warmupSeconds: params.warmupSeconds, seconds: params.roundSeconds, contentBytes: params.contentBytes, drainSeconds: params.drainSeconds };
  if (arm === 'without') {
    const result = await runRingWindow(bridge, ring, options);
    return { result, flood: undefined, cpu: result.cpu };
  }
  const flooder = await startFlooder(bridge);
  let result: BridgeResult;
  try {
    result = await runRingWindow(bridge, ring, { ...options, extraServices: [['flooder', flooder.pid]] });
  } catch (error) {
    await flooder.stop();
    throw error;
  }
  return { result, flood: await stopFlooder(flooder), cpu: result.cpu };
}

// ------------------------------------------------------------------ verdicts and report

interface Outcome {
  protocol: Protocol;
  without: Window[];
  with: Window[];
  rateRatio: number;
  p99Factor: number;
  ratePass: boolean;
  p99Pass: boolean;
}

function outcomeOf(protocol: Protocol, windows: Window[]): Outcome {
  const without = windowsOf(windows, protocol, 'without');
  const withFlood = windowsOf(windows, protocol, 'with');
  const rateRatio = median(withFlood.map((w) => deliveredRate(w.result))) / median(without.map((w) => deliveredRate(w.result)));
  const p99Factor = median(withFlood.map((w) => latencyP99(w.result))) / median(without.map((w) => latencyP99(w.result)));
  return { protocol, without, with: withFlood, rateRatio, p99Factor, ratePass: rateRatio >= GOAL_RATE_RATIO, p99Pass: p99Factor <= GOAL_P99_FACTOR };
}

const verdict = (pass: boolean) => (pass ? 'PASS' : 'FAIL');
const rounds = (windows: Window[], render: (w: Window) => string) => windows.map(render).join(' / ');
const sumFlood = (floods: FloodResult[]) => {
  const total = { calls: 0, admitted: 0, refused: {} as Record<string, number>, otherErrors: 0, drained: 0, seconds: 0 };
  for (const f of floods) {
    total.calls += f.calls;
    total.admitted += f.admitted;
    total.otherErrors += f.otherErrors;
    total.drained += f.drained;
    total.seconds += f.seconds;
    for (const [code, n] of Object.entries(f.refused)) total.refused[code] = (total.refused[code] ?? 0) + n;
  }
  return total;
};
const cpuOf = (windows: Window[], name: string) => median(windows.map((w) => w.result.cpu.processes.find((p) => p.name === name)?.percent ?? 0));

function goalLines(outcomes: Outcome[]): string[] {
  return outcomes.flatMap((o) => [
    `${verdict(o.ratePass)}  ${o.protocol} ring msgs/s with the flooder ≥ ${GOAL_RATE_RATIO * 100} % of without: ${fmtPct(o.rateRatio * 100)} (median ${fmtRate(median(o.with.map((w) => deliveredRate(w.result))))} / ${fmtRate(median(o.without.map((w) => deliveredRate(w.result))))})`,
    `${verdict(o.p99Pass)}  ${o.protocol} ring p99 with the flooder ≤ ${GOAL_P99_FACTOR}× without: ${o.p99Factor.toFixed(2)}× (median ${fmtMs(median(o.with.map((w) => latencyP99(w.result))))} / ${fmtMs(median(o.without.map((w) => latencyP99(w.result))))})`,
  ]);
}

function render(info: MachineInfo & { busyBefore: number; reruns: number; tookSeconds: number; halfRates: Map<Protocol, number> }, outcomes: Outcome[]): string {
  const all = outcomes.flatMap((o) => [...o.without, ...o.with]);
  const passed = outcomes.every((o) => o.ratePass && o.p99Pass);
  const lines: string[] = [];
  lines.push(`### ${info.date} — ${outcomes.map((o) => `${o.protocol} ${fmtPct(o.rateRatio * 100)} of msgs/s, p99 ${o.p99Factor.toFixed(2)}×`).join('; ')}: ${passed ? 'goals met' : 'goals missed'}`, '');
  lines.push(
    `Machine: ${describeMachine(info)}. Parameters: ${params.agents} agents per ring (senders on the legacy endpoint, content ${params.contentBytes} bytes, ` +
      (params.load === 'peak' ? 'closed loop: peak); ' : `open loop at half the ring's peak without the flooder, measured first: ${[...info.halfRates].map(([p, r]) => `${p} ${fmtRate(r)} msgs/s`).join(', ')}); `) +
      `${params.rounds} rounds per ring of a window without and a window with the flooder, ABBA order, ${params.roundSeconds} s measured each after ${params.warmupSeconds} s warm-up; ` +
      `one router, one legacy-poll, one elicitation, Redis AOF everysec. Flooder: its own process, agent ${FLOODER}, ${params.loops} concurrent send loops on the legacy endpoint to ${SINK} ` +
      `(${params.sink === 'drained' ? 'drained by a poller in the flooder process' : 'not drained'}), refusals sent again ${params.retry === 'at-once' ? 'at once' : 'after their retryAfterMs'}${params.flooderNice > 0 ? `, niced to ${Math.min(19, params.flooderNice)}` : ''}; ` +
      `send quotas at their defaults (SEND_RATE_PER_SECOND ${QUOTA.rate}, SEND_BURST ${QUOTA.burst}, SEND_BACKLOG_MAX ${QUOTA.backlog}). Took ${info.tookSeconds.toFixed(0)} s.`,
  );
  const contention = Math.max(...all.map((w) => w.result.cpu.otherPercent));
  lines.push(...contentionNote(contention, CONTENTION_LIMIT_PERCENT, info.reruns));
  lines.push('', '| measure | without the flooder | with the flooder | with ÷ without | goal | verdict |', '|---|---|---|---|---|---|');
  for (const o of outcomes) {
    const rate = (ws: Window[]) => `${fmtRate(median(ws.map((w) => deliveredRate(w.result))))} (rounds ${rounds(ws, (w) => fmtRate(deliveredRate(w.result)))})`;
    const p99 = (ws: Window[]) => `${fmtMs(median(ws.map((w) => latencyP99(w.result))))} (rounds ${rounds(ws, (w) => fmtMs(latencyP99(w.result)))})`;
    const p50 = (ws: Window[]) => fmtMs(median(ws.map((w) => latencyP50(w.result))));
    lines.push(`| ${o.protocol} ring messages/s, median | ${rate(o.without)} | ${rate(o.with)} | **${fmtPct(o.rateRatio * 100)}** | ≥ ${GOAL_RATE_RATIO * 100} % | ${verdict(o.ratePass)} |`);
    lines.push(`| ${o.protocol} ring latency p99, median | ${p99(o.without)} | ${p99(o.with)} | **${o.p99Factor.toFixed(2)}×** | ≤ ${GOAL_P99_FACTOR}× | ${verdict(o.p99Pass)} |`);
    lines.push(`| ${o.protocol} ring latency p50, median | ${p50(o.without)} | ${p50(o.with)} | | | |`);
  }

  lines.push('', '<details><summary>Details</summary>', '');
  lines.push('| | without the flooder | with the flooder |', '|---|---|---|');
  for (const o of outcomes) {
    const floods = o.with.map((w) => w.flood).filter((f): f is FloodResult => f !== undefined);
    const total = sumFlood(floods);
    const refusals = Object.entries(total.refused)
      .map(([code, n]) => `${code} ${n} (${fmtRate(n / Math.max(total.seconds, 1e-9))}/s)`)
      .join(', ');
    const refusedCount = Object.values(total.refused).reduce((a, b) => a + b, 0);
    lines.push(
      `| ${o.protocol}: flooder send_message calls, over its ${total.seconds.toFixed(0)} s of flooding (warm-ups and drains included) | – | ${total.calls} (${fmtRate(total.calls / Math.max(total.seconds, 1e-9))}/s): ` +
        `admitted ${total.admitted} (${fmtRate(total.admitted / Math.max(total.seconds, 1e-9))}/s, ${fmtPct((total.admitted / Math.max(1, total.calls)) * 100)}), refused ${refusedCount}${refusals ? ` (${refusals})` : ''}, other errors ${total.otherErrors}; drained ${total.drained} |`,
    );
    const ringSenders = (ws: Window[]) => {
      const busiest = Math.max(...ws.map((w) => w.result.maxSenderRate));
      const codes = ws.reduce<Record<string, number>>((all, w) => {
        for (const [code, n] of Object.entries(w.result.sendErrorCodes)) all[code] = (all[code] ?? 0) + n;
        return all;
      }, {});
      const errors =
        Object.entries(codes)
          .map(([code, n]) => `${code} ${n}`)
          .join(', ') || 'none';
      return `busiest ${fmtRate(busiest)}/s (quota ${QUOTA.rate}/s); send errors: ${errors}`;
    };
    lines.push(`| ${o.protocol}: ring senders' accepted messages/s per agent | ${ringSenders(o.without)} | ${ringSenders(o.with)} |`);
    const lost = (ws: Window[]) => ws.reduce((a, w) => a + w.result.lost, 0);
    lines.push(`| ${o.protocol}: ring messages lost (not received within ${params.drainSeconds} s) | ${lost(o.without)} | ${lost(o.with)} |`);
    const names = [...new Set([...o.without, ...o.with].flatMap((w) => w.result.cpu.processes.map((p) => p.name)))];
    for (const name of names) lines.push(`| ${o.protocol}: CPU ${name}, % of one core (median) | ${fmtPct(cpuOf(o.without, name))} | ${fmtPct(cpuOf(o.with, name))} |`);
    lines.push(`| ${o.protocol}: machine busy, % of all ${info.cores} cores (median) | ${fmtPct(median(o.without.map((w) => w.result.cpu.machineBusyPercent)))} | ${fmtPct(median(o.with.map((w) => w.result.cpu.machineBusyPercent)))} |`);
    lines.push(`| ${o.protocol}: CPU of processes outside the benchmark, % of one core (median) | ${fmtPct(median(o.without.map((w) => w.result.cpu.otherPercent)))} | ${fmtPct(median(o.with.map((w) => w.result.cpu.otherPercent)))} |`);
  }
  lines.push('', `Machine busy before the run: ${fmtPct(info.busyBefore)}. Windows re-run for contention: ${info.reruns}.`);
  lines.push('', '</details>');
  return lines.join('\n');
}

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  const startedAt = performance.now();
  const info = machineInfo();
  const legacyIds = ringIds('noisy-agent', params.agents);
  const modernIds = ringIds('noisy-modern', params.agents);
  log(
    `${params.agents} agents per ring, ${params.rounds} rounds × (without, with) × ${params.roundSeconds} s; flooder ${params.loops} loops, retry ${params.retry}, sink ${params.sink}; ` +
      `quota ${QUOTA.rate}/s, burst ${QUOTA.burst}, backlog ${QUOTA.backlog}`,
  );
  const guard = new QuietGuard(params.quietWaitSeconds, params.retries, CONTENTION_LIMIT_PERCENT, log);
  const { track, closeAll } = clientTracker();
  let bridge: Bridge | undefined;
  try {
    bridge = await startBridge({
      agents: [...legacyIds, ...(params.elicitation ? modernIds : []), FLOODER, SINK],
      shardCount: 16,
      env: BENCH_SERVICE_ENV,
      elicitations: params.elicitation ? 1 : 0,
      ...(params.elicitation ? { flags: { 'elicitation.enabled': 'true', 'elicitation.agents': modernIds.join(',') } } : {}),
    });
    const b = bridge;
    info.redis = await redisVersion(b);
    const rings: Array<[Protocol, Ring]> = [['legacy', await startLegacyRing(b, legacyIds, POLL, track)]];
    if (params.elicitation) rings.push(['elicitation', await startPushRing(b, modernIds, new PushReceivers(), track)]);

    const busyBefore = await guard.waitQuiet();
    const windows: Window[] = [];
    const halfRates = new Map<Protocol, number>();
    for (const [protocol, ring] of rings) {
      let targetRate: number | undefined;
      if (params.load === 'half') {
        const peak = await guard.measured(`${protocol} peak`, () => runWindow(b, ring, 'without', undefined));
        targetRate = deliveredRate(peak.result) / 2;
        if (!(targetRate > 0)) throw new Error(`the ${protocol} ring delivered nothing at peak`);
        halfRates.set(protocol, targetRate);
        log(`${protocol}: peak ${fmtRate(deliveredRate(peak.result))} msgs/s without the flooder; the rounds run open loop at ${fmtRate(targetRate)} msgs/s`);
      }
      for (let round = 0; round < params.rounds; round++) {
        const order = abbaOrder<Arm>(round, 'without', 'with');
        for (const arm of order) {
          const { result, flood } = await guard.measured(`${protocol} ${arm}`, () => runWindow(b, ring, arm, targetRate));
          windows.push({ protocol, arm, round, result, flood });
          log(
            `${protocol} round ${round + 1}/${params.rounds} ${arm} the flooder: ${fmtRate(deliveredRate(result))} msgs/s, p99 ${fmtMs(latencyP99(result))}, lost ${result.lost}` +
              (flood ? `; flooder admitted ${flood.admitted} of ${flood.calls} calls (${JSON.stringify(flood.refused)}, other errors ${flood.otherErrors})` : ''),
          );
        }
      }
    }

    const outcomes = rings.map(([protocol]) => outcomeOf(protocol, windows));
    const report = render({ ...info, busyBefore, reruns: guard.reruns, tookSeconds: (performance.now() - startedAt) / 1000, halfRates }, outcomes);
    process.stdout.write(`\n${report}\n\n${goalLines(outcomes).join('\n')}\n`);
    const busiest = Math.max(...windows.map((w) => w.result.maxSenderRate));
    if (busiest > QUOTA.rate) process.stdout.write(`\nWARNING: a ring sender reached ${fmtRate(busiest)} messages/s, above the per-agent quota of ${QUOTA.rate}/s: the ring itself was throttled\n`);
    if (params.writeDocs) {
      writeSectionRunToDocs(BENCHMARKS_DOC, SECTION, `${SECTION.heading} (\`make bench BENCH_PARTS=noisy\`)\n`, report, MAX_RUNS_KEPT);
      log(`results written to ${path.relative(REPO_ROOT, BENCHMARKS_DOC)}`);
    }
  } finally {
    logServiceWarnings([...(bridge?.routers ?? []), ...(bridge?.legacyPolls ?? []), ...(bridge?.elicitations ?? [])], log);
    await closeAll();
    await bridge?.stop();
  }
}

await runBenchmark(main, params.timeoutSeconds, 'BENCH_NOISY_TIMEOUT_SECONDS', log);
