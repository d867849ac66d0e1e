/**
 * An agent's push lane (PushLaneStore, leases aside: leases.ts): what the replica pushing to the
 * agent reads through the push group, settles (settle_push, settle_round), hands back to the router
 * (fail_push) or moves to the poll lane (drain_push_lane); the 2026-07-28 round (take_round).
 */
import type { DeliveryVia } from '@agent-bridge/protocol';
import { decodePushLaneEntry } from '../entry-codec.js';
import { doorbellTopics, PUSH_GROUP } from '../keys.js';
import type { PushLaneStore } from '../store.js';
import type { PushLaneEntry, PushLease, TakenRound } from '../types.js';
import { claimAll, consumersOf, deleteConsumer, ensureGroup, readGroup } from './consumer-groups.js';
import { SCRIPT_CHUNK, type RedisContext } from './context.js';
import { fenceOf, reclaimAbandonedPushLease } from './leases.js';

type PushParts = Omit<PushLaneStore, 'acquirePushLease' | 'renewPushLease' | 'releasePushLease' | 'heartbeatPushHolder' | 'removePushHolder'>;
type PushSettlement = { entry: PushLaneEntry; state: 'answered' | 'declined' | 'cancelled' };

export class RedisPushLanes implements PushParts {
  constructor(private readonly context: RedisContext) {}

  async takeRound(agentId: string, owner: string, ttlMs: number, consumer: string, count: number): Promise<TakenRound | 'empty' | 'held'> {
    const { keys, scripts } = this.context;
    const take = async () =>
      (await this.context.run(scripts.take_round, [keys.pushLease(agentId), keys.pushFence(agentId), keys.lane(agentId, 'push')], [owner, ttlMs, PUSH_GROUP, consumer, count])) as
        'EMPTY' | 'HELD' | [string, Array<[string, string[]]>, Array<[string, string[]]>];
    // An idle agent's lane is empty: one XLEN says so, without the script (a 2026-07-28 agent waits in a call after another).
    if ((await this.context.call('xlen', () => this.context.redis.xlen(keys.lane(agentId, 'push')))) === 0) return 'empty';
    let reply = await take();
    // Held by the deliverer of a replica that died: released, and the round takes it.
    if (reply === 'HELD' && (await reclaimAbandonedPushLease(this.context, agentId))) reply = await take();
    if (reply === 'EMPTY') return 'empty';
    if (reply === 'HELD') return 'held';
    const [value, pending, fresh] = reply;
    return {
      lease: { agentId, owner, value, fence: fenceOf(value) },
      pending: pending.map(([id, flat]) => decodePushLaneEntry(id, flat)),
      fresh: fresh.map(([id, flat]) => decodePushLaneEntry(id, flat)),
    };
  }

  async settleRound(lease: PushLease, settlements: ReadonlyArray<PushSettlement>): Promise<{ pushRemaining: number; mailbox: { last: string; acked: string } }> {
    const { keys, scripts, options } = this.context;
    const shard = keys.shardOf(lease.agentId);
    const [, remaining, last, acked] = (await this.context.run(
      scripts.settle_round,
      [keys.lane(lease.agentId, 'push'), keys.pushLease(lease.agentId), keys.openMessages(shard), keys.pushAgents(shard), keys.mailbox(lease.agentId)],
      [PUSH_GROUP, lease.value, Date.now(), options.ledgerRetentionSeconds, lease.agentId, keys.ledgerPrefix(shard), JSON.stringify(settlements.map(({ entry, state }) => [entry.id, entry.messageId, state]))],
    )) as [number, number, string, string];
    return { pushRemaining: Number(remaining), mailbox: { last: String(last), acked: String(acked) } };
  }

  async pushLaneState(agentId: string): Promise<{ length: number; leased: boolean }> {
    const { keys } = this.context;
    const [length, leased] = await this.context.exec('push lane state', this.context.pipeline().xlen(keys.lane(agentId, 'push')).exists(keys.pushLease(agentId)));
    return { length: Number(length ?? 0), leased: Number(leased ?? 0) === 1 };
  }

  async readPushEntries(agentId: string, ids: readonly string[]): Promise<PushLaneEntry[]> {
    if (ids.length === 0) return [];
    const key = this.context.keys.lane(agentId, 'push');
    const pipeline = this.context.pipeline();
    for (const id of ids) pipeline.xrange(key, id, id);
    const entries: PushLaneEntry[] = [];
    for (const reply of await this.context.exec('xrange push', pipeline)) {
      const [found] = reply as Array<[string, string[]]>;
      if (found) entries.push(decodePushLaneEntry(found[0], found[1]));
    }
    return entries;
  }

