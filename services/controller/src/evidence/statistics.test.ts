/**
 * The A/B test statistics against values computed elsewhere: published textbook examples, and
 * scipy/numpy reference values in fixtures/*.json (made by fixtures/make-fixtures.py; the header
 * of each file names the command and the versions). The latency bootstrap is in latency.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fixture, near } from './fixtures/reference.js';
import { compareCost, compareSuccessRates, EvidenceInputError, overallVerdict, type CompareOptions, type Comparison, type GroupEstimate, type Verdict } from './statistics.js';

const O95: CompareOptions = { confidence: 0.95, minimumImprovement: 0.1, minSamples: 100 };

const rejects = (run: () => unknown, message: RegExp) => assert.throws(run, (error: unknown) => error instanceof EvidenceInputError && message.test(error.message));

interface Reference {
  name: string;
  options: CompareOptions;
  improvement: number;
  interval: [number, number];
  pValue: number;
  verdict: Verdict;
}

/** Analytic tests: the same formulas on both sides, so agreement is to rounding error (p-values relative, for tiny ones). */
function matchesAnalytic(result: Comparison, reference: Reference): void {
  near(result.improvement, reference.improvement, 1e-9, `${reference.name}: improvement`);
  near(result.interval?.[0], reference.interval[0], 1e-9, `${reference.name}: interval low`);
  near(result.interval?.[1], reference.interval[1], 1e-9, `${reference.name}: interval high`);
  near(result.pValue! / reference.pValue, 1, 1e-7, `${reference.name}: p-value relative to scipy's`);
  assert.equal(result.verdict, reference.verdict, reference.name);
}

describe('success rates: two-proportion z-test, Katz interval of the failure risk ratio', () => {
  test("agrees with Illowsky & Dean's two-proportion example: p = 0.1404", () => {
    // Illowsky & Dean, Collaborative Statistics (Connexions/OpenStax, m17043), "Comparing Two Independent
    // Population Proportions": 20 of 200 adults on medication A and 12 of 200 on B still had hives;
    // two-tailed pooled z-test, p-value = 0.1404. Here a failure is "still had hives".
    const result = compareSuccessRates({ successes: 180, trials: 200 }, { successes: 188, trials: 200 }, O95);
    near(result.pValue, 0.1404, 5e-5, 'p-value');
    assert.equal(result.control.estimate, 0.9);
    assert.equal(result.treatment.estimate, 0.94);
    near(result.improvement, 0.4, 1e-12, 'improvement: 1 − 6 %/10 %');
    assert.equal(result.verdict, 'not-significant');
  });

  type Case = Reference & { control: { successes: number; trials: number }; treatment: { successes: number; trials: number } };
  const { header, cases } = fixture<Case>('success-rates.json');

  test(`matches scipy ${header.scipy} (chi2_contingency, relative_risk) on ${cases.length} tables`, () => {
    for (const c of cases) matchesAnalytic(compareSuccessRates(c.control, c.treatment, c.options), c);
    assert.deepEqual(new Set(cases.map((c) => c.verdict)), new Set(['improved', 'worse', 'not-significant']));
  });

  test('a zero failure cell gets the 0.5 correction, and the note says so', () => {
    const c = cases.find((c) => c.treatment.successes === c.treatment.trials)!;
    const result = compareSuccessRates(c.control, c.treatment, c.options);
    assert.match(result.note, /0\.5 added to every cell/);
    assert.ok(result.interval![0] <= result.improvement! && result.improvement! <= result.interval![1], 'the point estimate lies inside its interval');
  });

  test('no failures in either group is the no-difference case: not significant, nothing to tell apart', () => {
    const result = compareSuccessRates({ successes: 1e6, trials: 1e6 }, { successes: 500_000, trials: 500_000 }, O95);
    assert.equal(result.verdict, 'not-significant');
    assert.equal(result.pValue, 1);
    assert.match(result.note, /no failures in either group.*nothing to tell apart/);
  });

  test('equal failure rates are not significant, with p = 1 and improvement 0', () => {
    const result = compareSuccessRates({ successes: 9990, trials: 10_000 }, { successes: 9990, trials: 10_000 }, O95);
    assert.equal(result.verdict, 'not-significant');
    near(result.pValue, 1, 1e-12, 'p-value');
    near(result.improvement, 0, 1e-12, 'improvement');
    assert.match(result.note, /is not shown to reach 10 %/);
  });

  test('fewer trials than minSamples in either group is not enough data, whatever the rates', () => {
    const result = compareSuccessRates({ successes: 9000, trials: 10_000 }, { successes: 99, trials: 99 }, O95);
    assert.equal(result.verdict, 'not-enough-data');
    assert.deepEqual([result.improvement, result.interval, result.pValue], [null, null, null]);
    assert.match(result.note, /treatment 99, at least 100 each are needed/);
    assert.equal(compareSuccessRates({ successes: 0, trials: 0 }, { successes: 0, trials: 0 }, { ...O95, minSamples: 0 }).verdict, 'not-enough-data');
  });

  test('non-integer counts from Prometheus extrapolation are rounded to whole trials, and the note says so', () => {
    const rounded = compareSuccessRates({ successes: 9900.4, trials: 10_000.3 }, { successes: 9939.6, trials: 9999.8 }, O95);
    const whole = compareSuccessRates({ successes: 9900, trials: 10_000 }, { successes: 9940, trials: 10_000 }, O95);
    assert.deepEqual({ ...rounded, note: '' }, { ...whole, note: '' });
    assert.match(rounded.note, /non-integer counts .* rounded/);
  });

  test('bad input is refused with a sentence naming it', () => {
    rejects(() => compareSuccessRates({ successes: 11, trials: 10 }, { successes: 5, trials: 10 }, O95), /control has more successes \(11\) than trials \(10\)/);
    rejects(() => compareSuccessRates({ successes: 1, trials: 10 }, { successes: -1, trials: 10 }, O95), /treatment successes must be a finite count ≥ 0; got -1/);
    rejects(() => compareSuccessRates({ successes: 1, trials: Infinity }, { successes: 1, trials: 10 }, O95), /control trials must be a finite count/);
    for (const confidence of [0, 1, 1.5, -0.95, NaN]) {
      rejects(() => compareSuccessRates({ successes: 1, trials: 10 }, { successes: 1, trials: 10 }, { ...O95, confidence }), /confidence must be in \(0, 1\)/);
    }
    rejects(() => compareSuccessRates({ successes: 1, trials: 10 }, { successes: 1, trials: 10 }, { ...O95, minimumImprovement: -0.1 }), /minimumImprovement must be in \[0, 1\)/);
    rejects(() => compareSuccessRates({ successes: 1, trials: 10 }, { successes: 1, trials: 10 }, { ...O95, minSamples: NaN }), /minSamples/);
  });
});

