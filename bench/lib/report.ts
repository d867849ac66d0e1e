/** The benchmark's verdicts, its markdown report, and docs/benchmarks.md upkeep. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cpuMsPerUnit, SELF, type CpuReport } from './cpu.js';
import type { BridgeResult, ElicitRoundTrips, NoopResult, RedisStats } from './results.js';
import { distribution, fmtMs, fmtPct, fmtRate } from './stats.js';

export const GOAL_RATIO = 0.4;
export const GOAL_HALF_PEAK_P99_MS = 50;
/** Elicitation messages/s at least this share of legacy messages/s, measured in the same run. */
export const GOAL_ELICITATION_RATIO = 0.8;
/** Above this CPU use by processes outside the benchmark (% of one core) in a window, the run is flagged as contended. */
export const CONTENTION_LIMIT_PERCENT = 20;

export interface RunInfo {
  date: string;
  cores: number;
  cpuModel: string;
  os: string;
  node: string;
  redis: string;
  /** All cores together, percent busy just before the run. */
  busyBefore: number;
  /** Windows run again because other processes used the machine meanwhile. */
  reruns: number;
  /** Redis log lines about slow AOF fsync (each one stalled writes). */
  aofStalls: number;
  /** Lines the services logged (LOG_LEVEL=warn: warnings and errors), by service. */
  serviceLogLines: string;
  agents: number;
  rounds: number;
  warmupSeconds: number;
  seconds: number;
  contentBytes: number;
  pollMaxMessages: number;
  pollTimeoutMs: number;
  elicitSeconds: number;
}

export interface Goal {
  name: string;
  pass: boolean;
  detail: string;
}

/** The legacy protocol against the no-op baseline. */
export interface LegacyPart {
  noopSlices: NoopResult[];
  peakSlices: BridgeResult[];
  noop: NoopResult;
  peak: BridgeResult;
  half: BridgeResult;
}

/** The elicitation protocol: the same ring, every target a modern agent. */
export interface ElicitationPart {
  peakSlices: BridgeResult[];
  peak: BridgeResult;
  half: BridgeResult;
  /** One asker: the round trip of a single elicit. */
  elicitSerial: ElicitRoundTrips;
  /** A few concurrent askers: elicits/s. */
  elicitConcurrent: ElicitRoundTrips;
  /** Elicitations the modern agents got that were neither ring messages nor elicit questions. */
  stray: number;
}

const rateOf = (count: number, seconds: number) => count / Math.max(seconds, 1e-9);
const LEGACY_COST: Array<[string, string]> = [
  ['bench', SELF],
  ['legacy-poll', 'legacy-poll'],
  ['router', 'router'],
  ['redis', 'redis-server'],
];
const ELICITATION_COST: Array<[string, string]> = [
  ['bench', SELF],
  ['legacy-poll (send_message)', 'legacy-poll'],
  ['router', 'router'],
  ['elicitation', 'elicitation'],
  ['redis', 'redis-server'],
];
const ELICIT_COST: Array<[string, string]> = [
  ['bench', SELF],
  ['router', 'router'],
  ['elicitation', 'elicitation'],
  ['redis', 'redis-server'],
];
const NOOP_PROCESSES = [SELF, 'noop-server'];

export function evaluateGoals(legacy: LegacyPart, elicitation: ElicitationPart | undefined): Goal[] {
  const noopRate = rateOf(legacy.noop.calls, legacy.noop.seconds);
  const peakRate = rateOf(legacy.peak.delivered, legacy.peak.seconds);
  const ratio = peakRate / noopRate;
  const p99 = distribution(legacy.half.latencies).p99;
  const goals: Goal[] = [
    { name: `legacy msgs/s ≥ ${GOAL_RATIO * 100} % of noop calls/s`, pass: ratio >= GOAL_RATIO, detail: `${fmtPct(ratio * 100)} (${fmtRate(peakRate)} / ${fmtRate(noopRate)})` },
    { name: `legacy p99 < ${GOAL_HALF_PEAK_P99_MS} ms at half peak`, pass: p99 < GOAL_HALF_PEAK_P99_MS, detail: fmtMs(p99) },
  ];
  if (elicitation) {
    const pushRate = rateOf(elicitation.peak.delivered, elicitation.peak.seconds);
    const pushRatio = pushRate / peakRate;
    const pushP99 = distribution(elicitation.half.latencies).p99;
    goals.push(
      {
        name: `elicitation push p99 < ${GOAL_HALF_PEAK_P99_MS} ms at half peak`,
        pass: pushP99 < GOAL_HALF_PEAK_P99_MS && elicitation.half.lost === 0,
        detail: `${fmtMs(pushP99)}${elicitation.half.lost > 0 ? `, ${elicitation.half.lost} lost` : ''}`,
      },
      {
        name: `elicitation msgs/s ≥ ${GOAL_ELICITATION_RATIO * 100} % of legacy msgs/s`,
        pass: pushRatio >= GOAL_ELICITATION_RATIO,
        detail: `${fmtPct(pushRatio * 100)} (${fmtRate(pushRate)} / ${fmtRate(peakRate)})`,
      },
    );
  }
  return goals;
}

