/** The benchmark's verdicts, its markdown report, and docs/benchmarks.md upkeep. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cpuMsPerUnit, SELF, type CpuReport } from './cpu.js';
import type { BridgeResult, NoopResult } from './results.js';
import { distribution, fmtMs, fmtPct, fmtRate } from './stats.js';

export const GOAL_RATIO = 0.4;
export const GOAL_HALF_PEAK_P99_MS = 50;
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
}

export interface Goal {
  name: string;
  pass: boolean;
  detail: string;
}

const rateOf = (count: number, seconds: number) => count / Math.max(seconds, 1e-9);
const BRIDGE_PROCESSES = [SELF, 'legacy-poll', 'router', 'redis-server'];
const NOOP_PROCESSES = [SELF, 'noop-server'];

export function evaluateGoals(noop: NoopResult, peak: BridgeResult, half: BridgeResult): Goal[] {
  const noopRate = rateOf(noop.calls, noop.seconds);
  const peakRate = rateOf(peak.delivered, peak.seconds);
  const ratio = peakRate / noopRate;
  const p99 = distribution(half.latencies).p99;
  return [
    { name: `bridge msgs/s ≥ ${GOAL_RATIO * 100} % of noop calls/s`, pass: ratio >= GOAL_RATIO, detail: `${fmtPct(ratio * 100)} (${fmtRate(peakRate)} / ${fmtRate(noopRate)})` },
    { name: `p99 < ${GOAL_HALF_PEAK_P99_MS} ms at half peak`, pass: p99 < GOAL_HALF_PEAK_P99_MS, detail: fmtMs(p99) },
  ];
}

/** One run as markdown: heading, context, results table, details. */
export function renderRun(info: RunInfo, noopSlices: NoopResult[], peakSlices: BridgeResult[], noop: NoopResult, peak: BridgeResult, half: BridgeResult, goals: Goal[]): string {
  const noopRate = rateOf(noop.calls, noop.seconds);
  const peakRate = rateOf(peak.delivered, peak.seconds);
  const halfRate = rateOf(half.delivered, half.seconds);
  const peakLatency = distribution(peak.latencies);
  const halfLatency = distribution(half.latencies);
  const noopLatency = distribution(noop.latencies);
  const [ratioGoal, latencyGoal] = goals as [Goal, Goal];
  const verdict = goals.every((g) => g.pass) ? 'all goals met' : `missed: ${goals.filter((g) => !g.pass).map((g) => g.name).join('; ')}`;
  const slices = (values: number[]) => (values.length > 1 ? ` (slices ${values.map(fmtRate).join(' / ')})` : '');

  const lines: string[] = [];
  lines.push(`### ${info.date} — ${verdict}`, '');
  lines.push(
    `Machine: ${info.cores} cores (${info.cpuModel}), ${info.os}; Node ${info.node}; Redis ${info.redis}. ` +
      `Parameters: ${info.agents} agents in a ring (${info.agents} sender + ${info.agents} receiver clients; baseline ${info.agents} clients); ` +
      `noop and peak measured in ${info.rounds} alternating slices, ${info.seconds} s of each in total (${info.warmupSeconds} s warm-up before the first slice of each, 1 s before the others); ` +
      `half peak ${info.seconds} s after ${info.warmupSeconds} s warm-up; content ${info.contentBytes} bytes; ` +
      `wait_for_messages max_messages ${info.pollMaxMessages}, timeout_ms ${info.pollTimeoutMs}; one router, one legacy-poll, Redis AOF everysec.`,
  );
  const contention = Math.max(...[...noopSlices, ...peakSlices, half].map((r) => r.cpu.otherPercent));
  if (contention > CONTENTION_LIMIT_PERCENT) {
    lines.push(
      '',
      `**Contended run:** processes outside the benchmark used up to ${fmtPct(contention)} of a core during a measured window (after ${info.reruns} re-runs); the numbers are lower and noisier than on a quiet machine.`,
    );
  }
  lines.push('', '| measure | value | goal | verdict |', '|---|---|---|---|');
  lines.push(
    `| noop MCP tool calls/s (${info.agents} closed-loop clients) | ${fmtRate(noopRate)}${slices(noopSlices.map((r) => rateOf(r.calls, r.seconds)))}; call p50 ${fmtMs(noopLatency.p50)}, p99 ${fmtMs(noopLatency.p99)} | | |`,
  );
  lines.push(`| bridge peak messages/s (returned by the targets' polls) | ${fmtRate(peakRate)}${slices(peakSlices.map((r) => rateOf(r.delivered, r.seconds)))} | | |`);
  const roundRatios = peakSlices.map((r, i) => rateOf(r.delivered, r.seconds) / rateOf(noopSlices[i]?.calls ?? Number.NaN, noopSlices[i]?.seconds ?? Number.NaN));
  const perRound = roundRatios.length > 1 ? ` (per round ${roundRatios.map((r) => fmtPct(r * 100)).join(' / ')})` : '';
  lines.push(`| bridge peak ÷ noop | ${fmtPct((peakRate / noopRate) * 100)}${perRound} | ≥ ${GOAL_RATIO * 100} % | ${ratioGoal.pass ? 'PASS' : 'FAIL'} |`);
  lines.push(`| latency at peak, p50 / p99 / max | ${fmtMs(peakLatency.p50)} / ${fmtMs(peakLatency.p99)} / ${fmtMs(peakLatency.max)} | | |`);
  lines.push(`| half peak: target / achieved messages/s | ${fmtRate(half.targetRate ?? Number.NaN)} / ${fmtRate(halfRate)} | | |`);
  lines.push(
    `| latency at half peak, p50 / p99 / max | ${fmtMs(halfLatency.p50)} / ${fmtMs(halfLatency.p99)} / ${fmtMs(halfLatency.max)} | p99 < ${GOAL_HALF_PEAK_P99_MS} ms | ${latencyGoal.pass ? 'PASS' : 'FAIL'} |`,
  );

  const both = (render: (r: BridgeResult) => string) => `${render(peak)} | ${render(half)}`;
  const share = (report: CpuReport, name: string) => {
    const found = report.processes.find((p) => p.name === name);
    return found ? `${fmtPct(found.percent)} (sys ${fmtPct(found.sysPercent)})` : 'n/a';
  };
  const perMessage = (r: BridgeResult) =>
    [
      ['bench', SELF],
      ['legacy-poll', 'legacy-poll'],
      ['router', 'router'],
      ['redis', 'redis-server'],
    ]
      .map(([label, name]) => `${label} ${cpuMsPerUnit(r.cpu, [name!], r.delivered).toFixed(2)}`)
      .join(', ');
  const redisSummary = (r: BridgeResult) => {
    if (!r.redis) return 'n/a';
    const per = Math.max(1, r.delivered);
    const top = [...r.redis.commands]
      .sort((a, b) => b[1].calls - a[1].calls)
      .slice(0, 6)
      .map(([name, c]) => `${name} ${(c.calls / per).toFixed(1)}`)
      .join(', ');
    return `${(r.redis.totalCalls / per).toFixed(1)} (${top}); ${(r.redis.totalUsec / per).toFixed(0)} µs inside Redis`;
  };
  const noopCost = cpuMsPerUnit(noop.cpu, NOOP_PROCESSES, noop.calls);
  const peakCost = cpuMsPerUnit(peak.cpu, BRIDGE_PROCESSES, peak.delivered);

  lines.push('', '<details><summary>Details</summary>', '');
  lines.push('| | peak | half peak |', '|---|---|---|');
  lines.push(`| messages accepted in the window / lost | ${both((r) => `${r.sent} / ${r.lost}`)} |`);
  lines.push(`| send_message call p50 / p99 | ${both((r) => `${fmtMs(distribution(r.sendCalls).p50)} / ${fmtMs(distribution(r.sendCalls).p99)}`)} |`);
  lines.push(`| send started → received p50 / p99 | ${both((r) => `${fmtMs(distribution(r.fromSendStart).p50)} / ${fmtMs(distribution(r.fromSendStart).p99)}`)} |`);
  lines.push(`| received before the send call resolved (latency 0) | ${both((r) => String(r.beforeAccepted))} |`);
  lines.push(`| polls / messages per poll | ${both((r) => `${r.polls} / ${(r.polledMessages / Math.max(1, r.polls)).toFixed(2)}`)} |`);
  lines.push(`| send / poll errors | ${both((r) => `${r.sendErrors} / ${r.pollErrors}`)} |`);
  const names = [...new Set([...peak.cpu.processes, ...half.cpu.processes].map((p) => p.name))];
  for (const name of names) lines.push(`| CPU ${name}, % of one core | ${share(peak.cpu, name)} | ${share(half.cpu, name)} |`);
  lines.push(`| CPU kernel outside processes (loopback networking, interrupts), % of one core | ${both((r) => fmtPct(r.cpu.kernelPercent))} |`);
  lines.push(`| CPU of processes outside the benchmark, % of one core | ${both((r) => `${fmtPct(r.cpu.otherPercent)}${r.cpu.otherTop ? ` (worst window: ${r.cpu.otherTop})` : ''}`)} |`);
  lines.push(`| machine busy, % of all ${info.cores} cores | ${both((r) => fmtPct(r.cpu.machineBusyPercent))} |`);
  lines.push(`| CPU ms per delivered message | ${both(perMessage)} |`);
  lines.push(`| Redis commands per delivered message | ${both(redisSummary)} |`);
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
  return lines.join('\n');
}

