/**
 * Load shedding (strategy: performance_collapse, "latency > 10x baseline → shed 50 % load";
 * decision 0024). Each replica measures its own admission round trip to Redis (the `admit_send`
 * script every new send runs), smooths it (EWMA) and compares it with a baseline it learns: the
 * lowest smoothed latency seen, allowed to rise by at most 10 % a minute, never below 1 ms (a loopback
 * Redis answers in well under that, and a ratio over a few microseconds would shed on jitter).
 * The round trip is measured in the replica, so a replica whose own event loop is overloaded sees
 * its latency rise too: that is load as well.
 * While the ratio is at least `latencyMultiple`, a share of new sends is refused: which ones is
 * decided by a hash of the message's idempotency key (or id) and the retry-after window, so a retry
 * inside the window gets the same answer (hammering does not help) and a retry after it a fresh one
 * (no message is refused forever: n retries are all shed with probability share^n).
 */
import { createHash } from 'node:crypto';
import type { Contingencies } from '@agent-bridge/flags';

/**
 * Time constant of the smoothed latency (an EWMA over time, not over samples): a sample weighs by the
 * time since the one before, so a burst of fast sends or one slow outlier moves it little, and a
 * collapse (or a recovery) shows in it after about a second, whatever the send rate.
 */
const SMOOTHING_MS = 1_000;
/** The baseline follows a higher latency by at most this factor per minute. */
const BASELINE_RISE_PER_MINUTE = 0.1;
/** No baseline below this (ms). */
const BASELINE_FLOOR_MS = 1;
/** While shedding, one send a second is admitted whatever its hash, so the latency keeps being measured (share 1 would otherwise never see it recover). */
const PROBE_INTERVAL_MS = 1_000;

export type LoadShedding = Contingencies['loadShedding'];

export interface ShedDecision {
  shed: boolean;
  ratio: number;
  /** Admitted while shedding, whatever its hash, as the latency probe of the second. */
  probe?: true;
}

export class LoadShedder {
  private smoothed: number | undefined;
  private lowest: number | undefined;
  private samples = 0;
  private lastSampleAt = 0;
  private lastBaselineAt = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** One admission round trip, in ms. */
  observe(latencyMs: number): void {
    const now = this.now();
    this.samples += 1;
    // The running mean while there are few samples (so the first, often a cold one, does not linger).
    const weight = Math.max(1 / this.samples, 1 - Math.exp(-Math.max(0, now - this.lastSampleAt) / SMOOTHING_MS));
    this.lastSampleAt = now;
    this.smoothed = this.smoothed === undefined ? latencyMs : this.smoothed + weight * (latencyMs - this.smoothed);
    if (this.lowest === undefined || this.smoothed <= this.lowest) {
      this.lowest = this.smoothed;
    } else {
      const minutes = (now - this.lastBaselineAt) / 60_000;
      this.lowest = Math.min(this.smoothed, this.lowest * (1 + BASELINE_RISE_PER_MINUTE * minutes));
    }
    this.lastBaselineAt = now;
  }

  /** The smoothed latency over the baseline (1 before the first sample). */
  ratio(): number {
    if (this.smoothed === undefined || this.lowest === undefined) return 1;
    return this.smoothed / Math.max(BASELINE_FLOOR_MS, this.lowest);
  }

  baselineMs(): number | undefined {
    return this.lowest === undefined ? undefined : Math.max(BASELINE_FLOOR_MS, this.lowest);
  }

  /** Whether to refuse this new send, keyed by its idempotency key or message id. */
  decide(key: string, settings: LoadShedding): ShedDecision {
    const ratio = this.ratio();
    if (!settings.enabled || this.samples < settings.minSamples || ratio < settings.latencyMultiple || settings.share <= 0) return { shed: false, ratio };
    const now = this.now();
    if (now - this.lastSampleAt >= PROBE_INTERVAL_MS) return { shed: false, ratio, probe: true };
    return { shed: coin(key, Math.floor(now / settings.retryAfterMs)) < settings.share, ratio };
  }
}

/** A number in [0, 1) from the key and the window: the same within a window, independent across windows. */
function coin(key: string, window: number): number {
  return createHash('sha256').update(`${key}\n${window}`).digest().readUInt32BE(0) / 2 ** 32;
}