const verdictOf = (goal: Goal | undefined) => (goal ? (goal.pass ? 'PASS' : 'FAIL') : '');
const slicesOf = (values: number[]) => (values.length > 1 ? ` (slices ${values.map(fmtRate).join(' / ')})` : '');
const share = (report: CpuReport, name: string) => {
  const found = report.processes.find((p) => p.name === name);
  return found ? `${fmtPct(found.percent)} (sys ${fmtPct(found.sysPercent)})` : 'n/a';
};
const perUnit = (cpu: CpuReport, units: number, processes: Array<[string, string]>) =>
  processes.map(([label, name]) => `${label} ${cpuMsPerUnit(cpu, [name], units).toFixed(2)}`).join(', ') +
  `; total ${cpuMsPerUnit(cpu, processes.map(([, name]) => name), units).toFixed(2)}`;
const redisPer = (redis: RedisStats | undefined, units: number) => {
  if (!redis) return 'n/a';
  const per = Math.max(1, units);
  const top = [...redis.commands]
    .sort((a, b) => b[1].calls - a[1].calls)
    .slice(0, 6)
    .map(([name, c]) => `${name} ${(c.calls / per).toFixed(1)}`)
    .join(', ');
  return `${(redis.totalCalls / per).toFixed(1)} (${top}); ${(redis.totalUsec / per).toFixed(0)} µs inside Redis`;
};

/** The details rows shared by every ring protocol: peak and half peak side by side. */
function deliveryDetails(lines: string[], info: RunInfo, peak: BridgeResult, half: BridgeResult, cost: Array<[string, string]>): void {
  const both = (render: (r: BridgeResult) => string) => `${render(peak)} | ${render(half)}`;
  const legacy = peak.protocol === 'legacy';
  lines.push('| | peak | half peak |', '|---|---|---|');
  lines.push(`| messages accepted in the window / lost | ${both((r) => `${r.sent} / ${r.lost}`)} |`);
  lines.push(`| send_message call p50 / p99 | ${both((r) => `${fmtMs(distribution(r.sendCalls).p50)} / ${fmtMs(distribution(r.sendCalls).p99)}`)} |`);
  lines.push(`| send started → received p50 / p99 | ${both((r) => `${fmtMs(distribution(r.fromSendStart).p50)} / ${fmtMs(distribution(r.fromSendStart).p99)}`)} |`);
  lines.push(`| received before the send call resolved (latency 0) | ${both((r) => String(r.beforeAccepted))} |`);
  if (legacy) {
    lines.push(`| polls / messages per poll | ${both((r) => `${r.polls} / ${(r.polledMessages / Math.max(1, r.polls)).toFixed(2)}`)} |`);
    lines.push(`| send / poll errors | ${both((r) => `${r.sendErrors} / ${r.pollErrors}`)} |`);
  } else {
    lines.push(`| elicitation/create requests received (ring messages among them) | ${both((r) => `${r.polls} (${r.polledMessages})`)} |`);
    lines.push(`| send errors | ${both((r) => String(r.sendErrors))} |`);
  }
  const names = [...new Set([...peak.cpu.processes, ...half.cpu.processes].map((p) => p.name))];
  for (const name of names) lines.push(`| CPU ${name}, % of one core | ${share(peak.cpu, name)} | ${share(half.cpu, name)} |`);
  lines.push(`| CPU kernel outside processes (loopback networking, interrupts), % of one core | ${both((r) => fmtPct(r.cpu.kernelPercent))} |`);
  lines.push(`| CPU of processes outside the benchmark, % of one core | ${both((r) => `${fmtPct(r.cpu.otherPercent)}${r.cpu.otherTop ? ` (worst window: ${r.cpu.otherTop})` : ''}`)} |`);
  lines.push(`| machine busy, % of all ${info.cores} cores | ${both((r) => fmtPct(r.cpu.machineBusyPercent))} |`);
  lines.push(`| CPU ms per delivered message | ${both((r) => perUnit(r.cpu, r.delivered, cost))} |`);
  lines.push(`| Redis commands per delivered message | ${both((r) => redisPer(r.redis, r.delivered))} |`);
}

