/**
 * The statistics of the A/B test (issue 13): control (the legacy protocol) against treatment
 * (elicitation) over a test window, one comparison per metric and an overall verdict. Pure: the
 * inputs are the increases over the window that the controller reads from Prometheus; nothing here
 * does I/O. Which test for which metric, and why: docs/decisions/0019-ab-test-statistics.md.
 *
 * Every comparison reports the relative improvement of treatment over control (positive = better)
 * with its confidence interval, and one verdict rule judges them all (`judge`).
 */
import normalCdf from '@stdlib/stats-base-dists-normal-cdf';
import normalQuantile from '@stdlib/stats-base-dists-normal-quantile';
import tCdf from '@stdlib/stats-base-dists-t-cdf';
import tQuantile from '@stdlib/stats-base-dists-t-quantile';
import { bootstrapImprovements, binnedGroup, type BinnedGroup, type HistogramSample } from './histogram-bootstrap.js';
import { EvidenceInputError } from './input-error.js';
import { formatInterval, formatNumber, formatPercent, formatPValue, formatShare } from './notes.js';

export type { HistogramSample } from './histogram-bootstrap.js';
export { EvidenceInputError } from './input-error.js';

export type Verdict = 'improved' | 'not-significant' | 'worse' | 'not-enough-data';

export interface GroupEstimate {
  estimate: number | null;
  n: number;
}

export interface Comparison {
  /** What was compared, e.g. "mean delivery latency"; the overall verdict's note names metrics by it. */
  metric: string;
  /** Human-readable name of the test used. */
  test: string;
  control: GroupEstimate;
  treatment: GroupEstimate;
  /** Relative improvement of treatment over control: positive = better (lower latency, lower cost, fewer failures). */
  improvement: number | null;
  /** Confidence interval of `improvement` at the configured confidence. */
  interval: [number, number] | null;
  /** Two-sided, H0: no difference. */
  pValue: number | null;
  /**
   * The step of a bootstrap p-value, 2/replicates (it doubles a share of the replicates); absent
   * for analytic tests. A pValue of 0 means "below this".
   */
  pValueResolution?: number;
  verdict: Verdict;
  /** One sentence a person reads: why this verdict. */
  note: string;
}

export interface CompareOptions {
  /** Confidence of the intervals, in (0, 1), e.g. 0.95. */
  confidence: number;
  /** The superiority margin: `improved` needs the whole interval at or above it, e.g. 0.10. In [0, 1). */
  minimumImprovement: number;
  /** Fewest trials / messages / intervals per group before anything is judged. */
  minSamples: number;
}

export interface LatencyOptions extends CompareOptions {
  /** Bootstrap replicates, at least 100; 2,000 unless told. */
  replicates?: number;
  /** Seed of the bootstrap's Mersenne Twister, an integer in [1, 2^32 − 1]; the same seed gives the same result. */
  seed?: number;
}

export interface Trials {
  successes: number;
  trials: number;
}

const DEFAULT_REPLICATES = 2000;
const DEFAULT_SEED = 13;
const ROUNDED = 'non-integer counts (Prometheus extrapolates increases) were rounded to whole ones';

/** The verdict rule, the same for every metric. */
function judge(interval: [number, number], o: CompareOptions): Verdict {
  if (interval[0] >= o.minimumImprovement) return 'improved';
  if (interval[1] < 0) return 'worse';
  return 'not-significant';
}

function verdictClause(verdict: Verdict, improvement: number, interval: [number, number], p: string, o: CompareOptions): string {
  const stated = `improvement ${formatPercent(improvement)} (${formatShare(o.confidence)} CI ${formatInterval(interval)}, ${p})`;
  if (verdict === 'improved') return `${stated} is shown to reach ${formatShare(o.minimumImprovement)}`;
  if (verdict === 'worse') return `${stated} is below 0 throughout: treatment is worse`;
  return `${stated} is not shown to reach ${formatShare(o.minimumImprovement)}`;
}

function sentence(parts: Array<string | false>): string {
  return `${parts.filter((part) => part !== false).join('; ')}.`;
}

function checkOptions(o: CompareOptions): void {
  if (!(o.confidence > 0 && o.confidence < 1)) throw new EvidenceInputError(`confidence must be in (0, 1), e.g. 0.95; got ${o.confidence}`);
  if (!(o.minimumImprovement >= 0 && o.minimumImprovement < 1)) throw new EvidenceInputError(`minimumImprovement must be in [0, 1), e.g. 0.10; got ${o.minimumImprovement}`);
  if (!(o.minSamples >= 0 && Number.isFinite(o.minSamples))) throw new EvidenceInputError(`minSamples must be a finite number ≥ 0; got ${o.minSamples}`);
}