/** `count` values with exactly this sample mean and standard deviation, as costs whose logs they are. */
function withMoments(mean: number, sd: number, count: number): number[] {
  const raw = Array.from({ length: count }, (_, i) => Math.sin(i + 1) + i / count);
  const m = raw.reduce((a, b) => a + b, 0) / count;
  const s = Math.sqrt(raw.reduce((a, b) => a + (b - m) ** 2, 0) / (count - 1));
  return raw.map((x) => Math.exp(mean + ((x - m) / s) * sd));
}

describe("cost: Welch's t-test on the logs", () => {
  test("agrees with Illowsky & Dean's Welch example: p = 0.0054", () => {
    // Illowsky & Dean, Collaborative Statistics (Connexions/OpenStax, m17025), "Comparing Two Independent
    // Population Means with Unknown Population Standard Deviations": girls n = 9, mean 2 h, s = 0.866;
    // boys n = 16, mean 3.2 h, s = 1; Aspin-Welch t-test, two-sided p-value = 0.0054. compareCost tests
    // the logs, so the costs are exp of data with those moments.
    const girls = withMoments(2, 0.866, 9);
    const boys = withMoments(3.2, 1, 16);
    const result = compareCost(girls, boys, { ...O95, minSamples: 5 });
    near(result.pValue, 0.0054, 5e-5, 'p-value');
    near(result.improvement, 1 - Math.exp(1.2), 1e-12, 'improvement: 1 − exp(3.2 − 2)');
    assert.equal(result.verdict, 'worse');
  });

  type Case = Reference & { control: number[]; treatment: number[]; dropped: number };
  const { header, cases } = fixture<Case>('cost.json');

  test(`matches scipy ${header.scipy} (ttest_ind equal_var=False, confidence_interval) on ${cases.length} samples`, () => {
    for (const c of cases) matchesAnalytic(compareCost(c.control, c.treatment, { ...c.options, minSamples: 10 }), c);
    assert.deepEqual(new Set(cases.map((c) => c.verdict)), new Set(['improved', 'worse', 'not-significant']));
  });

  test('values ≤ 0 or not finite are dropped, and the note says how many', () => {
    const c = cases.find((c) => c.dropped > 0)!;
    const result = compareCost([...c.control, NaN, Infinity], c.treatment, { ...c.options, minSamples: 10 });
    matchesAnalytic(result, c);
    assert.equal(result.control.n, c.control.length - c.dropped);
    assert.match(result.note, /4 intervals without a positive finite value were dropped \(4 control, 0 treatment\)/);
  });

  test('the same costs in both groups are not significant: improvement 0, p = 1', () => {
    const values = withMoments(-8, 0.2, 20);
    const result = compareCost(values, [...values].reverse(), { ...O95, minSamples: 10 });
    assert.equal(result.verdict, 'not-significant');
    near(result.improvement, 0, 1e-12, 'improvement');
    near(result.pValue, 1, 1e-9, 'p-value');
  });

  test('too few intervals is not enough data; the t-test needs two per group even when minSamples allows fewer', () => {
    const few = compareCost([1e-4, 2e-4, 3e-4], [1e-4, 2e-4, 3e-4, 4e-4], { ...O95, minSamples: 4 });
    assert.equal(few.verdict, 'not-enough-data');
    assert.match(few.note, /control has 3 intervals, treatment 4, at least 4 each are needed/);
    assert.equal(compareCost([1e-4], [1e-4], { ...O95, minSamples: 0 }).verdict, 'not-enough-data');
    const droppedToFew = compareCost([0, 0, 0, 1e-4], [1e-4, 2e-4], { ...O95, minSamples: 2 });
    assert.match(droppedToFew.note, /control has 1 intervals.*3 intervals without a positive finite value were dropped/);
  });

  test('costs that never vary leave the t-test nothing to judge by: not enough data', () => {
    const result = compareCost([2e-4, 2e-4, 2e-4], [1e-4, 1e-4, 1e-4], { ...O95, minSamples: 2 });
    assert.equal(result.verdict, 'not-enough-data');
    near(result.improvement, 0.5, 1e-12, 'improvement');
    assert.match(result.note, /neither group varies/);
  });

  test('bad input is refused with a sentence naming it', () => {
    rejects(() => compareCost('1,2' as unknown as number[], [1, 2], O95), /control cost values must be an array/);
    rejects(() => compareCost([1, 2], [1, '2' as unknown as number], O95), /treatment cost values must be numbers; got "2"/);
    rejects(() => compareCost([1, 2], [1, 2], { ...O95, confidence: 95 }), /confidence must be in \(0, 1\), e\.g\. 0\.95; got 95/);
  });
});

