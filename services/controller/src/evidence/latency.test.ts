/**
 * The latency comparison: exact means, and the bucket bootstrap against an independent numpy
 * bootstrap with 100,000 replicates (fixtures/latency.json, made by fixtures/make-fixtures.py).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fixture, near } from './fixtures/reference.js';
import { binomialSampler } from './histogram-bootstrap.js';
import { compareLatency, EvidenceInputError, type CompareOptions, type HistogramSample, type Verdict } from './statistics.js';

const O95: CompareOptions = { confidence: 0.95, minimumImprovement: 0.1, minSamples: 100 };
const LE = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, Infinity];

/** A histogram as Prometheus exposes it, from per-bucket counts (missing ones 0) and the exact mean. */
function histogram(perBucket: number[], mean: number): HistogramSample {
  let cumulative = 0;
  const buckets = LE.map((le, i) => ({ le, count: (cumulative += perBucket[i] ?? 0) }));
  return { buckets, sum: mean * cumulative, count: cumulative };
}

/** Roughly the shape of delivery latency: most messages within 2.5–25 ms. */
const SHAPE = [2, 6, 14, 25, 30, 14, 6, 2, 0.6, 0.3, 0.1];
const scaled = (total: number, shape = SHAPE) => shape.map((share) => Math.round((share / 100) * total));

const rejects = (run: () => unknown, message: RegExp) => assert.throws(run, (error: unknown) => error instanceof EvidenceInputError && message.test(error.message));

interface Case {
  name: string;
  control: { buckets: Array<{ le: string; count: number }>; sum: number; count: number };
  treatment: Case['control'];
  options: CompareOptions;
  replicates: number;
  control_mean: number;
  treatment_mean: number;
  improvement: number;
  interval: [number, number];
  pValue: number;
  bootstrapSd: number;
  verdict: Verdict;
}

const sampleOf = (h: Case['control']): HistogramSample => ({ ...h, buckets: h.buckets.map((b) => ({ le: b.le === '+Inf' ? Infinity : Number(b.le), count: b.count })) });

