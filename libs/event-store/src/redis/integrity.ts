/**
 * Envelope checksums (IntegrityStore, decision 0024): a lane entry that fails its checksum at
 * delivery is taken out (dead_letter_lane), and the count of such messages is what the controller
 * reads to switch read-only mode on. The router's own mismatches go through `deadLetter` (shards.ts).
 */
import { PUSH_GROUP, type LaneKind } from '../keys.js';
import type { IntegrityStore } from '../store.js';
import type { RedisContext } from './context.js';

export class RedisIntegrity implements IntegrityStore {
  constructor(private readonly context: RedisContext) {}

  async deadLetterLaneEntry(agentId: string, lane: LaneKind, entry: { id: string; messageId: string }, reason: string): Promise<boolean> {
    const { keys, scripts, options } = this.context;
    const shard = keys.shardOf(agentId);
    const deadLetterId = await this.context.run(
      scripts.dead_letter_lane,
      [keys.lane(agentId, lane), keys.ledgerInShard(shard, entry.messageId), keys.deadLetters(shard), keys.checksumMismatches(shard), keys.openMessages(shard), keys.pushAgents(shard)],
      [lane, entry.id, lane === 'push' ? PUSH_GROUP : '', reason, agentId, entry.messageId, Date.now(), options.ledgerRetentionSeconds],
    );
    return deadLetterId !== null && deadLetterId !== false;
  }

  async checksumMismatchCount(): Promise<number> {
    const { keys, redis } = this.context;
    const counts = await this.context.call('get checksum mismatches', () => Promise.all(keys.allShards().map((shard) => redis.get(keys.checksumMismatches(shard)))));
    return counts.reduce((sum, count) => sum + Number(count ?? 0), 0);
  }
}
