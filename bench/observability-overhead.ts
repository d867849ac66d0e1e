/**
 * Observability overhead benchmark (`make bench-observability`; `make bench` runs it after
 * bench/throughput.ts): what tracing and Prometheus scraping cost the bridge's peak throughput.
 * Goal (issue): overhead = 1 − (on msgs/s ÷ off msgs/s) < 10 %.
 *
 * Two arms, each a whole bridge (redis-server + router + legacy-poll + elicitation as OS processes,
 * started by libs/testkit/src/bridge/bridge.ts with the same settings as bench/throughput.ts):
 *   off — no OTEL_* variable (tracing off: every span is the API's no-op), nobody scrapes /metrics.
 *         OTEL_* variables of the benchmark's own environment are removed before anything starts.
 *   on  — OTEL_EXPORTER_OTLP_ENDPOINT names an OTLP/HTTP JSON receiver (bench/otlp-sink.ts, its own
 *         process, so its CPU shows apart), OTEL_BSP_SCHEDULE_DELAY=BENCH_OBS_BSP_DELAY_MS, and the
 *         default sampler (parent-based always-on: every span is recorded and exported). While an on
 *         slice runs, the benchmark GETs every service's /metrics (router, legacy-poll, elicitation)
 *         once per BENCH_OBS_SCRAPE_INTERVAL_MS, the way a Prometheus server would.
 * Metric *recording* (prom-client counters and histograms in memory) is compiled in and runs in both
 * arms; its cost is measured apart by a microbenchmark: the metric calls one legacy message causes,
 * on a `new BridgeMetrics('bench')`, ~BENCH_OBS_MICRO_ITERATIONS times → ns per message, compared
 * with the CPU the services spent per message in the off arm.
 *
 * Load, per arm and protocol, the peak windows of bench/throughput.ts (bench/lib/load.ts; receivers
 * in bench/lib/receivers.ts): a ring of N agents, N closed-loop senders calling send_message on the
 * legacy endpoint; receivers are
 *   legacy      — one wait_for_messages loop per target (PollingReceivers);
 *   elicitation — modern agents on the elicitation endpoint, answering each elicitation/create at
 *                 once (PushReceivers); BENCH_OBS_ELICITATION=0 leaves this ring out.
 * Rate = messages the targets received inside the measured window per second.
 *
 * Fairness. Both bridges are started once, at the start, and live until the end, so each arm's
 * processes stay warm (JIT, connection pools) and the idle one costs either arm the same little
 * background CPU (flag polls, lease renewals, redis cron). Restarting one bridge between arms would
 * cost ~10 s per switch and start every slice cold. The arms alternate in BENCH_OBS_ROUNDS rounds of
 * slices, in ABBA order (round 1: off, on; round 2: on, off; …; legacy pair, then elicitation pair),
 * so a machine whose speed drifts (this is a shared host) favours neither arm; the overhead is
 * computed over all slices together and shown per round as well. Scraping runs only during on
 * slices, and after each on slice the benchmark waits until the span exporters have flushed
 * (no span for BSP delay + 0.3 s), so no on-arm work spills into the next slice. Sanity checks:
 * spans received during on slices > 0, during off slices == 0; scrapes succeeded.
 * Before the first slice, and before re-running a slice that processes outside the benchmark
 * disturbed (> BENCH_OBS_CONTENTION_PERCENT of a core), it waits for an idle machine
 * (bench/lib/cpu.ts), as throughput.ts does.
 *
 * Results are printed and written to docs/benchmarks.md, section "Observability overhead" (at most
 * 5 runs kept; the rest of the file is left alone). Exit code 0 even when the goal is missed; 1 when
 * the benchmark failed or its sanity checks did (then docs are not written).
 *
 * Environment (defaults); the BENCH_* settings shared with throughput.ts mean the same here:
 *   BENCH_OBS_SECONDS=30          measured seconds per arm and protocol, summed over the slices
 *   BENCH_OBS_ROUNDS=6            rounds of (off, on) slice pairs per protocol, ABBA order (≥ 3)
 *   BENCH_OBS_WARMUP_SECONDS=3    warm-up before the first slice of each arm and protocol (1 s, at
 *                                 most this, before the later ones)
 *   BENCH_OBS_ELICITATION=1       0: the legacy ring only
 *   BENCH_OBS_SCRAPE_INTERVAL_MS=1000  /metrics scrape interval of the on arm
 *   BENCH_OBS_BSP_DELAY_MS=1000   OTEL_BSP_SCHEDULE_DELAY of the on arm; "default" leaves it unset
 *                                 (the SDK's 5000 ms)
 *   BENCH_OBS_MICRO_ITERATIONS=1000000  iterations of each metric-recording measure
 *   BENCH_OBS_ON_ENV=             extra environment of the on arm's services, "NAME=value,NAME=value",
 *                                 to split the cost, e.g. OTEL_TRACES_SAMPLER=always_off (context
 *                                 propagation without recording or exporting spans); a run with it set
 *                                 does not require spans in the on arm
 *   BENCH_OBS_CONTENTION_PERCENT=10  re-run a slice in which processes outside the benchmark used
 *                                 more than this share of a core (stricter than throughput.ts's 20 %:
 *                                 the goal is a 10 % difference) …
 *   BENCH_OBS_RETRIES=4           … at most this many times in the run (reported either way)
 *   BENCH_OBS_TIMEOUT_SECONDS=420 give up (exit 1, every process stopped) after this long
 *   BENCH_AGENTS=16, BENCH_CONTENT_BYTES=200, BENCH_DRAIN_SECONDS=10, BENCH_QUIET_WAIT_SECONDS=60,
 *   BENCH_WRITE_DOCS=1            as in bench/throughput.ts
 * With the defaults it takes about 5 minutes on an idle 2-core machine.
 */
