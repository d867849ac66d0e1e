/**
 * Redis work per delivered message (not part of `make bench`; issue 16 item 5): a short stand-in for
 * the throughput benchmark's rows "Redis commands per delivered message" and "per elicit". One
 * bridge, BENCH_AGENTS (16) agents per ring, closed-loop peak windows of PERMSG_SECONDS (4 s) on the
 * legacy ring and the elicitation (push) ring, then an elicit window with 4 askers; each prints the
 * INFO commandstats of its measured part per delivered message (per elicit), command by command.
 *
 *   node --conditions=agentbridge-source --import tsx bench/experiments/redis-per-message.ts
 */
import { startBridge } from '@agent-bridge/testkit/bridge';
import { runElicitWindow } from '../lib/load.js';
import { PushReceivers } from '../lib/receivers.js';
import type { RedisStats } from '../lib/results.js';
import { clientTracker, ringIds, runRingWindow, startLegacyRing, startPushRing } from '../lib/rings.js';
import { Profiler } from '../lib/profiling.js';
import { BENCH_SERVICE_ENV } from '../lib/run.js';

const AGENTS = Number(process.env.BENCH_AGENTS ?? 16);
const SECONDS = Number(process.env.PERMSG_SECONDS ?? 4);
const ASKERS = 4;
const legacyIds = ringIds('permsg-agent', AGENTS);
const modernIds = ringIds('permsg-modern', AGENTS);

function print(name: string, redis: RedisStats | undefined, units: number, seconds: number): void {
  if (!redis) return void console.log(`${name}: no commandstats`);
  const per = Math.max(1, units);
  console.log(`\n${name}: ${units} in ${seconds} s (${(units / seconds).toFixed(0)}/s): ${(redis.totalCalls / per).toFixed(1)} commands, ${(redis.totalUsec / per).toFixed(0)} µs inside Redis`);
  for (const [command, c] of [...redis.commands].sort((a, b) => b[1].calls - a[1].calls)) {
    if (c.calls / per < 0.05) continue;
    console.log(`  ${command.padEnd(22)} ${(c.calls / per).toFixed(2).padStart(6)}  ${(c.usec / per).toFixed(1).padStart(6)} µs`);
  }
}

const bridge = await startBridge({
  agents: [...legacyIds, ...modernIds],
  shardCount: 16,
  env: BENCH_SERVICE_ENV,
  elicitations: 1,
  flags: { 'elicitation.enabled': 'true', 'elicitation.agents': modernIds.join(',') },
});
const { track, closeAll } = clientTracker();
const push = new PushReceivers();
try {
  const legacy = await startLegacyRing(bridge, legacyIds, { maxMessages: 100, timeoutMs: 5_000 }, track);
  const pushRing = await startPushRing(bridge, modernIds, push, track);
  const window = { warmupSeconds: 1, seconds: SECONDS, contentBytes: 200, drainSeconds: 5 };
  const l = await runRingWindow(bridge, legacy, window);
  print(`legacy (lost ${l.lost})`, l.redis, l.delivered, SECONDS);
  const p = await runRingWindow(bridge, pushRing, window);
  print(`push (lost ${p.lost})`, p.redis, p.delivered, SECONDS);
  const e = await runElicitWindow({
    bridge,
    askers: pushRing.modern.slice(0, ASKERS),
    targets: modernIds.slice(0, ASKERS).map((_, i) => modernIds[(i + 1) % modernIds.length]!),
    warmupSeconds: 1,
    seconds: SECONDS,
    services: [],
    profiler: new Profiler(undefined),
    profile: false,
  });
  print(`elicit ×${ASKERS} (errors ${e.errors}, wrong ${e.wrong})`, e.redis, e.calls, SECONDS);
} finally {
  await closeAll();
  await bridge.stop();
}
