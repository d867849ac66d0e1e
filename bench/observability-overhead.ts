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
import { REPO_ROOT } from '@agent-bridge/testkit';
import { startBridge, type Bridge } from '@agent-bridge/testkit/bridge';
import { envNumber, partLog, ringBenchSettings } from './lib/env.js';
import { fetchMetrics, measureRecording, Scraper, startTraceSink, sumOfMetric, writeObservabilityRunToDocs, type ScrapeCounts, type TraceSink } from './lib/observability.js';
import { DOCS_INTRO, outcomeOf, pct1, RECEIVER, render, sanityProblems, SDK_DEFAULT_BSP_DELAY_MS, type ArmName, type Info, type Protocol, type ReportSettings, type Slice } from './lib/observability-report.js';
import { PushReceivers } from './lib/receivers.js';
import { deliveredRate, type BridgeResult } from './lib/results.js';
import { clientTracker, ringIds, runRingWindow, startLegacyRing, startPushRing, windowsOf, type Ring as BaseRing, type Track } from './lib/rings.js';
import { abbaOrder, BENCH_SERVICE_ENV, logServiceWarnings, machineInfo, QuietGuard, redisVersion, runBenchmark } from './lib/run.js';
import { BENCHMARKS_DOC, MAX_RUNS_KEPT } from './lib/runs-doc.js';
import { fmtRate } from './lib/stats.js';
import { now, sleep } from './lib/window.js';

// ------------------------------------------------------------------ parameters

const params = {
  ...ringBenchSettings(),
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
  retries: Math.floor(envNumber('BENCH_OBS_RETRIES', 4, 0)),
  contentionPercent: envNumber('BENCH_OBS_CONTENTION_PERCENT', 10, 0),
};

const POLL_MAX_MESSAGES = 100;
/**
 * wait_for_messages timeout_ms. At peak a poll returns as soon as a message arrives (~1 message per
 * poll), so this hardly matters while the ring runs; it bounds how long the polls a stopped slice
 * abandoned stay open in legacy-poll (their spans end then), which the on arm waits out.
 */
const POLL_TIMEOUT_MS = 1_000;
const LATER_SLICE_WARMUP_SECONDS = Math.min(1, params.warmupSeconds);
const settings: ReportSettings = { ...params, laterWarmupSeconds: LATER_SLICE_WARMUP_SECONDS };

const log = partLog('bench-obs');
const ringOf = (prefix: string) => ringIds(prefix, params.agents);
const agentIds = ringOf('obs-agent');
const modernIds = ringOf('obs-modern');

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

// ------------------------------------------------------------------ set-up