/** The note of a metric with too little data, or null when both groups have enough (and at least `floor`). */
function shortOfData(control: number, treatment: number, o: CompareOptions, unit: string, floor = 1): string | null {
  const needed = Math.max(o.minSamples, floor);
  if (control >= needed && treatment >= needed) return null;
  return `not enough data: control has ${formatNumber(control)} ${unit}, treatment ${formatNumber(treatment)}, at least ${formatNumber(needed)} each are needed`;
}

function zQuantile(confidence: number): number {
  return normalQuantile(1 - (1 - confidence) / 2, 0, 1);
}

function trialsOf(group: string, value: Trials): Trials & { rounded: boolean } {
  const { successes, trials } = value ?? ({} as Trials);
  for (const [name, count] of [
    ['successes', successes],
    ['trials', trials],
  ] as const) {
    if (typeof count !== 'number' || !Number.isFinite(count) || count < 0) throw new EvidenceInputError(`${group} ${name} must be a finite count ≥ 0; got ${count}`);
  }
  const rounded = { successes: Math.round(successes), trials: Math.round(trials) };
  if (rounded.successes > rounded.trials) throw new EvidenceInputError(`${group} has more successes (${successes}) than trials (${trials})`);
  return { ...rounded, rounded: !Number.isInteger(successes) || !Number.isInteger(trials) };
}

/** Pooled two-proportion z-test, two-sided. Equal rates of 0 or 1 leave no variance: p = 1. */
function pooledZTest(c: Trials, t: Trials): number {
  const pooled = (c.successes + t.successes) / (c.trials + t.trials);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / c.trials + 1 / t.trials));
  if (se === 0) return 1;
  const z = (t.successes / t.trials - c.successes / c.trials) / se;
  return 2 * normalCdf(-Math.abs(z), 0, 1);
}

/**
 * Failure risk ratio treatment/control with the Katz log interval. When a cell of the 2×2 table
 * is zero, 0.5 is added to every cell (Haldane–Anscombe), and the point estimate is taken from
 * the corrected table too so that it lies inside its interval.
 */
function katzRiskRatio(c: Trials, t: Trials, confidence: number): { ratio: number; low: number; high: number; corrected: boolean } {
  const cells = [c.successes, c.trials - c.successes, t.successes, t.trials - t.successes];
  const k = cells.includes(0) ? 0.5 : 0;
  const [fc, nc, ft, nt] = [c.trials - c.successes + k, c.trials + 2 * k, t.trials - t.successes + k, t.trials + 2 * k];
  const ratio = ft / nt / (fc / nc);
  const spread = zQuantile(confidence) * Math.sqrt(1 / ft - 1 / nt + 1 / fc - 1 / nc);
  return { ratio, low: ratio * Math.exp(-spread), high: ratio * Math.exp(spread), corrected: k > 0 };
}

/** Success rates; the improvement is the relative reduction of the failure rate, 1 − f_t/f_c. */
export function compareSuccessRates(control: Trials, treatment: Trials, o: CompareOptions): Comparison {
  checkOptions(o);
  const c = trialsOf('control', control);
  const t = trialsOf('treatment', treatment);
  const rounded = (c.rounded || t.rounded) && ROUNDED;
  const base = {
    metric: 'success rate',
    test: 'two-proportion z-test (pooled); Katz log interval of the failure risk ratio',
    control: { estimate: c.trials > 0 ? c.successes / c.trials : null, n: c.trials },
    treatment: { estimate: t.trials > 0 ? t.successes / t.trials : null, n: t.trials },
  };
  const short = shortOfData(c.trials, t.trials, o, 'trials');
  if (short) return { ...base, improvement: null, interval: null, pValue: null, verdict: 'not-enough-data', note: sentence([short, rounded]) };

  const pValue = pooledZTest(c, t);
  const rr = katzRiskRatio(c, t, o.confidence);
  const improvement = 1 - rr.ratio;
  const interval: [number, number] = [1 - rr.high, 1 - rr.low];
  const failures = { c: c.trials - c.successes, t: t.trials - t.successes };
  const corrected = rr.corrected && 'a zero cell: 0.5 added to every cell of the 2×2 table (Haldane–Anscombe)';
  if (failures.c === 0 && failures.t === 0) {
    const note = `no failures in either group (${formatNumber(c.trials)} control trials, ${formatNumber(t.trials)} treatment): nothing to tell apart`;
    return { ...base, improvement, interval, pValue, verdict: 'not-significant', note: sentence([note, rounded]) };
  }
  const verdict = judge(interval, o);
  const subject = `failure rate ${formatShare(failures.t / t.trials)} in treatment vs ${formatShare(failures.c / c.trials)} in control`;
  const note = sentence([`${subject}: ${verdictClause(verdict, improvement, interval, formatPValue(pValue), o)}`, corrected, rounded]);
  return { ...base, improvement, interval, pValue, verdict, note };
}