/** One run as markdown: heading, context, a section per protocol (results table, details). */
export function renderRun(info: RunInfo, legacy: LegacyPart, elicitation: ElicitationPart | undefined, goals: Goal[]): string {
  const { noop, peak, half, noopSlices, peakSlices } = legacy;
  const noopRate = rateOf(noop.calls, noop.seconds);
  const peakRate = rateOf(peak.delivered, peak.seconds);
  const halfRate = rateOf(half.delivered, half.seconds);
  const peakLatency = distribution(peak.latencies);
  const halfLatency = distribution(half.latencies);
  const noopLatency = distribution(noop.latencies);
  const [ratioGoal, latencyGoal, pushLatencyGoal, pushRatioGoal] = goals;
  const verdict = goals.every((g) => g.pass) ? 'all goals met' : `missed: ${goals.filter((g) => !g.pass).map((g) => g.name).join('; ')}`;

  const lines: string[] = [];
  lines.push(`### ${info.date} — ${verdict}`, '');
  lines.push(
    `Machine: ${info.cores} cores (${info.cpuModel}), ${info.os}; Node ${info.node}; Redis ${info.redis}. ` +
      `Parameters: ${info.agents} agents in a ring per protocol (${info.agents} sender + ${info.agents} receiver clients; baseline ${info.agents} clients); ` +
      `noop, legacy peak${elicitation ? ' and elicitation peak' : ''} measured in ${info.rounds} alternating slices, ${info.seconds} s of each in total (${info.warmupSeconds} s warm-up before the first slice of each, 1 s before the others); ` +
      `each half peak ${info.seconds} s after ${info.warmupSeconds} s warm-up; content ${info.contentBytes} bytes; senders use send_message on the legacy endpoint for both protocols; ` +
      `wait_for_messages max_messages ${info.pollMaxMessages}, timeout_ms ${info.pollTimeoutMs}; one router, one legacy-poll${elicitation ? ', one elicitation' : ''}, Redis AOF everysec.`,
  );
  const allWindows = [...noopSlices, ...peakSlices, half, ...(elicitation ? [...elicitation.peakSlices, elicitation.half, elicitation.elicitSerial, elicitation.elicitConcurrent] : [])];
  const contention = Math.max(...allWindows.map((r) => r.cpu.otherPercent));
  if (contention > CONTENTION_LIMIT_PERCENT) {
    lines.push(
      '',
      `**Contended run:** processes outside the benchmark used up to ${fmtPct(contention)} of a core during a measured window (after ${info.reruns} re-runs); the numbers are lower and noisier than on a quiet machine.`,
    );
  }

  lines.push('', '#### Legacy (wait_for_messages)', '');
  lines.push('| measure | value | goal | verdict |', '|---|---|---|---|');
  lines.push(
    `| noop MCP tool calls/s (${info.agents} closed-loop clients) | ${fmtRate(noopRate)}${slicesOf(noopSlices.map((r) => rateOf(r.calls, r.seconds)))}; call p50 ${fmtMs(noopLatency.p50)}, p99 ${fmtMs(noopLatency.p99)} | | |`,
  );
  lines.push(`| legacy peak messages/s (returned by the targets' polls) | ${fmtRate(peakRate)}${slicesOf(peakSlices.map((r) => rateOf(r.delivered, r.seconds)))} | | |`);
  const roundRatios = peakSlices.map((r, i) => rateOf(r.delivered, r.seconds) / rateOf(noopSlices[i]?.calls ?? Number.NaN, noopSlices[i]?.seconds ?? Number.NaN));
  const perRound = roundRatios.length > 1 ? ` (per round ${roundRatios.map((r) => fmtPct(r * 100)).join(' / ')})` : '';
  lines.push(`| legacy peak ÷ noop | ${fmtPct((peakRate / noopRate) * 100)}${perRound} | ≥ ${GOAL_RATIO * 100} % | ${verdictOf(ratioGoal)} |`);
  lines.push(`| latency at peak, p50 / p99 / max | ${fmtMs(peakLatency.p50)} / ${fmtMs(peakLatency.p99)} / ${fmtMs(peakLatency.max)} | | |`);
  lines.push(`| half peak: target / achieved messages/s | ${fmtRate(half.targetRate ?? Number.NaN)} / ${fmtRate(halfRate)} | | |`);
  lines.push(`| latency at half peak, p50 / p99 / max | ${fmtMs(halfLatency.p50)} / ${fmtMs(halfLatency.p99)} / ${fmtMs(halfLatency.max)} | p99 < ${GOAL_HALF_PEAK_P99_MS} ms | ${verdictOf(latencyGoal)} |`);

  const noopCost = cpuMsPerUnit(noop.cpu, NOOP_PROCESSES, noop.calls);
  const peakCost = cpuMsPerUnit(peak.cpu, LEGACY_COST.map(([, n]) => n), peak.delivered);
  lines.push('', '<details><summary>Legacy details</summary>', '');
  deliveryDetails(lines, info, peak, half, LEGACY_COST);
  lines.push(
    `| CPU per message ÷ CPU per noop call (clients + servers; a noop call costs ${noopCost.toFixed(2)} ms) | ${(peakCost / noopCost).toFixed(2)}: a CPU-bound machine tops out at ${fmtPct((noopCost / peakCost) * 100)} of the noop rate | |`,
  );
  lines.push('');
  lines.push(
    `Noop slices, CPU in % of one core: ${noop.cpu.processes.map((p) => `${p.name} ${fmtPct(p.percent)}`).join(', ')}, kernel ${fmtPct(noop.cpu.kernelPercent)}, ` +
      `processes outside the benchmark ${fmtPct(noop.cpu.otherPercent)}${noop.cpu.otherTop ? ` (worst window: ${noop.cpu.otherTop})` : ''}; machine busy ${fmtPct(noop.cpu.machineBusyPercent)}; errors ${noop.errors}. ` +
      `Machine busy before the run: ${fmtPct(info.busyBefore)}. Windows re-run for contention: ${info.reruns}. Redis slow-fsync log lines: ${info.aofStalls}. ` +
      `Service log lines (warn and above): ${info.serviceLogLines}.`,
  );
  lines.push('', '</details>');

  if (elicitation) {
    const e = elicitation;
    const pushRate = rateOf(e.peak.delivered, e.peak.seconds);
    const pushHalfRate = rateOf(e.half.delivered, e.half.seconds);
    const pushPeakLatency = distribution(e.peak.latencies);
    const pushHalfLatency = distribution(e.half.latencies);
    const roundPushRatios = e.peakSlices.map((r, i) => rateOf(r.delivered, r.seconds) / rateOf(peakSlices[i]?.delivered ?? Number.NaN, peakSlices[i]?.seconds ?? Number.NaN));
    const serial = distribution(e.elicitSerial.latencies);
    const concurrent = distribution(e.elicitConcurrent.latencies);
    lines.push('', '#### Elicitation (push as elicitation/create)', '');
    lines.push('| measure | value | goal | verdict |', '|---|---|---|---|');
    lines.push(`| elicitation peak messages/s (elicitations received by the targets) | ${fmtRate(pushRate)}${slicesOf(e.peakSlices.map((r) => rateOf(r.delivered, r.seconds)))} | | |`);
    lines.push(
      `| elicitation peak ÷ legacy peak | ${fmtPct((pushRate / peakRate) * 100)}${roundPushRatios.length > 1 ? ` (per round ${roundPushRatios.map((r) => fmtPct(r * 100)).join(' / ')})` : ''} | ≥ ${GOAL_ELICITATION_RATIO * 100} % | ${verdictOf(pushRatioGoal)} |`,
    );
    lines.push(`| push delivery at peak, p50 / p99 / max | ${fmtMs(pushPeakLatency.p50)} / ${fmtMs(pushPeakLatency.p99)} / ${fmtMs(pushPeakLatency.max)} | | |`);
    lines.push(`| half peak: target / achieved messages/s | ${fmtRate(e.half.targetRate ?? Number.NaN)} / ${fmtRate(pushHalfRate)} | | |`);
    lines.push(
      `| push delivery at half peak, p50 / p99 / max | ${fmtMs(pushHalfLatency.p50)} / ${fmtMs(pushHalfLatency.p99)} / ${fmtMs(pushHalfLatency.max)} | p99 < ${GOAL_HALF_PEAK_P99_MS} ms | ${verdictOf(pushLatencyGoal)} |`,
    );
    lines.push(
      `| elicit round trip, 1 asker, p50 / p99 / max | ${fmtMs(serial.p50)} / ${fmtMs(serial.p99)} / ${fmtMs(serial.max)} (${fmtRate(rateOf(e.elicitSerial.calls, e.elicitSerial.seconds))} elicits/s) | | |`,
    );
    lines.push(
      `| elicits/s, ${e.elicitConcurrent.askers} concurrent askers (call p50 / p99) | ${fmtRate(rateOf(e.elicitConcurrent.calls, e.elicitConcurrent.seconds))} (${fmtMs(concurrent.p50)} / ${fmtMs(concurrent.p99)}) | | |`,
    );
    const legacyTotal = cpuMsPerUnit(peak.cpu, LEGACY_COST.map(([, n]) => n), peak.delivered);
    const pushTotal = cpuMsPerUnit(e.peak.cpu, ELICITATION_COST.map(([, n]) => n), e.peak.delivered);
    lines.push('', '<details><summary>Elicitation details</summary>', '');
    deliveryDetails(lines, info, e.peak, e.half, ELICITATION_COST);
    lines.push(
      `| CPU per message ÷ legacy CPU per message (peak) | ${(pushTotal / legacyTotal).toFixed(2)} (${pushTotal.toFixed(2)} ms / ${legacyTotal.toFixed(2)} ms): a CPU-bound machine tops out at ${fmtPct((legacyTotal / pushTotal) * 100)} of the legacy rate | |`,
    );
    lines.push('', '| elicit | 1 asker | ' + `${e.elicitConcurrent.askers} askers |`, '|---|---|---|');
    const pair = (render: (r: ElicitRoundTrips) => string) => `${render(e.elicitSerial)} | ${render(e.elicitConcurrent)}`;
    lines.push(`| calls in the window / errors / not accept {ok: true} | ${pair((r) => `${r.calls} / ${r.errors} / ${r.wrong}`)} |`);
    lines.push(`| CPU ms per elicit | ${pair((r) => perUnit(r.cpu, r.calls, ELICIT_COST))} |`);
    lines.push(`| Redis commands per elicit | ${pair((r) => redisPer(r.redis, r.calls))} |`);
    lines.push(`| machine busy, % of all ${info.cores} cores | ${pair((r) => fmtPct(r.cpu.machineBusyPercent))} |`);
    lines.push('', `Elicitations received that were neither ring messages nor elicit questions: ${e.stray}.`);
    lines.push('', '</details>');
  }
  return lines.join('\n');
}

