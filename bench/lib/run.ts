/**
 * What every benchmark part does around its measurements: the machine it ran on, the services'
 * environment, waiting for an idle machine and re-running a window other processes disturbed, a
 * deadline for the whole run, and the services' warnings at the end.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT, type ServiceHandle } from '@agent-bridge/testkit';
import type { Bridge } from '@agent-bridge/testkit/bridge';
import { waitForQuietMachine, type CpuReport } from './cpu.js';
import { now } from './window.js';
import { fmtPct } from './stats.js';

/** "Quiet" = all cores together at most this busy over a 2 s sample. */
const QUIET_BUSY_PERCENT = 15;

/** The services' settings in every benchmark: production lease and flag timings (the e2e harness shortens them for its failover tests). */
export const BENCH_SERVICE_ENV: Record<string, string> = {
  LOG_LEVEL: 'warn',
  LEASE_TTL_MS: '5000',
  FLAGS_POLL_INTERVAL_MS: '500',
};

export interface MachineInfo {
  date: string;
  cores: number;
  cpuModel: string;
  os: string;
  node: string;
  redis: string;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return { date: new Date().toISOString(), cores: cpus.length, cpuModel: cpus[0]?.model.trim() ?? 'unknown', os: `${os.type()} ${os.release()}`, node: process.version, redis: 'unknown' };
}

export const describeMachine = (info: MachineInfo): string => `${info.cores} cores (${info.cpuModel}), ${info.os}; Node ${info.node}; Redis ${info.redis}`;

/** "MCP SDK v2 (client 2.4.0, server 2.4.0, node 2.1.2)", from the installed packages. */
export function sdkLabel(): string {
  const version = (name: string) => {
    try {
      return (JSON.parse(readFileSync(path.join(REPO_ROOT, 'node_modules', '@modelcontextprotocol', name, 'package.json'), 'utf8')) as { version?: string }).version ?? '?';
    } catch {
      return '?';
    }
  };
  return `MCP SDK v2 (client ${version('client')}, server ${version('server')}, node ${version('node')})`;
}

export async function redisVersion(bridge: Bridge): Promise<string> {
  const client = bridge.redis.client();
  try {
    return /redis_version:(\S+)/.exec(await client.info('server'))?.[1] ?? 'unknown';
  } finally {
    client.disconnect();
  }
}

/**
 * Waits for an idle machine before the first window (at most `quietWaitSeconds` over the whole
 * run), and runs a window again, at most `retries` times in the run, when processes outside the
 * benchmark used more than `contentionPercent` of a core during it.
 */
export class QuietGuard {
  private budget: number;
  private retriesLeft: number;
  reruns = 0;

  constructor(
    quietWaitSeconds: number,
    retries: number,
    private readonly contentionPercent: number,
    private readonly log: (message: string) => void,
    /** What the run calls one measured window, for the log. */
    private readonly unit: 'window' | 'slice' = 'window',
  ) {
    this.budget = quietWaitSeconds;
    this.retriesLeft = retries;
  }

  /** Returns how busy the machine was (all cores, %) when it stopped waiting. */
  async waitQuiet(): Promise<number> {
    const started = now();
    const busy = await waitForQuietMachine(this.budget, QUIET_BUSY_PERCENT, this.log);
    this.budget = Math.max(0, this.budget - (now() - started) / 1000);
    return busy;
  }

  /** Runs `run`, and again (`rerun` true) while processes outside the benchmark disturbed it and retries are left. */
  async measured<T extends { cpu: CpuReport }>(name: string, run: (rerun: boolean) => Promise<T>): Promise<T> {
    let result = await run(false);
    while (this.retriesLeft > 0 && result.cpu.otherPercent > this.contentionPercent) {
      this.retriesLeft--;
      this.reruns++;
      this.log(`${name}: processes outside the benchmark used ${fmtPct(result.cpu.otherPercent)} of a core (${result.cpu.otherTop}); running the ${this.unit} again`);
      await this.waitQuiet();
      result = await run(true);
    }
    return result;
  }
}

/**
 * The report's warning when processes outside the benchmark used more than `limitPercent` of a core
 * in some measured `unit` (none when they did not): lines to append to the report.
 */
export function contentionNote(contentionPercent: number, limitPercent: number, reruns: number, unit: 'window' | 'slice' = 'window', effect = 'noisier'): string[] {
  if (!(contentionPercent > limitPercent)) return [];
  return ['', `**Contended run:** processes outside the benchmark used up to ${fmtPct(contentionPercent)} of a core during a measured ${unit} (after ${reruns} re-runs); the numbers are ${effect} than on a quiet machine.`];
}

/** The arms of round `round` in ABBA order (A, B; B, A; … and with three, A, B, C; C, B, A; …), so the drift of a shared machine favours none. */
export const abbaOrder = <T>(round: number, ...arms: T[]): T[] => (round % 2 === 0 ? arms : [...arms].reverse());

/** Logs a few distinct lines of what each service logged (LOG_LEVEL=warn: warnings and errors). */
export function logServiceWarnings(services: ServiceHandle[], log: (message: string) => void): void {
  for (const service of services) {
    const distinct = [...new Set(service.logs().map((line) => line.slice(0, 400)))];
    if (distinct.length > 0) log(`${service.name} logged ${service.logs().length} lines (LOG_LEVEL=warn), e.g.:\n  ${distinct.slice(0, 3).join('\n  ')}`);
  }
}

/**
 * Runs a benchmark's main: exit code 1 when it throws, and a hung run gives up after
 * `timeoutSeconds` (exiting kills every child: testkit's reaper).
 */
export async function runBenchmark(main: () => Promise<void>, timeoutSeconds: number, timeoutName: string, log: (message: string) => void): Promise<void> {
  setTimeout(() => {
    log(`gave up after ${timeoutSeconds} s (${timeoutName})`);
    process.exit(1);
  }, timeoutSeconds * 1000).unref();
  try {
    await main();
  } catch (error) {
    log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
  }
}
