/**
 * The scale benchmark's results (bench/scale.ts): what each case measured, the goals of issue 16
 * item 4, and the report printed and written to docs/benchmarks.md.
 */
import type { ExchangeResult } from './agent-workers.js';
import type { CpuReport } from './cpu.js';
import { memoryOf, type Memory } from './idle-cost.js';
import type { ConnectionCount } from './redis-clients.js';
import { describeMachine, type MachineInfo } from './run.js';
import { distribution, fmtMs, fmtPct } from './stats.js';

export type CaseName = 'polls' | 'sessions';

export interface ScaleParams {
  agents: number;
  cases: CaseName[];
  statelessPercent: number;
  workers: number;
  concurrency: number;
  pollTimeoutMs: number;
  baselineSeconds: number;
  settleSeconds: number;
  idleSeconds: number;
  activePercent: number;
  intervalMs: number;
  activeSeconds: number;
}

export interface RedisWindow {
  seconds: number;
  calls: Map<string, number>;
  totalCalls: number;
  cpu: CpuReport;
}

export interface ScaleCase {
  name: CaseName;
  agents: number;
  /** 2025-11-25 sessions (GET stream open). */
  sessions: number;
  /** Agents waiting in wait_for_messages: legacy polls, or 2026-07-28 agents. */
  waits: number;
  statelessAgents: number;
  openSeconds: number;
  /** Connect attempts that failed and were tried again. */
  connectRetries: number;
  baselineMemory: Memory;
  /** Sessions case: after the sessions connected, before the 2026 agents. */
  sessionsMemory: Memory | undefined;
  settledMemory: Memory;
  endMemory: Memory;
  baseline: RedisWindow;
  idle: RedisWindow;
  active: RedisWindow;
  /** The replica's gauges after the idle window. */
  waitingAfter: number;
  sessionsAfter: number;
  /** What did not stay idle and connected through the idle window: sessions the replica closed, waits that failed (a few errors). */
  dropped: { closedSessions: number; sessionsSettled: number; failedWaits: number; errors: string[] };
  /** CLIENT LIST after settling and after the idle window. */
  connections: [ConnectionCount[], ConnectionCount[]];
  activeAgents: number;
  delivery: ExchangeResult;
  /** The replica during the exchange: seconds of garbage collection (of it major, and how many majors), and its worst event-loop lag, ms. */
  replicaPauses: { gcSeconds: number; majorGcSeconds: number; majorGcs: number; loopLagMaxMs: number };
  /** The replica's slowest /metrics answer in the case, ms (a saturated event loop answers late). */
  slowestScrapeMs: number;
  /** RSS of every agent worker together (the client side). */
  clientRss: number;
}

const KIND_NAME = { poll: 'legacy polls', session: '2025 sessions', stateless: '2026-07-28 agents' } as const;

const GOAL = { connections: 8, pollBytes: 20 * 1024, sessionBytes: 64 * 1024, commandsPer1000: 50, p99Ms: 100 };

export const SCALE_SECTION = { heading: '## Scale', mark: '<!-- bench-scale-run -->' };

