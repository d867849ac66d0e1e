/**
 * Keeps one lease alive: renews it every `renewFraction` of its TTL and says when it is lost. The
 * one renewer behind every holder — a router's shard leases, an elicitation replica's push lease
 * per agent, the controllers' leader lease (redis/leases.ts has the store side of all three).
 *
 * A lease counts as held (`current()`) only until its last successful renewal plus the TTL minus a
 * safety margin: a holder that cannot reach the store stops acting before the lease could expire
 * in Redis, so clock drift cannot make two writers. Writes are fenced by the lease value inside
 * Redis as well; the margin is for what fencing cannot cover (decisions, side effects).
 */
export type LeaseLossReason =
  /** The store answered that the lease is no longer ours (it ran out, or someone took it over). */
  | 'expired'
  /** The store did not answer before the lease ran out. */
  | 'unreachable';

export interface LeaseKeeperOptions<L> {
  ttlMs: number;
  renew(lease: L, ttlMs: number): Promise<boolean>;
  release(lease: L): Promise<void>;
  /** Called once per lost lease, after the keeper forgot it. */
  onLost(reason: LeaseLossReason, lease: L): void;
  /** A renewal that failed without an answer (the lease may still be ours): logged by the holder. */
  onRenewError?(error: unknown, lease: L): void;
  /** Fraction of the TTL between renewals (default 1/3: two renewals may fail before the lease runs out). */
  renewFraction?: number;
  /** How long before its TTL a lease stops counting as held (default 500 ms, at most half the TTL). */
  safetyMarginMs?: number;
}

/** Renewals are never closer together than this, whatever the TTL. */
const MIN_RENEW_INTERVAL_MS = 100;
const DEFAULT_SAFETY_MARGIN_MS = 500;

export class LeaseKeeper<L> {
  private held: L | undefined;
  private validUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<boolean> | undefined;
  private readonly marginMs: number;
  private readonly intervalMs: number;

  constructor(private readonly options: LeaseKeeperOptions<L>) {
    this.marginMs = Math.min(options.safetyMarginMs ?? DEFAULT_SAFETY_MARGIN_MS, options.ttlMs / 2);
    this.intervalMs = Math.max(MIN_RENEW_INTERVAL_MS, Math.floor(options.ttlMs * (options.renewFraction ?? 1 / 3)));
  }

  /** Starts keeping a lease just acquired at `acquiredAt` (when the acquiring call was sent). */
  hold(lease: L, acquiredAt: number = Date.now()): void {
    this.forget();
    this.held = lease;
    this.validUntil = acquiredAt + this.options.ttlMs - this.marginMs;
    this.timer = setInterval(() => void this.renewNow(), this.intervalMs);
    this.timer.unref();
  }

  /** The lease while it surely is ours; undefined otherwise. */
  current(): L | undefined {
    return this.held !== undefined && Date.now() < this.validUntil ? this.held : undefined;
  }

  /** The lease held, even past its margin (for fenced writes, which Redis checks itself). */
  get lease(): L | undefined {
    return this.held;
  }

  /** Renews at once (the timer does it on its own); false when the lease is not held afterwards. */
  renewNow(): Promise<boolean> {
    this.renewing ??= this.renewOnce().finally(() => (this.renewing = undefined));
    return this.renewing;
  }

  /** Stops renewing and gives the lease back. */
  async release(): Promise<void> {
    const lease = this.held;
    this.forget();
    if (lease !== undefined) await this.options.release(lease).catch(() => undefined);
  }

  /** Stops renewing and forgets the lease without giving it back (it is lost, or someone else's now). */
  forget(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.held = undefined;
    this.validUntil = 0;
  }

  private async renewOnce(): Promise<boolean> {
    const lease = this.held;
    if (lease === undefined) return false;
    const startedAt = Date.now();
    try {
      const renewed = await this.options.renew(lease, this.options.ttlMs);
      if (this.held !== lease) return this.held !== undefined; // released or replaced meanwhile
      if (renewed) {
        this.validUntil = startedAt + this.options.ttlMs - this.marginMs;
        return true;
      }
      this.lose('expired', lease);
      return false;
    } catch (error) {
      if (this.held !== lease) return this.held !== undefined;
      this.options.onRenewError?.(error, lease);
      if (Date.now() < this.validUntil) return true;
      this.lose('unreachable', lease);
      return false;
    }
  }

  private lose(reason: LeaseLossReason, lease: L): void {
    this.forget();
    this.options.onLost(reason, lease);
  }
}
