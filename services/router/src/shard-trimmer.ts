/**
 * Keeps a shard's events stream small: trims the entries every group has acknowledged and forgets
 * consumers (routers that are gone) that own nothing. Runs when the shard worker has nothing to do.
 */
import type { ShardStore } from '@agent-bridge/event-store';
import type { Logger } from '@agent-bridge/observability';

/** A consumer idle this long with nothing pending is a router that is gone. */
const IDLE_CONSUMER_MS = 60 * 60 * 1000;

export class ShardTrimmer {
  private lastAt = 0;

  constructor(
    private readonly shard: number,
    private readonly deps: { store: ShardStore; logger: Logger; intervalMs: number },
  ) {}

  async maybeTrim(): Promise<void> {
    const now = Date.now();
    if (now - this.lastAt < this.deps.intervalMs) return;
    this.lastAt = now;
    const trimmed = await this.deps.store.trimShard(this.shard);
    const pruned = await this.deps.store.pruneIdleConsumers(this.shard, IDLE_CONSUMER_MS);
    if (trimmed > 0 || pruned > 0) this.deps.logger.debug({ shard: this.shard, trimmed, pruned }, 'trimmed acknowledged shard entries');
  }
}
