/**
 * Scale benchmark (`make bench BENCH_PARTS=scale`, issue 16 item 4): 10,000 agents per replica.
 * Goals: ≤ 8 Redis connections per process; ≤ 20 KB per waiting poll and ≤ 64 KB per idle session
 * of replica memory; ≤ 50 Redis commands/s per 1,000 idle agents; delivery p99 < 100 ms while 1 %
 * of the agents exchange messages.
 *
 * Two cases, each on a fresh bridge (redis-server AOF everysec, one router, one legacy-poll and, for
 * `sessions`, one elicitation replica, as OS processes: libs/testkit/src/bridge/bridge.ts):
 *   polls    — N legacy agents (SDK 1.x clients, the legacy endpoint is stateless), each looping
 *              wait_for_messages (timeout BENCH_SCALE_POLL_TIMEOUT_MS, previous cursor) against the
 *              ONE legacy-poll replica; no agent in the rollout.
 *   sessions — N modern agents on the ONE elicitation replica, every agent in the rollout
 *              (elicitation.percentage 100): most are SDK 1.x 2025-11-25 sessions with their GET
 *              stream open (as bench/sessions.ts), BENCH_SCALE_STATELESS_PERCENT of them SDK v2
 *              clients pinned to 2026-07-28 looping wait_for_messages on the elicitation endpoint.
 *              The sessions connect first and the replica's memory is probed, then the 2026 agents,
 *              and it is probed again: the two kinds' memory comes from the two steps.
 * The clients live in BENCH_SCALE_WORKERS child processes (bench/scale-worker.ts), agent i in worker
 * i mod workers, so the client side is not one event loop.
 *
 * Settings: every bridge limit at its default (the services' production timings of
 * BENCH_SERVICE_ENV). 10,000 agents fit them: MAX_SESSIONS is 10,000 per replica, and each agent
 * holds one session or one poll (MAX_REQUESTS_PER_AGENT 64, MAX_SESSIONS_PER_AGENT 16), sending one
 * message every 2 s while active (SEND_RATE_PER_SECOND 100). Nothing is raised.
 *
 * Each case: a warm-up (8 agents connect, exchange messages for 4 s and leave), a Redis window of
 * BENCH_SCALE_BASELINE_SECONDS with no agent, the replica's memory probed twice (the first GC frees
 * start-up garbage); then every agent connects, BENCH_SCALE_SETTLE_SECONDS idle, memory and CLIENT
 * LIST; an idle window of BENCH_SCALE_IDLE_SECONDS (Redis INFO commandstats at both ends, CPU of
 * every process from /proc); memory and CLIENT LIST again; then BENCH_SCALE_ACTIVE_PERCENT of the
 * agents, in pairs held by one worker (polls: two legacy agents; sessions: a 2025 session and a
 * 2026 agent), each send the other one message every BENCH_SCALE_INTERVAL_MS for
 * BENCH_SCALE_ACTIVE_SECONDS while the others stay idle. Latency = send_message returned (accepted)
 * → the target client has it (a poll result, a pushed elicitation/create, a round's elicitation),
 * one clock (the worker's); messages not received within 10 s after the last send are lost.
 *
 * Memory = (probe − baseline) ÷ agents of RSS less the free V8 heap (bench/lib/idle-cost.ts, as
 * bench/sessions.ts), raw RSS and live heap beside it. Redis commands per 1,000 idle agents =
 * (idle − baseline) calls/s ÷ (N ÷ 1,000), and by command. Connections per process: CLIENT LIST,
 * by connection name (bench/lib/redis-clients.ts); the benchmark's own connections are shown apart.
 *
 * Results are printed and prepended to docs/benchmarks.md, section "Scale" (5 runs kept). Exit 0
 * when goals are missed (and when agents dropped during the idle window: reported), 1 when the
 * benchmark failed (an agent did not connect, or the agents never were all waiting).
 *
 * Environment (defaults):
 *   BENCH_SCALE_AGENTS=10000           agents per case
 *   BENCH_SCALE_CASES=polls,sessions   which cases to run
 *   BENCH_SCALE_STATELESS_PERCENT=20   sessions case: share of 2026-07-28 agents (the rest are 2025 sessions)
 *   BENCH_SCALE_WORKERS=4              client processes
 *   BENCH_SCALE_CONNECT_CONCURRENCY=8  agents connecting at once per worker
 *   BENCH_SCALE_POLL_TIMEOUT_MS=30000  timeout_ms of every wait_for_messages (the tool's default)
 *   BENCH_SCALE_BASELINE_SECONDS=20, BENCH_SCALE_SETTLE_SECONDS=10, BENCH_SCALE_IDLE_SECONDS=60 (≥ 30)
 *   BENCH_SCALE_ACTIVE_PERCENT=1, BENCH_SCALE_INTERVAL_MS=2000, BENCH_SCALE_ACTIVE_SECONDS=30 (≥ 30)
 *   BENCH_SCALE_TIMEOUT_SECONDS=2400   give up (exit 1) after this long
 *   BENCH_QUIET_WAIT_SECONDS=60, BENCH_WRITE_DOCS=1  as in bench/throughput.ts
 */
