/**
 * Durability benchmark (`make bench BENCH_PARTS=durability`): what Redis `appendfsync always` costs
 * against `everysec` (issue 11, item 9), on the usual rings of bench/lib/rings.ts at peak: N agents,
 * each sending to the next with send_message on the legacy endpoint (closed loop), received by
 * wait_for_messages loops (legacy ring) or as elicitation/create pushes (elicitation ring).
 *
 * One bridge (redis-server + router + legacy-poll + elicitation as OS processes, started by
 * libs/testkit/src/bridge/bridge.ts, whose testkit redis-server runs with AOF on), and the fsync policy switched
 * between windows with CONFIG SET appendfsync (checked with CONFIG GET before each window): both arms
 * run on the same processes, the same data directory and the same disk, warm, so the policy is the
 * only difference. (Redis reads the policy at every AOF write, so switching it at run time is the
 * same as starting with it.) Per ring, BENCH_DURABILITY_ROUNDS rounds of an everysec and an always
 * window in ABBA order (everysec, always; always, everysec; …) against the drift of a shared
 * machine; the comparison is between the medians over the rounds. Cost = 1 − always ÷ everysec
 * messages/s, and the growth of p50 / p99 latency (send accepted → received).
 *
 * Besides, a probe of the disk under the data directory: BENCH_DURABILITY_FSYNC_PROBES writes of
 * 4 KiB each followed by fsync, timed (what one `always` write waits for, at least), and the
 * filesystem it is on (/proc/mounts).
 *
 * Results are printed and prepended to docs/benchmarks.md, section "Durability" (5 runs kept). No
 * goal: the figure decides the production fsync policy. Exit code 1 only when the benchmark failed.
 *
 * Environment (defaults):
 *   BENCH_DURABILITY_ROUNDS=3 (or BENCH_ROUNDS)        rounds per ring (one window of each policy)
 *   BENCH_DURABILITY_ROUND_SECONDS=10 (or BENCH_ROUND_SECONDS)  measured seconds of each window
 *   BENCH_DURABILITY_WARMUP_SECONDS=2                  warm-up before each window
 *   BENCH_DURABILITY_ELICITATION=1                     0: the legacy ring only
 *   BENCH_DURABILITY_FSYNC_PROBES=200                  writes + fsync of the disk probe (0: none)
 *   BENCH_DURABILITY_TIMEOUT_SECONDS=420               give up (exit 1) after this long
 *   BENCH_AGENTS=16, BENCH_CONTENT_BYTES=200, BENCH_DRAIN_SECONDS=10, BENCH_QUIET_WAIT_SECONDS=60,
 *   BENCH_RETRIES=2, BENCH_WRITE_DOCS=1                as in bench/throughput.ts
 */
