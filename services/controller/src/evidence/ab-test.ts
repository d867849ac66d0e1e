/**
 * The week-6 A/B test (spec.abTest): legacy agents are the control group, elicitation agents the
 * treatment. Over the test window the controller reads from Prometheus, per group, the delivery
 * latency histogram, delivered and failed messages, and the endpoint's CPU per delivered message;
 * statistics.ts compares them (docs/decisions/0019). This module decides when the test runs and
 * turns Prometheus answers into the samples the statistics take. A query that fails or returns
 * nothing makes that metric "not enough data", never a pass.
 */
import { AB_METRICS, DEFAULT_AB_GOALS, parseDuration, type AbMetricResult, type AbTestSpec, type AbTestStatus, type AbVerdict, type FeatureFlagsStatus } from '@agent-bridge/flags';
import type { PrometheusClient } from '../prometheus.js';
import { compareCost, compareLatency, compareSuccessRates, overallVerdict, type Comparison, type CompareOptions, type HistogramSample } from './statistics.js';

/** The groups: the protocol label of the bridge's metrics, and the service whose CPU a delivered message costs. */
const GROUPS = { control: { protocol: 'legacy', service: 'legacy-poll' }, treatment: { protocol: 'elicitation', service: 'elicitation' } } as const;
type Group = keyof typeof GROUPS;

/** Where the test stands at `now`: not started, inside its window, or over. */
export interface AbWindow {
  state: AbTestStatus['state'];
  startMs?: number;
  endMs?: number;
}

export function abWindow(spec: AbTestSpec, previous: AbTestStatus | undefined, effectivePercentage: number, now: number): AbWindow {
  const durationMs = parseDuration(spec.duration);
  const remembered = previous && previous.name === spec.name && previous.startedAt ? Date.parse(previous.startedAt) : undefined;
  const startMs = spec.startAt ? Date.parse(spec.startAt) : (remembered ?? (effectivePercentage >= spec.atPercentage ? now : undefined));
  if (startMs === undefined || now < startMs) return { state: 'waiting', ...(startMs !== undefined ? { startMs, endMs: startMs + durationMs } : {}) };
  const endMs = startMs + durationMs;
  return { state: now >= endMs ? 'complete' : 'running', startMs, endMs };
}

/** Whether to evaluate now: a new or changed test, every interval while it runs, once more when its window is over. */
export function abTestDue(spec: AbTestSpec | undefined, status: FeatureFlagsStatus, now: number): boolean {
  if (!spec) return false;
  const previous = status.abTest;
  const window = abWindow(spec, previous, status.effectivePercentage, now);
  if (!previous || previous.name !== spec.name) return true;
  if (window.state === 'waiting') return previous.state !== 'waiting' || !previous.evaluatedAt || now - Date.parse(previous.evaluatedAt) >= parseDuration(spec.interval);
  if (previous.startedAt !== new Date(window.startMs!).toISOString()) return true;
  if (window.state === 'complete') return previous.state !== 'complete';
  return !previous.evaluatedAt || now - Date.parse(previous.evaluatedAt) >= parseDuration(spec.interval);
}

/** The metrics of the test with their goals and margins (default: all three). */
export function abMetricsOf(spec: AbTestSpec): Array<{ name: AbMetricResult['name']; goal: AbMetricResult['goal']; minimumImprovement: number }> {
  const listed: NonNullable<AbTestSpec['metrics']> = spec.metrics ?? AB_METRICS.map((name) => ({ name }));
  return listed.map((metric) => ({ name: metric.name, goal: metric.goal ?? DEFAULT_AB_GOALS[metric.name], minimumImprovement: metric.minimumImprovement ?? spec.minimumImprovement }));
}

/** The PromQL the test runs, for one group over `rangeSeconds` (exported for the docs and tests). */
export function abQueries(spec: AbTestSpec, group: Group, rangeSeconds: number, stepSeconds: number) {
  const { protocol, service } = GROUPS[group];
  const extra = spec.matchers ? `,${spec.matchers}` : '';
  const byProtocol = `{protocol="${protocol}"${extra}}`;
  const range = `[${rangeSeconds}s]`;
  return {
    buckets: `sum by (le) (increase(agentbridge_delivery_latency_seconds_bucket${byProtocol}${range}))`,
    sum: `sum(increase(agentbridge_delivery_latency_seconds_sum${byProtocol}${range}))`,
    count: `sum(increase(agentbridge_delivery_latency_seconds_count${byProtocol}${range}))`,
    delivered: `sum(increase(agentbridge_messages_delivered_total${byProtocol}${range}))`,
    failed: `sum(increase(agentbridge_errors_total${byProtocol}${range}))`,
    cost: `sum(rate(process_cpu_seconds_total{service="${service}"${extra}}[${stepSeconds}s])) / sum(rate(agentbridge_messages_delivered_total${byProtocol}[${stepSeconds}s]))`,
  };
}

/** Evaluation steps of the cost metric: at least a minute, at most ~200 steps over the window. */
export function costStepSeconds(rangeSeconds: number): number {
  return Math.max(60, Math.ceil(rangeSeconds / 200));
}

interface GroupData {
  latency: HistogramSample | undefined;
  success: { successes: number; trials: number } | undefined;
  cost: number[];
  problems: string[];
}