import http from 'node:http';
import path from 'node:path';
import { REPO_ROOT, waitFor, type ServiceHandle } from '@agent-bridge/testkit';
import { startBridge, type Bridge } from '@agent-bridge/testkit/bridge';
import { AgentWorker, type AgentKind, type AgentSpec, type ExchangeResult } from './lib/agent-workers.js';
import { CpuMeter } from './lib/cpu.js';
import { envNumber, partLog } from './lib/env.js';
import { callsBetween, commandStats, probeMemory, type Memory } from './lib/idle-cost.js';
import { sumOfMetric } from './lib/observability.js';
import { connectionsByProcess, type ConnectionCount } from './lib/redis-clients.js';
import { BENCH_SERVICE_ENV, logServiceWarnings, machineInfo, QuietGuard, redisVersion, runBenchmark, type MachineInfo } from './lib/run.js';
import { BENCHMARKS_DOC, MAX_RUNS_KEPT, writeSectionRunToDocs } from './lib/runs-doc.js';
import { renderScaleReport, verdicts, SCALE_SECTION, SCALE_INTRO, type CaseName, type RedisWindow, type ScaleCase, type ScaleParams } from './lib/scale-report.js';
import { now, sleep } from './lib/window.js';

const params: ScaleParams = {
  agents: Math.floor(envNumber('BENCH_SCALE_AGENTS', 10_000, 10)),
  cases: (process.env.BENCH_SCALE_CASES || 'polls,sessions').split(',').map((c) => c.trim()) as CaseName[],
  statelessPercent: envNumber('BENCH_SCALE_STATELESS_PERCENT', 20, 0),
  workers: Math.floor(envNumber('BENCH_SCALE_WORKERS', 4, 1)),
  concurrency: Math.floor(envNumber('BENCH_SCALE_CONNECT_CONCURRENCY', 8, 1)),
  pollTimeoutMs: Math.floor(envNumber('BENCH_SCALE_POLL_TIMEOUT_MS', 30_000, 1_000)),
  baselineSeconds: envNumber('BENCH_SCALE_BASELINE_SECONDS', 20, 5),
  settleSeconds: envNumber('BENCH_SCALE_SETTLE_SECONDS', 10, 0),
  idleSeconds: envNumber('BENCH_SCALE_IDLE_SECONDS', 60, 30),
  activePercent: envNumber('BENCH_SCALE_ACTIVE_PERCENT', 1, 0.01),
  intervalMs: envNumber('BENCH_SCALE_INTERVAL_MS', 2_000, 50),
  activeSeconds: envNumber('BENCH_SCALE_ACTIVE_SECONDS', 30, 30),
};
const timeoutSeconds = envNumber('BENCH_SCALE_TIMEOUT_SECONDS', 2_400, 60);
const quietWaitSeconds = envNumber('BENCH_QUIET_WAIT_SECONDS', 60, 0);
const writeDocs = process.env.BENCH_WRITE_DOCS !== '0';
for (const c of params.cases) if (c !== 'polls' && c !== 'sessions') throw new Error(`BENCH_SCALE_CASES must list "polls" and/or "sessions" (got "${c}")`);
if (params.statelessPercent > 50) throw new Error(`BENCH_SCALE_STATELESS_PERCENT must be at most 50, so every active 2026 agent has a 2025 session to pair with (got ${params.statelessPercent})`);