import path from 'node:path';
import { REPO_ROOT, type AgentClient } from '@agent-bridge/testkit';
import { startBridge, type Bridge } from '@agent-bridge/testkit/bridge';
import { cpuMsPerUnit, SELF, waitForQuietMachine, type CpuReport } from './lib/cpu.js';
import { runDeliveryWindow } from './lib/load.js';
import { PushReceivers } from './lib/receivers.js';
import { now, sleep } from './lib/window.js';
import { ringIds, startLegacyRing, startPushRing, type Ring as BaseRing, type Track } from './lib/rings.js';
import {
  fetchMetrics,
  measureRecording,
  OBS_SECTION_HEADING,
  Scraper,
  startTraceSink,
  sumOfMetric,
  writeObservabilityRunToDocs,
  type RecordingCost,
  type ScrapeCounts,
  type SpanCounts,
  type TraceSink,
} from './lib/observability.js';
import { Profiler } from './lib/profiling.js';
import { mergeBridge, type BridgeResult } from './lib/results.js';
import { distribution, fmtMs, fmtPct, fmtRate } from './lib/stats.js';
import type { RunInfo } from './lib/report.js';
import { envNumber } from './lib/env.js';
import { describeMachine, machineInfo, type MachineInfo } from './lib/run.js';

// ------------------------------------------------------------------ parameters


const params = {
  agents: Math.floor(envNumber('BENCH_AGENTS', 16, 2)),
  seconds: envNumber('BENCH_OBS_SECONDS', 30, 1),
  rounds: Math.floor(envNumber('BENCH_OBS_ROUNDS', 6, 1)),
  warmupSeconds: envNumber('BENCH_OBS_WARMUP_SECONDS', 3, 0),
  elicitation: process.env.BENCH_OBS_ELICITATION !== '0',
  scrapeIntervalMs: envNumber('BENCH_OBS_SCRAPE_INTERVAL_MS', 1000, 100),
  bspDelayMs: process.env.BENCH_OBS_BSP_DELAY_MS === 'default' ? undefined : envNumber('BENCH_OBS_BSP_DELAY_MS', 1000, 1),
  microIterations: Math.floor(envNumber('BENCH_OBS_MICRO_ITERATIONS', 1_000_000, 1000)),
  onEnv: Object.fromEntries(
    (process.env.BENCH_OBS_ON_ENV ?? '')
      .split(',')
      .map((pair) => pair.trim())
      .filter(Boolean)
      .map((pair) => {
        const at = pair.indexOf('=');
        if (at <= 0) throw new Error(`BENCH_OBS_ON_ENV must be NAME=value pairs separated by commas (got "${pair}")`);
        return [pair.slice(0, at), pair.slice(at + 1)];
      }),
  ) as Record<string, string>,
  timeoutSeconds: envNumber('BENCH_OBS_TIMEOUT_SECONDS', 420, 10),
  contentBytes: Math.floor(envNumber('BENCH_CONTENT_BYTES', 200, 40)),
  drainSeconds: envNumber('BENCH_DRAIN_SECONDS', 10, 1),
  quietWaitSeconds: envNumber('BENCH_QUIET_WAIT_SECONDS', 60, 0),
  retries: Math.floor(envNumber('BENCH_OBS_RETRIES', 4, 0)),
  contentionPercent: envNumber('BENCH_OBS_CONTENTION_PERCENT', 10, 0),
  writeDocs: process.env.BENCH_WRITE_DOCS !== '0',
};

const GOAL_OVERHEAD = 0.1;
/** The OpenTelemetry SDK's OTEL_BSP_SCHEDULE_DELAY when unset. */
const SDK_DEFAULT_BSP_DELAY_MS = 5000;
const POLL_MAX_MESSAGES = 100;
/**
 * wait_for_messages timeout_ms. At peak a poll returns as soon as a message arrives (~1 message per
 * poll), so this hardly matters while the ring runs; it bounds how long the polls a stopped slice
 * abandoned stay open in legacy-poll (their spans end then), which the on arm waits out.
 */
const POLL_TIMEOUT_MS = 1_000;
/** "Quiet" = all cores together at most this busy over a 2 s sample (as throughput.ts). */
const QUIET_BUSY_PERCENT = 15;
const LATER_SLICE_WARMUP_SECONDS = Math.min(1, params.warmupSeconds);
const DOCS_FILE = path.join(REPO_ROOT, 'docs', 'benchmarks.md');
const MAX_RUNS_KEPT = 5;
const RECEIVER = 'otlp receiver';