export const SCALE_INTRO = `## Scale (\`make bench BENCH_PARTS=scale\`)

\`bench/scale.ts\` puts 10,000 agents on one replica (issue 16 item 4). Goals: **≤ 8 Redis
connections per process; ≤ 20 KB of replica memory per waiting poll and ≤ 64 KB per idle session;
≤ 50 Redis commands/s per 1,000 idle agents; delivery p99 < 100 ms while 1 % of the agents exchange
messages.**

- **Two cases**, each on a fresh bridge (redis-server AOF everysec, one router, one legacy-poll,
  and one elicitation replica for \`sessions\`; every limit at its default — 10,000 agents fit
  them: \`MAX_SESSIONS\` is 10,000, each agent holds one poll or one session):
  **polls**: 10,000 legacy agents (SDK 1.x clients; the legacy endpoint is stateless) each loop
  \`wait_for_messages\` (\`timeout_ms\` 30,000, the tool's default; previous cursor) on the one
  legacy-poll replica. **sessions**: 10,000 agents in the rollout on the one elicitation replica,
  80 % SDK 1.x 2025-11-25 sessions with their GET stream open, 20 % SDK v2 clients pinned to
  2026-07-28 looping \`wait_for_messages\` there. The sessions connect first and the replica's
  memory is probed, then the 2026 agents and it is probed again: each kind's memory is its step's.
- **The clients live in 4 worker processes** (\`bench/scale-worker.ts\`, driven over the IPC
  channel), so the client side is not one event loop.
- **Measured** after a warm-up (8 agents connect, exchange messages and leave) and a baseline with
  no agent (20 s Redis window; the replica's memory after a full GC, as for idle sessions): every
  agent connects, 10 s idle, memory and \`CLIENT LIST\`; a 60 s idle window (\`INFO commandstats\`
  at both ends, CPU of every process from /proc); memory and \`CLIENT LIST\` again. **Memory per
  agent = (probe − baseline) ÷ agents of RSS less the free V8 heap**; **Redis commands per 1,000
  idle agents = (idle − baseline) calls/s ÷ (agents ÷ 1,000)**, with the top commands; connections
  per process by connection name (the services name theirs).
- **Delivery**: then 1 % of the agents, in pairs held by one worker (polls: two legacy agents;
  sessions: a 2025 session, which gets its messages pushed as \`elicitation/create\`, and a 2026
  agent, which gets them as the elicitations of an \`input_required\` round), each send the other
  one message every 2 s for 30 s while the rest stay idle. Latency = \`send_message\` returned →
  the target client has the message (one clock, the worker's); not received 10 s after the last
  send = lost. Reported besides, to tell where late deliveries come from: the latencies by the kind
  of agent that received, the replica's garbage collection and worst event-loop lag over the
  exchange (its own \`nodejs_gc_duration_seconds\` and \`nodejs_eventloop_lag_max_seconds\`), and the
  client workers' own event-loop delay (a late client clock shows there, not in the bridge).
- \`INFO commandstats\` counts a script's \`evalsha\` and each command the script runs; the
  benchmark's own \`INFO\` and \`CLIENT\` calls are left out.
- A failed connect is tried again (3 attempts, as an agent would; the retries are reported). The
  run fails (exit 1) when an agent does not connect in 3 attempts, or the agents are not all
  waiting within 300 s. Sessions the replica closes and waits that fail during the idle window
  are reported with the results, and so is every missed goal (exit 0).

| variable | default | meaning |
|---|---|---|
| \`BENCH_SCALE_AGENTS\` | 10000 | agents per case |
| \`BENCH_SCALE_CASES\` | \`polls,sessions\` | which cases to run |
| \`BENCH_SCALE_STATELESS_PERCENT\` | 20 | sessions case: share of 2026-07-28 agents (at most 50) |
| \`BENCH_SCALE_WORKERS\` | 4 | client processes |
| \`BENCH_SCALE_CONNECT_CONCURRENCY\` | 8 | agents connecting at once per worker |
| \`BENCH_SCALE_POLL_TIMEOUT_MS\` | 30000 | \`timeout_ms\` of every \`wait_for_messages\` |
| \`BENCH_SCALE_BASELINE_SECONDS\` / \`_SETTLE_SECONDS\` / \`_IDLE_SECONDS\` | 20 / 10 / 60 | the windows (idle ≥ 30) |
| \`BENCH_SCALE_ACTIVE_PERCENT\` / \`_INTERVAL_MS\` / \`_ACTIVE_SECONDS\` | 1 / 2000 / 30 | the exchange (≥ 30 s) |
| \`BENCH_SCALE_TIMEOUT_SECONDS\` | 2400 | give up (exit 1, every process stopped) after this long |

\`BENCH_QUIET_WAIT_SECONDS\` and \`BENCH_WRITE_DOCS\` mean the same as for the throughput benchmark.
Runs, newest first (the last 5 are kept):
`;

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const rate = (w: RedisWindow, calls: number) => calls / Math.max(w.seconds, 1e-9);
const cpuOf = (report: CpuReport, match: (name: string) => boolean) => report.processes.filter((p) => match(p.name)).reduce((sum, p) => sum + p.percent, 0);
const replicaName = (c: ScaleCase) => (c.name === 'polls' ? 'legacy-poll' : 'elicitation');

