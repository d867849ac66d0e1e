/**
 * The report of bench/observability-overhead.ts: per protocol the off and on arms side by side (the
 * overhead, CPU per message, the cost of metric recording), its details, and the intro of its
 * section of docs/benchmarks.md.
 */
import { cpuMsPerUnit, SELF, type CpuReport } from './cpu.js';
import { OBS_SECTION_HEADING, type RecordingCost, type ScrapeCounts, type SpanCounts } from './observability.js';
import type { RunInfo } from './report.js';
import { deliveredRate, mergeBridge, type BridgeResult } from './results.js';
import { windowsOf, type ArmWindow, type RingProtocol } from './rings.js';
import { contentionNote, describeMachine, type MachineInfo } from './run.js';
import { MAX_RUNS_KEPT } from './runs-doc.js';
import { distribution, fmtMs, fmtPct, fmtRate } from './stats.js';

/** Goal (issue): overhead = 1 − (on msgs/s ÷ off msgs/s) below this. */
const GOAL_OVERHEAD = 0.1;
/** The OpenTelemetry SDK's OTEL_BSP_SCHEDULE_DELAY when unset. */
export const SDK_DEFAULT_BSP_DELAY_MS = 5000;
/** The trace receiver's name among the metered processes. */
export const RECEIVER = 'otlp receiver';

export type ArmName = 'off' | 'on';
export type Protocol = RingProtocol;

export interface Slice extends ArmWindow<ArmName> {
  /** Spans the sink received from the start of the slice until after it (on: until the exporters flushed). */
  spans: number;
  scrapes: ScrapeCounts | undefined;
}

/** The benchmark's settings the report names. */
export interface ReportSettings {
  agents: number;
  contentBytes: number;
  rounds: number;
  seconds: number;
  warmupSeconds: number;
  /** Warm-up before the later slices of an arm and protocol. */
  laterWarmupSeconds: number;
  elicitation: boolean;
  bspDelayMs: number | undefined;
  scrapeIntervalMs: number;
  onEnv: Record<string, string>;
  contentionPercent: number;
}

export const pct1 = (fraction: number) => (Number.isFinite(fraction) ? `${(fraction * 100).toFixed(1)} %` : 'n/a');
/** A small share with two significant digits (0.044 %), a larger one like pct1. */
const pctSmall = (fraction: number) => (Number.isFinite(fraction) && Math.abs(fraction) < 0.01 ? `${Number((fraction * 100).toPrecision(2))} %` : pct1(fraction));

/** The machine part of the throughput benchmark's RunInfo, plus how long this run took. */
export type Info = MachineInfo & Pick<RunInfo, 'busyBefore' | 'reruns'> & { tookSeconds: number };

