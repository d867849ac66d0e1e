/**
 * Per-client token buckets for the progress page's lookup and feedback: `perMinute` requests a
 * minute per client, in bursts of as many. The map of clients is bounded: when full, the client
 * seen least recently is forgotten (a forgotten client starts with a full bucket, so flooding the
 * map with invented addresses buys an attacker nothing it could not get from its own bucket).
 */
export class ClientRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly maxClients = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one request of `client`: 0 when allowed, otherwise the milliseconds until it would be. */
  take(client: string): number {
    const now = this.now();
    const refillPerMs = this.perMinute / 60_000;
    const bucket = this.buckets.get(client) ?? { tokens: this.perMinute, at: now };
    this.buckets.delete(client); // re-inserted last: the Map's order is least recently seen first
    bucket.tokens = Math.min(this.perMinute, bucket.tokens + (now - bucket.at) * refillPerMs);
    bucket.at = now;
    let wait = 0;
    if (bucket.tokens >= 1) bucket.tokens -= 1;
    else wait = Math.ceil((1 - bucket.tokens) / refillPerMs);
    this.buckets.set(client, bucket);
    if (this.buckets.size > this.maxClients) this.buckets.delete(this.buckets.keys().next().value!);
    return wait;
  }

  get size(): number {
    return this.buckets.size;
  }
}