const PRELOAD = path.join(REPO_ROOT, 'bench', 'memory-probe-preload.mjs');
const WARMUP_AGENTS = 8;
const DRAIN_MS = 10_000;
const log = partLog('bench-scale');

/** Agent i's kind: in the sessions case every (100 ÷ percent)-th agent is a 2026 agent, spread evenly over the workers. */
function kindOf(name: CaseName, i: number, count: number): AgentKind {
  if (name === 'polls') return 'poll';
  const stateless = Math.round((count * params.statelessPercent) / 100);
  return Math.floor(((i + 1) * stateless) / count) > Math.floor((i * stateless) / count) ? 'stateless' : 'session';
}

/** The agents of a case, with their worker. */
function planAgents(name: CaseName, bridge: Bridge, ids: string[]): AgentSpec[][] {
  const perWorker: AgentSpec[][] = Array.from({ length: params.workers }, () => []);
  ids.forEach((id, i) => perWorker[i % params.workers]!.push({ id, token: bridge.tokens[id]!, kind: kindOf(name, i, ids.length) }));
  return perWorker;
}

/** Pairs of one worker's agents that exchange messages: two poll agents, or a 2025 session and a 2026 agent. */
function pairsOf(name: CaseName, agents: AgentSpec[], count: number): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  if (name === 'polls') {
    for (let j = 0; j + 1 < agents.length && pairs.length < count; j += 2) pairs.push([agents[j]!.id, agents[j + 1]!.id]);
  } else {
    const sessions = agents.filter((a) => a.kind === 'session');
    const stateless = agents.filter((a) => a.kind === 'stateless');
    for (let j = 0; j < Math.min(sessions.length, stateless.length) && pairs.length < count; j++) pairs.push([sessions[j]!.id, stateless[j]!.id]);
  }
  return pairs;
}

async function redisWindow(bridge: Bridge, workers: AgentWorker[], seconds: number): Promise<RedisWindow> {
  const redis = bridge.redis.client();
  try {
    const meter = new CpuMeter([
      ...bridge.elicitations.map((s) => ({ name: 'elicitation', pid: s.pid })),
      { name: 'legacy-poll', pid: bridge.legacyPolls[0]?.pid },
      { name: 'router', pid: bridge.routers[0]?.pid },
      { name: 'redis-server', pid: bridge.redis.pid },
      ...workers.map((w) => ({ name: `agent worker ${w.index}`, pid: w.pid })),
    ]);
    const before = await commandStats(redis);
    const startedAt = now();
    meter.start();
    await sleep(seconds * 1000);
    const cpu = meter.stop();
    const calls = callsBetween(before, await commandStats(redis));
    return { seconds: (now() - startedAt) / 1000, calls, totalCalls: [...calls.values()].reduce((a, b) => a + b, 0), cpu };
  } finally {
    redis.disconnect();
  }
}

async function connections(bridge: Bridge): Promise<ConnectionCount[]> {
  const admin = bridge.redis.client();
  try {
    return await connectionsByProcess(admin, {
      ...Object.fromEntries([...bridge.routers, ...bridge.legacyPolls, ...bridge.elicitations].map((s) => [s.name, s.pid])),
      'benchmark (this process)': process.pid,
    });
  } finally {
    admin.disconnect();
  }
}

