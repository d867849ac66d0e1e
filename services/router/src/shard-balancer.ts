import { randomBytes } from 'node:crypto';
import type { ActivityStore, Doorbell, Keys, LedgerStore, PresenceStore, PushLaneStore, ShardLease, ShardStore } from '@agent-bridge/event-store';
import { doorbellTopics, fnv1a32, LeaseKeeper, sleep } from '@agent-bridge/event-store';
import type { FlagSnapshot } from '@agent-bridge/flags';
import type { BridgeMetrics, Logger } from '@agent-bridge/observability';
import { ShardWorker, type ShardWorkerOptions } from './shard-worker.js';

export interface ShardBalancerOptions extends ShardWorkerOptions {
  routerId: string;
  leaseTtlMs: number;
}

/**
 * Shares the shards out among the live router replicas: the router service's one job besides
 * routing itself (shard-worker.ts). Each replica heartbeats into a membership set, aims for
 * ceil(shards / replicas) shards, prefers shards by rendezvous hashing (so replicas rarely compete
 * for the same one), and keeps each shard's lease with a LeaseKeeper (renewed every third of the
 * TTL). A replica that dies stops renewing; its shards are free once the TTL runs out and its
 * pending entries are claimed by the next owner.
 */
export class ShardBalancer {
  private readonly workers = new Map<number, { worker: ShardWorker; keeper: LeaseKeeper<ShardLease> }>();
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
    private readonly options: ShardBalancerOptions,
  ) {
    this.instanceId = `${options.routerId}.${randomBytes(4).toString('hex')}`;
    this.preference = deps.keys.allShards().sort((a, b) => fnv1a32(`${this.instanceId}/${b}`) - fnv1a32(`${this.instanceId}/${a}`));
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

  /** Membership heartbeat, then as many shards as this replica's share, then the surplus given back. Leases renew on their own. */
  private async tick(): Promise<void> {
    const { store } = this.deps;
    const { leaseTtlMs } = this.options;
    const members = await store.heartbeatRouter(this.instanceId, leaseTtlMs);
    const target = Math.ceil(this.deps.keys.shardCount / Math.max(1, members.length));

    for (const shard of this.preference) {
      if (this.workers.size >= target) break;
      if (this.workers.has(shard)) continue;
      const acquiredAt = Date.now();
      const lease = await store.acquireShardLease(shard, this.instanceId, leaseTtlMs);
      if (!lease) continue;
      this.own(lease, acquiredAt);
    }
    if (this.workers.size > target) {
      const surplus = [...this.preference]
        .reverse()
        .filter((shard) => this.workers.has(shard))
        .slice(0, this.workers.size - target);
      for (const shard of surplus) await this.release(shard);
    }
    this.deps.metrics.shardsOwned.set(this.workers.size);
  }

  /** Starts the worker of a shard just acquired, its lease kept until released or lost. */
  private own(lease: ShardLease, acquiredAt: number): void {
    const { store, logger } = this.deps;
    const shard = lease.shard;
    const giveUp = (owned: { worker: ShardWorker; keeper: LeaseKeeper<ShardLease> }) => {
      if (this.workers.get(shard) !== owned) return;
      this.workers.delete(shard);
      owned.keeper.forget();
      void owned.worker.stop();
    };
    const keeper: LeaseKeeper<ShardLease> = new LeaseKeeper<ShardLease>({
      ttlMs: this.options.leaseTtlMs,
      renew: (held, ttlMs) => store.renewShardLease(held, ttlMs),
      release: (held) => store.releaseShardLease(held),
      onLost: (reason) => {
        logger.warn({ shard, reason }, 'shard lease lost before renewal; giving the shard up');
        giveUp(owned);
      },
      onRenewError: (error) => logger.error({ err: error, shard }, 'shard lease renewal failed; retrying'),
    });
    const worker = new ShardWorker(
      lease,
      {
        store,
        doorbell: this.deps.doorbell,
        flags: this.deps.flags,
        metrics: this.deps.metrics,
        logger,
        consumer: this.instanceId,
        onLeaseLost: () => giveUp(owned),
      },
      this.options,
    );
    const owned = { worker, keeper };
    this.workers.set(shard, owned);
    keeper.hold(lease, acquiredAt);
    worker.start();
    logger.info({ shard, fence: lease.fence }, 'acquired shard');
  }

  private async release(shard: number): Promise<void> {
    const owned = this.workers.get(shard);
    if (!owned) return;
    this.workers.delete(shard);
    await owned.worker.stop();
    await owned.keeper.release();
    this.deps.logger.info({ shard }, 'released shard');
  }
}
