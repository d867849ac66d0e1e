/**
 * Adoption over time without Prometheus: the leading controller appends the report's adoption
 * figures to a capped stream every PROGRESS_SAMPLE_INTERVAL_MS (kept PROGRESS_SAMPLE_RETENTION_MS),
 * and every replica refreshes the owner feedback gauges from the store.
 */
import type { AdoptionSample } from '@agent-bridge/event-store';
import type { BridgeMetrics, Logger } from '@agent-bridge/observability';
import { refreshFeedbackGauges } from './routes.js';
import type { ProgressSource } from './source.js';

/** The gauges are refreshed at least this often, whatever the sample interval. */
const GAUGE_INTERVAL_MS = 30_000;

/** A sample from the report's adoption figures, or undefined when the report has none. */
export function sampleOf(report: Record<string, unknown>, at: number): AdoptionSample | undefined {
  const adoption = report.adoption as Record<string, unknown> | undefined;
  if (!adoption || typeof adoption.activeAgents !== 'number') return undefined;
  const n = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : 0);
  return { at: new Date(at).toISOString(), active: n(adoption.activeAgents), elicitationOnly: n(adoption.elicitationOnlyAgents), legacyOnly: n(adoption.legacyOnlyAgents), both: n(adoption.bothAgents) };
}

export class AdoptionSampler {
  private timer: NodeJS.Timeout | undefined;
  private lastSampleAt = 0;
  private running: Promise<void> | undefined;

  constructor(
    private readonly source: ProgressSource,
    private readonly options: { intervalMs: number; retentionMs: number },
    private readonly metrics: BridgeMetrics,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    const every = Math.min(this.options.intervalMs, GAUGE_INTERVAL_MS);
    this.timer = setInterval(() => void this.tick(), every);
    this.timer.unref();
    void this.tick();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One round: a sample when due and leading, then the gauges. Never throws (logged). */
  tick(): Promise<void> {
    if (this.running) return this.running;
    this.running = (async () => {
      try {
        const at = this.now();
        if (this.source.isLeader() && at - this.lastSampleAt >= this.options.intervalMs) {
          const sample = sampleOf(await this.source.report(), at);
          if (sample) {
            await this.source.store.appendAdoptionSample(sample, this.options.retentionMs, Math.ceil(this.options.retentionMs / this.options.intervalMs) + 10);
            this.lastSampleAt = at;
          }
        }
        await refreshFeedbackGauges(this.source, this.metrics);
      } catch (error) {
        this.logger.warn({ err: error }, 'progress page: could not record an adoption sample or read the feedback counts; retrying');
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }
}
