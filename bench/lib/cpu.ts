/**
 * CPU accounting from Linux /proc: what the benchmark's own processes used over a window, what
 * every other process used (another test run sharing the machine), and what the kernel used
 * outside any process (loopback networking in softirq, interrupts).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

const now = (): number => performance.now();
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Busy and total jiffies of the whole machine. */
function machineTicks(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const values = line.trim().split(/\s+/).slice(1).map(Number);
    const total = values.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (values[3] ?? 0) + (values[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

function busyPercentBetween(a: { busy: number; total: number } | undefined, b: { busy: number; total: number } | undefined): number {
  return a && b && b.total > a.total ? ((b.busy - a.busy) / (b.total - a.total)) * 100 : Number.NaN;
}

interface ProcessSample {
  ppid: number;
  comm: string;
  /** utime + stime, seconds. */
  cpu: number;
  /** stime (in the kernel on the process's behalf: syscalls, socket I/O), seconds. */
  sys: number;
}

/** Every process on the machine, by pid. */
function allProcesses(): Map<number, ProcessSample> {
  const samples = new Map<number, ProcessSample>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return samples;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' ');
      samples.set(Number(entry), {
        comm: stat.slice(stat.indexOf('(') + 1, close),
        ppid: Number(fields[1]),
        cpu: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS,
        sys: Number(fields[12]) / CLOCK_TICKS,
      });
    } catch {
      // exited meanwhile
    }
  }
  return samples;
}

interface CpuShare {
  name: string;
  /** Percent of one core over the window. */
  percent: number;
  /** The part of it spent in the kernel (syscalls, socket I/O). */
  sysPercent: number;
}

export interface CpuReport {
  /** Window length, seconds. */
  seconds: number;
  /** This process first, then the named processes, then the benchmark's other children. */
  processes: CpuShare[];
  /** Percent of all cores busy over the window, whoever used them. */
  machineBusyPercent: number;
  /** CPU of processes that are not this benchmark or its children, percent of one core. */
  otherPercent: number;
  /** The biggest of those, e.g. "node 80 %". */
  otherTop: string;
  /** Busy time no process accounts for (loopback networking in softirq, interrupts, kernel threads), percent of one core. */
  kernelPercent: number;
}

export const SELF = 'bench clients (this process)';
const OTHER_CHILDREN = 'other benchmark children';

/** Measures one window: start(), then stop() returns the report. */
export class CpuMeter {
  private startedAt = 0;
  private before = new Map<number, ProcessSample>();
  private machineBefore: { busy: number; total: number } | undefined;

  constructor(private readonly named: Array<{ name: string; pid: number | undefined }>) {}

  start(): void {
    this.startedAt = now();
    this.machineBefore = machineTicks();
    this.before = allProcesses();
  }