/** Connects every worker's share of `agents` (one group), failing when any did not connect. */
async function connectAll(bridge: Bridge, workers: AgentWorker[], perWorker: AgentSpec[][], group: string): Promise<number> {
  const url = { poll: bridge.legacyUrls[0]!, session: `${bridge.elicitationBaseUrls[0]}/mcp`, stateless: `${bridge.elicitationBaseUrls[0]}/mcp` };
  const results = await Promise.all(workers.map((w, i) => w.request({ cmd: 'connect', group, url, agents: perWorker[i] ?? [], concurrency: params.concurrency, pollTimeoutMs: params.pollTimeoutMs })));
  const failed = results.reduce((sum, r) => sum + r.failed, 0);
  const errors = results.flatMap((r) => r.errors).slice(0, 3);
  if (failed > 0) throw new Error(`${failed} agents of ${group} did not connect in 3 attempts, e.g.: ${errors.join('; ')}`);
  const retried = results.reduce((sum, r) => sum + r.retried, 0);
  if (retried > 0) log(`${group}: ${retried} connect attempts failed and were tried again, e.g.: ${errors.join('; ')}`);
  return retried;
}

/** The slowest /metrics answer of the replica so far in the case (ms): how responsive it stayed. */
let slowestScrapeMs = 0;

/** GET `url` on a connection of its own (no keep-alive socket the replica may close meanwhile), within 60 s. */
function scrape(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent: false, timeout: 60_000 }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => (response.statusCode === 200 ? resolve(text) : reject(new Error(`GET ${url}: HTTP ${response.statusCode}`))));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`GET ${url}: no answer within 60 s`)));
    request.on('error', reject);
  });
}

/**
 * A gauge of the replica's /metrics. A replica holding 10,000 agents can take seconds to answer
 * (fetchMetrics of bench/lib/observability.ts gives up after 5 s): this waits up to 60 s, and
 * tries twice more after a connection error, as a Prometheus scrape would at its next interval.
 */
async function gauge(metricsUrl: string, name: string): Promise<number> {
  return sumOfMetric(await metrics(metricsUrl), name) || 0;
}

/** The replica's /metrics text, as `gauge` reads it. */
async function metrics(metricsUrl: string): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const startedAt = now();
    try {
      const text = await scrape(metricsUrl);
      slowestScrapeMs = Math.max(slowestScrapeMs, now() - startedAt);
      return text;
    } catch (error) {
      slowestScrapeMs = Math.max(slowestScrapeMs, now() - startedAt);
      if (attempt === 3) throw error;
      log(`GET ${metricsUrl} failed (${(error as Error).message}); trying again in 1 s`);
      await sleep(1_000);
    }
  }
}

/** Memory of a replica that may be busy: its probe's timers run late on a saturated event loop. */
const probe = (replica: ServiceHandle) => probeMemory(replica, 60_000);

/** Waits until the replica shows `sessions` sessions (streams open, in presence) and `waits` waiting wait_for_messages calls. */
async function waitIdle(bridge: Bridge, name: CaseName, ids: string[], sessions: number, waits: number): Promise<void> {
  const metricsUrl = name === 'polls' ? bridge.legacyUrls[0]!.replace(/\/mcp$/, '/metrics') : `${bridge.elicitationBaseUrls[0]}/metrics`;
  // A poll that just returned is not waiting for the few ms until the next one: 0.5 % may be between two.
  const enoughWaits = waits - Math.floor(waits / 200);
  const seen = { sessions: 0, waits: 0 };
  await waitFor(
    async () => {
      seen.waits = await gauge(metricsUrl, 'agentbridge_waiting_polls');
      if (sessions > 0) {
        const presence = await bridge.store.store.readPresence(ids);
        seen.sessions = [...presence.values()].reduce((sum, list) => sum + list.filter((s) => s.streamOpen).length, 0);
      }
      return seen.waits >= enoughWaits && seen.sessions >= sessions;
    },
    { timeoutMs: 300_000, intervalMs: 1_000, description: `${sessions} sessions with their stream open and ${enoughWaits} waiting polls` },
  ).catch((error: unknown) => {
    throw new Error(`${error instanceof Error ? error.message : String(error)} (seen ${JSON.stringify(seen)})`);
  });
}

