/**
 * Every lease in the store: a shard's (routers), an agent's push lease (the replica pushing to it)
 * and the controllers' leader lease. One shape for all of them: a string `owner|fence` with a TTL
 * and a fencing counter beside it; scripts that write on a lease's behalf check its value first.
 * Renewing them on time is LeaseKeeper's job (lease-keeper.ts).
 */
import type { ControllerStore, PushLaneStore, ShardStore } from '../store.js';
import { pushLeaseHolder, type ControllerLease, type PushLease, type ShardLease } from '../types.js';
import type { RedisContext } from './context.js';

type LeaseParts = Pick<ShardStore, 'acquireShardLease' | 'renewShardLease' | 'releaseShardLease'> &
  Pick<PushLaneStore, 'acquirePushLease' | 'renewPushLease' | 'releasePushLease' | 'heartbeatPushHolder' | 'removePushHolder'> &
  Pick<ControllerStore, 'acquireControllerLease' | 'renewControllerLease' | 'releaseControllerLease' | 'controllerLeaseHolder'>;

/** The fencing token of a lease value `owner|fence`. */
export function fenceOf(value: string): number {
  return Number(value.slice(value.lastIndexOf('|') + 1));
}

/**
 * Releases the agent's push lease if it is bound to a holder that is no longer alive (its liveness
 * key expired or was removed); true when it did. The release is fenced by the value read, so a
 * lease renewed or taken over meanwhile is left alone.
 */
export async function reclaimAbandonedPushLease(context: RedisContext, agentId: string): Promise<boolean> {
  const { keys, redis } = context;
  const value = await context.call('get push lease', () => redis.get(keys.pushLease(agentId)));
  if (!value) return false;
  const holder = pushLeaseHolder(value.slice(0, value.lastIndexOf('|')));
  if (holder === undefined) return false;
  if ((await context.call('push holder alive', () => redis.exists(keys.pushHolder(holder)))) === 1) return false;
  return (await context.run(context.scripts.release_lease, [keys.pushLease(agentId)], [value])) === 1;
}

export class RedisLeases implements LeaseParts {
  constructor(private readonly context: RedisContext) {}

  async acquireShardLease(shard: number, owner: string, ttlMs: number): Promise<ShardLease | null> {
    const held = await this.acquire(this.context.keys.lease(shard), this.context.keys.fence(shard), owner, ttlMs);
    return held && { shard, ...held };
  }

  async renewShardLease(lease: ShardLease, ttlMs: number): Promise<boolean> {
    return this.renew(this.context.keys.lease(lease.shard), lease.value, ttlMs);
  }

  async releaseShardLease(lease: ShardLease): Promise<void> {
    await this.release(this.context.keys.lease(lease.shard), lease.value);
  }

  async acquirePushLease(agentId: string, owner: string, ttlMs: number, options: { preempt?: string } = {}): Promise<PushLease | null> {
    const { keys } = this.context;
    let held = await this.acquire(keys.pushLease(agentId), keys.pushFence(agentId), owner, ttlMs, options.preempt);
    if (!held && (await reclaimAbandonedPushLease(this.context, agentId))) held = await this.acquire(keys.pushLease(agentId), keys.pushFence(agentId), owner, ttlMs, options.preempt);
    return held && { agentId, ...held };
  }

  async heartbeatPushHolder(holder: string, ttlMs: number): Promise<void> {
    await this.context.call('push holder heartbeat', () => this.context.redis.set(this.context.keys.pushHolder(holder), '1', 'PX', ttlMs));
  }

  async removePushHolder(holder: string): Promise<void> {
    await this.context.call('push holder leave', () => this.context.redis.del(this.context.keys.pushHolder(holder)));
  }

  async renewPushLease(lease: PushLease, ttlMs: number): Promise<boolean> {
    return this.renew(this.context.keys.pushLease(lease.agentId), lease.value, ttlMs);
  }

  async releasePushLease(lease: PushLease): Promise<void> {
    await this.release(this.context.keys.pushLease(lease.agentId), lease.value);
  }

  async acquireControllerLease(owner: string, ttlMs: number): Promise<ControllerLease | null> {
    return this.acquire(this.context.keys.controllerLease(), this.context.keys.controllerFence(), owner, ttlMs);
  }

  async renewControllerLease(lease: ControllerLease, ttlMs: number): Promise<boolean> {
    return this.renew(this.context.keys.controllerLease(), lease.value, ttlMs);
  }

  async releaseControllerLease(lease: ControllerLease): Promise<void> {
    await this.release(this.context.keys.controllerLease(), lease.value);
  }

  async controllerLeaseHolder(): Promise<string | null> {
    const value = await this.context.call('get controller lease', () => this.context.redis.get(this.context.keys.controllerLease()));
    return value ? value.slice(0, value.lastIndexOf('|')) : null;
  }

  /** Takes a free lease (or extends our own) with a fresh fencing token; null when another owner holds it. */
  private async acquire(leaseKey: string, fenceKey: string, owner: string, ttlMs: number, preempt = ''): Promise<{ owner: string; value: string; fence: number } | null> {
    const value = (await this.context.run(this.context.scripts.acquire_lease, [leaseKey, fenceKey], [owner, ttlMs, preempt])) as string | null;
    if (!value) return null;
    return { owner, value, fence: fenceOf(value) };
  }

  private async renew(leaseKey: string, value: string, ttlMs: number): Promise<boolean> {
    return (await this.context.run(this.context.scripts.renew_lease, [leaseKey], [value, ttlMs])) === 1;
  }

  private async release(leaseKey: string, value: string): Promise<void> {
    await this.context.run(this.context.scripts.release_lease, [leaseKey], [value]);
  }
}
