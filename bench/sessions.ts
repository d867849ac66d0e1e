/**
 * Idle-sessions benchmark (`make bench BENCH_PARTS=sessions`): what an idle MCP session costs an
 * elicitation replica and Redis. Goal (issue 11): ≤ 64 KB of replica memory per idle session.
 *
 * Two cases, each on a fresh bridge (redis-server + router + legacy-poll + one elicitation replica
 * as OS processes, libs/testkit/src/bridge/bridge.ts; every agent in the rollout, elicitation.percentage 100):
 *   one agent   — one agent opens BENCH_SESSIONS_COUNT sessions, with MAX_SESSIONS_PER_AGENT raised
 *                 to that count (at its default of 16, the 17th session replaces the oldest idle one);
 *   many agents — BENCH_SESSIONS_AGENTS agents share the same number of sessions, every setting at
 *                 its default (MAX_SESSIONS_PER_AGENT 16: the sessions per agent must stay ≤ 16).
 * Each session is a real SDK 1.x client (@modelcontextprotocol/sdk) over Streamable HTTP that
 * declared the elicitation capability: initialize, notifications/initialized, then its GET stream,
 * which it keeps open. The benchmark waits until presence shows every session with its stream
 * open, and then the sessions stay idle: nothing is sent to them, and they answer the replica's
 * liveness pings (SESSION_PING_INTERVAL_MS) and get its keep-alives as any idle agent does.
 *
 * Memory: every service is started with NODE_OPTIONS="--expose-gc --import
 * bench/memory-probe-preload.mjs"; on SIGUSR2 the replica collects all it can (a major and a
 * last-resort GC), waits for the freed pages to be unmapped, and prints process.memoryUsage().
 * Probed after a warm-up (a few sessions opened and closed, so the session code is loaded and
 * compiled) and an idle window with no session (baseline), 5 s after every session is open, and at
 * the end of the idle window. Per idle session = (with − baseline) ÷ sessions of the memory the
 * process holds: RSS less the free part of the V8 heap (heapTotal − heapUsed), which follows V8's
 * sizing heuristics rather than what is live (it moved RSS by ±30 MB between two probes of the same
 * 1,000 sessions); raw RSS and the live heap are reported beside it.
 *
 * Redis: INFO commandstats (calls per command, those run inside Lua scripts included) read at the
 * start and the end of a window of BENCH_SESSIONS_SECONDS, once with no session (baseline: the
 * router, legacy-poll and the replica's own timers), once with every session idle; per idle session
 * = (with − baseline) calls per second ÷ sessions. The window spans several presence heartbeats
 * (every PRESENCE_TTL_MS ÷ 3 = 10 s) and, at 60 s, one ping interval. INFO memory used_memory is
 * compared the same way (presence and session records in Redis).
 *
 * Results are printed and prepended to docs/benchmarks.md, section "Idle sessions" (5 runs kept).
 * Exit code 0 even when the goal is missed; 1 when the benchmark itself failed (e.g. sessions that
 * never showed up, or were closed during the window).
 *
 * Environment (defaults):
 *   BENCH_SESSIONS_COUNT=1000       sessions per case (at most 1000: MAX_SESSIONS_PER_AGENT's maximum)
 *   BENCH_SESSIONS_AGENTS=1000      agents of the many-agents case (sessions per agent ≤ 16)
 *   BENCH_SESSIONS_SECONDS=60       the Redis window with the sessions idle
 *   BENCH_SESSIONS_BASELINE_SECONDS=20  the Redis window with no session
 *   BENCH_SESSIONS_CASES=one,many   which cases to run
 *   BENCH_SESSIONS_CONNECT_CONCURRENCY=16  sessions being opened at once
 *   BENCH_SESSIONS_TIMEOUT_SECONDS=600  give up (exit 1) after this long
 *   BENCH_QUIET_WAIT_SECONDS=60, BENCH_WRITE_DOCS=1  as in bench/throughput.ts
 */