/** The replica's garbage collection so far (prom-client's nodejs_gc_duration_seconds) and its event-loop lag since the last scrape. */
async function pauses(metricsUrl: string): Promise<{ gcSeconds: number; majorGcSeconds: number; majorGcs: number; loopLagMaxMs: number }> {
  const text = await metrics(metricsUrl);
  const value = (name: string) => sumOfMetric(text, name) || 0;
  return {
    gcSeconds: value('nodejs_gc_duration_seconds_sum'),
    majorGcSeconds: value('nodejs_gc_duration_seconds_sum{kind="major"}'),
    majorGcs: value('nodejs_gc_duration_seconds_count{kind="major"}'),
    loopLagMaxMs: value('nodejs_eventloop_lag_max_seconds') * 1000,
  };
}

async function exchange(workers: AgentWorker[], pairsPerWorker: Array<Array<[string, string]>>, tag: string, run: () => Promise<void>): Promise<ExchangeResult> {
  await Promise.all(workers.map((w, i) => w.request({ cmd: 'exchange', pairs: pairsPerWorker[i] ?? [], intervalMs: params.intervalMs, tag })));
  await run();
  const results = await Promise.all(workers.map((w) => w.request({ cmd: 'stopExchange', drainMs: DRAIN_MS })));
  const refused: Record<string, number> = {};
  for (const r of results) for (const [code, n] of Object.entries(r.refused)) refused[code] = (refused[code] ?? 0) + n;
  const sum = (pick: (r: ExchangeResult) => number) => results.reduce((total, r) => total + pick(r), 0);
  return {
    sent: sum((r) => r.sent),
    refused,
    latencies: results.flatMap((r) => r.latencies),
    latenciesByKind: { poll: results.flatMap((r) => r.latenciesByKind.poll), session: results.flatMap((r) => r.latenciesByKind.session), stateless: results.flatMap((r) => r.latenciesByKind.stateless) },
    loopDelay: { p99: Math.max(0, ...results.map((r) => r.loopDelay.p99)), max: Math.max(0, ...results.map((r) => r.loopDelay.max)) },
    lost: sum((r) => r.lost),
    duplicates: sum((r) => r.duplicates),
    beforeAccepted: sum((r) => r.beforeAccepted),
    pollLane: sum((r) => r.pollLane),
  };
}