describe('latency: mean delivery latency, bucket bootstrap', () => {
  const { header, cases } = fixture<Case>('latency.json');

  test(`matches an independent numpy ${header.numpy} bootstrap (${cases[0]!.replicates} replicates) within Monte Carlo error`, () => {
    for (const c of cases) {
      const result = compareLatency(sampleOf(c.control), sampleOf(c.treatment), c.options);
      near(result.control.estimate, c.control_mean, 1e-12, `${c.name}: control mean is exact`);
      near(result.treatment.estimate, c.treatment_mean, 1e-12, `${c.name}: treatment mean is exact`);
      near(result.improvement, c.improvement, 1e-12, `${c.name}: improvement is exact`);
      // A 2.5 % quantile from 2,000 replicates has a standard error of about 0.06 bootstrap standard
      // deviations (normal approximation); 0.3 is five of them. The reference's own error is a third of that.
      const ends = 0.3 * c.bootstrapSd;
      near(result.interval?.[0], c.interval[0], ends, `${c.name}: interval low`);
      near(result.interval?.[1], c.interval[1], ends, `${c.name}: interval high`);
      // p = 2 × a share s of 2,000 replicates: standard error 2·√(s(1−s)/2000); five of them, and one step.
      const share = c.pValue / 2;
      near(result.pValue, c.pValue, 10 * Math.sqrt((share * (1 - share)) / 2000) + 2 / 2000, `${c.name}: p-value`);
      assert.equal(result.verdict, c.verdict, c.name);
      assert.equal(result.pValueResolution, 2 / 2000, 'p moves in steps of 2/replicates');
    }
    assert.deepEqual(new Set(cases.map((c) => c.verdict)), new Set(['improved', 'worse', 'not-significant']));
    assert.ok(cases.filter((c) => c.pValue > 0.01).length >= 2, 'some p-values are large enough to be compared');
  });

  test('non-integer counts from Prometheus extrapolation are rounded, and the note says so', () => {
    const c = cases.find((c) => c.control.buckets.some((b) => !Number.isInteger(b.count)))!;
    const result = compareLatency(sampleOf(c.control), sampleOf(c.treatment), c.options);
    assert.equal(result.control.n, Math.round(c.control.buckets.at(-1)!.count));
    assert.match(result.note, /non-integer counts \(Prometheus extrapolates increases\) were rounded/);
  });

  test('timeouts beyond the last bucket are named in the note: the interval is approximate', () => {
    const c = cases.find((c) => c.name.includes('+Inf'))!;
    const result = compareLatency(sampleOf(c.control), sampleOf(c.treatment), c.options);
    assert.match(result.note, /% of control and .* % of treatment messages took over 30 s, beyond the last bucket, so the interval is approximate/);
  });

  test('the same seed gives the same result; another seed another draw', () => {
    const [control, treatment] = [histogram(scaled(5000), 0.02), histogram(scaled(5000), 0.019)];
    const once = compareLatency(control, treatment, { ...O95, seed: 42 });
    assert.deepEqual(compareLatency(control, treatment, { ...O95, seed: 42 }), once);
    assert.notDeepEqual(compareLatency(control, treatment, { ...O95, seed: 43 }).interval, once.interval);
    assert.deepEqual(compareLatency(control, treatment, O95), compareLatency(control, treatment, O95), 'the default seed is fixed too');
  });

  test('identical histograms are the no-difference case: improvement 0, p near 1, not significant', () => {
    const h = histogram(scaled(100_000), 0.012);
    const result = compareLatency(h, h, O95);
    assert.equal(result.improvement, 0);
    assert.ok(result.pValue! > 0.9, `p = ${result.pValue}`);
    assert.equal(result.verdict, 'not-significant');
    assert.ok(result.interval![0] < 0 && result.interval![1] > 0);
    assert.match(result.note, /improvement 0\.0 % \(95 % CI -[\d.]+ to [\d.]+ %, p = 0\.9\d+\) is not shown to reach 10 %/);
  });

  test('half the latency at a million messages is improved, with p below its resolution', () => {
    const result = compareLatency(histogram(scaled(1e6), 0.012), histogram(scaled(1e6, [5, 12, 25, 30, 18, 7, 2, 0.7, 0.2, 0.1]), 0.006), O95);
    assert.equal(result.verdict, 'improved');
    assert.equal(result.pValue, 0);
    assert.match(result.note, /mean latency 6 ms in treatment vs 12 ms in control: improvement 50\.0 % \(95 % CI [\d.]+–[\d.]+ %, p < 0\.001\) is shown to reach 10 %\./);
  });

  test('fewer messages than minSamples in either group is not enough data', () => {
    const result = compareLatency(histogram(scaled(10_000), 0.01), histogram([40, 50], 0.002), O95);
    assert.equal(result.verdict, 'not-enough-data');
    assert.deepEqual([result.improvement, result.interval, result.pValue], [null, null, null]);
    assert.match(result.note, /control has 10000 messages, treatment 90, at least 100 each are needed/);
    const empty = compareLatency(histogram([], 0), histogram([], 0), { ...O95, minSamples: 0 });
    assert.deepEqual([empty.verdict, empty.control.estimate], ['not-enough-data', null]);
  });

  test('everything in +Inf: the exact mean is known, its spread is not, so not enough data', () => {
    const allTimeouts = histogram([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5000], 45);
    const result = compareLatency(histogram(scaled(5000), 0.02), allTimeouts, O95);
    assert.equal(result.treatment.estimate, 45);
    near(result.improvement, 1 - 45 / 0.02, 1e-12, 'improvement');
    assert.equal(result.verdict, 'not-enough-data');
    assert.deepEqual([result.interval, result.pValue], [null, null]);
    assert.match(result.note, /all 5000 treatment messages fall in one bucket \(le=\+Inf\), so the histogram shows nothing of their spread/);
  });

  test("binomial draws have the binomial's mean and variance, where stdlib's rejection sampler has not", () => {
    // @stdlib/random-base-binomial 0.2.2 fails this at every n·p ≥ 10 below: Binomial(20, 0.5) averaged 10.54.
    const draw = binomialSampler(99);
    const draws = 20_000;
    for (const [n, p] of [
      [20, 0.5],
      [30, 0.4],
      [100, 0.3],
      [10_000, 0.001],
      [5_000_000, 0.3],
      [5, 0.2],
      [1_000_000, 1e-5],
    ] as const) {
      let [total, squares] = [0, 0];
      for (let i = 0; i < draws; i++) {
        const x = draw(n, p);
        total += x;
        squares += x * x;
      }
      const [mean, variance] = [total / draws, squares / draws - (total / draws) ** 2];
      const expected = { mean: n * p, variance: n * p * (1 - p) };
      assert.ok(Math.abs(mean - expected.mean) <= 5 * Math.sqrt(expected.variance / draws), `Binomial(${n}, ${p}): mean ${mean}, expected ${expected.mean}`);
      assert.ok(Math.abs(variance / expected.variance - 1) <= 5 * Math.sqrt(2 / draws), `Binomial(${n}, ${p}): variance ${variance}, expected ${expected.variance}`);
    }
  });

  test('2,000 replicates over millions of messages take well under a second (sequential binomials: O(buckets))', (t) => {
    const [control, treatment] = [histogram(scaled(5e6), 0.012), histogram(scaled(4e6), 0.01)];
    compareLatency(control, treatment, O95);
    const started = performance.now();
    const result = compareLatency(control, treatment, { ...O95, seed: 7 });
    const elapsed = performance.now() - started;
    t.diagnostic(`2,000 replicates, 5 and 4 million messages: ${elapsed.toFixed(1)} ms`);
    assert.equal(result.control.n + result.treatment.n, 9e6);
    assert.ok(elapsed < 1000, `took ${elapsed} ms`);
  });

  test('a cumulative count that falls by less than extrapolation noise is evened out; more is an error', () => {
    const h = histogram(scaled(10_000), 0.01);
    const wobbly = { ...h, buckets: h.buckets.map((b, i) => (i === 12 ? { ...b, count: b.count - 0.7 } : b)) };
    assert.match(compareLatency(wobbly, h, O95).note, /fell by less than extrapolation noise were evened out/);
    const perBucket = { ...h, buckets: h.buckets.map((b, i) => (i === 4 ? { ...b, count: 20 } : b)) };
    rejects(() => compareLatency(perBucket, h, O95), /control histogram: cumulative bucket counts must not decrease; le=0\.025 has 20 after \d+ \(per-bucket counts/);
  });

  test('bad input is refused with a sentence naming it', () => {
    const h = histogram(scaled(10_000), 0.01);
    const withBucket = (i: number, change: object) => ({ ...h, buckets: h.buckets.map((b, j) => (j === i ? { ...b, ...change } : b)) });
    rejects(() => compareLatency(h, withBucket(0, { count: -1 }), O95), /treatment histogram: the count of le=0\.001 must be a finite number ≥ 0; got -1/);
    rejects(() => compareLatency(h, { ...h, buckets: h.buckets.slice(0, -1) }, O95), /treatment histogram must end with the le=\+Inf bucket/);
    rejects(() => compareLatency(withBucket(2, { le: 0.001 }), h, O95), /bucket bounds must increase; le=0\.001 follows le=0\.0025/);
    rejects(() => compareLatency({ ...h, count: h.count * 2, sum: h.sum * 2 }, h, O95), /control histogram: _count \(20000\) and the le=\+Inf bucket \(\d+\) disagree/);
    rejects(() => compareLatency({ ...h, sum: -1 }, h, O95), /_sum must be a finite number ≥ 0; got -1/);
    rejects(() => compareLatency({ ...h, sum: 0 }, h, O95), /_sum is 0 for \d+ messages/);
    rejects(() => compareLatency(h, { ...h, buckets: [] }, O95), /treatment histogram has no buckets/);
    rejects(() => compareLatency(h, h, { ...O95, replicates: 10 }), /replicates must be an integer ≥ 100; got 10/);
    rejects(() => compareLatency(h, h, { ...O95, seed: 0 }), /seed must be an integer in \[1, 2\^32 − 1\]; got 0/);
    rejects(() => compareLatency(h, h, { ...O95, confidence: 1 }), /confidence must be in \(0, 1\)/);
  });
});