export interface ProtocolOutcome {
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

export function outcomeOf(protocol: Protocol, slices: Slice[], serviceNames: string[]): ProtocolOutcome {
  const offSlices = windowsOf(slices, protocol, 'off');
  const onSlices = windowsOf(slices, protocol, 'on');
  const off = mergeBridge(offSlices.map((s) => s.result));
  const on = mergeBridge(onSlices.map((s) => s.result));
  const roundOverheads = offSlices.map((o, i) => 1 - deliveredRate(onSlices[i]!.result) / deliveredRate(o.result));
  return { protocol, off, on, offSlices, onSlices, overhead: 1 - deliveredRate(on) / deliveredRate(off), roundOverheads, serviceNames };
}

const cpuShare = (report: CpuReport, name: string) => report.processes.find((p) => p.name === name)?.percent ?? 0;
const sumScrapes = (slices: Slice[]): ScrapeCounts =>
  slices.reduce((a, s) => ({ ok: a.ok + (s.scrapes?.ok ?? 0), failed: a.failed + (s.scrapes?.failed ?? 0), bytes: a.bytes + (s.scrapes?.bytes ?? 0), ms: a.ms + (s.scrapes?.ms ?? 0) }), {
    ok: 0,
    failed: 0,
    bytes: 0,
    ms: 0,
  });

export interface Extras {
  recording: RecordingCost;
  /** Messages per wait_for_messages call in the legacy off slices. */
  messagesPerPoll: number;
  /** Messages per routing batch of the off router (whole run). */
  messagesPerBatch: number;
  spanNames: SpanCounts['byName'];
  spansPerAcceptedMessage: number;
}

export function render(info: Info, outcomes: ProtocolOutcome[], extras: Extras, settings: ReportSettings): { markdown: string; verdicts: string[] } {
  const verdicts = outcomes.map(
    (o) => `${o.overhead < GOAL_OVERHEAD ? 'PASS' : 'FAIL'}  ${o.protocol} overhead < ${GOAL_OVERHEAD * 100} %: ${pct1(o.overhead)} (${fmtRate(deliveredRate(o.on))} on / ${fmtRate(deliveredRate(o.off))} off msgs/s)`,
  );
  const allPass = outcomes.every((o) => o.overhead < GOAL_OVERHEAD);
  const lines: string[] = [];
  lines.push(`### ${info.date} — ${outcomes.map((o) => `${o.protocol} ${pct1(o.overhead)}`).join(', ')}: ${allPass ? 'goal met' : 'goal missed'} (< ${GOAL_OVERHEAD * 100} %)`, '');
  const bsp = settings.bspDelayMs === undefined ? `unset (SDK default ${SDK_DEFAULT_BSP_DELAY_MS} ms)` : `${settings.bspDelayMs} ms`;
  lines.push(
    `Machine: ${describeMachine(info)}. ` +
      `Parameters: ${settings.agents} agents per ring (${settings.agents} closed-loop senders on the legacy endpoint, content ${settings.contentBytes} bytes); ` +
      `${settings.rounds} rounds of off/on slices in ABBA order per protocol, ${settings.seconds} s measured per arm and protocol in total ` +
      `(${settings.warmupSeconds} s warm-up before the first slice of each, ${settings.laterWarmupSeconds} s before the others); ` +
      `two bridges started once (one per arm: redis AOF everysec, one router, one legacy-poll${settings.elicitation ? ', one elicitation' : ''}), identical but for the arm. ` +
      `**on**: OTEL_EXPORTER_OTLP_ENDPOINT → an OTLP/HTTP JSON receiver process on this machine, OTEL_BSP_SCHEDULE_DELAY ${bsp}, default sampler (every span recorded and exported), ` +
      `every service's /metrics scraped every ${settings.scrapeIntervalMs} ms during on slices` +
      `${
        Object.keys(settings.onEnv).length > 0
          ? `, and ${Object.entries(settings.onEnv)
              .map(([k, v]) => `${k}=${v}`)
              .join(', ')} (BENCH_OBS_ON_ENV)`
          : ''
      }; **off**: no OTEL_* variable, no scraping. ` +
      `Metric recording (prom-client, in memory) runs in both arms. Took ${info.tookSeconds.toFixed(0)} s.`,
  );
  const allSlices = outcomes.flatMap((o) => [...o.offSlices, ...o.onSlices]);
  const contention = Math.max(...allSlices.map((s) => s.result.cpu.otherPercent));
  lines.push(...contentionNote(contention, settings.contentionPercent, info.reruns, 'slice'));

  lines.push('', '| measure | off | on | overhead = 1 − on ÷ off | goal | verdict |', '|---|---|---|---|---|---|');
  const slicesOf = (slices: Slice[]) => ` (slices ${slices.map((s) => fmtRate(deliveredRate(s.result))).join(' / ')})`;
  for (const o of outcomes) {
    const label = o.protocol === 'legacy' ? 'legacy peak messages/s (returned by the targets’ polls)' : 'elicitation peak messages/s (elicitations received)';
    lines.push(
      `| ${label} | ${fmtRate(deliveredRate(o.off))}${slicesOf(o.offSlices)} | ${fmtRate(deliveredRate(o.on))}${slicesOf(o.onSlices)} | ` +
        `**${pct1(o.overhead)}** (per round ${o.roundOverheads.map(pct1).join(' / ')}) | < ${GOAL_OVERHEAD * 100} % | ${o.overhead < GOAL_OVERHEAD ? 'PASS' : 'FAIL'} |`,
    );
  }
  for (const o of outcomes) {
    const offCost = cpuMsPerUnit(o.off.cpu, o.serviceNames, o.off.delivered);
    const onCost = cpuMsPerUnit(o.on.cpu, o.serviceNames, o.on.delivered);
    lines.push(`| ${o.protocol}: CPU ms per delivered message, services (${o.serviceNames.join(' + ')}) | ${offCost.toFixed(3)} | ${onCost.toFixed(3)} | CPU ${onCost >= offCost ? '+' : ''}${pct1(onCost / offCost - 1)} | | |`);
  }

  const legacy = outcomes.find((o) => o.protocol === 'legacy')!;
  const legacyServiceCost = cpuMsPerUnit(legacy.off.cpu, legacy.serviceNames, legacy.off.delivered);
  const r = extras.recording;
  const recordingShare = r.oneMessageNs / 1e6 / legacyServiceCost;
  lines.push(`| metric recording per legacy message (microbenchmark) ÷ services' CPU per legacy message (off) | ${r.oneMessageNs.toFixed(0)} ns ÷ ${legacyServiceCost.toFixed(3)} ms | | ${pctSmall(recordingShare)} (in both arms) | | |`);

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
    return `${s.ok} / ${s.failed} (${fmtMs(s.ms / Math.max(1, s.ok + s.failed))}, ${(s.bytes / Math.max(1, s.ok) / 1024).toFixed(0)} KiB each)`;
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
  lines.push(`Spans the receiver got over the whole run (on bridge, both rings, warm-ups included): ${spanList || 'none'}; ` + `${extras.spansPerAcceptedMessage.toFixed(2)} spans per message the on bridge accepted.`);
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

/** What makes a run's numbers meaningless (then it is not written to the docs): spans where none may be, none where some must be, no scrape, an arm that delivered nothing. */
export function sanityProblems(outcomes: ProtocolOutcome[], onEnvSet: boolean): string[] {
  const problems: string[] = [];
  for (const o of outcomes) {
    const offSpans = o.offSlices.reduce((a, s) => a + s.spans, 0);
    const onSpans = o.onSlices.reduce((a, s) => a + s.spans, 0);
    if (offSpans !== 0) problems.push(`${o.protocol}: ${offSpans} spans arrived during off slices (expected 0)`);
    if (!(onSpans > 0) && !onEnvSet) problems.push(`${o.protocol}: no span arrived during on slices`);
    const scrapes = sumScrapes(o.onSlices);
    if (scrapes.ok === 0) problems.push(`${o.protocol}: no /metrics scrape succeeded during on slices`);
    if (o.off.delivered === 0 || o.on.delivered === 0) problems.push(`${o.protocol}: an arm delivered nothing`);
  }
  return problems;
}

export const DOCS_INTRO = `${OBS_SECTION_HEADING} (\`make bench-observability\`)

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
