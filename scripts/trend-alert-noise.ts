/**
 * How often the trend warnings of deploy/prometheus/agent-bridge.rules.yaml would fire on noise,
 * and how soon on a real rise: a simulation at 1-minute resolution (Poisson traffic and errors,
 * log-normal latencies in the histogram's buckets), evaluating each rule as Prometheus does
 * (5-minute windows, the 15-minute slope, the value 15 minutes earlier, `for`). Seeded, so every run
 * prints the same table. `npx tsx scripts/trend-alert-noise.ts` (about a minute);
 * docs/decisions/0019-trend-alerts-and-alert-routing.md quotes it.
 */

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, Infinity];
const DAYS = 10;
const RUNS = 21;

let seed = 13;
function random(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
function poisson(mean: number): number {
  if (mean > 50) return Math.max(0, Math.round(mean + Math.sqrt(mean) * gauss()));
  const limit = Math.exp(-mean);
  let k = 0;
  for (let p = random(); p > limit; p *= random()) k++;
  return k;
}

/** The least-squares slope of evenly spaced samples (what deriv() gives over a [15m:1m] subquery). */
function slope(ys: number[]): number {
  const mx = (ys.length - 1) / 2;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let sxy = 0;
  let sxx = 0;
  ys.forEach((y, i) => ((sxy += (i - mx) * (y - my)), (sxx += (i - mx) ** 2)));
  return sxy / sxx;
}

/** Per minute: the value over the last 5 minutes (the rule's 5-minute rate) and the traffic per second (messages or deliveries). */
interface Series {
  value: number[];
  perSecond: number[];
}

function errorRatio(minutes: number, perSecond: number, ratio: (minute: number) => number): Series {
  const errors: number[] = [];
  const handled: number[] = [];
  for (let t = 0; t < minutes; t++) {
    const n = poisson(perSecond * 60);
    handled.push(n);
    errors.push(poisson(n * ratio(t)));
  }
  const sum = (xs: number[], t: number) => xs.slice(Math.max(0, t - 4), t + 1).reduce((a, b) => a + b, 0);
  return { value: errors.map((_, t) => sum(errors, t) / Math.max(sum(handled, t), 1e-9)), perSecond: handled.map((_, t) => sum(handled, t) / 300) };
}

/** histogram_quantile(0.95, …) over the buckets of a 5-minute window. */
function quantile(counts: number[]): number {
  const total = counts.reduce((a, b) => a + b, 0);
  const rank = 0.95 * total;
  let below = 0;
  for (let i = 0; i < counts.length; i++) {
    if (below + counts[i]! >= rank) {
      if (BUCKETS[i] === Infinity) return BUCKETS[i - 1]!;
      const lower = i === 0 ? 0 : BUCKETS[i - 1]!;
      return lower + (BUCKETS[i]! - lower) * ((rank - below) / counts[i]!);
    }
    below += counts[i]!;
  }
  return NaN;
}

function latencyP95(minutes: number, perSecond: number, median: (minute: number) => number): Series {
  const perMinute: number[][] = [];
  for (let t = 0; t < minutes; t++) {
    const counts = BUCKETS.map(() => 0);
    for (let k = poisson(perSecond * 60); k > 0; k--) counts[BUCKETS.findIndex((b) => median(t) * Math.exp(gauss()) <= b)]!++;
    perMinute.push(counts);
  }
  const window = (t: number) => BUCKETS.map((_, i) => perMinute.slice(Math.max(0, t - 4), t + 1).reduce((a, c) => a + c[i]!, 0));
  return { value: perMinute.map((_, t) => quantile(window(t))), perSecond: perMinute.map((_, t) => window(t).reduce((a, b) => a + b, 0) / 300) };
}

interface Rule {
  name: string;
  /** The condition at minute t (t ≥ 15). */
  holds(series: Series, t: number): boolean;
  forMinutes: number;
}

/** Minutes at which the rule starts firing. */
function firings(rule: Rule, series: Series): number[] {
  const starts: number[] = [];
  let since = -1;
  for (let t = 20; t < series.value.length; t++) {
    since = rule.holds(series, t) ? (since < 0 ? t : since) : -1;
    if (since >= 0 && t - since === rule.forMinutes) starts.push(t);
  }
  return starts;
}

const rising = (s: Series, t: number) => slope(s.value.slice(t - 15, t + 1)) > 0;
const ERROR_RULES: Rule[] = [
  { name: 'slope > 0 and above the value 15 m earlier, for 15 m', holds: (s, t) => rising(s, t) && s.value[t]! > s.value[t - 15]!, forMinutes: 15 },
  { name: 'slope > 0, 1.5 × the value 15 m earlier and > 0.1 %, for 10 m (no error-count floor)', holds: (s, t) => rising(s, t) && s.value[t]! > Math.max(1.5 * s.value[t - 15]!, 0.001), forMinutes: 10 },
  {
    name: 'ElicitationErrorRateIncreasing: the same and ≥ 10 errors in the window',
    holds: (s, t) => rising(s, t) && s.value[t]! > Math.max(1.5 * s.value[t - 15]!, 0.001) && s.value[t]! * s.perSecond[t]! * 300 >= 10,
    forMinutes: 10,
  },
];
const LATENCY_RULES: Rule[] = [
  { name: 'ElicitationLatencyP95Increasing (1.25 × and > 50 ms, > 1/s, for 10 m)', holds: (s, t) => rising(s, t) && s.value[t]! > Math.max(1.25 * s.value[t - 15]!, 0.05) && s.perSecond[t]! > 1, forMinutes: 10 },
];

function report(rules: Rule[], steady: (perSecond: number) => Series, rise: (perSecond: number) => Series, riseAt: number): void {
  for (const rule of rules) {
    console.log(`\n${rule.name}`);
    for (const perSecond of [5, 20, 100]) {
      let noise = 0;
      for (let day = 0; day < DAYS; day++) noise += firings(rule, steady(perSecond)).length;
      const delays = Array.from({ length: RUNS }, () => firings(rule, rise(perSecond)).find((t) => t >= riseAt) ?? Infinity)
        .map((t) => t - riseAt)
        .sort((a, b) => a - b);
      const missed = delays.filter((d) => d === Infinity).length;
      console.log(
        `  ${String(perSecond).padStart(3)}/s: ${(noise / DAYS).toFixed(1).padStart(4)} firings a day on noise; the rise caught after ${missed > RUNS >> 1 ? '—' : `${delays[RUNS >> 1]} min`} (median), missed ${missed} of ${RUNS}`,
      );
    }
  }
}

console.log('Error ratio: steady 0.3 % (noise); rise 0.2 % → 1 % in 30 minutes.');
report(
  ERROR_RULES,
  (perSecond) => errorRatio(1440, perSecond, () => 0.003),
  (perSecond) => errorRatio(160, perSecond, (t) => (t < 80 ? 0.002 : Math.min(0.01, 0.002 + (0.008 * (t - 80)) / 30))),
  80,
);
console.log('\nDelivery p95: steady (median 30 ms, p95 about 150 ms; noise); rise of the median 30 → 120 ms in 40 minutes.');
report(
  LATENCY_RULES,
  (perSecond) => latencyP95(1440, perSecond, () => 0.03),
  (perSecond) => latencyP95(160, perSecond, (t) => 0.03 * Math.min(4, t < 80 ? 1 : 1 + (3 * (t - 80)) / 40)),
  80,
);