async function readGroup(client: PrometheusClient, spec: AbTestSpec, group: Group, startMs: number, atMs: number): Promise<GroupData> {
  const rangeSeconds = Math.max(1, Math.round((atMs - startMs) / 1000));
  const step = costStepSeconds(rangeSeconds);
  const q = abQueries(spec, group, rangeSeconds, step);
  const problems: string[] = [];
  const attempt = async <T>(what: string, read: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await read();
    } catch (error) {
      problems.push(`${what}: ${(error as Error).message}`);
      return undefined;
    }
  };
  const [buckets, sum, count, delivered, failed, cost] = await Promise.all([
    attempt('latency buckets', () => client.vector(q.buckets, atMs)),
    attempt('latency sum', () => client.query(q.sum, atMs)),
    attempt('latency count', () => client.query(q.count, atMs)),
    attempt('delivered messages', () => client.query(q.delivered, atMs)),
    attempt('failed messages', () => client.query(q.failed, atMs)),
    startMs + step * 1000 <= atMs ? attempt('cost', () => client.range(q.cost, startMs + step * 1000, atMs, step)) : Promise.resolve([]),
  ]);
  const latency =
    buckets && buckets.length > 0 && sum !== null && sum !== undefined && count !== null && count !== undefined
      ? { buckets: buckets.map((b) => ({ le: b.labels.le === '+Inf' ? Infinity : Number(b.labels.le), count: Math.max(0, b.value) })).sort((a, b) => a.le - b.le), sum: Math.max(0, sum), count: Math.max(0, count) }
      : undefined;
  // A group with deliveries and no error series has no errors counted (the services create the error series at zero).
  const success = delivered !== null && delivered !== undefined ? { successes: Math.round(Math.max(0, delivered)), trials: Math.round(Math.max(0, delivered) + Math.max(0, failed ?? 0)) } : undefined;
  return { latency, success, cost: (cost ?? []).flatMap((series) => series.points.map(([, value]) => value)), problems };
}

const METRIC_LABELS: Record<AbMetricResult['name'], string> = { latency: 'latency', 'success-rate': 'success rate', cost: 'cost per message' };

const NO_DATA = (name: AbMetricResult['name'], test: string, note: string): Comparison => ({
  metric: METRIC_LABELS[name],
  test,
  control: { estimate: null, n: 0 },
  treatment: { estimate: null, n: 0 },
  improvement: null,
  interval: null,
  pValue: null,
  verdict: 'not-enough-data',
  note,
});

/** Evaluates the test at min(now, end of the window). */
export async function evaluateAbTest(spec: AbTestSpec, status: FeatureFlagsStatus, client: PrometheusClient | undefined, now: number): Promise<AbTestStatus> {
  const window = abWindow(spec, status.abTest, status.effectivePercentage, now);
  const metrics = abMetricsOf(spec);
  const base = {
    name: spec.name,
    state: window.state,
    confidence: spec.confidence,
    evaluatedAt: new Date(now).toISOString(),
    ...(window.startMs !== undefined ? { startedAt: new Date(window.startMs).toISOString(), endsAt: new Date(window.endMs!).toISOString() } : {}),
  };
  if (window.state === 'waiting') {
    const note = window.startMs !== undefined ? `starts at ${new Date(window.startMs).toISOString()}` : `starts when the published percentage reaches ${spec.atPercentage}% (now ${status.effectivePercentage}%)`;
    return { ...base, verdict: 'pending', note, metrics: [] };
  }
  const atMs = Math.min(now, window.endMs!);
  const options = (minimumImprovement: number): CompareOptions => ({ confidence: spec.confidence, minimumImprovement, minSamples: spec.minSamples });
  let control: GroupData | undefined;
  let treatment: GroupData | undefined;
  if (client) [control, treatment] = await Promise.all([readGroup(client, spec, 'control', window.startMs!, atMs), readGroup(client, spec, 'treatment', window.startMs!, atMs)]);
  const unreachable = !client ? 'no Prometheus URL (spec.analysis.prometheusUrl)' : [...control!.problems, ...treatment!.problems].join('; ');
  const results: AbMetricResult[] = metrics.map(({ name, goal, minimumImprovement }) => {
    let comparison: Comparison;
    const o = options(minimumImprovement);
    if (name === 'latency') {
      comparison =
        control?.latency && treatment?.latency
          ? compareLatency(control.latency, treatment.latency, { ...o, seed: seedOf(spec.name, window.startMs!) })
          : NO_DATA(name, 'bootstrap over histogram buckets (mean latency)', unreachable || 'no latency histogram for one group in the window');
    } else if (name === 'success-rate') {
      comparison = control?.success && treatment?.success ? compareSuccessRates(control.success, treatment.success, o) : NO_DATA(name, 'two-proportion z-test', unreachable || 'no delivery counts for one group in the window');
    } else {
      comparison = compareCost(control?.cost ?? [], treatment?.cost ?? [], o);
    }
    const { metric: _label, ...result } = comparison;
    return { name, goal, minimumImprovement, ...result };
  });
  const overall = overallVerdict(results.map((result) => ({ comparison: { ...result, metric: METRIC_LABELS[result.name] }, goal: result.goal })));
  return { ...base, windowSeconds: Math.round((atMs - window.startMs!) / 1000), verdict: overall.verdict, note: overall.note, metrics: results };
}

/** A seed fixed per test, so one window's bootstrap gives the same interval on every evaluation and every leader. */
function seedOf(name: string, startMs: number): number {
  let hash = startMs % 2_147_483_647;
  for (const char of name) hash = (hash * 31 + char.charCodeAt(0)) % 2_147_483_647;
  return hash || 1;
}

export const AB_VERDICTS: ReadonlyArray<AbVerdict | 'pending'> = ['improved', 'not-significant', 'worse', 'not-enough-data', 'pending'];