/** A comparison as overallVerdict reads it: only the metric and the verdict matter. */
function comparison(metric: string, verdict: Verdict): Comparison {
  const group: GroupEstimate = { estimate: 1, n: 1000 };
  return { metric, test: 'any', control: group, treatment: group, improvement: null, interval: null, pValue: null, verdict, note: '' };
}

describe('overall verdict', () => {
  const latency = (verdict: Verdict) => ({ comparison: comparison('mean delivery latency', verdict), goal: 'improve' as const });
  const success = (verdict: Verdict) => ({ comparison: comparison('success rate', verdict), goal: 'not-worse' as const });
  const cost = (verdict: Verdict) => ({ comparison: comparison('cost per delivered message', verdict), goal: 'not-worse' as const });

  test('any metric significantly worse makes the test worse, even beside an improvement and missing data', () => {
    const result = overallVerdict([latency('improved'), success('worse'), cost('not-enough-data')]);
    assert.deepEqual(result, { verdict: 'worse', note: 'Treatment is significantly worse in success rate.' });
  });

  test('otherwise, any metric without enough data makes it not enough data', () => {
    assert.deepEqual(overallVerdict([latency('improved'), success('not-enough-data'), cost('not-significant')]), {
      verdict: 'not-enough-data',
      note: 'Not enough data yet for success rate.',
    });
  });

  test("improved when every 'improve' metric is improved; a 'not-worse' metric passes when not significant", () => {
    assert.deepEqual(overallVerdict([latency('improved'), success('not-significant'), cost('improved')]), {
      verdict: 'improved',
      note: 'Treatment is shown to improve mean delivery latency, and no metric is worse.',
    });
  });

  test("not significant when an 'improve' metric is not shown to improve", () => {
    const result = overallVerdict([latency('not-significant'), success('improved'), cost('not-significant')]);
    assert.deepEqual(result, { verdict: 'not-significant', note: 'The improvement is not shown for mean delivery latency; no metric is worse.' });
    assert.equal(overallVerdict([latency('improved'), { ...cost('not-significant'), goal: 'improve' }]).verdict, 'not-significant');
  });

  test("a test without an 'improve' goal is refused: nothing could make it improved", () => {
    rejects(() => overallVerdict([success('improved')]), /at least one metric whose goal is 'improve'/);
    rejects(() => overallVerdict([]), /at least one metric/);
  });
});