/** What the report and the goals read from a case. */
function figures(c: ScaleCase) {
  const per = (m: Memory, from: Memory, n: number, key: keyof Memory | 'held' = 'held') => (memoryOf(m, key) - memoryOf(from, key)) / Math.max(1, n);
  const thousands = c.agents / 1000;
  const names = new Set([...c.idle.calls.keys(), ...c.baseline.calls.keys()]);
  const commands = [...names]
    .map((command) => [command, (rate(c.idle, c.idle.calls.get(command) ?? 0) - rate(c.baseline, c.baseline.calls.get(command) ?? 0)) / thousands] as const)
    .filter(([, r]) => Math.abs(r) >= 0.05)
    .sort((a, b) => b[1] - a[1]);
  const byOwner = new Map<string, number>();
  for (const reading of c.connections) for (const count of reading) byOwner.set(count.owner, Math.max(byOwner.get(count.owner) ?? 0, count.connections));
  const services = [...byOwner].filter(([owner]) => /^(legacy-poll|elicitation|router|controller):/.test(owner));
  const own = [...byOwner].filter(([owner]) => !services.some(([s]) => s === owner));
  return {
    // polls: every agent is a waiting poll. sessions: each kind from its connect step.
    perWait: c.name === 'polls' ? per(c.endMemory, c.baselineMemory, c.agents) : per(c.settledMemory, c.sessionsMemory!, c.statelessAgents),
    perWaitSettled: c.name === 'polls' ? per(c.settledMemory, c.baselineMemory, c.agents) : Number.NaN,
    perSession: c.name === 'sessions' ? per(c.sessionsMemory!, c.baselineMemory, c.sessions) : Number.NaN,
    perAgentEnd: per(c.endMemory, c.baselineMemory, c.agents),
    rssPerAgentEnd: per(c.endMemory, c.baselineMemory, c.agents, 'rss'),
    heapPerAgentEnd: per(c.endMemory, c.baselineMemory, c.agents, 'heapUsed'),
    commandsPer1000: (rate(c.idle, c.idle.totalCalls) - rate(c.baseline, c.baseline.totalCalls)) / thousands,
    commands,
    services,
    own,
    maxConnections: Math.max(0, ...services.map(([, n]) => n)),
    latency: distribution(c.delivery.latencies),
  };
}

const GOAL_KEYS = ['connections', 'session', 'poll', 'commands', 'delivery'] as const;

interface Goal {
  key: (typeof GOAL_KEYS)[number];
  label: string;
  value: string;
  met: boolean;
}

function goalsOf(c: ScaleCase): Goal[] {
  const f = figures(c);
  const goals: Goal[] = [{ key: 'connections', label: `Redis connections per process ≤ ${GOAL.connections}`, value: `${f.maxConnections} (${f.services.map(([o, n]) => `${o} ${n}`).join(', ')})`, met: f.maxConnections <= GOAL.connections }];
  if (c.name === 'sessions') goals.push({ key: 'session', label: `replica memory per idle session ≤ ${kb(GOAL.sessionBytes)}`, value: kb(f.perSession), met: f.perSession <= GOAL.sessionBytes });
  if (c.waits > 0) goals.push({ key: 'poll', label: `replica memory per waiting poll${c.name === 'sessions' ? ' (2026-07-28)' : ''} ≤ ${kb(GOAL.pollBytes)}`, value: kb(f.perWait), met: f.perWait <= GOAL.pollBytes });
  goals.push({ key: 'commands', label: `Redis commands/s per 1,000 idle agents ≤ ${GOAL.commandsPer1000}`, value: f.commandsPer1000.toFixed(1), met: f.commandsPer1000 <= GOAL.commandsPer1000 });
  goals.push({
    key: 'delivery',
    label: `delivery p99 < ${GOAL.p99Ms} ms with ${c.activeAgents} agents active, none lost`,
    value: `${fmtMs(f.latency.p99)}, ${c.delivery.lost} lost`,
    met: f.latency.p99 < GOAL.p99Ms && c.delivery.lost === 0 && f.latency.count > 0,
  });
  return goals;
}

/** One PASS/FAIL line per goal and case. */
export const verdicts = (cases: ScaleCase[]): string[] => cases.flatMap((c) => goalsOf(c).map((g) => `${g.met ? 'PASS' : 'FAIL'}  ${c.name}: ${g.label}: ${g.value}`));

const caseLabel = (c: ScaleCase) => (c.name === 'polls' ? `polls: ${c.agents} legacy agents waiting on one legacy-poll` : `sessions: ${c.sessions} 2025 sessions + ${c.statelessAgents} 2026-07-28 agents on one elicitation replica`);

