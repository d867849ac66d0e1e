/** The benchmark's verdicts and its markdown report (bench/lib/runs-doc.ts puts it into docs/benchmarks.md). */
import { cpuMsPerUnit, SELF, type CpuReport } from './cpu.js';
import { contentionNote, type MachineInfo } from './run.js';
import type { BridgeResult, ElicitRoundTrips, NoopResult, RedisStats } from './results.js';
import { distribution, fmtMs, fmtPct, fmtRate } from './stats.js';

const GOAL_RATIO = 0.4;
const GOAL_HALF_PEAK_P99_MS = 50;
/** Elicitation messages/s at least this share of legacy messages/s, measured in the same run. */
const GOAL_ELICITATION_RATIO = 0.8;
/** 2026-07-28 messages/s at least this share of legacy messages/s (one call carries several messages and their answers). */
const GOAL_ROUNDS_RATIO = 1;
/** Above this CPU use by processes outside the benchmark (% of one core) in a window, the run is flagged as contended. */
export const CONTENTION_LIMIT_PERCENT = 20;

export interface RunInfo extends MachineInfo {
  /** The MCP SDK the clients and endpoints use, e.g. "MCP SDK v2 (client 2.4.0, server 2.4.0)". */
  sdk: string;
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
  /** Which goal, for the report's table rows. */
  key: 'legacy-ratio' | 'legacy-p99' | 'push-p99' | 'push-ratio' | 'rounds-p99' | 'rounds-ratio';
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

/** The 2026-07-28 protocol: the same ring, every target a 2026-07-28 agent served by input_required rounds. */
export interface RoundsPart {
  peakSlices: BridgeResult[];
  peak: BridgeResult;
  half: BridgeResult;
  /** Elicitations the 2026 agents got that were not ring messages. */
  stray: number;
}

/** Everything one run measured; a ring turned off (BENCH_ELICITATION=0, BENCH_STATELESS=0) is undefined. */
export interface RunParts {
  legacy: LegacyPart;
  elicitation: ElicitationPart | undefined;
  rounds: RoundsPart | undefined;
}

const rateOf = (count: number, seconds: number) => count / Math.max(seconds, 1e-9);
/** The processes whose CPU a unit of work costs, as [label in the report, metered process name]. */
type Cost = Array<[string, string]>;
const BENCH: Cost[number] = ['bench', SELF];
const ROUTER: Cost[number] = ['router', 'router'];
const ELICITATION: Cost[number] = ['elicitation', 'elicitation'];
const REDIS: Cost[number] = ['redis', 'redis-server'];
const LEGACY_COST: Cost = [BENCH, ['legacy-poll', 'legacy-poll'], ROUTER, REDIS];
const ELICITATION_COST: Cost = [BENCH, ['legacy-poll (send_message)', 'legacy-poll'], ROUTER, ELICITATION, REDIS];
const ROUNDS_COST = ELICITATION_COST;
const ELICIT_COST: Cost = [BENCH, ROUTER, ELICITATION, REDIS];
const NOOP_COST: Cost = [BENCH, ['noop-server', 'noop-server']];
const NOOP_PROCESSES = NOOP_COST.map(([, name]) => name);

/** A ring's half-peak latency goal: p99 below the limit, nothing lost. */
function halfPeakGoal(key: Goal['key'], name: string, half: BridgeResult): Goal {
  const p99 = distribution(half.latencies).p99;
  return { key, name, pass: p99 < GOAL_HALF_PEAK_P99_MS && half.lost === 0, detail: `${fmtMs(p99)}${half.lost > 0 ? `, ${half.lost} lost` : ''}` };
}

/** A ring's peak against the legacy peak. */
function ratioGoal(key: Goal['key'], name: string, ring: BridgeResult, legacyPeak: BridgeResult, goal: number): Goal {
  const rate = rateOf(ring.delivered, ring.seconds);
  const legacyRate = rateOf(legacyPeak.delivered, legacyPeak.seconds);
  const ratio = rate / legacyRate;
  return { key, name: `${name} msgs/s ≥ ${goal * 100} % of legacy msgs/s`, pass: ratio >= goal, detail: `${fmtPct(ratio * 100)} (${fmtRate(rate)} / ${fmtRate(legacyRate)})` };
}

export function evaluateGoals({ legacy, elicitation, rounds }: RunParts): Goal[] {
  const noopRate = rateOf(legacy.noop.calls, legacy.noop.seconds);
  const peakRate = rateOf(legacy.peak.delivered, legacy.peak.seconds);
  const ratio = peakRate / noopRate;
  const p99 = distribution(legacy.half.latencies).p99;
  const goals: Goal[] = [
    { key: 'legacy-ratio', name: `legacy msgs/s ≥ ${GOAL_RATIO * 100} % of noop calls/s`, pass: ratio >= GOAL_RATIO, detail: `${fmtPct(ratio * 100)} (${fmtRate(peakRate)} / ${fmtRate(noopRate)})` },
    { key: 'legacy-p99', name: `legacy p99 < ${GOAL_HALF_PEAK_P99_MS} ms at half peak`, pass: p99 < GOAL_HALF_PEAK_P99_MS, detail: fmtMs(p99) },
  ];
  if (elicitation) {
    goals.push(halfPeakGoal('push-p99', `elicitation push p99 < ${GOAL_HALF_PEAK_P99_MS} ms at half peak`, elicitation.half), ratioGoal('push-ratio', 'elicitation', elicitation.peak, legacy.peak, GOAL_ELICITATION_RATIO));
  }
  if (rounds) {
    goals.push(halfPeakGoal('rounds-p99', `2026 delivery p99 < ${GOAL_HALF_PEAK_P99_MS} ms at half peak`, rounds.half), ratioGoal('rounds-ratio', '2026', rounds.peak, legacy.peak, GOAL_ROUNDS_RATIO));
  }
  return goals;
}

const verdictOf = (goal: Goal | undefined) => (goal ? (goal.pass ? 'PASS' : 'FAIL') : '');
const slicesOf = (values: number[]) => (values.length > 1 ? ` (slices ${values.map(fmtRate).join(' / ')})` : '');
const share = (report: CpuReport, name: string) => {
  const found = report.processes.find((p) => p.name === name);
  return found ? `${fmtPct(found.percent)} (sys ${fmtPct(found.sysPercent)})` : 'n/a';
};
const perUnit = (cpu: CpuReport, units: number, processes: Cost) =>
  processes.map(([label, name]) => `${label} ${cpuMsPerUnit(cpu, [name], units).toFixed(2)}`).join(', ') +
  `; total ${cpuMsPerUnit(
    cpu,
    processes.map(([, name]) => name),
    units,
  ).toFixed(2)}`;
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
function deliveryDetails(lines: string[], info: RunInfo, peak: BridgeResult, half: BridgeResult, cost: Cost): void {
  const both = (render: (r: BridgeResult) => string) => `${render(peak)} | ${render(half)}`;
  lines.push('| | peak | half peak |', '|---|---|---|');
  lines.push(`| messages accepted in the window / lost | ${both((r) => `${r.sent} / ${r.lost}`)} |`);
  lines.push(`| send_message call p50 / p99 | ${both((r) => `${fmtMs(distribution(r.sendCalls).p50)} / ${fmtMs(distribution(r.sendCalls).p99)}`)} |`);
  lines.push(`| send started → received p50 / p99 | ${both((r) => `${fmtMs(distribution(r.fromSendStart).p50)} / ${fmtMs(distribution(r.fromSendStart).p99)}`)} |`);
  lines.push(`| received before the send call resolved (latency 0) | ${both((r) => String(r.beforeAccepted))} |`);
  if (peak.protocol === 'legacy') {
    lines.push(`| polls / messages per poll | ${both((r) => `${r.polls} / ${(r.polledMessages / Math.max(1, r.polls)).toFixed(2)}`)} |`);
    lines.push(`| send / poll errors | ${both((r) => `${r.sendErrors} / ${r.pollErrors}`)} |`);
  } else if (peak.protocol === 'rounds') {
    const perRound = (r: BridgeResult) => (r.roundsHandedOut ? (r.delivered / r.roundsHandedOut).toFixed(2) : 'n/a');
    const requestsPerMessage = (r: BridgeResult) => (r.roundRequests !== undefined ? (r.roundRequests / Math.max(1, r.delivered)).toFixed(2) : 'n/a');
    lines.push(
      `| wait_for_messages results / ring elicitations per result | ${both((r) => `${r.polls} / ${(r.polledMessages / Math.max(1, r.polls)).toFixed(2)}`)} |`,
      `| rounds handed out / wait_for_messages requests (the elicitation replica's counters) | ${both((r) => `${r.roundsHandedOut ?? 'n/a'} / ${r.roundRequests ?? 'n/a'}`)} |`,
      `| messages per round / requests per delivered message (legacy: 1 ÷ messages per poll) | ${both((r) => `${perRound(r)} / ${requestsPerMessage(r)}`)} |`,
    );
    lines.push(`| ring messages returned on the poll lane instead (fallback) | ${both((r) => String(r.pollLaneMessages))} |`);
    lines.push(`| send / wait_for_messages errors | ${both((r) => `${r.sendErrors} / ${r.pollErrors}`)} |`);
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

/** The results rows of a ring measured against the legacy ring: peak, its ratio to legacy, latency at peak and half peak. */
function ringAgainstLegacy(
  lines: string[],
  ring: { peakSlices: BridgeResult[]; peak: BridgeResult; half: BridgeResult },
  legacy: LegacyPart,
  labels: { peak: string; name: string; latency: string },
  goals: { ratio: number; ratioGoal: Goal | undefined; latencyGoal: Goal | undefined },
): void {
  const rate = rateOf(ring.peak.delivered, ring.peak.seconds);
  const legacyRate = rateOf(legacy.peak.delivered, legacy.peak.seconds);
  const perRound = ring.peakSlices.map((r, i) => rateOf(r.delivered, r.seconds) / rateOf(legacy.peakSlices[i]?.delivered ?? Number.NaN, legacy.peakSlices[i]?.seconds ?? Number.NaN));
  const atPeak = distribution(ring.peak.latencies);
  const atHalf = distribution(ring.half.latencies);
  lines.push('| measure | value | goal | verdict |', '|---|---|---|---|');
  lines.push(`| ${labels.peak} | ${fmtRate(rate)}${slicesOf(ring.peakSlices.map((r) => rateOf(r.delivered, r.seconds)))} | | |`);
  lines.push(
    `| ${labels.name} peak ÷ legacy peak | ${fmtPct((rate / legacyRate) * 100)}${perRound.length > 1 ? ` (per round ${perRound.map((r) => fmtPct(r * 100)).join(' / ')})` : ''} | ≥ ${goals.ratio * 100} % | ${verdictOf(goals.ratioGoal)} |`,
  );
  lines.push(`| ${labels.latency} at peak, p50 / p99 / max | ${fmtMs(atPeak.p50)} / ${fmtMs(atPeak.p99)} / ${fmtMs(atPeak.max)} | | |`);
  lines.push(`| half peak: target / achieved messages/s | ${fmtRate(ring.half.targetRate ?? Number.NaN)} / ${fmtRate(rateOf(ring.half.delivered, ring.half.seconds))} | | |`);
  lines.push(`| ${labels.latency} at half peak, p50 / p99 / max | ${fmtMs(atHalf.p50)} / ${fmtMs(atHalf.p99)} / ${fmtMs(atHalf.max)} | p99 < ${GOAL_HALF_PEAK_P99_MS} ms | ${verdictOf(goals.latencyGoal)} |`);
}

/** CPU per message of a ring against the legacy ring's, at peak. */
function costAgainstLegacy(lines: string[], ring: BridgeResult, cost: Cost, legacyPeak: BridgeResult): void {
  const legacyTotal = cpuMsPerUnit(
    legacyPeak.cpu,
    LEGACY_COST.map(([, n]) => n),
    legacyPeak.delivered,
  );
  const total = cpuMsPerUnit(
    ring.cpu,
    cost.map(([, n]) => n),
    ring.delivered,
  );
  lines.push(
    `| CPU per message ÷ legacy CPU per message (peak) | ${(total / legacyTotal).toFixed(2)} (${total.toFixed(2)} ms / ${legacyTotal.toFixed(2)} ms): a CPU-bound machine tops out at ${fmtPct((legacyTotal / total) * 100)} of the legacy rate | |`,
  );
}

function renderLegacy(lines: string[], info: RunInfo, legacy: LegacyPart, goalOf: (key: Goal['key']) => Goal | undefined): void {
  const { noop, peak, half, noopSlices, peakSlices } = legacy;
  const noopRate = rateOf(noop.calls, noop.seconds);
  const peakRate = rateOf(peak.delivered, peak.seconds);
  const peakLatency = distribution(peak.latencies);
  const halfLatency = distribution(half.latencies);
  const noopLatency = distribution(noop.latencies);
  lines.push('', '#### Legacy (wait_for_messages)', '');
  lines.push('| measure | value | goal | verdict |', '|---|---|---|---|');
  lines.push(`| noop MCP tool calls/s (${info.agents} closed-loop clients) | ${fmtRate(noopRate)}${slicesOf(noopSlices.map((r) => rateOf(r.calls, r.seconds)))}; call p50 ${fmtMs(noopLatency.p50)}, p99 ${fmtMs(noopLatency.p99)} | | |`);
  lines.push(`| legacy peak messages/s (returned by the targets' polls) | ${fmtRate(peakRate)}${slicesOf(peakSlices.map((r) => rateOf(r.delivered, r.seconds)))} | | |`);
  const roundRatios = peakSlices.map((r, i) => rateOf(r.delivered, r.seconds) / rateOf(noopSlices[i]?.calls ?? Number.NaN, noopSlices[i]?.seconds ?? Number.NaN));
  const perRound = roundRatios.length > 1 ? ` (per round ${roundRatios.map((r) => fmtPct(r * 100)).join(' / ')})` : '';
  lines.push(`| legacy peak ÷ noop | ${fmtPct((peakRate / noopRate) * 100)}${perRound} | ≥ ${GOAL_RATIO * 100} % | ${verdictOf(goalOf('legacy-ratio'))} |`);
  lines.push(`| latency at peak, p50 / p99 / max | ${fmtMs(peakLatency.p50)} / ${fmtMs(peakLatency.p99)} / ${fmtMs(peakLatency.max)} | | |`);
  lines.push(`| half peak: target / achieved messages/s | ${fmtRate(half.targetRate ?? Number.NaN)} / ${fmtRate(rateOf(half.delivered, half.seconds))} | | |`);
  lines.push(`| latency at half peak, p50 / p99 / max | ${fmtMs(halfLatency.p50)} / ${fmtMs(halfLatency.p99)} / ${fmtMs(halfLatency.max)} | p99 < ${GOAL_HALF_PEAK_P99_MS} ms | ${verdictOf(goalOf('legacy-p99'))} |`);

  const noopCost = cpuMsPerUnit(noop.cpu, NOOP_PROCESSES, noop.calls);
  const peakCost = cpuMsPerUnit(
    peak.cpu,
    LEGACY_COST.map(([, n]) => n),
    peak.delivered,
  );
  lines.push('', '<details><summary>Legacy details</summary>', '');
  deliveryDetails(lines, info, peak, half, LEGACY_COST);
  lines.push(
    `| CPU per message ÷ CPU per noop call (clients + servers; a noop call costs ${noopCost.toFixed(2)} ms) | ${(peakCost / noopCost).toFixed(2)}: a CPU-bound machine tops out at ${fmtPct((noopCost / peakCost) * 100)} of the noop rate | |`,
  );
  lines.push('');
  lines.push(
    `Noop slices, CPU in % of one core: ${noop.cpu.processes.map((p) => `${p.name} ${fmtPct(p.percent)}`).join(', ')}, kernel ${fmtPct(noop.cpu.kernelPercent)}, ` +
      `processes outside the benchmark ${fmtPct(noop.cpu.otherPercent)}${noop.cpu.otherTop ? ` (worst window: ${noop.cpu.otherTop})` : ''}; machine busy ${fmtPct(noop.cpu.machineBusyPercent)}; errors ${noop.errors}; ` +
      `CPU ms per noop call: ${perUnit(noop.cpu, noop.calls, NOOP_COST)}. ` +
      `Machine busy before the run: ${fmtPct(info.busyBefore)}. Windows re-run for contention: ${info.reruns}. Redis slow-fsync log lines: ${info.aofStalls}. ` +
      `Service log lines (warn and above): ${info.serviceLogLines}.`,
  );
  lines.push('', '</details>');
}

/** What sets one ring's section apart: its heading, labels, goals, processes and what else it reports. */
interface RingSection {
  heading: string;
  labels: { peak: string; name: string; latency: string };
  ratio: number;
  goals: { ratio: Goal['key']; latency: Goal['key'] };
  summary: string;
  cost: Cost;
  /** What the elicitations counted as stray were not. */
  strayOf: string;
}

/** Rows after the results table's own, and tables after the details' own. */
interface MoreRows {
  results?: () => void;
  details?: () => void;
}

const ELICITATION_SECTION: RingSection = {
  heading: '#### Elicitation (push as elicitation/create)',
  labels: { peak: 'elicitation peak messages/s (elicitations received by the targets)', name: 'elicitation', latency: 'push delivery' },
  ratio: GOAL_ELICITATION_RATIO,
  goals: { ratio: 'push-ratio', latency: 'push-p99' },
  summary: 'Elicitation details',
  cost: ELICITATION_COST,
  strayOf: 'neither ring messages nor elicit questions',
};

const ROUNDS_SECTION: RingSection = {
  heading: '#### 2026-07-28 (wait_for_messages answered by input_required rounds)',
  labels: { peak: "2026 peak messages/s (elicitations received by the targets' handlers)", name: '2026', latency: 'delivery' },
  ratio: GOAL_ROUNDS_RATIO,
  goals: { ratio: 'rounds-ratio', latency: 'rounds-p99' },
  summary: '2026-07-28 details',
  cost: ROUNDS_COST,
  strayOf: 'not ring messages',
};

/** A ring measured against the legacy ring: results table, then its details folded. */
function renderRing(lines: string[], info: RunInfo, ring: ElicitationPart | RoundsPart, legacy: LegacyPart, goalOf: (key: Goal['key']) => Goal | undefined, section: RingSection, more: MoreRows = {}): void {
  lines.push('', section.heading, '');
  ringAgainstLegacy(lines, ring, legacy, section.labels, { ratio: section.ratio, ratioGoal: goalOf(section.goals.ratio), latencyGoal: goalOf(section.goals.latency) });
  more.results?.();
  lines.push('', `<details><summary>${section.summary}</summary>`, '');
  deliveryDetails(lines, info, ring.peak, ring.half, section.cost);
  costAgainstLegacy(lines, ring.peak, section.cost, legacy.peak);
  more.details?.();
  lines.push('', `Elicitations received that were ${section.strayOf}: ${ring.stray}.`);
  lines.push('', '</details>');
}

function renderElicitation(lines: string[], info: RunInfo, e: ElicitationPart, legacy: LegacyPart, goalOf: (key: Goal['key']) => Goal | undefined): void {
  const serial = distribution(e.elicitSerial.latencies);
  const concurrent = distribution(e.elicitConcurrent.latencies);
  renderRing(lines, info, e, legacy, goalOf, ELICITATION_SECTION, {
    results: () => {
      lines.push(`| elicit round trip, 1 asker, p50 / p99 / max | ${fmtMs(serial.p50)} / ${fmtMs(serial.p99)} / ${fmtMs(serial.max)} (${fmtRate(rateOf(e.elicitSerial.calls, e.elicitSerial.seconds))} elicits/s) | | |`);
      lines.push(`| elicits/s, ${e.elicitConcurrent.askers} concurrent askers (call p50 / p99) | ${fmtRate(rateOf(e.elicitConcurrent.calls, e.elicitConcurrent.seconds))} (${fmtMs(concurrent.p50)} / ${fmtMs(concurrent.p99)}) | | |`);
    },
    details: () => {
      lines.push('', '| elicit | 1 asker | ' + `${e.elicitConcurrent.askers} askers |`, '|---|---|---|');
      const pair = (render: (r: ElicitRoundTrips) => string) => `${render(e.elicitSerial)} | ${render(e.elicitConcurrent)}`;
      lines.push(`| calls in the window / errors / not accept {ok: true} | ${pair((r) => `${r.calls} / ${r.errors} / ${r.wrong}`)} |`);
      lines.push(`| CPU ms per elicit | ${pair((r) => perUnit(r.cpu, r.calls, ELICIT_COST))} |`);
      lines.push(`| Redis commands per elicit | ${pair((r) => redisPer(r.redis, r.calls))} |`);
      lines.push(`| machine busy, % of all ${info.cores} cores | ${pair((r) => fmtPct(r.cpu.machineBusyPercent))} |`);
    },
  });
}

function renderRounds(lines: string[], info: RunInfo, r: RoundsPart, legacy: LegacyPart, goalOf: (key: Goal['key']) => Goal | undefined): void {
  renderRing(lines, info, r, legacy, goalOf, ROUNDS_SECTION);
}

/** One run as markdown: heading, context, a section per protocol (results table, details). */
export function renderRun(info: RunInfo, parts: RunParts, goals: Goal[]): string {
  const { legacy, elicitation, rounds } = parts;
  const goalOf = (key: Goal['key']) => goals.find((g) => g.key === key);
  const verdict = goals.every((g) => g.pass)
    ? 'all goals met'
    : `missed: ${goals
        .filter((g) => !g.pass)
        .map((g) => g.name)
        .join('; ')}`;
  const rings = ['legacy', ...(elicitation ? ['elicitation'] : []), ...(rounds ? ['2026'] : [])];

  const lines: string[] = [];
  lines.push(`### ${info.date} — ${info.sdk.split(' (')[0]} — ${verdict}`, '');
  lines.push(
    `Machine: ${info.cores} cores (${info.cpuModel}), ${info.os}; Node ${info.node}; Redis ${info.redis}; ${info.sdk}. ` +
      `Parameters: ${info.agents} agents in a ring per protocol (${info.agents} sender + ${info.agents} receiver clients; baseline ${info.agents} clients); ` +
      `noop and the ${rings.join(', ')} peaks measured in ${info.rounds} alternating slices, ${info.seconds} s of each in total (${info.warmupSeconds} s warm-up before the first slice of each, 1 s before the others); ` +
      `each half peak ${info.seconds} s after ${info.warmupSeconds} s warm-up; content ${info.contentBytes} bytes; senders use send_message on the legacy endpoint for every protocol; ` +
      `wait_for_messages max_messages ${info.pollMaxMessages}, timeout_ms ${info.pollTimeoutMs}; one router, one legacy-poll${elicitation || rounds ? ', one elicitation' : ''}, Redis AOF everysec.`,
  );
  const allWindows = [
    ...legacy.noopSlices,
    ...legacy.peakSlices,
    legacy.half,
    ...(elicitation ? [...elicitation.peakSlices, elicitation.half, elicitation.elicitSerial, elicitation.elicitConcurrent] : []),
    ...(rounds ? [...rounds.peakSlices, rounds.half] : []),
  ];
  const contention = Math.max(...allWindows.map((r) => r.cpu.otherPercent));
  lines.push(...contentionNote(contention, CONTENTION_LIMIT_PERCENT, info.reruns, 'window', 'lower and noisier'));
  renderLegacy(lines, info, legacy, goalOf);
  if (elicitation) renderElicitation(lines, info, elicitation, legacy, goalOf);
  if (rounds) renderRounds(lines, info, rounds, legacy, goalOf);
  return lines.join('\n');
}