  async claimPushLane(lease: PushLease, consumer: string): Promise<number> {
    const key = this.context.keys.lane(lease.agentId, 'push');
    await ensureGroup(this.context, key, PUSH_GROUP);
    const claimed = await claimAll(this.context, key, PUSH_GROUP, consumer);
    // The lease makes us the lane's only consumer: earlier ones (replicas gone, sessions closed) own
    // nothing now and are forgotten, so reconnects do not pile consumers up in Redis.
    for (const other of await consumersOf(this.context, key, PUSH_GROUP)) {
      if (other.name !== consumer && other.pending === 0) await deleteConsumer(this.context, key, PUSH_GROUP, other.name);
    }
    return claimed;
  }

  async readPushLane(agentId: string, consumer: string, which: 'pending' | 'new', count: number): Promise<PushLaneEntry[]> {
    const key = this.context.keys.lane(agentId, 'push');
    const entries: PushLaneEntry[] = [];
    const gone: string[] = [];
    for (const [id, flat] of await readGroup(this.context, 'xreadgroup push', key, PUSH_GROUP, consumer, which, count)) {
      if (flat === null) {
        gone.push(id); // drained or settled meanwhile: nothing left to deliver
        continue;
      }
      entries.push(decodePushLaneEntry(id, flat));
    }
    if (gone.length > 0) await this.context.call('xack push', () => this.context.redis.xack(key, PUSH_GROUP, ...gone));
    return entries;
  }

  async settlePush(lease: PushLease, entry: PushLaneEntry, state: 'answered' | 'declined' | 'cancelled' | 'delivered'): Promise<void> {
    const { keys, scripts, options } = this.context;
    const shard = keys.shardOf(lease.agentId);
    await this.context.run(
      scripts.settle_push,
      [keys.lane(lease.agentId, 'push'), keys.pushLease(lease.agentId), keys.ledgerInShard(shard, entry.messageId), keys.openMessages(shard), keys.pushAgents(shard)],
      [PUSH_GROUP, entry.id, lease.value, state, Date.now(), options.ledgerRetentionSeconds, lease.agentId, entry.messageId],
    );
  }

  async failPush(lease: PushLease, entry: PushLaneEntry, reason: string): Promise<void> {
    const { keys, scripts } = this.context;
    const shard = keys.shardOf(lease.agentId);
    await this.context.run(
      scripts.fail_push,
      [keys.lane(lease.agentId, 'push'), keys.pushLease(lease.agentId), keys.events(shard), keys.pushAgents(shard)],
      [PUSH_GROUP, entry.id, lease.value, reason, keys.eventsBell(shard), lease.agentId],
    );
  }

  async drainPushLane(lease: PushLease, via: DeliveryVia): Promise<number> {
    const { keys, scripts } = this.context;
    const shard = keys.shardOf(lease.agentId);
    let moved = 0;
    for (;;) {
      const [count, remaining] = (await this.context.run(
        scripts.drain_push_lane,
        [keys.lane(lease.agentId, 'push'), keys.lane(lease.agentId, 'poll'), keys.mailbox(lease.agentId), keys.pushLease(lease.agentId), keys.pushAgents(shard)],
        [lease.value, keys.ledgerPrefix(shard), via, Date.now(), SCRIPT_CHUNK, lease.agentId, keys.lanesBell(shard), PUSH_GROUP, doorbellTopics.lane(lease.agentId, 'poll')],
      )) as [number, number];
      moved += Number(count);
      if (Number(remaining) === 0) return moved;
    }
  }

  async agentsWithPushBacklog(shard: number): Promise<string[]> {
    return this.context.call('push agents', () => this.context.redis.smembers(this.context.keys.pushAgents(shard)));
  }

  async pushBacklogAmong(agentIds: Iterable<string>): Promise<string[]> {
    const { keys } = this.context;
    const wanted = new Set(agentIds);
    if (wanted.size === 0) return [];
    const pipeline = this.context.pipeline();
    for (const shard of new Set([...wanted].map((agentId) => keys.shardOf(agentId)))) pipeline.smembers(keys.pushAgents(shard));
    const members = (await this.context.exec('push agents', pipeline)) as string[][];
    return members.flat().filter((agentId) => wanted.has(agentId));
  }
}