  stop(): CpuReport {
    const seconds = (now() - this.startedAt) / 1000;
    const after = allProcesses();
    const machineBusyPercent = busyPercentBetween(this.machineBefore, machineTicks());
    const used = (pid: number) => Math.max(0, (after.get(pid)?.cpu ?? 0) - (this.before.get(pid)?.cpu ?? 0));
    const usedSys = (pid: number) => Math.max(0, (after.get(pid)?.sys ?? 0) - (this.before.get(pid)?.sys ?? 0));
    const percent = (cpuSeconds: number) => (cpuSeconds / seconds) * 100;

    const parentOf = new Map<number, number>();
    for (const map of [this.before, after]) for (const [pid, sample] of map) parentOf.set(pid, sample.ppid);
    const isOurs = (pid: number): boolean => {
      for (let p: number | undefined = pid, hops = 0; p !== undefined && p > 1 && hops < 64; p = parentOf.get(p), hops++) {
        if (p === process.pid) return true;
      }
      return false;
    };
    const isKernelThread = (pid: number) => pid === 2 || parentOf.get(pid) === 2;

    const processes: CpuShare[] = [{ name: SELF, percent: percent(used(process.pid)), sysPercent: percent(usedSys(process.pid)) }];
    const namedPids = new Set<number>([process.pid]);
    for (const { name, pid } of this.named) {
      if (pid === undefined) continue;
      namedPids.add(pid);
      processes.push({ name, percent: percent(used(pid)), sysPercent: percent(usedSys(pid)) });
    }
    let restOfOurs = 0;
    let restOfOursSys = 0;
    const others = new Map<string, number>();
    for (const pid of new Set([...this.before.keys(), ...after.keys()])) {
      const cpu = used(pid);
      if (cpu === 0 || namedPids.has(pid) || isKernelThread(pid)) continue;
      if (isOurs(pid)) {
        restOfOurs += cpu;
        restOfOursSys += usedSys(pid);
      } else {
        const comm = after.get(pid)?.comm ?? this.before.get(pid)?.comm ?? '?';
        others.set(comm, (others.get(comm) ?? 0) + cpu);
      }
    }
    if (percent(restOfOurs) >= 0.5) processes.push({ name: OTHER_CHILDREN, percent: percent(restOfOurs), sysPercent: percent(restOfOursSys) });
    const otherSeconds = [...others.values()].reduce((a, b) => a + b, 0);
    const otherTop = [...others]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .filter(([, cpu]) => percent(cpu) >= 1)
      .map(([comm, cpu]) => `${comm} ${percent(cpu).toFixed(0)} %`)
      .join(', ');
    const accounted = processes.reduce((sum, share) => sum + share.percent, 0) + percent(otherSeconds);
    const kernelPercent = Math.max(0, (machineBusyPercent / 100) * os.cpus().length * 100 - accounted);
    return { seconds, processes, machineBusyPercent, otherPercent: percent(otherSeconds), otherTop, kernelPercent };
  }
}

/** Time-weighted mean of several windows' reports. */
export function mergeCpuReports(reports: CpuReport[]): CpuReport {
  const seconds = reports.reduce((sum, r) => sum + r.seconds, 0);
  const weighted = (pick: (r: CpuReport) => number) => reports.reduce((sum, r) => sum + pick(r) * r.seconds, 0) / Math.max(seconds, 1e-9);
  const names = [...new Set(reports.flatMap((r) => r.processes.map((p) => p.name)))];
  const share = (r: CpuReport, name: string) => r.processes.find((p) => p.name === name);
  return {
    seconds,
    processes: names.map((name) => ({
      name,
      percent: weighted((r) => share(r, name)?.percent ?? 0),
      sysPercent: weighted((r) => share(r, name)?.sysPercent ?? 0),
    })),
    machineBusyPercent: weighted((r) => r.machineBusyPercent),
    otherPercent: weighted((r) => r.otherPercent),
    otherTop: [...reports].sort((a, b) => b.otherPercent - a.otherPercent)[0]?.otherTop ?? '',
    kernelPercent: weighted((r) => r.kernelPercent),
  };
}

/** CPU milliseconds (all cores) the named processes spent per unit of work over the report's window. */
export function cpuMsPerUnit(report: CpuReport, names: string[], units: number): number {
  const percent = report.processes.filter((p) => names.includes(p.name)).reduce((sum, p) => sum + p.percent, 0);
  return ((percent / 100) * report.seconds * 1000) / Math.max(1, units);
}

/**
 * Other work on the machine (a test run, a build) skews every number. Waits up to `maxSeconds`
 * for a 2 s sample with all cores together at most `busyPercent` busy; returns the last sample.
 */
export async function waitForQuietMachine(maxSeconds: number, busyPercent: number, log: (message: string) => void): Promise<number> {
  const deadline = now() + maxSeconds * 1000;
  let warned = false;
  for (;;) {
    const before = machineTicks();
    await sleep(2_000);
    const busy = busyPercentBetween(before, machineTicks());
    if (!(busy > busyPercent) || now() >= deadline) return busy;
    if (!warned) log(`machine is ${busy.toFixed(0)} % busy; waiting up to ${Math.round(maxSeconds)} s for it to calm down`);
    warned = true;
  }
}