import { closeSync, fsyncSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '@agent-bridge/testkit';
import type { Redis } from 'ioredis';
import { startBridge, type Bridge } from '@agent-bridge/testkit/bridge';
import { envNumber, partLog, ringBenchSettings } from './lib/env.js';
import { PushReceivers } from './lib/receivers.js';
import { now } from './lib/window.js';
import { CONTENTION_LIMIT_PERCENT } from './lib/report.js';
import { deliveredRate, latencyP50, latencyP99 } from './lib/results.js';
import { clientTracker, ringIds, runRingWindow, startLegacyRing, startPushRing, windowsOf, type ArmWindow, type Ring, type RingProtocol } from './lib/rings.js';
import { abbaOrder, BENCH_SERVICE_ENV, contentionNote, describeMachine, logServiceWarnings, machineInfo, QuietGuard, redisVersion, runBenchmark, type MachineInfo } from './lib/run.js';
import { BENCHMARKS_DOC, MAX_RUNS_KEPT, writeSectionRunToDocs } from './lib/runs-doc.js';
import { distribution, fmtMs, fmtPct, fmtRate, median } from './lib/stats.js';

const params = {
  ...ringBenchSettings(),
  rounds: Math.floor(envNumber(['BENCH_DURABILITY_ROUNDS', 'BENCH_ROUNDS'], 3, 1)),
  roundSeconds: envNumber(['BENCH_DURABILITY_ROUND_SECONDS', 'BENCH_ROUND_SECONDS'], 10, 1),
  warmupSeconds: envNumber('BENCH_DURABILITY_WARMUP_SECONDS', 2, 0),
  elicitation: process.env.BENCH_DURABILITY_ELICITATION !== '0',
  fsyncProbes: Math.floor(envNumber('BENCH_DURABILITY_FSYNC_PROBES', 200, 0)),
  timeoutSeconds: envNumber('BENCH_DURABILITY_TIMEOUT_SECONDS', 420, 10),
  retries: Math.floor(envNumber('BENCH_RETRIES', 2, 0)),
};

const POLL = { maxMessages: 100, timeoutMs: 5_000 };
const SECTION = { heading: '## Durability', mark: '<!-- bench-durability-run -->' };

const log = partLog('bench-durability');

type Protocol = RingProtocol;
type Policy = 'everysec' | 'always';

interface Window extends ArmWindow<Policy> {
  /** INFO persistence aof_delayed_fsync over the window (everysec: writes that waited for a slow fsync). */
  delayedFsyncs: number;
}

const delayedFsyncs = async (redis: Redis) => Number(/^aof_delayed_fsync:(\d+)/m.exec(await redis.info('persistence'))?.[1] ?? Number.NaN);

async function setPolicy(redis: Redis, policy: Policy): Promise<void> {
  await redis.config('SET', 'appendfsync', policy);
  const [, value] = (await redis.config('GET', 'appendfsync')) as [string, string];
  if (value !== policy) throw new Error(`CONFIG SET appendfsync ${policy} did not take (CONFIG GET says ${value})`);
  const aof = /^aof_enabled:(\d)/m.exec(await redis.info('persistence'))?.[1];
  if (aof !== '1') throw new Error('the AOF is off in the benchmark Redis: appendfsync would change nothing');
}

/** The filesystem under `dir` (the longest mount point that contains it, from /proc/mounts). */
function filesystemOf(dir: string): string {
  try {
    let best: { point: string; device: string; type: string } | undefined;
    for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [device, point, type] = line.split(' ');
      if (!device || !point || !type) continue;
      if ((dir === point || dir.startsWith(point.endsWith('/') ? point : `${point}/`)) && (!best || point.length > best.point.length)) best = { point, device, type };
    }
    return best ? `${best.type} on ${best.device} (mounted at ${best.point})` : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** `count` writes of 4 KiB appended to a file in `dir`, each followed by fsync: their durations, ms. */
function probeFsync(dir: string, count: number): number[] {
  const file = path.join(dir, 'bench-fsync-probe');
  const block = Buffer.alloc(4096, 'x');
  const durations: number[] = [];
  const fd = openSync(file, 'a');
  try {
    for (let i = 0; i < count; i++) {
      const started = now();
      writeSync(fd, block);
      fsyncSync(fd);
      durations.push(now() - started);
    }
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }
  return durations;
}

// ------------------------------------------------------------------ report

interface Outcome {
  protocol: Protocol;
  everysec: Window[];
  always: Window[];
  /** 1 − always ÷ everysec messages/s (medians). */
  cost: number;
}

function outcomeOf(protocol: Protocol, windows: Window[]): Outcome {
  const everysec = windowsOf(windows, protocol, 'everysec');
  const always = windowsOf(windows, protocol, 'always');
  return { protocol, everysec, always, cost: 1 - median(always.map((w) => deliveredRate(w.result))) / median(everysec.map((w) => deliveredRate(w.result))) };
}

const growth = (a: number, b: number) => `${b >= a ? '+' : ''}${fmtMs(b - a).replace(' ms', '')} ms (${fmtPct(((b - a) / a) * 100)})`;

function render(info: MachineInfo & { busyBefore: number; reruns: number; tookSeconds: number; filesystem: string; fsync: number[] }, outcomes: Outcome[]): string {
  const lines: string[] = [];
  lines.push(`### ${info.date} — appendfsync always costs ${outcomes.map((o) => `${o.protocol} ${fmtPct(o.cost * 100)}`).join(', ')} of messages/s against everysec`, '');
  const fsync = distribution(info.fsync);
  lines.push(
    `Machine: ${describeMachine(info)}; Redis data directory on ${info.filesystem}` +
      (info.fsync.length > 0 ? `; 4 KiB write + fsync there: p50 ${fmtMs(fsync.p50)}, p99 ${fmtMs(fsync.p99)} (${info.fsync.length} probes)` : '') +
      `. Parameters: ${params.agents} agents per ring (closed-loop senders on the legacy endpoint, content ${params.contentBytes} bytes); ${params.rounds} rounds per ring of an everysec and an always window, ABBA order, ` +
      `${params.roundSeconds} s measured each after ${params.warmupSeconds} s warm-up; one bridge (one router, one legacy-poll, one elicitation), the policy switched with CONFIG SET appendfsync between windows. Took ${info.tookSeconds.toFixed(0)} s.`,
  );
  const contention = Math.max(...outcomes.flatMap((o) => [...o.everysec, ...o.always].map((w) => w.result.cpu.otherPercent)));
  lines.push(...contentionNote(contention, CONTENTION_LIMIT_PERCENT, info.reruns));
  lines.push('', '| measure | everysec | always | always against everysec |', '|---|---|---|---|');
  const rounds = (ws: Window[], render: (w: Window) => string) => ws.map(render).join(' / ');
  for (const o of outcomes) {
    const rate = (ws: Window[]) => median(ws.map((w) => deliveredRate(w.result)));
    const p50 = (ws: Window[]) => median(ws.map((w) => latencyP50(w.result)));
    const p99 = (ws: Window[]) => median(ws.map((w) => latencyP99(w.result)));
    lines.push(
      `| ${o.protocol} ring messages/s, median | ${fmtRate(rate(o.everysec))} (rounds ${rounds(o.everysec, (w) => fmtRate(deliveredRate(w.result)))}) | ${fmtRate(rate(o.always))} (rounds ${rounds(o.always, (w) => fmtRate(deliveredRate(w.result)))}) | **cost ${fmtPct(o.cost * 100)}** |`,
    );
    lines.push(`| ${o.protocol} latency p50, median | ${fmtMs(p50(o.everysec))} | ${fmtMs(p50(o.always))} | ${growth(p50(o.everysec), p50(o.always))} |`);
    lines.push(
      `| ${o.protocol} latency p99, median | ${fmtMs(p99(o.everysec))} (rounds ${rounds(o.everysec, (w) => fmtMs(latencyP99(w.result)))}) | ${fmtMs(p99(o.always))} (rounds ${rounds(o.always, (w) => fmtMs(latencyP99(w.result)))}) | ${growth(p99(o.everysec), p99(o.always))} |`,
    );
    const sendP99 = (ws: Window[]) => median(ws.map((w) => distribution(w.result.sendCalls).p99));
    lines.push(`| ${o.protocol} send_message call p99, median | ${fmtMs(sendP99(o.everysec))} | ${fmtMs(sendP99(o.always))} | ${growth(sendP99(o.everysec), sendP99(o.always))} |`);
    const redisCpu = (ws: Window[]) => median(ws.map((w) => w.result.cpu.processes.find((p) => p.name === 'redis-server')?.percent ?? Number.NaN));
    const redisSys = (ws: Window[]) => median(ws.map((w) => w.result.cpu.processes.find((p) => p.name === 'redis-server')?.sysPercent ?? Number.NaN));
    lines.push(`| ${o.protocol} redis-server CPU (of it kernel), % of one core, median | ${fmtPct(redisCpu(o.everysec))} (${fmtPct(redisSys(o.everysec))}) | ${fmtPct(redisCpu(o.always))} (${fmtPct(redisSys(o.always))}) | |`);
    const lost = (ws: Window[]) => ws.reduce((a, w) => a + w.result.lost, 0);
    const delayed = (ws: Window[]) => ws.reduce((a, w) => a + w.delayedFsyncs, 0);
    lines.push(`| ${o.protocol} messages lost / aof_delayed_fsync, all rounds | ${lost(o.everysec)} / ${delayed(o.everysec)} | ${lost(o.always)} / ${delayed(o.always)} | |`);
    lines.push(`| ${o.protocol} machine busy, % of all ${info.cores} cores, median | ${fmtPct(median(o.everysec.map((w) => w.result.cpu.machineBusyPercent)))} | ${fmtPct(median(o.always.map((w) => w.result.cpu.machineBusyPercent)))} | |`);
  }
  lines.push('', `Machine busy before the run: ${fmtPct(info.busyBefore)}. Windows re-run for contention: ${info.reruns}.`);
  return lines.join('\n');
}

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  const startedAt = now();
  const info = machineInfo();
  const legacyIds = ringIds('durable-agent', params.agents);
  const modernIds = ringIds('durable-modern', params.agents);
  log(`${params.agents} agents per ring, ${params.rounds} rounds × (everysec, always) × ${params.roundSeconds} s`);
  const guard = new QuietGuard(params.quietWaitSeconds, params.retries, CONTENTION_LIMIT_PERCENT, log);
  const { track, closeAll } = clientTracker();
  let bridge: Bridge | undefined;
  let redis: Redis | undefined;
  try {
    bridge = await startBridge({
      agents: [...legacyIds, ...(params.elicitation ? modernIds : [])],
      shardCount: 16,
      env: BENCH_SERVICE_ENV,
      appendfsync: 'everysec',
      elicitations: params.elicitation ? 1 : 0,
      ...(params.elicitation ? { flags: { 'elicitation.enabled': 'true', 'elicitation.agents': modernIds.join(',') } } : {}),
    });
    const b = bridge;
    const r = (redis = b.redis.client());
    info.redis = await redisVersion(b);
    const filesystem = filesystemOf(b.redis.dataDir);
    const fsync = params.fsyncProbes > 0 ? probeFsync(b.redis.dataDir, params.fsyncProbes) : [];
    const rings: Array<[Protocol, Ring]> = [['legacy', await startLegacyRing(b, legacyIds, POLL, track)]];
    if (params.elicitation) rings.push(['elicitation', await startPushRing(b, modernIds, new PushReceivers(), track)]);

    const busyBefore = await guard.waitQuiet();
    const windows: Window[] = [];
    const options = { warmupSeconds: params.warmupSeconds, seconds: params.roundSeconds, contentBytes: params.contentBytes, drainSeconds: params.drainSeconds };
    for (const [protocol, ring] of rings) {
      for (let round = 0; round < params.rounds; round++) {
        const order = abbaOrder<Policy>(round, 'everysec', 'always');
        for (const policy of order) {
          await setPolicy(r, policy);
          const before = await delayedFsyncs(r);
          const result = await guard.measured(`${protocol} ${policy}`, () => runRingWindow(b, ring, options));
          const delayed = (await delayedFsyncs(r)) - before;
          windows.push({ protocol, arm: policy, round, result, delayedFsyncs: delayed });
          log(`${protocol} round ${round + 1}/${params.rounds} ${policy}: ${fmtRate(deliveredRate(result))} msgs/s, p50 ${fmtMs(latencyP50(result))}, p99 ${fmtMs(latencyP99(result))}, lost ${result.lost}`);
        }
      }
    }
    await setPolicy(r, 'everysec');

    const outcomes = rings.map(([protocol]) => outcomeOf(protocol, windows));
    const report = render({ ...info, busyBefore, reruns: guard.reruns, tookSeconds: (now() - startedAt) / 1000, filesystem, fsync }, outcomes);
    process.stdout.write(`\n${report}\n\n`);
    for (const o of outcomes) process.stdout.write(`${o.protocol}: appendfsync always costs ${fmtPct(o.cost * 100)} of the everysec messages/s\n`);
    if (params.writeDocs) {
      writeSectionRunToDocs(BENCHMARKS_DOC, SECTION, `${SECTION.heading} (\`make bench BENCH_PARTS=durability\`)\n`, report, MAX_RUNS_KEPT);
      log(`results written to ${path.relative(REPO_ROOT, BENCHMARKS_DOC)}`);
    }
  } finally {
    logServiceWarnings([...(bridge?.routers ?? []), ...(bridge?.legacyPolls ?? []), ...(bridge?.elicitations ?? [])], log);
    redis?.disconnect();
    await closeAll();
    await bridge?.stop();
  }
}

await runBenchmark(main, params.timeoutSeconds, 'BENCH_DURABILITY_TIMEOUT_SECONDS', log);