import path from 'node:path';
import { REPO_ROOT, waitFor, type AgentClient } from '@agent-bridge/testkit';
import type { Redis } from 'ioredis';
import { connectModernAgent, startBridge, type Bridge } from '@agent-bridge/testkit/bridge';
import { CpuMeter, type CpuReport } from './lib/cpu.js';
import { envNumber, partLog } from './lib/env.js';
import { now, sleep } from './lib/window.js';
import { fetchMetrics, sumOfMetric } from './lib/observability.js';
import { BENCH_SERVICE_ENV, describeMachine, logServiceWarnings, machineInfo, QuietGuard, redisVersion, runBenchmark, type MachineInfo } from './lib/run.js';
import { callsBetween, commandStats, memoryOf, probeMemory, usedMemory, type Memory } from './lib/idle-cost.js';
import { BENCHMARKS_DOC, MAX_RUNS_KEPT, writeSectionRunToDocs } from './lib/runs-doc.js';
import { fmtPct } from './lib/stats.js';

const params = {
  sessions: Math.floor(envNumber('BENCH_SESSIONS_COUNT', 1000, 1)),
  agents: Math.floor(envNumber('BENCH_SESSIONS_AGENTS', 1000, 1)),
  seconds: envNumber('BENCH_SESSIONS_SECONDS', 60, 5),
  baselineSeconds: envNumber('BENCH_SESSIONS_BASELINE_SECONDS', 20, 5),
  cases: (process.env.BENCH_SESSIONS_CASES || 'one,many').split(',').map((c) => c.trim()),
  concurrency: Math.floor(envNumber('BENCH_SESSIONS_CONNECT_CONCURRENCY', 16, 1)),
  timeoutSeconds: envNumber('BENCH_SESSIONS_TIMEOUT_SECONDS', 600, 10),
  quietWaitSeconds: envNumber('BENCH_QUIET_WAIT_SECONDS', 60, 0),
  writeDocs: process.env.BENCH_WRITE_DOCS !== '0',
};
if (params.sessions > 1000) throw new Error(`BENCH_SESSIONS_COUNT must be at most 1000, the largest MAX_SESSIONS_PER_AGENT (got ${params.sessions})`);
for (const c of params.cases) if (c !== 'one' && c !== 'many') throw new Error(`BENCH_SESSIONS_CASES must list "one" and/or "many" (got "${c}")`);
/** MAX_SESSIONS_PER_AGENT's default (services/elicitation/src/config.ts). */
const DEFAULT_MAX_SESSIONS_PER_AGENT = 16;
if (params.cases.includes('many') && Math.ceil(params.sessions / params.agents) > DEFAULT_MAX_SESSIONS_PER_AGENT) {
  throw new Error(
    `BENCH_SESSIONS_AGENTS must give each agent at most ${DEFAULT_MAX_SESSIONS_PER_AGENT} sessions, MAX_SESSIONS_PER_AGENT's default (${params.sessions} sessions over ${params.agents} agents is ${Math.ceil(params.sessions / params.agents)})`,
  );
}

const GOAL_BYTES_PER_SESSION = 64 * 1024;
const WARMUP_SESSIONS = 8;
const PRELOAD = path.join(REPO_ROOT, 'bench', 'memory-probe-preload.mjs');
const SECTION = { heading: '## Idle sessions', mark: '<!-- bench-sessions-run -->' };

const log = partLog('bench-sessions');

type CaseName = 'one' | 'many';

interface RedisWindow {
  seconds: number;
  calls: Map<string, number>;
  totalCalls: number;
  usedMemory: number;
  cpu: CpuReport;
}

interface CaseResult {
  name: CaseName;
  agents: number;
  sessions: number;
  maxSessionsPerAgent: number;
  openSeconds: number;
  baselineMemory: Memory;
  settledMemory: Memory;
  endMemory: Memory;
  baseline: RedisWindow;
  idle: RedisWindow;
  /** The replica's agentbridge_active_sessions after the window, and sessions it closed meanwhile (by reason). */
  activeAfter: number;
  closedDuringWindow: number;
}