const RUNS_HEADING = '## Runs';
const RUN_MARK = '<!-- bench-run -->';

function intro(maxRuns: number): string {
  return `# Benchmarks

## Throughput (\`make bench\`)

\`bench/throughput.ts\` starts a real bridge on this machine — redis-server (AOF everysec), one
router, one legacy-poll and one elicitation replica, each its own OS process — and drives it with
real MCP SDK clients over Streamable HTTP, all hosted in the benchmark process (one monotonic clock
for both ends): a no-op baseline, a legacy ring and an elicitation ring. Results are prepended
below, newest first (the last ${maxRuns} runs are kept).
`;
}

/**
 * Prepends `run` under "## Runs", keeping at most `maxRuns`. Everything above that heading is kept
 * as is, and so is everything from the next `## ` heading after it (e.g. the observability section).
 */
export function writeRunToDocs(file: string, run: string, maxRuns: number): void {
  const existing = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const headingAt = existing.indexOf(`\n${RUNS_HEADING}\n`);
  const head = headingAt >= 0 ? existing.slice(0, headingAt + 1) : existing.trim() ? `${existing.trimEnd()}\n` : intro(maxRuns);
  const runsAt = headingAt + RUNS_HEADING.length + 2;
  const nextSectionAt = headingAt >= 0 ? existing.indexOf('\n## ', runsAt - 1) : -1;
  const tail = nextSectionAt >= 0 ? existing.slice(nextSectionAt + 1).trimEnd() : '';
  const older =
    headingAt >= 0
      ? existing
          .slice(runsAt, nextSectionAt >= 0 ? nextSectionAt : undefined)
          .split(RUN_MARK)
          .map((chunk) => chunk.trim())
          .filter((chunk) => chunk.length > 0)
      : [];
  const runs = [run.trim(), ...older].slice(0, maxRuns);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${head.trimEnd()}\n\n${RUNS_HEADING}\n\n${runs.map((r) => `${RUN_MARK}\n${r}\n`).join('\n')}${tail ? `\n${tail}\n` : ''}`);
}