const log = (message: string): void => void process.stderr.write(`[bench-obs] ${message}\n`);
const ringOf = (prefix: string) => ringIds(prefix, params.agents);
const agentIds = ringOf('obs-agent');
const modernIds = ringOf('obs-modern');
const profiler = new Profiler(undefined);

type ArmName = 'off' | 'on';
type Protocol = 'legacy' | 'elicitation';

/** A ring of bench/lib/rings.ts, with the trace receiver metered too. */
interface Ring extends BaseRing {
  /** Names of the bridge's processes whose CPU per message is "the services' cost". */
  serviceNames: string[];
}

interface Arm {
  name: ArmName;
  bridge: Bridge;
  rings: Partial<Record<Protocol, Ring>>;
  /** Every service's /metrics URL. */
  metricsUrls: string[];
}

interface Slice {
  arm: ArmName;
  protocol: Protocol;
  round: number;
  result: BridgeResult;
  /** Spans the sink received from the start of the slice until after it (on: until the exporters flushed). */
  spans: number;
  scrapes: ScrapeCounts | undefined;
}

const rateOf = (r: BridgeResult) => r.delivered / Math.max(r.seconds, 1e-9);
const pct1 = (fraction: number) => (Number.isFinite(fraction) ? `${(fraction * 100).toFixed(1)} %` : 'n/a');
/** A small share with two significant digits (0.044 %), a larger one like pct1. */
const pctSmall = (fraction: number) => (Number.isFinite(fraction) && Math.abs(fraction) < 0.01 ? `${Number((fraction * 100).toPrecision(2))} %` : pct1(fraction));

// ------------------------------------------------------------------ set-up

async function setUpArm(name: ArmName, bridge: Bridge, sinkPid: number, clients: AgentClient[]): Promise<Arm> {
  const track: Track = (client) => {
    clients.push(client);
    return client;
  };
  const withReceiver = (ring: BaseRing, serviceNames: string[]): Ring => ({ ...ring, services: [...ring.services, [RECEIVER, sinkPid]], serviceNames });
  const rings: Arm['rings'] = {
    legacy: withReceiver(await startLegacyRing(bridge, agentIds, { maxMessages: POLL_MAX_MESSAGES, timeoutMs: POLL_TIMEOUT_MS }, track), ['legacy-poll', 'router', 'redis-server']),
  };
  if (params.elicitation) {
    rings.elicitation = withReceiver(await startPushRing(bridge, modernIds, new PushReceivers(), track), ['legacy-poll', 'router', 'elicitation', 'redis-server']);
  }
  const metricsUrls = [
    ...bridge.routerUrls.map((url) => `${url}/metrics`),
    ...bridge.legacyUrls.map((url) => url.replace(/\/mcp$/, '/metrics')),
    ...bridge.elicitationBaseUrls.map((url) => `${url}/metrics`),
  ];
  return { name, bridge, rings, metricsUrls };
}

// ------------------------------------------------------------------ report

/** The machine part of the throughput benchmark's RunInfo, plus how long this run took. */
type Info = MachineInfo & Pick<RunInfo, 'busyBefore' | 'reruns'> & { tookSeconds: number };

interface ProtocolOutcome {
  protocol: Protocol;
  off: BridgeResult;
  on: BridgeResult;
  offSlices: Slice[];
  onSlices: Slice[];
  overhead: number;
  /** Per round: 1 − on ÷ off of that round's pair. */
  roundOverheads: number[];
  serviceNames: string[];
}

function outcomeOf(protocol: Protocol, slices: Slice[], serviceNames: string[]): ProtocolOutcome {
  const offSlices = slices.filter((s) => s.protocol === protocol && s.arm === 'off');
  const onSlices = slices.filter((s) => s.protocol === protocol && s.arm === 'on');
  const off = mergeBridge(offSlices.map((s) => s.result));
  const on = mergeBridge(onSlices.map((s) => s.result));
  const roundOverheads = offSlices.map((o, i) => 1 - rateOf(onSlices[i]!.result) / rateOf(o.result));
  return { protocol, off, on, offSlices, onSlices, overhead: 1 - rateOf(on) / rateOf(off), roundOverheads, serviceNames };
}

const cpuShare = (report: CpuReport, name: string) => report.processes.find((p) => p.name === name)?.percent ?? 0;
const sumScrapes = (slices: Slice[]): ScrapeCounts =>
  slices.reduce((a, s) => ({ ok: a.ok + (s.scrapes?.ok ?? 0), failed: a.failed + (s.scrapes?.failed ?? 0), bytes: a.bytes + (s.scrapes?.bytes ?? 0), ms: a.ms + (s.scrapes?.ms ?? 0) }), {
    ok: 0,
    failed: 0,
    bytes: 0,
    ms: 0,
  });

interface Extras {
  recording: RecordingCost;
  /** Messages per wait_for_messages call in the legacy off slices. */
  messagesPerPoll: number;
  /** Messages per routing batch of the off router (whole run). */
  messagesPerBatch: number;
  spanNames: SpanCounts['byName'];
  spansPerAcceptedMessage: number;
}