async function runCase(name: CaseName, guard: QuietGuard, info: MachineInfo): Promise<ScaleCase> {
  const ids = Array.from({ length: params.agents }, (_, i) => `scale-${String(i + 1).padStart(5, '0')}`);
  const warmupIds = Array.from({ length: WARMUP_AGENTS }, (_, i) => `scale-warmup-${i + 1}`);
  const bridge = await startBridge({
    agents: [...ids, ...warmupIds],
    shardCount: 16,
    elicitations: name === 'sessions' ? 1 : 0,
    env: { ...BENCH_SERVICE_ENV, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --expose-gc --import ${PRELOAD}`.trim() },
    flags: name === 'sessions' ? { 'elicitation.enabled': 'true', 'elicitation.percentage': '100' } : {},
  });
  const workers: AgentWorker[] = [];
  try {
    info.redis = await redisVersion(bridge);
    slowestScrapeMs = 0;
    for (let i = 0; i < params.workers; i++) workers.push(AgentWorker.start(i));
    const replica = name === 'polls' ? bridge.legacyPolls[0]! : bridge.elicitations[0]!;
    const metricsUrl = name === 'polls' ? bridge.legacyUrls[0]!.replace(/\/mcp$/, '/metrics') : `${bridge.elicitationBaseUrls[0]}/metrics`;
    const perWorker = planAgents(name, bridge, ids);
    const count = (kind: AgentKind) => perWorker.flat().filter((a) => a.kind === kind).length;
    const sessions = count('session');
    const waits = count('poll') + count('stateless');

    // Warm-up: the connect, wait, send and delivery paths loaded and compiled, then nothing left of them.
    const warmup = warmupIds.map((id, i): AgentSpec => ({ id, token: bridge.tokens[id]!, kind: name === 'polls' ? 'poll' : i % 2 === 0 ? 'session' : 'stateless' }));
    await connectAll(bridge, [workers[0]!], [warmup], 'warmup');
    await exchange([workers[0]!], [pairsOf(name, warmup, WARMUP_AGENTS / 2)], 'warmup', () => sleep(4_000));
    await workers[0]!.request({ cmd: 'close', group: 'warmup' });
    await waitFor(async () => (await gauge(metricsUrl, 'agentbridge_waiting_polls')) === 0 && (await gauge(metricsUrl, 'agentbridge_active_sessions')) === 0, { timeoutMs: 20_000, description: 'the warm-up agents to be gone' });
    await guard.waitQuiet();

    log(`${name}: Redis window of ${params.baselineSeconds} s with no agent`);
    const baseline = await redisWindow(bridge, workers, params.baselineSeconds);
    await probe(replica); // the first full GC after start-up releases its garbage; the second measures
    const baselineMemory = await probe(replica);

    const openedAt = now();
    let sessionsMemory: Memory | undefined;
    let connectRetries = 0;
    if (name === 'sessions') {
      // The sessions first, probed alone; then the 2026 agents.
      connectRetries += await connectAll(
        bridge,
        workers,
        perWorker.map((list) => list.filter((a) => a.kind === 'session')),
        'sessions',
      );
      await waitIdle(bridge, name, ids, sessions, 0);
      await sleep(params.settleSeconds * 1000);
      sessionsMemory = await probe(replica);
      log(`${name}: ${sessions} sessions open; now ${waits} 2026-07-28 agents`);
      connectRetries += await connectAll(
        bridge,
        workers,
        perWorker.map((list) => list.filter((a) => a.kind === 'stateless')),
        'stateless',
      );
    } else {
      connectRetries += await connectAll(bridge, workers, perWorker, 'polls');
    }
    await waitIdle(bridge, name, ids, sessions, waits);
    const openSeconds = (now() - openedAt) / 1000;
    log(`${name}: ${params.agents} agents idle (${sessions} sessions, ${waits} waiting polls) after ${openSeconds.toFixed(0)} s`);
    await sleep(params.settleSeconds * 1000);
    const settledMemory = await probe(replica);
    const connectionsSettled = await connections(bridge);
    const sessionsSettled = await gauge(metricsUrl, 'agentbridge_active_sessions');
    const closedBefore = await gauge(metricsUrl, 'agentbridge_sessions_closed_total');
    const failedBefore = (await Promise.all(workers.map((w) => w.request({ cmd: 'status' })))).reduce((sum, s) => sum + s.waitErrors, 0);

    log(`${name}: idle window of ${params.idleSeconds} s`);
    const idle = await redisWindow(bridge, workers, params.idleSeconds);
    const waitingAfter = await gauge(metricsUrl, 'agentbridge_waiting_polls');
    const sessionsAfter = await gauge(metricsUrl, 'agentbridge_active_sessions');
    const closedDuringWindow = (await gauge(metricsUrl, 'agentbridge_sessions_closed_total')) - closedBefore;
    const endMemory = await probe(replica);
    const connectionsEnd = await connections(bridge);
    const statuses = await Promise.all(workers.map((w) => w.request({ cmd: 'status' })));
    // A replica that cannot keep up closes sessions and fails polls: a result to report, not a failed run.
    // agentbridge_sessions_closed_total counts the sessions the replica closed (idle, unresponsive,
    // replaced), not those whose transport closed: the held count says what is gone.
    const dropped = {
      closedSessions: Math.max(closedDuringWindow, sessionsSettled - sessionsAfter),
      sessionsSettled,
      failedWaits: statuses.reduce((sum, s) => sum + s.waitErrors, 0) - failedBefore,
      errors: statuses.flatMap((s) => s.errors).slice(0, 3),
    };
    if (dropped.closedSessions > 0 || dropped.failedWaits > 0) log(`${name}: during the idle window the replica closed ${dropped.closedSessions} sessions and ${dropped.failedWaits} waits failed (${dropped.errors.join('; ')})`);

    const activePairs = Math.max(1, Math.round((params.agents * params.activePercent) / 100 / 2));
    const pairsPerWorker = perWorker.map((list, i) => pairsOf(name, list, Math.floor(activePairs / params.workers) + (i < activePairs % params.workers ? 1 : 0)));
    const pairs = pairsPerWorker.reduce((sum, p) => sum + p.length, 0);
    log(`${name}: ${pairs * 2} agents exchange a message every ${params.intervalMs} ms for ${params.activeSeconds} s`);
    let active: RedisWindow | undefined;
    // The scrape before resets the replica's event-loop lag gauges (prom-client resets them at each
    // collection), so the one after gives the exchange's worst lag.
    const pausesBefore = await pauses(metricsUrl);
    const delivery = await exchange(workers, pairsPerWorker, 'active', async () => {
      active = await redisWindow(bridge, workers, params.activeSeconds);
    });
    const pausesAfter = await pauses(metricsUrl);
    const replicaPauses = {
      gcSeconds: pausesAfter.gcSeconds - pausesBefore.gcSeconds,
      majorGcSeconds: pausesAfter.majorGcSeconds - pausesBefore.majorGcSeconds,
      majorGcs: pausesAfter.majorGcs - pausesBefore.majorGcs,
      loopLagMaxMs: pausesAfter.loopLagMaxMs,
    };

    return {
      name,
      agents: params.agents,
      sessions,
      waits,
      statelessAgents: count('stateless'),
      openSeconds,
      connectRetries,
      baselineMemory,
      sessionsMemory,
      settledMemory,
      endMemory,
      baseline,
      idle,
      active: active!,
      waitingAfter,
      sessionsAfter,
      dropped,
      connections: [connectionsSettled, connectionsEnd],
      activeAgents: pairs * 2,
      delivery,
      replicaPauses,
      slowestScrapeMs,
      clientRss: statuses.reduce((sum, s) => sum + s.rss, 0),
    };
  } finally {
    logServiceWarnings([...bridge.routers, ...bridge.legacyPolls, ...bridge.elicitations], log);
    await Promise.all(workers.map((w) => w.stop()));
    await bridge.stop();
  }
}

async function main(): Promise<void> {
  const startedAt = now();
  const info = machineInfo();
  const guard = new QuietGuard(quietWaitSeconds, 0, 20, log);
  log(`${params.agents} agents per case, cases ${params.cases.join(', ')}, ${params.workers} client processes`);
  const busyBefore = await guard.waitQuiet();
  const cases: ScaleCase[] = [];
  for (const name of params.cases) cases.push(await runCase(name, guard, info));
  const report = renderScaleReport({ ...info, tookSeconds: (now() - startedAt) / 1000, busyBefore }, params, cases);
  process.stdout.write(`\n${report}\n\n`);
  for (const line of verdicts(cases)) process.stdout.write(`${line}\n`);
  if (writeDocs) {
    writeSectionRunToDocs(BENCHMARKS_DOC, SCALE_SECTION, SCALE_INTRO, report, MAX_RUNS_KEPT);
    log(`results written to ${path.relative(REPO_ROOT, BENCHMARKS_DOC)}`);
  }
}

await runBenchmark(main, timeoutSeconds, 'BENCH_SCALE_TIMEOUT_SECONDS', log);
