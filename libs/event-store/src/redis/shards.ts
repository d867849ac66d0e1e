/**
 * A router's side of the store (ShardStore, leases aside: leases.ts): router membership, a shard's
 * events stream read through the router group, routing entries into lanes (route_message), dead
 * letters, trimming and consumer pruning.
 */
import { decodeEventEntry } from '../entry-codec.js';
import { doorbellTopics, ROUTER_GROUP, type LaneKind } from '../keys.js';
import type { ShardStore } from '../store.js';
import type { EventEntry, RouteDecision, RouteOutcome, ShardLease } from '../types.js';
import { claimAll, consumersOf, deleteConsumer, ensureGroup, readGroup } from './consumer-groups.js';
import type { RedisContext, Reply } from './context.js';

type ShardParts = Omit<ShardStore, 'acquireShardLease' | 'renewShardLease' | 'releaseShardLease'>;

/** Entries one route_message call routes at most, so a big batch never holds Redis for long. */
const ROUTE_CHUNK = 100;

export class RedisShards implements ShardParts {
  constructor(private readonly context: RedisContext) {}

  async heartbeatRouter(routerId: string, ttlMs: number): Promise<string[]> {
    const now = Date.now();
    const key = this.context.keys.routerMembers();
    const replies = await this.context.call('router heartbeat', () =>
      this.context.redis
        .multi()
        .zadd(key, String(now + ttlMs), routerId)
        .zremrangebyscore(key, '-inf', String(now))
        .zrange(key, '0', '-1')
        .exec(),
    );
    const members = replies?.[2]?.[1] as string[] | undefined;
    return [...(members ?? [routerId])].sort();
  }

  async leaveRouters(routerId: string): Promise<void> {
    await this.context.call('router leave', () => this.context.redis.zrem(this.context.keys.routerMembers(), routerId));
  }

  async ensureShardGroup(shard: number): Promise<void> {
    await ensureGroup(this.context, this.context.keys.events(shard), ROUTER_GROUP);
  }

  async claimShardPending(shard: number, consumer: string): Promise<number> {
    return claimAll(this.context, this.context.keys.events(shard), ROUTER_GROUP, consumer);
  }

  async readShardEntries(shard: number, consumer: string, which: 'pending' | 'new', count: number): Promise<EventEntry[]> {
    const entries = await readGroup(this.context, 'xreadgroup', this.context.keys.events(shard), ROUTER_GROUP, consumer, which, count);
    return entries.map(([id, flat]) => decodeEventEntry(id, flat));
  }

  async route(lease: ShardLease, decisions: RouteDecision[]): Promise<RouteOutcome[]> {
    if (decisions.length === 0) return [];
    const { keys, options, scripts } = this.context;
    const shard = lease.shard;
    const shared = JSON.stringify({ group: ROUTER_GROUP, lease: lease.value, now: Date.now(), bell: keys.lanesBell(shard), log_max: options.communicationLogMaxLength, retention: options.ledgerRetentionSeconds });
    const commands: Array<{ keys: string[]; args: string[] }> = [];
    for (let start = 0; start < decisions.length; start += ROUTE_CHUNK) {
      const command = { keys: [keys.events(shard), keys.lease(shard), keys.communicationLog(shard), keys.openMessages(shard), keys.pushAgents(shard)], args: [shared] };
      for (const d of decisions.slice(start, start + ROUTE_CHUNK)) {
        command.keys.push(keys.lane(d.target, d.lane), keys.mailbox(d.target), keys.ledgerInShard(shard, d.messageId), d.answer ? keys.elicitWait(d.target, d.answer.in_reply_to) : keys.placeholder(d.target));
        command.args.push(
          JSON.stringify({
            entry_id: d.entryId,
            lane: d.lane,
            via: d.via,
            message_id: d.messageId,
            topic: doorbellTopics.lane(d.target, d.lane),
            mode: d.mode,
            failed_lane_id: d.failedLaneEntryId ?? '',
            answer: d.answer ? JSON.stringify(d.answer) : '',
            answer_topic: d.answer ? doorbellTopics.answer(d.answer.in_reply_to) : '',
            target: d.target,
            traceparent: d.traceparent ?? '',
            checksum: d.checksum ?? '',
          }),
          JSON.stringify(d.payload),
          d.pollPayload ? JSON.stringify(d.pollPayload) : '',
          JSON.stringify(d.communicationEvent),
        );
      }
      commands.push(command);
    }
    // One script call per chunk of the batch, the chunks in one pipeline: one connection executes
    // them in sequence, so the shard's order is kept, for one round trip. Re-running it after
    // NOSCRIPT is safe: the script is idempotent per message.
    const results = (await this.context.pipelineScript(scripts.route_message, commands)).flat() as Reply[];
    return results.map((result, i) => {
      const decision = decisions[i]!;
      const [status, a, b] = result;
      const base = { entryId: decision.entryId, messageId: decision.messageId };
      if (status === 'ROUTED') return { ...base, status: 'routed', lane: decision.lane, laneEntryId: String(a), sequence: Number(b) };
      if (status === 'ANSWERED') return { ...base, status: 'answered', lane: 'answer', laneEntryId: '', sequence: undefined };
      return { ...base, status: 'duplicate', lane: (a || decision.lane) as LaneKind, laneEntryId: String(b), sequence: undefined };
    });
  }

  async deadLetter(lease: ShardLease, entry: EventEntry, reason: string, mismatch?: { messageId: string }): Promise<void> {
    const { keys, scripts, options } = this.context;
    const shard = lease.shard;
    await this.context.run(
      scripts.dead_letter,
      [keys.events(shard), keys.lease(shard), keys.deadLetters(shard), keys.checksumMismatches(shard), mismatch ? keys.ledgerInShard(shard, mismatch.messageId) : keys.checksumMismatches(shard), keys.openMessages(shard)],
      [ROUTER_GROUP, entry.id, lease.value, reason, JSON.stringify(entry.fields), mismatch?.messageId ?? '', Date.now(), options.ledgerRetentionSeconds],
    );
  }

  async trimShard(shard: number): Promise<number> {
    return this.trimAcknowledged(this.context.keys.events(shard));
  }

  async trimAcknowledged(streamKey: string): Promise<number> {
    return Number(await this.context.run(this.context.scripts.trim_acknowledged, [streamKey], []));
  }

  async pruneIdleConsumers(shard: number, idleMs: number): Promise<number> {
    const key = this.context.keys.events(shard);
    let pruned = 0;
    for (const consumer of await consumersOf(this.context, key, ROUTER_GROUP)) {
      // Only a consumer with nothing pending can go: deleting one that owns entries would orphan them.
      if (consumer.pending === 0 && consumer.idle > idleMs) {
        await deleteConsumer(this.context, key, ROUTER_GROUP, consumer.name);
        pruned++;
      }
    }
    return pruned;
  }
}