function render(info: Info, outcomes: ProtocolOutcome[], extras: Extras): { markdown: string; verdicts: string[] } {
  const verdicts = outcomes.map((o) => `${o.overhead < GOAL_OVERHEAD ? 'PASS' : 'FAIL'}  ${o.protocol} overhead < ${GOAL_OVERHEAD * 100} %: ${pct1(o.overhead)} (${fmtRate(rateOf(o.on))} on / ${fmtRate(rateOf(o.off))} off msgs/s)`);
  const allPass = outcomes.every((o) => o.overhead < GOAL_OVERHEAD);
  const lines: string[] = [];
  lines.push(`### ${info.date} — ${outcomes.map((o) => `${o.protocol} ${pct1(o.overhead)}`).join(', ')}: ${allPass ? 'goal met' : 'goal missed'} (< ${GOAL_OVERHEAD * 100} %)`, '');
  const bsp = params.bspDelayMs === undefined ? `unset (SDK default ${SDK_DEFAULT_BSP_DELAY_MS} ms)` : `${params.bspDelayMs} ms`;
  lines.push(
    `Machine: ${describeMachine(info)}. ` +
      `Parameters: ${params.agents} agents per ring (${params.agents} closed-loop senders on the legacy endpoint, content ${params.contentBytes} bytes); ` +
      `${params.rounds} rounds of off/on slices in ABBA order per protocol, ${params.seconds} s measured per arm and protocol in total ` +
      `(${params.warmupSeconds} s warm-up before the first slice of each, ${LATER_SLICE_WARMUP_SECONDS} s before the others); ` +
      `two bridges started once (one per arm: redis AOF everysec, one router, one legacy-poll${params.elicitation ? ', one elicitation' : ''}), identical but for the arm. ` +
      `**on**: OTEL_EXPORTER_OTLP_ENDPOINT → an OTLP/HTTP JSON receiver process on this machine, OTEL_BSP_SCHEDULE_DELAY ${bsp}, default sampler (every span recorded and exported), ` +
      `every service's /metrics scraped every ${params.scrapeIntervalMs} ms during on slices` +
      `${Object.keys(params.onEnv).length > 0 ? `, and ${Object.entries(params.onEnv).map(([k, v]) => `${k}=${v}`).join(', ')} (BENCH_OBS_ON_ENV)` : ''}; **off**: no OTEL_* variable, no scraping. ` +
      `Metric recording (prom-client, in memory) runs in both arms. Took ${info.tookSeconds.toFixed(0)} s.`,
  );
  const allSlices = outcomes.flatMap((o) => [...o.offSlices, ...o.onSlices]);
  const contention = Math.max(...allSlices.map((s) => s.result.cpu.otherPercent));
  if (contention > params.contentionPercent) {
    lines.push(
      '',
      `**Contended run:** processes outside the benchmark used up to ${fmtPct(contention)} of a core during a measured slice (after ${info.reruns} re-runs); the numbers are noisier than on a quiet machine.`,
    );
  }

  lines.push('', '| measure | off | on | overhead = 1 − on ÷ off | goal | verdict |', '|---|---|---|---|---|---|');
  const slicesOf = (slices: Slice[]) => ` (slices ${slices.map((s) => fmtRate(rateOf(s.result))).join(' / ')})`;
  for (const o of outcomes) {
    const label = o.protocol === 'legacy' ? 'legacy peak messages/s (returned by the targets’ polls)' : 'elicitation peak messages/s (elicitations received)';
    lines.push(
      `| ${label} | ${fmtRate(rateOf(o.off))}${slicesOf(o.offSlices)} | ${fmtRate(rateOf(o.on))}${slicesOf(o.onSlices)} | ` +
        `**${pct1(o.overhead)}** (per round ${o.roundOverheads.map(pct1).join(' / ')}) | < ${GOAL_OVERHEAD * 100} % | ${o.overhead < GOAL_OVERHEAD ? 'PASS' : 'FAIL'} |`,
    );
  }
  for (const o of outcomes) {
    const offCost = cpuMsPerUnit(o.off.cpu, o.serviceNames, o.off.delivered);
    const onCost = cpuMsPerUnit(o.on.cpu, o.serviceNames, o.on.delivered);
    lines.push(
      `| ${o.protocol}: CPU ms per delivered message, services (${o.serviceNames.join(' + ')}) | ${offCost.toFixed(3)} | ${onCost.toFixed(3)} | CPU ${onCost >= offCost ? '+' : ''}${pct1(onCost / offCost - 1)} | | |`,
    );
  }

  const legacy = outcomes.find((o) => o.protocol === 'legacy')!;
  const legacyServiceCost = cpuMsPerUnit(legacy.off.cpu, legacy.serviceNames, legacy.off.delivered);
  const r = extras.recording;
  const recordingShare = r.oneMessageNs / 1e6 / legacyServiceCost;
  lines.push(
    `| metric recording per legacy message (microbenchmark) ÷ services' CPU per legacy message (off) | ${r.oneMessageNs.toFixed(0)} ns ÷ ${legacyServiceCost.toFixed(3)} ms | | ${pctSmall(recordingShare)} (in both arms) | | |`,
  );

  lines.push('', '<details><summary>Details</summary>', '');
  const columns = outcomes.flatMap((o) => [
    { label: `${o.protocol} off`, o, r: o.off, slices: o.offSlices },
    { label: `${o.protocol} on`, o, r: o.on, slices: o.onSlices },
  ]);
  lines.push(`| | ${columns.map((c) => c.label).join(' | ')} |`, `|---|${columns.map(() => '---|').join('')}`);
  const row = (name: string, render: (c: (typeof columns)[number]) => string) => lines.push(`| ${name} | ${columns.map(render).join(' | ')} |`);
  row('spans received (per delivered message in the window)', (c) => {
    const spans = c.slices.reduce((a, s) => a + s.spans, 0);
    return `${spans}${spans > 0 ? ` (${(spans / Math.max(1, c.r.delivered)).toFixed(2)}, incl. warm-ups)` : ''}`;
  });
  row(`/metrics scrapes ok / failed (mean duration)`, (c) => {
    if (c.slices[0]?.arm === 'off') return '–';
    const s = sumScrapes(c.slices);
    return `${s.ok} / ${s.failed} (${fmtMs(s.ms / Math.max(1, s.ok + s.failed))}, ${((s.bytes / Math.max(1, s.ok)) / 1024).toFixed(0)} KiB each)`;
  });
  row('latency at peak p50 / p99', (c) => `${fmtMs(distribution(c.r.latencies).p50)} / ${fmtMs(distribution(c.r.latencies).p99)}`);
  row('send_message call p50 / p99', (c) => `${fmtMs(distribution(c.r.sendCalls).p50)} / ${fmtMs(distribution(c.r.sendCalls).p99)}`);
  row('accepted in the window / lost / send errors', (c) => `${c.r.sent} / ${c.r.lost} / ${c.r.sendErrors}`);
  const names = [...new Set(columns.flatMap((c) => c.r.cpu.processes.map((p) => p.name)))];
  for (const name of names) row(`CPU ${name}, % of one core`, (c) => fmtPct(cpuShare(c.r.cpu, name)));
  row('CPU ms per delivered message: services / bench clients / otlp receiver', (c) =>
    [cpuMsPerUnit(c.r.cpu, c.o.serviceNames, c.r.delivered), cpuMsPerUnit(c.r.cpu, [SELF], c.r.delivered), cpuMsPerUnit(c.r.cpu, [RECEIVER], c.r.delivered)].map((v) => v.toFixed(3)).join(' / '),
  );
  row('CPU kernel outside processes, % of one core', (c) => fmtPct(c.r.cpu.kernelPercent));
  row('CPU of processes outside the benchmark, % of one core', (c) => `${fmtPct(c.r.cpu.otherPercent)}${c.r.cpu.otherTop ? ` (${c.r.cpu.otherTop})` : ''}`);
  row(`machine busy, % of all ${info.cores} cores`, (c) => fmtPct(c.r.cpu.machineBusyPercent));
  lines.push('');
  const spanList = Object.entries(extras.spanNames)
    .sort((a, b) => b[1] - a[1])
    .map(([name, n]) => `${name} ${n}`)
    .join(', ');
  lines.push(
    `Spans the receiver got over the whole run (on bridge, both rings, warm-ups included): ${spanList || 'none'}; ` +
      `${extras.spansPerAcceptedMessage.toFixed(2)} spans per message the on bridge accepted.`,
  );
  lines.push('');
  lines.push(
    `Metric recording, microbenchmark (\`new BridgeMetrics('bench')\`, median of 5 × ${(r.iterations / 5).toLocaleString('en-US')} iterations after a warm-up): ` +
      `per message (messagesSent, messagesRouted, messagesDelivered .inc, deliveryLatency.observe, toolCalls.inc send_message) ${r.perMessageNs.toFixed(0)} ns; ` +
      `per poll (toolCalls.inc wait_for_messages, waitingPolls.inc + .dec) ${r.perPollNs.toFixed(0)} ns; per routing batch (routingBatchSeconds.observe) ${r.perBatchNs.toFixed(0)} ns. ` +
      `One legacy message, counting one poll per message (toolCalls ×2) and the batch observation once every ${r.batchEvery} messages ` +
      `(the off router routed ${extras.messagesPerBatch.toFixed(2)} messages per batch): **${r.oneMessageNs.toFixed(0)} ns**, ${pctSmall(recordingShare)} of the ${legacyServiceCost.toFixed(3)} ms of CPU the services spent per legacy message in the off arm ` +
      `(${pctSmall(r.oneMessageNs / 1e6 / cpuMsPerUnit(legacy.off.cpu, [...legacy.serviceNames, SELF], legacy.off.delivered))} counting the bench clients too). ` +
      `At the measured ${extras.messagesPerPoll.toFixed(2)} messages per poll the poll part amortises to ${(r.perPollNs / Math.max(1, extras.messagesPerPoll)).toFixed(0)} ns per message. ` +
      `A hot loop in one process is the best case for these calls; in the services they are spread over the request path.`,
  );
  lines.push('');
  lines.push(`Machine busy before the run: ${fmtPct(info.busyBefore)}. Slices re-run for contention: ${info.reruns}.`);
  lines.push('', '</details>');
  return { markdown: lines.join('\n'), verdicts };
}

