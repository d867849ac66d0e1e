/** An agent's poll lane and mailbox (MailboxStore): what `wait_for_messages` reads and acknowledges. */
import { decodePollLaneEntry } from '../entry-codec.js';
import type { LaneKind } from '../keys.js';
import type { MailboxStore } from '../store.js';
import type { AckOutcome, MailboxState, PollLanePage } from '../types.js';
import { SCRIPT_CHUNK, type RedisContext, type Reply } from './context.js';

export class RedisMailboxes implements MailboxStore {
  constructor(private readonly context: RedisContext) {}

  async mailboxState(agentId: string): Promise<MailboxState> {
    const [acked, last, seq] = await this.context.call('hmget', () => this.context.redis.hmget(this.context.keys.mailbox(agentId), 'acked', 'last', 'seq'));
    return { acked: acked ?? '0-0', last: last ?? '0-0', sequence: Number(seq ?? 0) };
  }

  async ackPollLane(agentId: string, cursor: string): Promise<AckOutcome> {
    const { keys, scripts, options } = this.context;
    const shard = keys.shardOf(agentId);
    let total = 0;
    for (;;) {
      const [status, a, b, c] = (await this.context.run(
        scripts.ack_poll_lane,
        [keys.lane(agentId, 'poll'), keys.mailbox(agentId), keys.openMessages(shard)],
        [cursor, Date.now(), keys.ledgerPrefix(shard), options.ledgerRetentionSeconds, SCRIPT_CHUNK],
      )) as Reply;
      if (status === 'PARTIAL') {
        total += Number(a);
        continue;
      }
      if (status === 'OK') return { status: 'acked', count: total + Number(a), acked: String(b), last: String(c) };
      if (status === 'EXPIRED') return { status: 'expired', acked: String(a) };
      return { status: 'unknown', last: String(a) };
    }
  }

  async readPollLane(agentId: string, after: string, count: number): Promise<PollLanePage> {
    const raw = await this.context.call('xrange', () => this.context.redis.xrange(this.context.keys.lane(agentId, 'poll'), `(${after}`, '+', 'COUNT', count + 1));
    return { entries: raw.slice(0, count).map(([id, flat]) => decodePollLaneEntry(id, flat)), hasMore: raw.length > count };
  }

  async laneLength(agentId: string, lane: LaneKind): Promise<number> {
    return this.context.call('xlen', () => this.context.redis.xlen(this.context.keys.lane(agentId, lane)));
  }
}
