/**
 * A numeric benchmark setting from the environment: `fallback` when unset, an error naming it when
 * out of range. Given several names, the first one set wins (a part's own setting, then the
 * setting every part shares, e.g. BENCH_NOISY_ROUNDS, then BENCH_ROUNDS).
 */
export function envNumber(names: string | readonly string[], fallback: number, min: number): number {
  for (const name of typeof names === 'string' ? [names] : names) {
    const raw = process.env[name];
    if (raw === undefined || raw === '') continue;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min) throw new Error(`${name} must be a number ≥ ${min} (got "${raw}")`);
    return value;
  }
  return fallback;
}

/** The settings every ring benchmark shares, documented in bench/throughput.ts (each part adds its own). */
export function ringBenchSettings(): { agents: number; contentBytes: number; drainSeconds: number; quietWaitSeconds: number; writeDocs: boolean } {
  return {
    agents: Math.floor(envNumber('BENCH_AGENTS', 16, 2)),
    contentBytes: Math.floor(envNumber('BENCH_CONTENT_BYTES', 200, 40)),
    drainSeconds: envNumber('BENCH_DRAIN_SECONDS', 10, 1),
    quietWaitSeconds: envNumber('BENCH_QUIET_WAIT_SECONDS', 60, 0),
    writeDocs: process.env.BENCH_WRITE_DOCS !== '0',
  };
}

/** A benchmark part's log: stderr lines tagged `[tag]`, so stdout holds only the report. */
export const partLog =
  (tag: string) =>
  (message: string): void =>
    void process.stderr.write(`[${tag}] ${message}\n`);