function bootstrapSettings(o: LatencyOptions): { replicates: number; seed: number } {
  const replicates = o.replicates ?? DEFAULT_REPLICATES;
  const seed = o.seed ?? DEFAULT_SEED;
  if (!(Number.isInteger(replicates) && replicates >= 100)) throw new EvidenceInputError(`replicates must be an integer ≥ 100; got ${replicates}`);
  if (!(Number.isInteger(seed) && seed >= 1 && seed <= 0xffffffff)) throw new EvidenceInputError(`seed must be an integer in [1, 2^32 − 1]; got ${seed}`);
  return { replicates, seed };
}

/** Linear interpolation between order statistics (numpy's default, Hyndman–Fan type 7). */
function quantileOfSorted(sorted: Float64Array, q: number): number {
  const h = (sorted.length - 1) * q;
  const below = Math.floor(h);
  const above = Math.min(below + 1, sorted.length - 1);
  return sorted[below]! + (h - below) * (sorted[above]! - sorted[below]!);
}

function singleBucket(group: string, g: BinnedGroup): string | false {
  if (g.occupied.length !== 1) return false;
  return `all ${formatNumber(g.n)} ${group} messages fall in one bucket (le=${g.occupied[0]}), so the histogram shows nothing of their spread and no interval can be drawn`;
}

function beyondLastBucket(c: BinnedGroup, t: BinnedGroup): string | false {
  if (c.beyondLast === 0 && t.beyondLast === 0) return false;
  const share = (g: BinnedGroup) => formatShare(g.beyondLast / g.n);
  const bound = formatNumber(Math.max(c.lastFiniteBound, t.lastFiniteBound));
  return `${share(c)} of control and ${share(t)} of treatment messages took over ${bound} s, beyond the last bucket, so the interval is approximate`;
}

/**
 * Mean delivery latency: exact point estimates (sum/count); interval and p-value from a bootstrap
 * over the histogram buckets (histogram-bootstrap.ts), percentile interval, two-sided bootstrap p.
 */
export function compareLatency(control: HistogramSample, treatment: HistogramSample, o: LatencyOptions): Comparison {
  checkOptions(o);
  const { replicates, seed } = bootstrapSettings(o);
  const c = binnedGroup('control', control);
  const t = binnedGroup('treatment', treatment);
  const rounded = (c.rounded || t.rounded) && ROUNDED;
  const repaired = (c.repaired || t.repaired) && 'cumulative bucket counts that fell by less than extrapolation noise were evened out';
  const base = {
    metric: 'mean delivery latency',
    test: `bootstrap of the mean over histogram buckets (${replicates} replicates, seed ${seed})`,
    control: { estimate: c.mean, n: c.n },
    treatment: { estimate: t.mean, n: t.n },
    pValueResolution: 2 / replicates,
  };
  const short = shortOfData(c.n, t.n, o, 'messages');
  if (short) return { ...base, improvement: null, interval: null, pValue: null, verdict: 'not-enough-data', note: sentence([short, rounded, repaired]) };

  const improvement = 1 - t.mean! / c.mean!;
  const subject = `mean latency ${formatNumber(t.mean! * 1000)} ms in treatment vs ${formatNumber(c.mean! * 1000)} ms in control`;
  const beyond = beyondLastBucket(c, t);
  const lonely = singleBucket('control', c) || singleBucket('treatment', t);
  if (lonely) return { ...base, improvement, interval: null, pValue: null, verdict: 'not-enough-data', note: sentence([`${subject}, but ${lonely}`, rounded, repaired]) };

  const draws = bootstrapImprovements(c, t, replicates, seed).sort();
  const alpha = 1 - o.confidence;
  const interval: [number, number] = [quantileOfSorted(draws, alpha / 2), quantileOfSorted(draws, 1 - alpha / 2)];
  let atOrBelow = 0;
  let atOrAbove = 0;
  for (const draw of draws) {
    if (draw <= 0) atOrBelow += 1;
    if (draw >= 0) atOrAbove += 1;
  }
  const pValue = Math.min(1, (2 * Math.min(atOrBelow, atOrAbove)) / replicates);
  const verdict = judge(interval, o);
  const note = sentence([`${subject}: ${verdictClause(verdict, improvement, interval, formatPValue(pValue, base.pValueResolution), o)}`, beyond, rounded, repaired]);
  return { ...base, improvement, interval, pValue, verdict, note };
}

function logsOf(group: string, values: number[]): { logs: number[]; dropped: number } {
  if (!Array.isArray(values)) throw new EvidenceInputError(`${group} cost values must be an array of numbers`);
  const logs: number[] = [];
  for (const value of values) {
    if (typeof value !== 'number') throw new EvidenceInputError(`${group} cost values must be numbers; got ${JSON.stringify(value)}`);
    if (Number.isFinite(value) && value > 0) logs.push(Math.log(value));
  }
  return { logs, dropped: values.length - logs.length };
}