/** Redis calls by command over `seconds` (the benchmark's own INFO calls left out), and the replica's CPU meanwhile. */
async function redisWindow(bridge: Bridge, redis: Redis, seconds: number): Promise<RedisWindow> {
  const meter = new CpuMeter([
    { name: 'elicitation', pid: bridge.elicitations[0]?.pid },
    { name: 'router', pid: bridge.routers[0]?.pid },
    { name: 'legacy-poll', pid: bridge.legacyPolls[0]?.pid },
    { name: 'redis-server', pid: bridge.redis.pid },
  ]);
  const before = await commandStats(redis);
  const startedAt = now();
  meter.start();
  await sleep(seconds * 1000);
  const cpu = meter.stop();
  const after = await commandStats(redis);
  const measured = (now() - startedAt) / 1000;
  const calls = callsBetween(before, after);
  return { seconds: measured, calls, totalCalls: [...calls.values()].reduce((a, b) => a + b, 0), usedMemory: await usedMemory(redis), cpu };
}

/** Opens `count` SDK 1.x sessions, `concurrency` at a time, session i for agent agentOf(i). */
async function openSessions(bridge: Bridge, count: number, agentOf: (i: number) => string, clients: AgentClient<'sdk1'>[]): Promise<void> {
  const url = `${bridge.elicitationBaseUrls[0]}/mcp`;
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const agent = agentOf(i);
      clients.push(await connectModernAgent(url, bridge.tokens[agent]!, agent, { generation: 'sdk1', answer: () => ({ action: 'decline' }) }));
    }
  };
  await Promise.all(Array.from({ length: params.concurrency }, worker));
}

/** Resolves once presence lists `count` sessions of `agents` with their stream open. */
async function waitForStreams(bridge: Bridge, agents: string[], count: number): Promise<void> {
  let seen = 0;
  await waitFor(
    async () => {
      const presence = await bridge.store.store.readPresence(agents);
      seen = [...presence.values()].reduce((sum, sessions) => sum + sessions.filter((s) => s.streamOpen).length, 0);
      return seen >= count;
    },
    { timeoutMs: 60_000, intervalMs: 500, description: `${count} sessions to be present with their stream open` },
  ).catch((error: unknown) => {
    throw new Error(`${error instanceof Error ? error.message : String(error)} (presence shows ${seen})`);
  });
}

async function closeAll(clients: AgentClient<'sdk1'>[]): Promise<void> {
  for (let i = 0; i < clients.length; i += 50) {
    await Promise.all(
      clients.slice(i, i + 50).map(async (c) => {
        await c.terminateSession().catch(() => undefined);
        await c.close().catch(() => undefined);
      }),
    );
  }
  clients.length = 0;
}

