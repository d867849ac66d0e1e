import { randomBytes } from 'node:crypto';
import type { ActivityStore, Doorbell, Keys, LedgerStore, PresenceStore, PushLaneStore, ShardStore } from '@agent-bridge/event-store';
import { doorbellTopics, fnv1a32, sleep } from '@agent-bridge/event-store';
import type { FlagSnapshot } from '@agent-bridge/flags';
import type { BridgeMetrics, Logger } from '@agent-bridge/observability';
import { ShardWorker, type ShardWorkerOptions } from './shard-worker.js';

export interface RouterOptions extends ShardWorkerOptions {
  routerId: string;
  leaseTtlMs: number;
}

/**
 * Shares the shards out among the live router replicas. Each replica heartbeats into a membership
 * set, aims for ceil(shards / replicas) shards, prefers shards by rendezvous hashing (so replicas
 * rarely compete for the same one), and renews its leases every third of their TTL. A replica that
 * dies stops renewing; its shards are free once the TTL runs out and its pending entries are
 * claimed by the next owner.
 */
export class Router {
  private readonly workers = new Map<number, ShardWorker>();
  private readonly stopController = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly preference: number[];
  /**
   * Lease owner and consumer name of this process. Unique per incarnation: a restarted router (or
   * a second process misconfigured with the same ROUTER_ID) must never inherit leases it did not take.
   */
  readonly instanceId: string;

  constructor(
    private readonly deps: {
      store: ShardStore & PresenceStore & PushLaneStore & LedgerStore & ActivityStore;
      doorbell: Doorbell;
      keys: Keys;
      flags: () => FlagSnapshot;
      metrics: BridgeMetrics;
      logger: Logger;
    },
    private readonly options: RouterOptions,
  ) {
    this.instanceId = `${options.routerId}.${randomBytes(4).toString('hex')}`;
    this.preference = deps.keys
      .allShards()
      .sort((a, b) => fnv1a32(`${this.instanceId}/${b}`) - fnv1a32(`${this.instanceId}/${a}`));
  }

  /** Wakes every shard worker (after a flag change: rollbacks drain push lanes within a second). */
  wakeAll(): void {
    for (const shard of this.workers.keys()) this.deps.doorbell.ring(doorbellTopics.events(shard));
  }

  ownedShards(): number[] {
    return [...this.workers.keys()].sort((a, b) => a - b);
  }

  async start(): Promise<void> {
    // Series that exist from the start: rate() and the adapter alert see 0, not "no data".
    this.deps.metrics.adapterErrors.inc({ direction: 'to_elicitation' }, 0);
    await this.tick();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopController.abort();
    await this.loop;
    await Promise.all([...this.workers.keys()].map((shard) => this.release(shard)));
    await this.deps.store.leaveRouters(this.instanceId).catch(() => undefined);
  }

  private async run(): Promise<void> {
    const interval = Math.max(100, Math.floor(this.options.leaseTtlMs / 3));
    while (!this.stopController.signal.aborted) {
      await sleep(interval, this.stopController.signal);
      if (this.stopController.signal.aborted) break;
      try {
        await this.tick();
      } catch (error) {
        this.deps.logger.error({ err: error }, 'lease maintenance failed; retrying');
      }
    }
  }

  private async tick(): Promise<void> {
    const { store, logger } = this.deps;
    const { leaseTtlMs } = this.options;
    const members = await store.heartbeatRouter(this.instanceId, leaseTtlMs);
    const target = Math.ceil(this.deps.keys.shardCount / Math.max(1, members.length));

    for (const [shard, worker] of this.workers) {
      if (!(await store.renewShardLease(worker.lease, leaseTtlMs))) {
        logger.warn({ shard }, 'lease expired before renewal; giving the shard up');
        this.workers.delete(shard);
        await worker.stop();
      }
    }
    for (const shard of this.preference) {
      if (this.workers.size >= target) break;
      if (this.workers.has(shard)) continue;
      const lease = await store.acquireShardLease(shard, this.instanceId, leaseTtlMs);
      if (!lease) continue;
      const worker = new ShardWorker(
        lease,
        {
          store,
          doorbell: this.deps.doorbell,
          flags: this.deps.flags,
          metrics: this.deps.metrics,
          logger: this.deps.logger,
          consumer: this.instanceId,
          onLeaseLost: (lost) => {
            if (this.workers.get(lost) === worker) this.workers.delete(lost);
          },
        },
        this.options,
      );
      this.workers.set(shard, worker);
      worker.start();
      logger.info({ shard, fence: lease.fence }, 'acquired shard');
    }
    if (this.workers.size > target) {
      const surplus = [...this.preference].reverse().filter((shard) => this.workers.has(shard)).slice(0, this.workers.size - target);
      for (const shard of surplus) await this.release(shard);
    }
    this.deps.metrics.shardsOwned.set(this.workers.size);
  }

  private async release(shard: number): Promise<void> {
    const worker = this.workers.get(shard);
    if (!worker) return;
    this.workers.delete(shard);
    await worker.stop();
    await this.deps.store.releaseShardLease(worker.lease).catch(() => undefined);
    this.deps.logger.info({ shard }, 'released shard');
  }
}
