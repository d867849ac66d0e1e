/**
 * A measured window: the clock, its plan (warm-up, measured part), and what is metered over its
 * measured part (CPU, Redis commands, Prometheus counters).
 */
import type { Bridge } from '@agent-bridge/testkit/bridge';
import type { CpuMeter, CpuReport } from './cpu.js';
import type { Profiler } from './profiling.js';
import type { RedisStats } from './results.js';

export const now = (): number => performance.now();
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

export interface Window {
  /** Start of warm-up: load starts here. */
  begin: number;
  /** Start of the measured part. */
  start: number;
  /** End of the measured part: load stops here. */
  end: number;
}

export function planWindow(warmupSeconds: number, seconds: number): Window {
  const begin = now();
  const start = begin + warmupSeconds * 1000;
  return { begin, start, end: start + seconds * 1000 };
}

export const inWindow = (window: Window, at: number): boolean => at >= window.start && at < window.end;

/** Meters CPU over the measured part of the window, and profiles `profile` (pids) over it. */
export async function meterWindow(window: Window, meter: CpuMeter, profiler: Profiler, profile: number[]): Promise<CpuReport> {
  await sleep(window.start - now());
  meter.start();
  profiler.toggle(profile);
  await sleep(window.end - now());
  profiler.toggle(profile);
  const report = meter.stop();
  if (profile.length > 0) await sleep(1_000); // let the profiles be written before anything stops
  return report;
}

/** INFO commandstats over the measured part of the window (CONFIG RESETSTAT at its start). */
export async function redisStatsOverWindow(bridge: Bridge, window: Window): Promise<RedisStats | undefined> {
  const client = bridge.redis.client();
  try {
    await sleep(window.start - now());
    await client.config('RESETSTAT');
    await sleep(window.end - now());
    const info = await client.info('commandstats');
    const commands = new Map<string, { calls: number; usec: number }>();
    for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
      if (match[1] === 'info' || match[1] === 'config') continue;
      commands.set(match[1]!, { calls: Number(match[2]), usec: Number(match[3]) });
    }
    const values = [...commands.values()];
    return { commands, totalCalls: values.reduce((a, c) => a + c.calls, 0), totalUsec: values.reduce((a, c) => a + c.usec, 0) };
  } catch {
    return undefined;
  } finally {
    client.disconnect();
  }
}

/** Sums of Prometheus counters (by series pattern) over the measured part of the window, from one /metrics URL. */
export async function countersOverWindow(metricsUrl: string, window: Window, series: Record<string, RegExp>): Promise<Record<string, number> | undefined> {
  const scrape = async () => {
    const lines = (await (await fetch(metricsUrl)).text()).split('\n').filter((line) => !line.startsWith('#'));
    return Object.fromEntries(Object.entries(series).map(([name, pattern]) => [name, lines.filter((line) => pattern.test(line)).reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0)]));
  };
  try {
    await sleep(window.start - now());
    const before = await scrape();
    await sleep(window.end - now());
    const after = await scrape();
    return Object.fromEntries(Object.keys(series).map((name) => [name, after[name]! - before[name]!]));
  } catch {
    return undefined;
  }
}