export function renderScaleReport(info: MachineInfo & { tookSeconds: number; busyBefore: number }, params: ScaleParams, cases: ScaleCase[]): string {
  const lines: string[] = [];
  const missed = cases.reduce((n, c) => n + goalsOf(c).filter((g) => !g.met).length, 0);
  const summary = cases.map((c) => `${c.name} ${figures(c).commandsPer1000.toFixed(0)} cmd/s per 1,000 idle, p99 ${fmtMs(figures(c).latency.p99)}`).join('; ');
  lines.push(`### ${info.date} — ${params.agents} agents: ${summary}: ${missed === 0 ? 'goals met' : `${missed} goal${missed === 1 ? '' : 's'} missed`}`, '');
  lines.push(
    `Machine: ${describeMachine(info)}. Parameters: ${params.agents} agents per case in ${params.workers} client processes (${params.concurrency} connecting at once each), wait_for_messages timeout_ms ${params.pollTimeoutMs}; ` +
      `windows ${params.baselineSeconds} s baseline, ${params.settleSeconds} s settle, ${params.idleSeconds} s idle; ${params.activePercent} % active, one message per agent every ${params.intervalMs} ms for ${params.activeSeconds} s. Took ${info.tookSeconds.toFixed(0)} s.`,
  );
  const contention = Math.max(...cases.flatMap((c) => [c.baseline.cpu.otherPercent, c.idle.cpu.otherPercent, c.active.cpu.otherPercent]));
  if (contention > 20) lines.push('', `**Contended run:** processes outside the benchmark used up to ${fmtPct(contention)} of a core during a window; memory and Redis command counts do not depend on it, CPU and latency do.`);

  lines.push('', `| goal | ${cases.map(caseLabel).join(' | ')} |`, `|---|${cases.map(() => '---|').join('')}`);
  const goals = new Map(cases.map((c) => [c.name, goalsOf(c)]));
  for (const key of GOAL_KEYS) {
    const of = (c: ScaleCase) => goals.get(c.name)!.find((g) => g.key === key);
    const label = cases.map(of).find((g) => g !== undefined)?.label;
    if (!label) continue;
    lines.push(`| ${label} | ${cases.map((c) => (of(c) ? `**${of(c)!.value}** ${of(c)!.met ? 'PASS' : 'FAIL'}` : '—')).join(' | ')} |`);
  }
  for (const c of cases.filter((c) => c.dropped.sessionsSettled < c.sessions)) {
    lines.push('', `**${c.name}: the replica held ${c.dropped.sessionsSettled} of the ${c.sessions} sessions 10 s after they were all present** (presence lags the replica by up to PRESENCE_TTL_MS).`);
  }
  const dropped = cases.filter((c) => c.dropped.closedSessions > 0 || c.dropped.failedWaits > 0);
  for (const c of dropped)
    lines.push(
      '',
      `**${c.name}: not every agent stayed connected:** during the idle window the replica closed ${c.dropped.closedSessions} sessions and ${c.dropped.failedWaits} wait_for_messages calls failed; the figures are of the agents left.`,
    );

  lines.push('', `| measure | ${cases.map((c) => c.name).join(' | ')} |`, `|---|${cases.map(() => '---|').join('')}`);
  const row = (label: string, render: (c: ScaleCase) => string) => lines.push(`| ${label} | ${cases.map(render).join(' | ')} |`);
  row('replica memory per agent, end of the idle window (held / raw RSS / live heap)', (c) => `${kb(figures(c).perAgentEnd)} / ${kb(figures(c).rssPerAgentEnd)} / ${kb(figures(c).heapPerAgentEnd)}`);
  row('replica memory per waiting poll, 10 s after connecting (held)', (c) => (c.name === 'polls' ? kb(figures(c).perWaitSettled) : '—'));
  row('replica RSS / heap used of heap total: baseline → (sessions only →) settled → end', (c) =>
    [c.baselineMemory, ...(c.sessionsMemory ? [c.sessionsMemory] : []), c.settledMemory, c.endMemory].map((m) => `${mb(m.rss)} / ${mb(m.heapUsed)} of ${mb(m.heapTotal)}`).join(' → '),
  );
  row('Redis commands/s, whole Redis: no agent → idle → 1 % active', (c) => `${rate(c.baseline, c.baseline.totalCalls).toFixed(0)} → ${rate(c.idle, c.idle.totalCalls).toFixed(0)} → ${rate(c.active, c.active.totalCalls).toFixed(0)}`);
  row(
    '**idle Redis commands/s per 1,000 agents, by command** (idle − baseline)',
    (c) =>
      figures(c)
        .commands.slice(0, 10)
        .map(([command, r]) => `${command.replaceAll('|', '\\|')} ${r.toFixed(1)}`)
        .join(', ') || 'none',
  );
  row(`CPU, % of one core, no agent → idle → active: replica`, (c) => [c.baseline, c.idle, c.active].map((w) => fmtPct(cpuOf(w.cpu, (n) => n === replicaName(c)))).join(' → '));
  row('… router', (c) => [c.baseline, c.idle, c.active].map((w) => fmtPct(cpuOf(w.cpu, (n) => n === 'router'))).join(' → '));
  row('… redis-server', (c) => [c.baseline, c.idle, c.active].map((w) => fmtPct(cpuOf(w.cpu, (n) => n === 'redis-server'))).join(' → '));
  row('… agent workers (the clients, together)', (c) => [c.baseline, c.idle, c.active].map((w) => fmtPct(cpuOf(w.cpu, (n) => n.startsWith('agent worker')))).join(' → '));
  row('Redis connections by process (max of 2 readings; roles)', (c) =>
    c.connections[1]
      .filter((n) => figures(c).services.some(([o]) => o === n.owner))
      .map(
        (n) =>
          `${n.owner} ${n.connections} (${Object.entries(n.roles)
            .map(([r, k]) => `${r} ${k}`)
            .join(', ')})`,
      )
      .join('; '),
  );
  row(
    "the benchmark's own Redis connections (assertion store, probes)",
    (c) =>
      figures(c)
        .own.map(([o, n]) => `${o} ${n}`)
        .join(', ') || 'none',
  );
  row('delivery: messages received / p50 / p99 / max', (c) => {
    const l = figures(c).latency;
    return `${l.count} / ${fmtMs(l.p50)} / ${fmtMs(l.p99)} / ${fmtMs(l.max)}`;
  });
  row('… p50 / p99 by the kind of agent that received (polls: legacy; sessions: 2025 sessions pushed, 2026-07-28 agents in rounds)', (c) =>
    (['poll', 'session', 'stateless'] as const)
      .filter((kind) => c.delivery.latenciesByKind[kind].length > 0)
      .map((kind) => {
        const l = distribution(c.delivery.latenciesByKind[kind]);
        return `${KIND_NAME[kind]} ${fmtMs(l.p50)} / ${fmtMs(l.p99)} (${l.count})`;
      })
      .join('; '),
  );
  row(
    "… during the exchange: the replica's garbage collection, s (of it major, how many majors) / its worst event-loop lag / the client workers' worst event-loop delay (p99 / max)",
    (c) =>
      `${c.replicaPauses.gcSeconds.toFixed(2)} s (${c.replicaPauses.majorGcSeconds.toFixed(2)} s, ${c.replicaPauses.majorGcs}) / ${fmtMs(c.replicaPauses.loopLagMaxMs)} / ${fmtMs(c.delivery.loopDelay.p99)} / ${fmtMs(c.delivery.loopDelay.max)}`,
  );
  row(
    '… sent accepted / lost / duplicates / refused',
    (c) =>
      `${c.delivery.sent} / ${c.delivery.lost} / ${c.delivery.duplicates} / ${
        Object.entries(c.delivery.refused)
          .map(([k, n]) => `${k} ${n}`)
          .join(', ') || 0
      }`,
  );
  row('… received before send_message returned (counted 0 ms) / 2026 agents via the poll lane', (c) => `${c.delivery.beforeAccepted} / ${c.delivery.pollLane}`);
  row('seconds for every agent to connect and wait / connect attempts that failed and were tried again', (c) => `${c.openSeconds.toFixed(0)} / ${c.connectRetries}`);
  row('replica: sessions held 10 s after connecting → after the idle window; waiting polls after it', (c) => `${c.dropped.sessionsSettled} → ${c.sessionsAfter}; ${c.waitingAfter}`);
  row(
    'during the idle window: sessions the replica closed / wait_for_messages calls that failed',
    (c) => `${c.dropped.closedSessions} / ${c.dropped.failedWaits}${c.dropped.errors.length > 0 ? ` (${c.dropped.errors.join('; ').replaceAll('|', '/')})` : ''}`,
  );
  row("the replica's slowest /metrics answer (event loop responsiveness)", (c) => fmtMs(c.slowestScrapeMs));
  row('client processes RSS together', (c) => mb(c.clientRss));
  row('CPU of processes outside the benchmark, % of one core (idle window)', (c) => fmtPct(c.idle.cpu.otherPercent));
  lines.push('', `Machine busy before the run: ${fmtPct(info.busyBefore)}.`);
  return lines.join('\n');
}
