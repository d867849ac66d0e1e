/** How the comparisons' notes write numbers: what a person reads in `bridgectl` and the status. */

/** An improvement or an interval end: one decimal, "6.2 %". */
export function formatPercent(x: number): string {
  return `${(x * 100).toFixed(1)} %`;
}

/** A setting or a rate: up to three significant digits without trailing zeros, "95 %", "0.0123 %". */
export function formatShare(x: number): string {
  return `${formatNumber(x * 100)} %`;
}

/** Counts as they are; other numbers to three significant digits. */
export function formatNumber(x: number): string {
  return Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(3)));
}

/** "1.1–11.3 %", or "-8.0 to 4.1 %" when a dash would read as a minus. */
export function formatInterval([low, high]: [number, number]): string {
  const [a, b] = [(low * 100).toFixed(1), (high * 100).toFixed(1)];
  return low >= 0 && high >= 0 ? `${a}–${b} %` : `${a} to ${b} %`;
}

/** "p = 0.012"; a bootstrap p of 0 is "p < 0.001" (below its resolution). */
export function formatPValue(p: number, resolution?: number): string {
  if (resolution !== undefined && p === 0) return `p < ${resolution}`;
  return p >= 0.001 ? `p = ${p.toFixed(3)}` : `p = ${p.toExponential(1)}`;
}
