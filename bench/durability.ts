/**
 * Durability benchmark (`make bench BENCH_PARTS=durability`): what Redis `appendfsync always` costs
 * against `everysec` (issue 11, item 9), and what waiting for a replica's acknowledgement costs
 * (`REDIS_WAIT_REPLICAS=1`, issue 16 item 2), on the usual rings of bench/lib/rings.ts at peak: N agents,
 * each sending to the next with send_message on the legacy endpoint (closed loop), received by
 * wait_for_messages loops (legacy ring) or as elicitation/create pushes (elicitation ring).
 *
 * One bridge (redis-server + router + legacy-poll + elicitation as OS processes, started by
 * libs/testkit/src/bridge/bridge.ts, whose testkit redis-server runs with AOF on), and the fsync policy switched
 * between windows with CONFIG SET appendfsync (checked with CONFIG GET before each window): both arms
 * run on the same processes, the same data directory and the same disk, warm, so the policy is the
 * only difference. (Redis reads the policy at every AOF write, so switching it at run time is the
 * same as starting with it.)
 *
 * The WAIT arm: the bench Redis has a replica (a second redis-server with --replicaof, attached
 * before the first window and checked connected before each WAIT window), and two more legacy-poll
 * replicas carry the senders (the receivers stay on the first): the everysec and always windows
 * send through one, the WAIT windows, with `appendfsync everysec`, through the other, started with
 * REDIS_WAIT_REPLICAS=1 (the setting is read at start, so it cannot be switched at run time). The
 * replica is attached in every arm, so the wait itself is the only difference between the everysec
 * and the WAIT windows.
 *
 * Per ring, BENCH_DURABILITY_ROUNDS rounds of an everysec, an always and a WAIT window in ABBA order
 * (everysec, always, wait; wait, always, everysec; …) against the drift of a shared machine; the
 * comparison is between the medians over the rounds. Cost = 1 − arm ÷ everysec messages/s, and the
 * growth of p50 / p99 latency (send accepted → received) and of the send_message call.
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
 *   BENCH_DURABILITY_WAIT=1                            0: no replica and no WAIT arm
 *   BENCH_DURABILITY_FSYNC_PROBES=200                  writes + fsync of the disk probe (0: none)
 *   BENCH_DURABILITY_TIMEOUT_SECONDS=420               give up (exit 1) after this long
 *   BENCH_AGENTS=16, BENCH_CONTENT_BYTES=200, BENCH_DRAIN_SECONDS=10, BENCH_QUIET_WAIT_SECONDS=60,
 *   BENCH_RETRIES=2, BENCH_WRITE_DOCS=1                as in bench/throughput.ts
 */
