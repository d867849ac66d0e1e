/**
 * Synthetic A/B populations for a real Prometheus: the series the bridge exports (delivery latency
 * histograms, delivered and failed messages, endpoint CPU) for a legacy and an elicitation group,
 * written as OpenMetrics with timestamps and turned into TSDB blocks by `promtool tsdb
 * create-blocks-from openmetrics`, so a test can query hours of history at once. Latencies are
 * log-normal with a chosen median per group (seeded, reproducible); the exact sums are returned
 * so a test knows the true difference it built in.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

interface GroupShape {
  /** Median delivery latency, seconds (log-normal, sigma 0.5). */
  medianSeconds: number;
  /** Share of messages that fail. */
  errorRate: number;
  /** CPU seconds of the endpoint per delivered message. */
  cpuPerMessage: number;
}

export interface PopulationSpec {
  /** Value of the `population` label (the A/B test selects it with spec.abTest.matchers). */
  name: string;
  legacy: GroupShape;
  elicitation: GroupShape;
}

export interface GroupTotals {
  count: number;
  sum: number;
  delivered: number;
  failed: number;
}

/** A small seeded PRNG (mulberry32) and a normal deviate from it (Box–Muller). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Writes blocks for `populations` into `dataDir` (a Prometheus --storage.tsdb.path) covering
 * [endMs − hours, endMs] at one sample per `stepSeconds`, `perStep` messages per group per step.
 */
export function backfillPopulations(
  dataDir: string,
  populations: PopulationSpec[],
  options: { endMs: number; hours: number; stepSeconds: number; perStep: number; seed: number },
): Record<string, Record<'legacy' | 'elicitation', GroupTotals>> {
  const rand = random(options.seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const steps = Math.floor((options.hours * 3600) / options.stepSeconds);
  const startS = Math.floor(options.endMs / 1000) - steps * options.stepSeconds;
  type Series = { labels: string; points: string[] };
  const families = { latency: [] as Series[], delivered: [] as Series[], errors: [] as Series[], cpu: [] as Series[] };
  const totals: Record<string, Record<'legacy' | 'elicitation', GroupTotals>> = {};
  for (const population of populations) {
    totals[population.name] = {} as Record<'legacy' | 'elicitation', GroupTotals>;
    for (const protocol of ['legacy', 'elicitation'] as const) {
      const shape = population[protocol];
      const service = protocol === 'legacy' ? 'legacy-poll' : 'elicitation';
      const base = `protocol="${protocol}",population="${population.name}"`;
      const bucketCounts = new Array<number>(BUCKETS.length + 1).fill(0);
      const bucketSeries = [...BUCKETS.map((le) => String(le)), '+Inf'].map((le) => ({ labels: `${base},le="${le}"`, points: [] as string[] }));
      const sumSeries: Series = { labels: base, points: [] };
      const countSeries: Series = { labels: base, points: [] };
      const deliveredSeries: Series = { labels: `${base},via="${protocol}"`, points: [] };
      const errorSeries: Series = { labels: `${base},component="${protocol}",code="DELIVERY_FAILED"`, points: [] };
      const cpuSeries: Series = { labels: `service="${service}",population="${population.name}"`, points: [] };
      const t: GroupTotals = { count: 0, sum: 0, delivered: 0, failed: 0 };
      let cpu = 0;
      for (let step = 0; step <= steps; step++) {
        const at = startS + step * options.stepSeconds;
        if (step > 0) {
          for (let i = 0; i < options.perStep; i++) {
            if (rand() < shape.errorRate) {
              t.failed += 1;
              continue;
            }
            const latency = shape.medianSeconds * Math.exp(0.5 * normal());
            t.delivered += 1;
            t.count += 1;
            t.sum += latency;
            const index = BUCKETS.findIndex((le) => latency <= le);
            bucketCounts[index === -1 ? BUCKETS.length : index]! += 1;
            cpu += shape.cpuPerMessage * (0.8 + 0.4 * rand());
          }
        }
        let cumulative = 0;
        bucketSeries.forEach((series, i) => {
          cumulative += bucketCounts[i]!;
          series.points.push(`${cumulative} ${at}`);
        });
        sumSeries.points.push(`${t.sum} ${at}`);
        countSeries.points.push(`${t.count} ${at}`);
        deliveredSeries.points.push(`${t.delivered} ${at}`);
        errorSeries.points.push(`${t.failed} ${at}`);
        cpuSeries.points.push(`${cpu} ${at}`);
      }
      families.latency.push(...bucketSeries.map((s) => ({ labels: s.labels, points: s.points.map((p) => `_bucket ${p}`) })));
      families.latency.push({ labels: sumSeries.labels, points: sumSeries.points.map((p) => `_sum ${p}`) }, { labels: countSeries.labels, points: countSeries.points.map((p) => `_count ${p}`) });
      families.delivered.push(deliveredSeries);
      families.errors.push(errorSeries);
      families.cpu.push(cpuSeries);
      totals[population.name]![protocol] = t;
    }
  }
  const lines: string[] = [];
  const family = (name: string, type: string, series: Series[], suffix = '') => {
    lines.push(`# TYPE ${name} ${type}`);
    for (const s of series) {
      for (const point of s.points) {
        if (type === 'histogram') {
          const [kind, value, at] = point.split(' ');
          lines.push(`${name}${kind}{${s.labels}} ${value} ${at}`);
        } else {
          lines.push(`${name}${suffix}{${s.labels}} ${point}`);
        }
      }
    }
  };
  family('agentbridge_delivery_latency_seconds', 'histogram', families.latency);
  family('agentbridge_messages_delivered', 'counter', families.delivered, '_total');
  family('agentbridge_errors', 'counter', families.errors, '_total');
  family('process_cpu_seconds', 'counter', families.cpu, '_total');
  lines.push('# EOF');
  mkdirSync(dataDir, { recursive: true });
  const input = join(dataDir, '..', 'backfill.om');
  writeFileSync(input, `${lines.join('\n')}\n`);
  const made = spawnSync('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', input, dataDir], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`promtool tsdb create-blocks-from openmetrics failed: ${made.stderr || made.stdout}`);
  return totals;
}