const DOCS_INTRO = `${OBS_SECTION_HEADING} (\`make bench-observability\`)

\`bench/observability-overhead.ts\` (run by \`make bench\` after the throughput benchmark, or alone with
\`make bench-observability\` or \`make bench BENCH_PARTS=observability\`) measures what tracing and
Prometheus scraping cost the peak throughput of the legacy ring (and of the elicitation ring), with
the senders and receivers of the throughput benchmark (\`bench/lib/load.ts\`,
\`bench/lib/receivers.ts\`). Goal: overhead = 1 − (on msgs/s ÷ off msgs/s) < 10 %.

- **off**: the services run with no \`OTEL_*\` variable (tracing off, every span a no-op) and nobody
  scrapes \`/metrics\`.
- **on**: \`OTEL_EXPORTER_OTLP_ENDPOINT\` points at an OTLP/HTTP JSON receiver
  (\`bench/otlp-sink.ts\`, its own process on the same machine, standing in for a collector),
  \`OTEL_BSP_SCHEDULE_DELAY=1000\`, default sampler (parent-based always-on: every span is exported),
  and the benchmark GETs every service's \`/metrics\` (router, legacy-poll, elicitation) once a
  second, as Prometheus would.
- **Metric recording** (prom-client counters and histograms in memory) is always compiled in, so it
  runs in both arms. A microbenchmark times the metric calls one legacy message causes on a
  \`new BridgeMetrics('bench')\` and compares them with the CPU the services spend per message.

Two identical bridges are started once, one per arm, and stay up for the whole run, so both arms
stay warm and the idle one costs either arm the same. The arms alternate in slices in ABBA order
(off, on, on, off, …) to cancel the drift of this shared machine; scraping runs only during on
slices, and after each on slice the benchmark waits for the span exporters to flush. Sanity checks:
spans arrived during on slices and none during off slices; scrapes succeeded. Since all processes
share the machine's cores, the on arm also pays for the receiver process (shown in the details),
which a real deployment would run elsewhere.

| variable | default | meaning |
|---|---|---|
| \`BENCH_OBS_SECONDS\` | 30 | measured seconds per arm and protocol, summed over the slices |
| \`BENCH_OBS_ROUNDS\` | 6 | off/on slice pairs per protocol (ABBA order) |
| \`BENCH_OBS_WARMUP_SECONDS\` | 3 | warm-up before the first slice of each arm and protocol (1 s before the others) |
| \`BENCH_OBS_ELICITATION\` | 1 | \`0\`: the legacy ring only |
| \`BENCH_OBS_SCRAPE_INTERVAL_MS\` | 1000 | scrape interval of the on arm |
| \`BENCH_OBS_BSP_DELAY_MS\` | 1000 | \`OTEL_BSP_SCHEDULE_DELAY\` of the on arm (\`default\`: unset, the SDK's 5000 ms) |
| \`BENCH_OBS_MICRO_ITERATIONS\` | 1000000 | iterations of each metric-recording measure |
| \`BENCH_OBS_ON_ENV\` | – | extra environment of the on arm, \`NAME=value,…\`, to split the cost (e.g. \`OTEL_TRACES_SAMPLER=always_off\`: context propagation without recording or exporting spans) |
| \`BENCH_OBS_CONTENTION_PERCENT\`, \`BENCH_OBS_RETRIES\` | 10, 4 | re-run a slice in which processes outside the benchmark used more than this share of a core, at most this many times per run |
| \`BENCH_OBS_TIMEOUT_SECONDS\` | 420 | give up (exit 1, every process stopped) after this long |

\`BENCH_AGENTS\`, \`BENCH_CONTENT_BYTES\`, \`BENCH_DRAIN_SECONDS\`, \`BENCH_QUIET_WAIT_SECONDS\`
and \`BENCH_WRITE_DOCS\` mean the same as for the throughput benchmark. With the
defaults it takes about 5 minutes. Runs, newest first (the last ${MAX_RUNS_KEPT} are kept):
`;

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  const startedAt = now();
  const removed = Object.keys(process.env).filter((name) => name.startsWith('OTEL_'));
  for (const name of removed) delete process.env[name];
  if (removed.length > 0) log(`removed ${removed.join(', ')} from the environment (the off arm runs without OTEL_* variables)`);
  if (params.rounds < 3) log(`BENCH_OBS_ROUNDS=${params.rounds}: fewer than 3 rounds per arm makes the comparison sensitive to drift`);

  const info: Info = {
    ...machineInfo(),
    busyBefore: Number.NaN,
    reruns: 0,
    tookSeconds: Number.NaN,
  };
  const protocols: Protocol[] = params.elicitation ? ['legacy', 'elicitation'] : ['legacy'];
  log(`${params.agents} agents per ring, ${params.rounds} rounds, ${params.seconds} s measured per arm and protocol (${protocols.join(', ')}), ${info.cores} cores`);

  let quietBudget = params.quietWaitSeconds;
  let retriesLeft = params.retries;
  const waitQuiet = async () => {
    const started = now();
    const busy = await waitForQuietMachine(quietBudget, QUIET_BUSY_PERCENT, log);
    quietBudget = Math.max(0, quietBudget - (now() - started) / 1000);
    return busy;
  };

  const serviceEnv: Record<string, string> = { LOG_LEVEL: 'warn', LEASE_TTL_MS: '5000', FLAGS_POLL_INTERVAL_MS: '500' };
  const bridgeOptions = {
    agents: params.elicitation ? [...agentIds, ...modernIds] : agentIds,
    shardCount: 16,
    ...(params.elicitation ? { elicitations: 1, flags: { 'elicitation.enabled': 'true', 'elicitation.agents': modernIds.join(',') } } : {}),
  };
  const clients: AgentClient[] = [];
  const bridges: Bridge[] = [];
  let sink: TraceSink | undefined;
  try {
    sink = await startTraceSink();
    const otelEnv: Record<string, string> = {
      OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
      ...(params.bspDelayMs !== undefined ? { OTEL_BSP_SCHEDULE_DELAY: String(params.bspDelayMs) } : {}),
      ...params.onEnv,
    };
    const started = await Promise.allSettled([startBridge({ ...bridgeOptions, env: serviceEnv }), startBridge({ ...bridgeOptions, env: { ...serviceEnv, ...otelEnv } })]);
    for (const result of started) if (result.status === 'fulfilled') bridges.push(result.value);
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const [offBridge, onBridge] = bridges as [Bridge, Bridge];
    const redisClient = offBridge.redis.client();
    info.redis = /redis_version:(\S+)/.exec(await redisClient.info('server'))?.[1] ?? 'unknown';
    redisClient.disconnect();
    const traceSink = sink;
    const [off, on] = await Promise.all([setUpArm('off', offBridge, traceSink.process.pid, clients), setUpArm('on', onBridge, traceSink.process.pid, clients)]);
    const arms = { off, on };
    const bspDelay = params.bspDelayMs ?? SDK_DEFAULT_BSP_DELAY_MS;
    // Nothing must be in flight from the set-up (the on bridge traced the connections' tool calls).
    await traceSink.settle(bspDelay + 300, 2 * bspDelay + 3_000);

    /** Waits until the polls a stopped slice abandoned have ended in legacy-poll (their spans end then). */
    const pollsEnded = async (arm: Arm) => {
      const url = arm.bridge.legacyUrls[0]!.replace(/\/mcp$/, '/metrics');
      const deadline = now() + POLL_TIMEOUT_MS + 3_000;
      while (now() < deadline && sumOfMetric(await fetchMetrics(url), 'agentbridge_waiting_polls') > 0) await sleep(100);
    };
    const runSlice = async (armName: ArmName, protocol: Protocol, round: number, warmupSeconds: number): Promise<Slice> => {
      const arm = arms[armName];
      const ring = arm.rings[protocol]!;
      const spansBefore = (await traceSink.counts()).total;
      const scraper = armName === 'on' ? new Scraper(arm.metricsUrls, params.scrapeIntervalMs) : undefined;
      scraper?.start();
      let result: BridgeResult;
      let scrapes: ScrapeCounts | undefined;
      try {
        result = await runDeliveryWindow({
          bridge: arm.bridge,
          ids: ring.ids,
          senders: ring.senders,
          receivers: ring.receivers,
          targetRate: undefined,
          warmupSeconds,
          seconds: params.seconds / params.rounds,
          contentBytes: params.contentBytes,
          drainSeconds: params.drainSeconds,
          services: ring.services,
          profiler,
          profile: false,
        });
      } finally {
        scrapes = await scraper?.stop();
      }
      if (armName === 'on' && protocol === 'legacy') await pollsEnded(arm);
      const after = armName === 'on' ? await traceSink.settle(bspDelay + 300, 2 * bspDelay + 3_000) : await traceSink.counts();
      return { arm: armName, protocol, round, result, spans: after.total - spansBefore, scrapes };
    };
    const measured = async (armName: ArmName, protocol: Protocol, round: number, warmupSeconds: number): Promise<Slice> => {
      let slice = await runSlice(armName, protocol, round, warmupSeconds);
      while (retriesLeft > 0 && slice.result.cpu.otherPercent > params.contentionPercent) {
        retriesLeft--;
        info.reruns++;
        log(`${protocol} ${armName}: processes outside the benchmark used ${fmtPct(slice.result.cpu.otherPercent)} of a core (${slice.result.cpu.otherTop}); running the slice again`);
        await waitQuiet();
        slice = await runSlice(armName, protocol, round, LATER_SLICE_WARMUP_SECONDS);
      }
      return slice;
    };

    info.busyBefore = await waitQuiet();
    const slices: Slice[] = [];
    const warmedUp = new Set<string>();
    for (let round = 0; round < params.rounds; round++) {
      const order: ArmName[] = round % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
      for (const protocol of protocols) {
        const pair: Partial<Record<ArmName, Slice>> = {};
        for (const armName of order) {
          const key = `${armName} ${protocol}`;
          const warmup = warmedUp.has(key) ? LATER_SLICE_WARMUP_SECONDS : params.warmupSeconds;
          warmedUp.add(key);
          const slice = await measured(armName, protocol, round, warmup);
          slices.push(slice);
          pair[armName] = slice;
          const extra = armName === 'on' ? `, ${slice.spans} spans, scrapes ok ${slice.scrapes?.ok ?? 0} failed ${slice.scrapes?.failed ?? 0}` : `, ${slice.spans} spans`;
          log(`round ${round + 1}/${params.rounds}: ${protocol} ${armName} ${fmtRate(rateOf(slice.result))} msgs/s, lost ${slice.result.lost}${extra}`);
        }
        log(`round ${round + 1}/${params.rounds}: ${protocol} overhead ${pct1(1 - rateOf(pair.on!.result) / rateOf(pair.off!.result))}`);
      }
    }

    // What the services' own counters say: messages per routing batch (off router), messages the on bridge accepted.
    const offRouterText = await fetchMetrics(`${offBridge.routerUrls[0]}/metrics`);
    const batches = sumOfMetric(offRouterText, 'agentbridge_routing_batch_duration_seconds_count');
    const routed = sumOfMetric(offRouterText, 'agentbridge_messages_routed_total');
    const messagesPerBatch = batches > 0 && routed > 0 ? routed / batches : 1;
    const onAccepted = sumOfMetric(await fetchMetrics(onBridge.legacyUrls[0]!.replace(/\/mcp$/, '/metrics')), 'agentbridge_messages_sent_total');
    const finalSpans = await traceSink.counts();
    const legacyOff = slices.filter((s) => s.protocol === 'legacy' && s.arm === 'off').map((s) => s.result);
    const messagesPerPoll = legacyOff.reduce((a, r) => a + r.polledMessages, 0) / Math.max(1, legacyOff.reduce((a, r) => a + r.polls, 0));

    log(`metric recording microbenchmark: ${params.microIterations} iterations per measure`);
    const recording = measureRecording(params.microIterations, messagesPerBatch);

    const outcomes = protocols.map((protocol) => outcomeOf(protocol, slices, arms.off.rings[protocol]!.serviceNames));
    info.tookSeconds = (now() - startedAt) / 1000;
    const { markdown, verdicts } = render(info, outcomes, {
      recording,
      messagesPerPoll,
      messagesPerBatch,
      spanNames: finalSpans.byName,
      spansPerAcceptedMessage: finalSpans.total / Math.max(1, onAccepted),
    });
    process.stdout.write(`\n${markdown}\n\n`);
    for (const line of verdicts) process.stdout.write(`${line}\n`);

    const problems: string[] = [];
    for (const o of outcomes) {
      const offSpans = o.offSlices.reduce((a, s) => a + s.spans, 0);
      const onSpans = o.onSlices.reduce((a, s) => a + s.spans, 0);
      if (offSpans !== 0) problems.push(`${o.protocol}: ${offSpans} spans arrived during off slices (expected 0)`);
      if (!(onSpans > 0) && Object.keys(params.onEnv).length === 0) problems.push(`${o.protocol}: no span arrived during on slices`);
      const scrapes = sumScrapes(o.onSlices);
      if (scrapes.ok === 0) problems.push(`${o.protocol}: no /metrics scrape succeeded during on slices`);
      if (o.off.delivered === 0 || o.on.delivered === 0) problems.push(`${o.protocol}: an arm delivered nothing`);
    }
    const lost = outcomes.reduce((a, o) => a + o.off.lost + o.on.lost, 0);
    if (lost > 0) process.stdout.write(`\nWARNING: ${lost} messages accepted in a slice did not arrive within ${params.drainSeconds} s\n`);
    if (problems.length > 0) {
      process.stdout.write(`\nSANITY CHECKS FAILED (results not written): ${problems.join('; ')}\n`);
      process.exitCode = 1;
      return;
    }
    if (params.writeDocs) {
      writeObservabilityRunToDocs(DOCS_FILE, DOCS_INTRO, markdown, MAX_RUNS_KEPT);
      log(`results written to ${path.relative(REPO_ROOT, DOCS_FILE)}`);
    }
  } finally {
    for (const bridge of bridges) {
      for (const service of [...bridge.routers, ...bridge.legacyPolls, ...bridge.elicitations]) {
        const distinct = [...new Set(service.logs().map((line) => line.slice(0, 400)))];
        if (distinct.length > 0) log(`${service.name} logged ${service.logs().length} lines (LOG_LEVEL=warn), e.g.:\n  ${distinct.slice(0, 3).join('\n  ')}`);
      }
    }
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await Promise.all(bridges.map((b) => b.stop()));
    await sink?.stop();
  }
}

// A hung benchmark must not hold the machine: exiting kills every child (testkit's reaper).
setTimeout(() => {
  log(`gave up after ${params.timeoutSeconds} s (BENCH_OBS_TIMEOUT_SECONDS)`);
  process.exit(1);
}, params.timeoutSeconds * 1000).unref();

try {
  await main();
} catch (error) {
  log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
}