import { closeSync, fsyncSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { REPO_ROOT, startRedis, waitFor, type AgentClient, type RedisServerHandle } from '@agent-bridge/testkit';
import { startBridge, type Bridge } from '@agent-bridge/testkit/bridge';
import { envNumber, partLog, ringBenchSettings } from './lib/env.js';
import { PushReceivers } from './lib/receivers.js';
import { now } from './lib/window.js';
import { CONTENTION_LIMIT_PERCENT } from './lib/report.js';
import { deliveredRate, latencyP50, latencyP99 } from './lib/results.js';
import { clientTracker, ringIds, runRingWindow, startLegacyRing, startPushRing, windowsOf, type ArmWindow, type Ring, type RingProtocol, type Track } from './lib/rings.js';
import { abbaOrder, BENCH_SERVICE_ENV, contentionNote, describeMachine, logServiceWarnings, machineInfo, QuietGuard, redisVersion, runBenchmark, type MachineInfo } from './lib/run.js';
import { BENCHMARKS_DOC, MAX_RUNS_KEPT, writeSectionRunToDocs } from './lib/runs-doc.js';
import { distribution, fmtMs, fmtPct, fmtRate, median } from './lib/stats.js';

const params = {
  ...ringBenchSettings(),
  rounds: Math.floor(envNumber(['BENCH_DURABILITY_ROUNDS', 'BENCH_ROUNDS'], 3, 1)),
  roundSeconds: envNumber(['BENCH_DURABILITY_ROUND_SECONDS', 'BENCH_ROUND_SECONDS'], 10, 1),
  warmupSeconds: envNumber('BENCH_DURABILITY_WARMUP_SECONDS', 2, 0),
  elicitation: process.env.BENCH_DURABILITY_ELICITATION !== '0',
  wait: process.env.BENCH_DURABILITY_WAIT !== '0',
  fsyncProbes: Math.floor(envNumber('BENCH_DURABILITY_FSYNC_PROBES', 200, 0)),
  timeoutSeconds: envNumber('BENCH_DURABILITY_TIMEOUT_SECONDS', 420, 10),
  retries: Math.floor(envNumber('BENCH_RETRIES', 2, 0)),
};

const POLL = { maxMessages: 100, timeoutMs: 5_000 };
const SECTION = { heading: '## Durability', mark: '<!-- bench-durability-run -->' };

const log = partLog('bench-durability');

type Protocol = RingProtocol;
/** The Redis fsync policy of a window, or `wait`: everysec, sent through the legacy-poll that waits for a replica. */
type Arm = 'everysec' | 'always' | 'wait';
type Policy = 'everysec' | 'always';
const ARM_NAME: Record<Arm, string> = { everysec: 'everysec', always: 'always', wait: 'WAIT 1 (everysec)' };
/** The arms this run compares, everysec first (the base of every cost). */
const ARMS: Arm[] = params.wait ? ['everysec', 'always', 'wait'] : ['everysec', 'always'];

interface Window extends ArmWindow<Arm> {
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

// ------------------------------------------------------------------ the replica

/** A replica of the bench Redis (AOF on, as the primary's), resolved once its link to the primary is up. */
async function startReplicaOf(primary: RedisServerHandle): Promise<RedisServerHandle> {
  const replica = await startRedis({ extraArgs: ['--replicaof', '127.0.0.1', String(primary.port)] });
  const client = replica.client();
  try {
    await waitFor(async () => /^master_link_status:up/m.test(await client.info('replication')), { timeoutMs: 30_000, description: 'the replica to finish its first sync with the bench Redis' });
  } finally {
    client.disconnect();
  }
  return replica;
}

/** Throws unless the primary has a connected replica (a WAIT window without one would only time out). */
async function assertReplicaConnected(primary: Redis): Promise<void> {
  const connected = Number(/^connected_slaves:(\d+)/m.exec(await primary.info('replication'))?.[1] ?? 0);
  if (connected < 1) throw new Error(`the bench Redis has ${connected} connected replicas: the WAIT window needs one (is the replica's redis-server still up?)`);
}

/** Legacy-endpoint senders for `ids` on the legacy-poll replica `replica` of the bridge. */
async function connectSenders(bridge: Bridge, ids: string[], replica: number, track: Track): Promise<AgentClient[]> {
  const senders: AgentClient[] = [];
  for (const agent of ids) senders.push(track(await bridge.connect(agent, replica)));
  return senders;
}

/** `ring` with its senders on another legacy-poll: the same receivers, that legacy-poll metered too. */
function sendingThrough(ring: Ring, senders: AgentClient[], pid: number | undefined): Ring {
  return { ...ring, senders, services: [...ring.services, ['legacy-poll (senders)', pid]] };
}

// ------------------------------------------------------------------ report

interface Outcome {
  protocol: Protocol;
  windows: Record<Arm, Window[]>;
  /** 1 − arm ÷ everysec messages/s (medians); NaN for an arm that did not run. */
  cost: Record<Exclude<Arm, 'everysec'>, number>;
}

function outcomeOf(protocol: Protocol, all: Window[]): Outcome {
  const windows = { everysec: windowsOf(all, protocol, 'everysec'), always: windowsOf(all, protocol, 'always'), wait: windowsOf(all, protocol, 'wait') };
  const rate = (ws: Window[]) => (ws.length > 0 ? median(ws.map((w) => deliveredRate(w.result))) : Number.NaN);
  const costOf = (ws: Window[]) => 1 - rate(ws) / rate(windows.everysec);
  return { protocol, windows, cost: { always: costOf(windows.always), wait: costOf(windows.wait) } };
}

const growth = (a: number, b: number) => `${b >= a ? '+' : ''}${fmtMs(b - a).replace(' ms', '')} ms (${fmtPct(((b - a) / a) * 100)})`;

/** One heading's worth: `legacy 2 %, elicitation 0 %`. */
const costs = (outcomes: Outcome[], arm: Exclude<Arm, 'everysec'>) => outcomes.map((o) => `${o.protocol} ${fmtPct(o.cost[arm] * 100)}`).join(', ');

function render(info: MachineInfo & { busyBefore: number; reruns: number; tookSeconds: number; filesystem: string; fsync: number[] }, outcomes: Outcome[]): string {
  const lines: string[] = [];
  lines.push(`### ${info.date} — appendfsync always costs ${costs(outcomes, 'always')} of messages/s against everysec${params.wait ? `; WAIT for 1 replica costs ${costs(outcomes, 'wait')}` : ''}`, '');
  const fsync = distribution(info.fsync);
  lines.push(
    `Machine: ${describeMachine(info)}; Redis data directory on ${info.filesystem}` +
      (info.fsync.length > 0 ? `; 4 KiB write + fsync there: p50 ${fmtMs(fsync.p50)}, p99 ${fmtMs(fsync.p99)} (${info.fsync.length} probes)` : '') +
      `. Parameters: ${params.agents} agents per ring (closed-loop senders on the legacy endpoint, content ${params.contentBytes} bytes); ${params.rounds} rounds per ring of ${ARMS.map((a) => `${a === 'wait' ? 'a' : 'an'} ${ARM_NAME[a]}`).join(', ')} window, ABBA order, ` +
      `${params.roundSeconds} s measured each after ${params.warmupSeconds} s warm-up; one bridge (one router, one elicitation, one legacy-poll${params.wait ? ' for the receivers and two for the senders: the everysec and always windows send through one, the WAIT windows through one with REDIS_WAIT_REPLICAS=1; the bench Redis has one replica, attached in every arm' : ''}), the policy switched with CONFIG SET appendfsync between windows. Took ${info.tookSeconds.toFixed(0)} s.`,
  );
  const contention = Math.max(...outcomes.flatMap((o) => ARMS.flatMap((a) => o.windows[a]).map((w) => w.result.cpu.otherPercent)));
  lines.push(...contentionNote(contention, CONTENTION_LIMIT_PERCENT, info.reruns));
  const against = ARMS.filter((a): a is Exclude<Arm, 'everysec'> => a !== 'everysec');
  lines.push('', `| measure | ${ARMS.map((a) => ARM_NAME[a]).join(' | ')} | ${against.map((a) => `${ARM_NAME[a]} against everysec`).join(' | ')} |`, `|---|${ARMS.map(() => '---|').join('')}${against.map(() => '---|').join('')}`);
  const rounds = (ws: Window[], show: (w: Window) => string) => ws.map(show).join(' / ');
  for (const o of outcomes) {
    /** A row: per arm the median of `value` over its windows (and each round's when `perRound`), then each arm's growth against everysec (or `compare`). */
    const row = (measure: string, value: (w: Window) => number, format: (v: number) => string, compare: (arm: Exclude<Arm, 'everysec'>, base: number, v: number) => string, perRound = false) => {
      const medians = ARMS.map((a) => median(o.windows[a].map(value)));
      const cells = ARMS.map((a, i) => `${format(medians[i]!)}${perRound ? ` (rounds ${rounds(o.windows[a], (w) => format(value(w)))})` : ''}`);
      lines.push(`| ${o.protocol} ${measure} | ${cells.join(' | ')} | ${against.map((a, i) => compare(a, medians[0]!, medians[i + 1]!)).join(' | ')} |`);
    };
    const cost = (arm: Exclude<Arm, 'everysec'>) => `**cost ${fmtPct(o.cost[arm] * 100)}**`;
    const grown = (_: Exclude<Arm, 'everysec'>, base: number, v: number) => growth(base, v);
    row('ring messages/s, median', (w) => deliveredRate(w.result), fmtRate, cost, true);
    row('latency p50, median', (w) => latencyP50(w.result), fmtMs, grown);
    row('latency p99, median', (w) => latencyP99(w.result), fmtMs, grown, true);
    row('send_message call p50, median', (w) => distribution(w.result.sendCalls).p50, fmtMs, grown);
    row('send_message call p99, median', (w) => distribution(w.result.sendCalls).p99, fmtMs, grown);
    const redis = (w: Window) => w.result.cpu.processes.find((p) => p.name === 'redis-server');
    const cpuCells = ARMS.map((a) => `${fmtPct(median(o.windows[a].map((w) => redis(w)?.percent ?? Number.NaN)))} (${fmtPct(median(o.windows[a].map((w) => redis(w)?.sysPercent ?? Number.NaN)))})`);
    lines.push(`| ${o.protocol} redis-server CPU (of it kernel), % of one core, median | ${cpuCells.join(' | ')} |${against.map(() => ' |').join('')}`);
    const total = (ws: Window[], value: (w: Window) => number) => ws.reduce((a, w) => a + value(w), 0);
    const lossCells = ARMS.map((a) => `${total(o.windows[a], (w) => w.result.lost)} / ${total(o.windows[a], (w) => w.result.sendErrors)} / ${total(o.windows[a], (w) => w.delayedFsyncs)}`);
    lines.push(`| ${o.protocol} messages lost / failed sends / aof_delayed_fsync, all rounds | ${lossCells.join(' | ')} |${against.map(() => ' |').join('')}`);
    lines.push(`| ${o.protocol} machine busy, % of all ${info.cores} cores, median | ${ARMS.map((a) => fmtPct(median(o.windows[a].map((w) => w.result.cpu.machineBusyPercent)))).join(' | ')} |${against.map(() => ' |').join('')}`);
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
  log(`${params.agents} agents per ring, ${params.rounds} rounds × (${ARMS.join(', ')}) × ${params.roundSeconds} s`);
  const guard = new QuietGuard(params.quietWaitSeconds, params.retries, CONTENTION_LIMIT_PERCENT, log);
  const { track, closeAll } = clientTracker();
  let bridge: Bridge | undefined;
  let replica: RedisServerHandle | undefined;
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
    // With the WAIT arm every arm sends through a legacy-poll of its own, the receivers staying on
    // the first: the everysec and always windows through one that does not wait (legacyUrls[1]), the
    // WAIT windows through one that waits (legacyUrls[2]), so the processes a message passes
    // through are alike in every arm and the wait is the only difference.
    const sending = params.wait ? [await b.startLegacyPoll('legacy-poll-send'), await b.startLegacyPoll('legacy-poll-wait', undefined, { REDIS_WAIT_REPLICAS: '1' })] : [];
    if (params.wait) replica = await startReplicaOf(b.redis);
    /** Per ring, the ring each arm's windows run. */
    const rings: Array<[Protocol, Record<Arm, Ring>]> = [];
    const armRings = async (ring: Ring, ids: string[]): Promise<Record<Arm, Ring>> => {
      if (sending.length === 0) return { everysec: ring, always: ring, wait: ring };
      const plain = sendingThrough(ring, await connectSenders(b, ids, 1, track), sending[0]!.pid);
      return { everysec: plain, always: plain, wait: sendingThrough(ring, await connectSenders(b, ids, 2, track), sending[1]!.pid) };
    };
    rings.push(['legacy', await armRings(await startLegacyRing(b, legacyIds, POLL, track), legacyIds)]);
    if (params.elicitation) rings.push(['elicitation', await armRings(await startPushRing(b, modernIds, new PushReceivers(), track), modernIds)]);

    const busyBefore = await guard.waitQuiet();
    const windows: Window[] = [];
    const options = { warmupSeconds: params.warmupSeconds, seconds: params.roundSeconds, contentBytes: params.contentBytes, drainSeconds: params.drainSeconds };
    for (const [protocol, ringOf] of rings) {
      for (let round = 0; round < params.rounds; round++) {
        for (const arm of abbaOrder<Arm>(round, ...ARMS)) {
          await setPolicy(r, arm === 'always' ? 'always' : 'everysec');
          if (arm === 'wait') await assertReplicaConnected(r);
          const before = await delayedFsyncs(r);
          const result = await guard.measured(`${protocol} ${arm}`, () => runRingWindow(b, ringOf[arm], options));
          const delayed = (await delayedFsyncs(r)) - before;
          windows.push({ protocol, arm, round, result, delayedFsyncs: delayed });
          log(
            `${protocol} round ${round + 1}/${params.rounds} ${arm}: ${fmtRate(deliveredRate(result))} msgs/s, p50 ${fmtMs(latencyP50(result))}, p99 ${fmtMs(latencyP99(result))}, send p99 ${fmtMs(distribution(result.sendCalls).p99)}, lost ${result.lost}, failed sends ${result.sendErrors}`,
          );
        }
      }
    }
    await setPolicy(r, 'everysec');

    const outcomes = rings.map(([protocol]) => outcomeOf(protocol, windows));
    const report = render({ ...info, busyBefore, reruns: guard.reruns, tookSeconds: (now() - startedAt) / 1000, filesystem, fsync }, outcomes);
    process.stdout.write(`\n${report}\n\n`);
    for (const o of outcomes) {
      process.stdout.write(`${o.protocol}: appendfsync always costs ${fmtPct(o.cost.always * 100)} of the everysec messages/s`);
      process.stdout.write(params.wait ? `; WAIT for 1 replica costs ${fmtPct(o.cost.wait * 100)}\n` : '\n');
    }
    if (params.writeDocs) {
      writeSectionRunToDocs(BENCHMARKS_DOC, SECTION, `${SECTION.heading} (\`make bench BENCH_PARTS=durability\`)\n`, report, MAX_RUNS_KEPT);
      log(`results written to ${path.relative(REPO_ROOT, BENCHMARKS_DOC)}`);
    }
  } finally {
    logServiceWarnings([...(bridge?.routers ?? []), ...(bridge?.legacyPolls ?? []), ...(bridge?.elicitations ?? [])], log);
    redis?.disconnect();
    await closeAll();
    await bridge?.stop();
    await replica?.cleanup();
  }
}

await runBenchmark(main, params.timeoutSeconds, 'BENCH_DURABILITY_TIMEOUT_SECONDS', log);