function meanAndVariance(xs: number[]): { mean: number; variance: number } {
  const mean = xs.reduce((total, x) => total + x, 0) / xs.length;
  const variance = xs.reduce((total, x) => total + (x - mean) ** 2, 0) / (xs.length - 1);
  return { mean, variance };
}

/** Welch's t-test of mean(t) − mean(c) with its t interval; null when neither group varies. */
function welch(t: number[], c: number[], confidence: number): { difference: number; interval: [number, number]; pValue: number } | null {
  const [mt, mc] = [meanAndVariance(t), meanAndVariance(c)];
  const [vt, vc] = [mt.variance / t.length, mc.variance / c.length];
  const se = Math.sqrt(vt + vc);
  if (se === 0) return null;
  const df = (vt + vc) ** 2 / (vt ** 2 / (t.length - 1) + vc ** 2 / (c.length - 1));
  const difference = mt.mean - mc.mean;
  const spread = tQuantile(1 - (1 - confidence) / 2, df) * se;
  return { difference, interval: [difference - spread, difference + spread], pValue: 2 * tCdf(-Math.abs(difference / se), df) };
}

const geometricMean = (logs: number[]) => (logs.length > 0 ? Math.exp(logs.reduce((total, x) => total + x, 0) / logs.length) : null);

/** Cost: per-interval CPU seconds per delivered message; Welch's t-test on the logs, improvement 1 − ratio of geometric means. */
export function compareCost(control: number[], treatment: number[], o: CompareOptions): Comparison {
  checkOptions(o);
  const c = logsOf('control', control);
  const t = logsOf('treatment', treatment);
  const dropped = c.dropped + t.dropped > 0 && `${c.dropped + t.dropped} intervals without a positive finite value were dropped (${c.dropped} control, ${t.dropped} treatment)`;
  const base = {
    metric: 'cost per delivered message',
    test: "Welch's t-test on log cost per interval",
    control: { estimate: geometricMean(c.logs), n: c.logs.length },
    treatment: { estimate: geometricMean(t.logs), n: t.logs.length },
  };
  const short = shortOfData(c.logs.length, t.logs.length, o, 'intervals', 2);
  if (short) return { ...base, improvement: null, interval: null, pValue: null, verdict: 'not-enough-data', note: sentence([short, dropped]) };

  const subject = `geometric mean ${formatNumber(base.treatment.estimate!)} CPU s per message in treatment vs ${formatNumber(base.control.estimate!)} in control`;
  const test = welch(t.logs, c.logs, o.confidence);
  const improvement = 1 - base.treatment.estimate! / base.control.estimate!;
  if (!test) {
    const note = `${subject}, but neither group varies from interval to interval, so the t-test has no spread to judge by`;
    return { ...base, improvement, interval: null, pValue: null, verdict: 'not-enough-data', note: sentence([note, dropped]) };
  }
  const interval: [number, number] = [1 - Math.exp(test.interval[1]), 1 - Math.exp(test.interval[0])];
  const verdict = judge(interval, o);
  const note = sentence([`${subject}: ${verdictClause(verdict, improvement, interval, formatPValue(test.pValue), o)}`, dropped]);
  return { ...base, improvement, interval, pValue: test.pValue, verdict, note };
}

/**
 * The overall verdict of the test: `worse` if any metric is worse; `not-enough-data` if any has too
 * little data; `improved` if every metric whose goal is 'improve' is improved; else `not-significant`.
 * A metric whose goal is 'not-worse' passes unless it is significantly worse.
 */
export function overallVerdict(results: Array<{ comparison: Comparison; goal: 'improve' | 'not-worse' }>): { verdict: Verdict; note: string } {
  if (!results.some((result) => result.goal === 'improve')) throw new EvidenceInputError("overallVerdict needs at least one metric whose goal is 'improve'");
  const names = (verdict: Verdict, goal?: 'improve') =>
    results
      .filter((r) => r.comparison.verdict === verdict && (goal === undefined || r.goal === goal))
      .map((r) => r.comparison.metric)
      .join(', ');
  const worse = names('worse');
  if (worse) return { verdict: 'worse', note: `Treatment is significantly worse in ${worse}.` };
  const short = names('not-enough-data');
  if (short) return { verdict: 'not-enough-data', note: `Not enough data yet for ${short}.` };
  const pending = results.filter((r) => r.goal === 'improve' && r.comparison.verdict !== 'improved').map((r) => r.comparison.metric);
  if (pending.length === 0) return { verdict: 'improved', note: `Treatment is shown to improve ${names('improved', 'improve')}, and no metric is worse.` };
  return { verdict: 'not-significant', note: `The improvement is not shown for ${pending.join(', ')}; no metric is worse.` };
}
