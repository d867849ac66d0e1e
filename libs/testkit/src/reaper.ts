/**
 * Safety net: every child process started by the testkit is registered here
 * and SIGKILLed if the test process exits (normally, or by SIGINT/SIGTERM/SIGHUP)
 * while the child is still running. Tests should still stop their children
 * explicitly; this only prevents orphans (e.g. a redis-server squatting a port).
 */
import type { ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();
let installed = false;

function killAll(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', killAll);
  for (const sig of SIGNALS) {
    const handler = (): void => {
      killAll();
      process.removeListener(sig, handler);
      // If nobody else handles this signal, restore the default behaviour
      // (terminate) by re-raising it now that our listener is gone.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, handler);
  }
}

/** Register a child so it is SIGKILLed when the test process exits. */
export function trackChild(child: ChildProcess): void {
  install();
  live.add(child);
  child.once('exit', () => live.delete(child));
}

/** Whether a process with this pid exists (signal 0 probes without signalling). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