const RUNS_HEADING = '## Runs';
const RUN_MARK = '<!-- bench-run -->';

function intro(maxRuns: number): string {
  return `# Benchmarks

## Legacy throughput (\`make bench\`)

\`bench/legacy-throughput.ts\` starts a real bridge on this machine — redis-server (AOF everysec), one
router and one legacy-poll, each its own OS process — and drives it with real MCP SDK clients over
Streamable HTTP, all hosted in the benchmark process (one monotonic clock for both ends). Results
are appended below, newest first (the last ${maxRuns} runs are kept).
`;
}

/** Prepends `run` under "## Runs" (everything above that heading is kept as is), keeping at most `maxRuns`. */
export function writeRunToDocs(file: string, run: string, maxRuns: number): void {
  const existing = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const headingAt = existing.indexOf(`\n${RUNS_HEADING}\n`);
  const head = headingAt >= 0 ? existing.slice(0, headingAt + 1) : existing.trim() ? `${existing.trimEnd()}\n` : intro(maxRuns);
  const older =
    headingAt >= 0
      ? existing
          .slice(headingAt + RUNS_HEADING.length + 2)
          .split(RUN_MARK)
          .map((chunk) => chunk.trim())
          .filter((chunk) => chunk.length > 0)
      : [];
  const runs = [run.trim(), ...older].slice(0, maxRuns);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${head.trimEnd()}\n\n${RUNS_HEADING}\n\n${runs.map((r) => `${RUN_MARK}\n${r}\n`).join('\n')}`);
}
