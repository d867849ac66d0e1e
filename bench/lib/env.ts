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
