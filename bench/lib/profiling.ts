/**
 * V8 CPU profiles of one measured window (BENCH_CPU_PROF_DIR). Processes started with
 * bench/cpu-profile-preload.mjs start profiling on the first SIGUSR2 and write the profile on the
 * second (`node --cpu-prof` would profile the whole process life, and is not allowed in NODE_OPTIONS).
 */
import { existsSync, readdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '@agent-bridge/testkit';

const PRELOAD = path.join(REPO_ROOT, 'bench', 'cpu-profile-preload.mjs');

export class Profiler {
  /** pid → name of every process profiled. */
  private readonly names = new Map<number, string>();
  private used = false;

  /** `dir` undefined: profiling off, every method is a no-op. */
  constructor(readonly dir: string | undefined) {}

  /** Environment that makes a service load the preload (empty when profiling is off). */
  env(): Record<string, string> {
    if (!this.dir) return {};
    return { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${PRELOAD}`.trim(), CPU_PROF_DIR: this.dir };
  }

  /**
   * The pids to profile for this window: the given processes, plus this process when it was started
   * with the preload. Only the first window asked for is profiled.
   */
  claim(pids: Array<[string, number | undefined]>): number[] {
    if (!this.dir || this.used) return [];
    this.used = true;
    const list: number[] = [];
    for (const [name, pid] of pids) {
      if (pid === undefined) continue;
      this.names.set(pid, name);
      list.push(pid);
    }
    if ((globalThis as { __benchCpuProfile?: boolean }).__benchCpuProfile) {
      process.env.CPU_PROF_DIR = this.dir;
      this.names.set(process.pid, 'bench-clients');
      list.push(process.pid);
    }
    return list;
  }

  /** Starts or stops (and writes) the profiles of `pids`. */
  toggle(pids: number[]): void {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGUSR2');
      } catch {
        // exited
      }
    }
  }

  /** Renames `<pid>-<n>.cpuprofile` to `<name>-<pid>.cpuprofile`; returns the directory, or undefined. */
  finish(): string | undefined {
    if (!this.dir || !existsSync(this.dir)) return undefined;
    for (const file of readdirSync(this.dir)) {
      const match = /^(\d+)-\d+\.cpuprofile$/.exec(file);
      const name = match ? this.names.get(Number(match[1])) : undefined;
      if (match && name) renameSync(path.join(this.dir, file), path.join(this.dir, `${name}-${match[1]}.cpuprofile`));
    }
    return this.dir;
  }
}
