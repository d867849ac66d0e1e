/**
 * Pieces of bench/observability-overhead.ts: the trace sink (bench/otlp-sink.ts) as a child
 * process, a Prometheus-like /metrics scraper, a reader of Prometheus text, the microbenchmark of
 * metric recording, and the upkeep of its section of docs/benchmarks.md.
 */
import { BridgeMetrics } from '@agent-bridge/observability';
import { startService, type ServiceHandle } from '@agent-bridge/testkit';
import { now, sleep } from './window.js';
import { writeSectionRunToDocs } from './runs-doc.js';

// ------------------------------------------------------------------ trace sink

export interface SpanCounts {
  total: number;
  /** "<service.name> <span name>" → spans. */
  byName: Record<string, number>;
}

export interface TraceSink {
  process: ServiceHandle;
  /** For OTEL_EXPORTER_OTLP_ENDPOINT. */
  url: string;
  counts(): Promise<SpanCounts>;
  /** Waits until no span arrived for `quietMs` (at most `maxMs`): the exporters have flushed. */
  settle(quietMs: number, maxMs: number): Promise<SpanCounts>;
  stop(): Promise<void>;
}

export async function startTraceSink(): Promise<TraceSink> {
  const handle = await startService({ name: 'otlp-sink', entry: 'bench/otlp-sink.ts', readyLogLine: /^otlp-sink traces=/ });
  const line = await handle.waitForLog(/^otlp-sink traces=/);
  const match = /traces=(\S+) stats=(\S+)/.exec(line);
  if (!match) {
    await handle.stop();
    throw new Error(`otlp-sink printed an unexpected line: ${line}`);
  }
  const statsUrl = match[2]!;
  const counts = async (): Promise<SpanCounts> => {
    const response = await fetch(statsUrl, { signal: AbortSignal.timeout(5_000) });
    return (await response.json()) as SpanCounts;
  };
  return {
    process: handle,
    url: match[1]!,
    counts,
    async settle(quietMs, maxMs) {
      const deadline = now() + maxMs;
      let last = await counts();
      let changedAt = now();
      while (now() - changedAt < quietMs && now() < deadline) {
        await sleep(200);
        const next = await counts();
        if (next.total !== last.total) changedAt = now();
        last = next;
      }
      return last;
    },
    stop: async () => void (await handle.stop()),
  };
}

// ------------------------------------------------------------------ scraping

export interface ScrapeCounts {
  ok: number;
  failed: number;
  /** Bytes of metrics text received. */
  bytes: number;
  /** Sum of the scrape durations, ms. */
  ms: number;
}

/**
 * GETs every URL once per interval, like a Prometheus server with that scrape interval: each
 * scrape must answer 200 with agentbridge_ metrics within the interval.
 */
export class Scraper {
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private counts: ScrapeCounts = { ok: 0, failed: 0, bytes: 0, ms: 0 };

  constructor(
    private readonly urls: string[],
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.counts = { ok: 0, failed: 0, bytes: 0, ms: 0 };
    const tick = () => {
      for (const url of this.urls) {
        const pending: Promise<void> = this.scrape(url).finally(() => this.inFlight.delete(pending));
        this.inFlight.add(pending);
      }
    };
    tick();
    this.timer = setInterval(tick, this.intervalMs);
  }

  async stop(): Promise<ScrapeCounts> {
    clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all(this.inFlight);
    return this.counts;
  }

  private async scrape(url: string): Promise<void> {
    const started = now();
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(this.intervalMs) });
      const body = await response.text();
      if (response.ok && body.includes('agentbridge_')) {
        this.counts.ok++;
        this.counts.bytes += body.length;
      } else {
        this.counts.failed++;
      }
    } catch {
      this.counts.failed++;
    }
    this.counts.ms += now() - started;
  }
}

/** Sum of every sample of `name` (all label sets) in Prometheus text, or NaN when there is none. */
export function sumOfMetric(text: string, name: string): number {
  let sum = Number.NaN;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    const value = Number(rest.slice(rest.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) sum = (Number.isNaN(sum) ? 0 : sum) + value;
  }
  return sum;
}

export async function fetchMetrics(url: string): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
  return response.text();
}

// ------------------------------------------------------------------ metric recording microbenchmark

export interface RecordingCost {
  iterations: number;
  /** Per message: messagesSent, messagesRouted, messagesDelivered, deliveryLatency.observe, toolCalls (send_message). ns. */
  perMessageNs: number;
  /** Per wait_for_messages call: toolCalls (wait_for_messages), waitingPolls inc + dec. ns. */
  perPollNs: number;
  /** Per routing batch: routingBatchSeconds.observe. ns. */
  perBatchNs: number;
  /** All of the above in one loop, the batch observation once every `batchEvery` iterations. ns. */
  oneMessageNs: number;
  /** Messages per routing batch, rounded (at least 1). */
  batchEvery: number;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/**
 * Times the metric calls of one legacy message on a fresh `BridgeMetrics` (the same label objects
 * the services pass), ~`iterations` times per measure: the median of 5 repetitions, after a warm-up.
 * `oneMessageNs` counts one poll per message (toolCalls ×2 per message): an upper bound, since a
 * poll at peak returns several messages.
 */
export function measureRecording(iterations: number, messagesPerBatch: number): RecordingCost {
  const metrics = new BridgeMetrics('bench');
  const latencies = Float64Array.from({ length: 1024 }, (_, i) => ((i * 7919) % 1000) / 20_000);
  const every = Math.max(1, Math.round(messagesPerBatch));
  const perMessage = (i: number) => {
    metrics.messagesSent.inc({ protocol: 'legacy' });
    metrics.messagesRouted.inc({ lane: 'poll', via: 'legacy' });
    metrics.messagesDelivered.inc({ protocol: 'legacy', via: 'legacy' });
    metrics.deliveryLatency.observe({ protocol: 'legacy' }, latencies[i & 1023]!);
    metrics.toolCalls.inc({ tool: 'send_message', outcome: 'ok' });
  };
  const perPoll = () => {
    metrics.waitingPolls.inc();
    metrics.toolCalls.inc({ tool: 'wait_for_messages', outcome: 'ok' });
    metrics.waitingPolls.dec();
  };
  const perBatch = (i: number) => metrics.routingBatchSeconds.observe(latencies[i & 1023]! / 10);
  const oneMessage = (i: number) => {
    perMessage(i);
    perPoll();
    if (i % every === 0) perBatch(i);
  };
  const time = (fn: (i: number) => void, n: number) => {
    const started = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn(i);
    return Number(process.hrtime.bigint() - started) / n;
  };
  const measure = (fn: (i: number) => void) => {
    time(fn, Math.min(100_000, iterations));
    const reps = 5;
    return median(Array.from({ length: reps }, () => time(fn, Math.max(1, Math.round(iterations / reps)))));
  };
  return {
    iterations,
    perMessageNs: measure(perMessage),
    perPollNs: measure(perPoll),
    perBatchNs: measure(perBatch),
    oneMessageNs: measure(oneMessage),
    batchEvery: every,
  };
}

// ------------------------------------------------------------------ docs/benchmarks.md

export const OBS_SECTION_HEADING = '## Observability overhead';

/** The "Observability overhead" section of docs/benchmarks.md: `run` prepended to its runs (bench/lib/runs-doc.ts). */
export function writeObservabilityRunToDocs(file: string, intro: string, run: string, maxRuns: number): void {
  writeSectionRunToDocs(file, { heading: OBS_SECTION_HEADING, mark: '<!-- bench-observability-run -->' }, intro, run, maxRuns);
}