async function runCase(name: CaseName, guard: QuietGuard, info: MachineInfo): Promise<CaseResult> {
  const agentIds = name === 'one' ? ['sessions-one'] : Array.from({ length: params.agents }, (_, i) => `sessions-agent-${String(i + 1).padStart(3, '0')}`);
  const maxSessionsPerAgent = name === 'one' ? Math.max(params.sessions, WARMUP_SESSIONS) : DEFAULT_MAX_SESSIONS_PER_AGENT;
  const agentOf = (i: number) => agentIds[i % agentIds.length]!;
  const bridge = await startBridge({
    agents: agentIds,
    shardCount: 16,
    elicitations: 1,
    env: {
      ...BENCH_SERVICE_ENV,
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --expose-gc --import ${PRELOAD}`.trim(),
      // Each session's GET stream is one of the agent's open requests (MAX_REQUESTS_PER_AGENT, 64 by default).
      ...(name === 'one' ? { MAX_SESSIONS_PER_AGENT: String(maxSessionsPerAgent), MAX_REQUESTS_PER_AGENT: String(maxSessionsPerAgent + 64) } : {}),
    },
    flags: { 'elicitation.enabled': 'true', 'elicitation.percentage': '100' },
  });
  const clients: AgentClient<'sdk1'>[] = [];
  const redis = bridge.redis.client();
  try {
    info.redis = await redisVersion(bridge);
    const replica = bridge.elicitations[0]!;
    const metricsUrl = `${bridge.elicitationBaseUrls[0]}/metrics`;
    const closedTotal = async () => sumOfMetric(await fetchMetrics(metricsUrl), 'agentbridge_sessions_closed_total') || 0;

    // Warm-up: the session path loaded and compiled, then nothing left of it.
    await openSessions(bridge, WARMUP_SESSIONS, agentOf, clients);
    await waitForStreams(bridge, agentIds, WARMUP_SESSIONS);
    await closeAll(clients);
    await waitFor(async () => sumOfMetric(await fetchMetrics(metricsUrl), 'agentbridge_active_sessions') === 0, { timeoutMs: 15_000, description: 'the warm-up sessions to be closed' });
    await guard.waitQuiet();
    // The baseline is measured after an idle window, as the end figure is: V8 shrinks a heap that
    // stopped growing some seconds later, so RSS taken right after the warm-up would be too high.
    log(`${name}: Redis window of ${params.baselineSeconds} s with no session`);
    const baseline = await redisWindow(bridge, redis, params.baselineSeconds);
    await probeMemory(replica); // the first full GC after start-up releases its garbage; the second measures
    const baselineMemory = await probeMemory(replica);
    log(`${name}: baseline rss ${mb(baselineMemory.rss)}, heap used ${mb(baselineMemory.heapUsed)} of ${mb(baselineMemory.heapTotal)}`);

    const openedAt = now();
    await openSessions(bridge, params.sessions, agentOf, clients);
    await waitForStreams(bridge, agentIds, params.sessions);
    const openSeconds = (now() - openedAt) / 1000;
    log(`${name}: ${params.sessions} sessions of ${agentIds.length} agent(s) open with their streams in ${openSeconds.toFixed(1)} s`);
    await sleep(5_000);
    const settledMemory = await probeMemory(replica);
    const closedBefore = await closedTotal();
    log(`${name}: rss ${mb(settledMemory.rss)}, heap used ${mb(settledMemory.heapUsed)}; Redis window of ${params.seconds} s with the sessions idle`);
    const idle = await redisWindow(bridge, redis, params.seconds);
    const endMemory = await probeMemory(replica);
    const activeAfter = sumOfMetric(await fetchMetrics(metricsUrl), 'agentbridge_active_sessions');
    const closedDuringWindow = (await closedTotal()) - closedBefore;
    if (activeAfter !== params.sessions || closedDuringWindow > 0) {
      throw new Error(`${name}: the replica holds ${activeAfter} sessions after the window (expected ${params.sessions}) and closed ${closedDuringWindow} during it: the sessions did not stay idle and open`);
    }
    return { name, agents: agentIds.length, sessions: params.sessions, maxSessionsPerAgent, openSeconds, baselineMemory, settledMemory, endMemory, baseline, idle, activeAfter, closedDuringWindow };
  } finally {
    logServiceWarnings([...bridge.routers, ...bridge.legacyPolls, ...bridge.elicitations], log);
    await closeAll(clients);
    redis.disconnect();
    await bridge.stop();
  }
}

// ------------------------------------------------------------------ report

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
const perSecond = (w: RedisWindow, calls: number) => calls / Math.max(w.seconds, 1e-9);

function perSession(c: CaseResult) {
  const at = (m: Memory, key: keyof Memory | 'held') => (memoryOf(m, key) - memoryOf(c.baselineMemory, key)) / c.sessions;
  const commandNames = new Set([...c.idle.calls.keys(), ...c.baseline.calls.keys()]);
  const commands = [...commandNames]
    .map((command) => [command, (perSecond(c.idle, c.idle.calls.get(command) ?? 0) - perSecond(c.baseline, c.baseline.calls.get(command) ?? 0)) / c.sessions] as const)
    .filter(([, rate]) => Math.abs(rate) >= 0.0005)
    .sort((a, b) => b[1] - a[1]);
  return {
    heldEnd: at(c.endMemory, 'held'),
    heldSettled: at(c.settledMemory, 'held'),
    rssEnd: at(c.endMemory, 'rss'),
    rssSettled: at(c.settledMemory, 'rss'),
    heapEnd: at(c.endMemory, 'heapUsed'),
    heapSettled: at(c.settledMemory, 'heapUsed'),
    externalEnd: at(c.endMemory, 'external'),
    commandsPerSecond: (perSecond(c.idle, c.idle.totalCalls) - perSecond(c.baseline, c.baseline.totalCalls)) / c.sessions,
    commands,
    redisBytes: (c.idle.usedMemory - c.baseline.usedMemory) / c.sessions,
  };
}

/** The goal is on held memory at the end of the idle window, after the sessions lived through pings and heartbeats. */
const passes = (c: CaseResult) => perSession(c).heldEnd <= GOAL_BYTES_PER_SESSION;
const caseLabel = (c: CaseResult) =>
  c.name === 'one' ? `one agent, ${c.sessions} sessions (MAX_SESSIONS_PER_AGENT ${c.maxSessionsPerAgent})` : `${c.agents} agents, ${c.sessions} sessions (${Math.ceil(c.sessions / c.agents)} each, defaults)`;

function render(info: MachineInfo & { tookSeconds: number; busyBefore: number }, cases: CaseResult[]): string {
  const lines: string[] = [];
  const verdict = cases.every(passes) ? 'goal met' : 'goal missed';
  lines.push(`### ${info.date} — ${cases.map((c) => `${c.name === 'one' ? 'one agent' : 'many agents'} ${kb(perSession(c).heldEnd)} per idle session`).join(', ')}: ${verdict} (≤ ${kb(GOAL_BYTES_PER_SESSION)})`, '');
  lines.push(
    `Machine: ${describeMachine(info)}. Parameters: ${params.sessions} SDK 1.x sessions per case (elicitation capability declared, GET stream open), opened ${params.concurrency} at a time against one elicitation replica ` +
      `(plus one router and one legacy-poll, Redis AOF everysec); replica memory after a full GC (--expose-gc: a major and a last-resort gc(), 1.5 s for the freed pages to be unmapped, one more gc()) with no session and with the sessions idle; ` +
      `Redis commands from INFO commandstats over ${params.baselineSeconds} s with no session and ${params.seconds} s with the sessions idle. Took ${info.tookSeconds.toFixed(0)} s.`,
  );
  const contention = Math.max(...cases.flatMap((c) => [c.baseline.cpu.otherPercent, c.idle.cpu.otherPercent]));
  if (contention > 20) lines.push('', `**Contended run:** processes outside the benchmark used up to ${fmtPct(contention)} of a core during a Redis window; memory figures do not depend on it, CPU figures do.`);
  lines.push('', `| measure | ${cases.map(caseLabel).join(' | ')} | goal |`, `|---|${cases.map(() => '---|').join('')}---|`);
  const row = (label: string, render: (c: CaseResult) => string, goal = '') => lines.push(`| ${label} | ${cases.map(render).join(' | ')} | ${goal} |`);
  row('**replica memory per idle session**: RSS less the free V8 heap, (end of the idle window − baseline) ÷ sessions', (c) => `**${kb(perSession(c).heldEnd)}** ${passes(c) ? 'PASS' : 'FAIL'}`, `≤ ${kb(GOAL_BYTES_PER_SESSION)}`);
  row('the same, 5 s after the sessions opened', (c) => kb(perSession(c).heldSettled));
  row('replica RSS per idle session (V8 heap slack included), end / 5 s after opening', (c) => `${kb(perSession(c).rssEnd)} / ${kb(perSession(c).rssSettled)}`);
  row('replica JS heap used per idle session, end / 5 s after opening', (c) => `${kb(perSession(c).heapEnd)} / ${kb(perSession(c).heapSettled)}`);
  row('replica external memory (buffers) per idle session, end', (c) => kb(perSession(c).externalEnd));
  row('replica RSS / heap used of heap total: baseline → 5 s after opening → end', (c) => [c.baselineMemory, c.settledMemory, c.endMemory].map((m) => `${mb(m.rss)} / ${mb(m.heapUsed)} of ${mb(m.heapTotal)}`).join(' → '));
  row('**Redis commands per second per idle session**', (c) => `**${perSession(c).commandsPerSecond.toFixed(3)}**`);
  row('Redis commands per second: no session → sessions idle', (c) => `${perSecond(c.baseline, c.baseline.totalCalls).toFixed(1)} → ${perSecond(c.idle, c.idle.totalCalls).toFixed(1)}`);
  row(
    '… per idle session by command',
    (c) =>
      perSession(c)
        .commands.slice(0, 8)
        .map(([command, rate]) => `${command} ${rate.toFixed(3)}`)
        .join(', ') || 'none',
  );
  row('Redis used_memory per idle session', (c) => kb(perSession(c).redisBytes));
  row('replica CPU, % of one core: no session → sessions idle', (c) => `${fmtPct(cpuShare(c.baseline.cpu, 'elicitation'))} → ${fmtPct(cpuShare(c.idle.cpu, 'elicitation'))}`);
  row('redis-server CPU, % of one core: no session → sessions idle', (c) => `${fmtPct(cpuShare(c.baseline.cpu, 'redis-server'))} → ${fmtPct(cpuShare(c.idle.cpu, 'redis-server'))}`);
  row('seconds to open every session (streams open, as presence shows)', (c) => c.openSeconds.toFixed(1));
  row('sessions the replica held after the window / closed during it', (c) => `${c.activeAfter} / ${c.closedDuringWindow}`);
  row('CPU of processes outside the benchmark, % of one core (idle window)', (c) => fmtPct(c.idle.cpu.otherPercent));
  lines.push('', `Machine busy before the run: ${fmtPct(info.busyBefore)}.`);
  return lines.join('\n');
}

const cpuShare = (report: CpuReport, name: string) => report.processes.find((p) => p.name === name)?.percent ?? Number.NaN;

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  const startedAt = now();
  const info = machineInfo();
  const guard = new QuietGuard(params.quietWaitSeconds, 0, 20, log);
  log(`${params.sessions} sessions per case, cases ${params.cases.join(', ')}; Redis windows ${params.baselineSeconds} s (no session) and ${params.seconds} s (idle)`);
  const busyBefore = await guard.waitQuiet();
  const cases: CaseResult[] = [];
  for (const name of params.cases as CaseName[]) {
    const result = await runCase(name, guard, info);
    const per = perSession(result);
    log(`${name}: ${kb(per.heldEnd)} held (${kb(per.rssEnd)} RSS), ${kb(per.heapEnd)} heap per idle session; ${per.commandsPerSecond.toFixed(3)} Redis commands/s per idle session`);
    cases.push(result);
  }
  const report = render({ ...info, tookSeconds: (now() - startedAt) / 1000, busyBefore }, cases);
  process.stdout.write(`\n${report}\n\n`);
  for (const c of cases) process.stdout.write(`${passes(c) ? 'PASS' : 'FAIL'}  ${caseLabel(c)}: replica memory per idle session ${kb(perSession(c).heldEnd)} ≤ ${kb(GOAL_BYTES_PER_SESSION)}\n`);
  if (params.writeDocs) {
    writeSectionRunToDocs(BENCHMARKS_DOC, SECTION, `${SECTION.heading} (\`make bench BENCH_PARTS=sessions\`)\n`, report, MAX_RUNS_KEPT);
    log(`results written to ${path.relative(REPO_ROOT, BENCHMARKS_DOC)}`);
  }
}

await runBenchmark(main, params.timeoutSeconds, 'BENCH_SESSIONS_TIMEOUT_SECONDS', log);