async function setUpArm(name: ArmName, bridge: Bridge, sinkPid: number, track: Track): Promise<Arm> {
  const withReceiver = (ring: BaseRing, serviceNames: string[]): Ring => ({ ...ring, services: [...ring.services, [RECEIVER, sinkPid]], serviceNames });
  const rings: Arm['rings'] = {
    legacy: withReceiver(await startLegacyRing(bridge, agentIds, { maxMessages: POLL_MAX_MESSAGES, timeoutMs: POLL_TIMEOUT_MS }, track), ['legacy-poll', 'router', 'redis-server']),
  };
  if (params.elicitation) {
    rings.elicitation = withReceiver(await startPushRing(bridge, modernIds, new PushReceivers(), track), ['legacy-poll', 'router', 'elicitation', 'redis-server']);
  }
  const metricsUrls = [...bridge.routerUrls.map((url) => `${url}/metrics`), ...bridge.legacyUrls.map((url) => url.replace(/\/mcp$/, '/metrics')), ...bridge.elicitationBaseUrls.map((url) => `${url}/metrics`)];
  return { name, bridge, rings, metricsUrls };
}

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

  const guard = new QuietGuard(params.quietWaitSeconds, params.retries, params.contentionPercent, log, 'slice');
  const bridgeOptions = {
    agents: params.elicitation ? [...agentIds, ...modernIds] : agentIds,
    shardCount: 16,
    ...(params.elicitation ? { elicitations: 1, flags: { 'elicitation.enabled': 'true', 'elicitation.agents': modernIds.join(',') } } : {}),
  };
  const { track, closeAll } = clientTracker();
  const bridges: Bridge[] = [];
  let sink: TraceSink | undefined;
  try {
    sink = await startTraceSink();
    const otelEnv: Record<string, string> = {
      OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
      ...(params.bspDelayMs !== undefined ? { OTEL_BSP_SCHEDULE_DELAY: String(params.bspDelayMs) } : {}),
      ...params.onEnv,
    };
    const started = await Promise.allSettled([startBridge({ ...bridgeOptions, env: BENCH_SERVICE_ENV }), startBridge({ ...bridgeOptions, env: { ...BENCH_SERVICE_ENV, ...otelEnv } })]);
    for (const result of started) if (result.status === 'fulfilled') bridges.push(result.value);
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const [offBridge, onBridge] = bridges as [Bridge, Bridge];
    info.redis = await redisVersion(offBridge);
    const traceSink = sink;
    const [off, on] = await Promise.all([setUpArm('off', offBridge, traceSink.process.pid, track), setUpArm('on', onBridge, traceSink.process.pid, track)]);
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
        result = await runRingWindow(arm.bridge, ring, { warmupSeconds, seconds: params.seconds / params.rounds, contentBytes: params.contentBytes, drainSeconds: params.drainSeconds });
      } finally {
        scrapes = await scraper?.stop();
      }
      if (armName === 'on' && protocol === 'legacy') await pollsEnded(arm);
      const after = armName === 'on' ? await traceSink.settle(bspDelay + 300, 2 * bspDelay + 3_000) : await traceSink.counts();
      return { arm: armName, protocol, round, result, spans: after.total - spansBefore, scrapes };
    };
    const measured = async (armName: ArmName, protocol: Protocol, round: number, warmupSeconds: number): Promise<Slice> => {
      const run = async (rerun: boolean) => {
        const slice = await runSlice(armName, protocol, round, rerun ? LATER_SLICE_WARMUP_SECONDS : warmupSeconds);
        return { slice, cpu: slice.result.cpu };
      };
      return (await guard.measured(`${protocol} ${armName}`, run)).slice;
    };

    info.busyBefore = await guard.waitQuiet();
    const slices: Slice[] = [];
    const warmedUp = new Set<string>();
    for (let round = 0; round < params.rounds; round++) {
      const order = abbaOrder<ArmName>(round, 'off', 'on');
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
          log(`round ${round + 1}/${params.rounds}: ${protocol} ${armName} ${fmtRate(deliveredRate(slice.result))} msgs/s, lost ${slice.result.lost}${extra}`);
        }
        log(`round ${round + 1}/${params.rounds}: ${protocol} overhead ${pct1(1 - deliveredRate(pair.on!.result) / deliveredRate(pair.off!.result))}`);
      }
    }

    // What the services' own counters say: messages per routing batch (off router), messages the on bridge accepted.
    const offRouterText = await fetchMetrics(`${offBridge.routerUrls[0]}/metrics`);
    const batches = sumOfMetric(offRouterText, 'agentbridge_routing_batch_duration_seconds_count');
    const routed = sumOfMetric(offRouterText, 'agentbridge_messages_routed_total');
    const messagesPerBatch = batches > 0 && routed > 0 ? routed / batches : 1;
    const onAccepted = sumOfMetric(await fetchMetrics(onBridge.legacyUrls[0]!.replace(/\/mcp$/, '/metrics')), 'agentbridge_messages_sent_total');
    const finalSpans = await traceSink.counts();
    const legacyOff = windowsOf(slices, 'legacy', 'off').map((s) => s.result);
    const messagesPerPoll =
      legacyOff.reduce((a, r) => a + r.polledMessages, 0) /
      Math.max(
        1,
        legacyOff.reduce((a, r) => a + r.polls, 0),
      );

    log(`metric recording microbenchmark: ${params.microIterations} iterations per measure`);
    const recording = measureRecording(params.microIterations, messagesPerBatch);

    const outcomes = protocols.map((protocol) => outcomeOf(protocol, slices, arms.off.rings[protocol]!.serviceNames));
    info.tookSeconds = (now() - startedAt) / 1000;
    info.reruns = guard.reruns;
    const { markdown, verdicts } = render(info, outcomes, { recording, messagesPerPoll, messagesPerBatch, spanNames: finalSpans.byName, spansPerAcceptedMessage: finalSpans.total / Math.max(1, onAccepted) }, settings);
    process.stdout.write(`\n${markdown}\n\n`);
    for (const line of verdicts) process.stdout.write(`${line}\n`);

    const problems = sanityProblems(outcomes, Object.keys(params.onEnv).length > 0);
    const lost = outcomes.reduce((a, o) => a + o.off.lost + o.on.lost, 0);
    if (lost > 0) process.stdout.write(`\nWARNING: ${lost} messages accepted in a slice did not arrive within ${params.drainSeconds} s\n`);
    if (problems.length > 0) {
      process.stdout.write(`\nSANITY CHECKS FAILED (results not written): ${problems.join('; ')}\n`);
      process.exitCode = 1;
      return;
    }
    if (params.writeDocs) {
      writeObservabilityRunToDocs(BENCHMARKS_DOC, DOCS_INTRO, markdown, MAX_RUNS_KEPT);
      log(`results written to ${path.relative(REPO_ROOT, BENCHMARKS_DOC)}`);
    }
  } finally {
    logServiceWarnings(
      bridges.flatMap((bridge) => [...bridge.routers, ...bridge.legacyPolls, ...bridge.elicitations]),
      log,
    );
    await closeAll();
    await Promise.all(bridges.map((b) => b.stop()));
    await sink?.stop();
  }
}

await runBenchmark(main, params.timeoutSeconds, 'BENCH_OBS_TIMEOUT_SECONDS', log);
