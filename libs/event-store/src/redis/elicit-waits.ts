/**
 * `elicit` calls waiting for their answer (ElicitWaitStore) and how their questions end in the
 * ledger: closed by the caller (close_message), or abandoned by the census once nobody waits any
 * more (LedgerStore.abandonOverdueElicits, decision 0010).
 */
import type { ElicitWaitStore, LedgerStore } from '../store.js';
import type { ElicitAnswer, ElicitEndState, LedgerState } from '../types.js';
import type { RedisContext } from './context.js';

/** How long a finished wait record stays, so a late reply still finds it expired (not waiting). */
const FINISHED_WAIT_TTL_MS = 60_000;

export class RedisElicitWaits implements ElicitWaitStore, Pick<LedgerStore, 'abandonOverdueElicits'> {
  constructor(private readonly context: RedisContext) {}

  async beginElicitWait(senderId: string, messageId: string, ttlMs: number): Promise<void> {
    const key = this.context.keys.elicitWait(senderId, messageId);
    // HSETNX: a retried `elicit` (same idempotency key) must not turn an answer back into "waiting".
    await this.context.call('begin elicit', () => this.context.redis.multi().hsetnx(key, 'state', 'waiting').pexpire(key, ttlMs).exec());
  }

  async readElicitAnswer(senderId: string, messageId: string): Promise<ElicitAnswer | null> {
    const [state, answer] = await this.context.call('read elicit', () => this.context.redis.hmget(this.context.keys.elicitWait(senderId, messageId), 'state', 'answer'));
    return state === 'answered' && answer ? (JSON.parse(answer) as ElicitAnswer) : null;
  }

  async finishElicitWait(senderId: string, messageId: string): Promise<ElicitAnswer | null> {
    const [status, answer] = (await this.context.run(this.context.scripts.finish_elicit, [this.context.keys.elicitWait(senderId, messageId)], [FINISHED_WAIT_TTL_MS])) as [string, string?];
    return status === 'ANSWERED' && answer ? (JSON.parse(answer) as ElicitAnswer) : null;
  }

  async closeMessage(messageId: string, targetAgentId: string, state: Exclude<ElicitEndState, 'abandoned'>, answer?: ElicitAnswer): Promise<LedgerState | null> {
    return this.closeInShard(this.context.keys.shardOf(targetAgentId), messageId, state, answer);
  }

  async extendElicitDeadline(messageId: string, targetAgentId: string, deadlineAt: number): Promise<void> {
    const { keys, options } = this.context;
    // XX: only a question still open; GT: never earlier than it was.
    const score = String(deadlineAt + options.elicitCloseGraceMs);
    await this.context.call('extend elicit deadline', () => this.context.redis.zadd(keys.openMessages(keys.shardOf(targetAgentId)), 'XX', 'GT', score, messageId));
  }

  async abandonOverdueElicits(shard: number, now: number, limit: number): Promise<string[]> {
    const { keys, redis } = this.context;
    const overdue = await this.context.call('zrange overdue', () => redis.zrangebyscore(keys.openMessages(shard), '-inf', String(now), 'LIMIT', 0, limit));
    if (overdue.length === 0) return [];
    const pipeline = this.context.pipeline();
    for (const id of overdue) pipeline.hmget(keys.ledgerInShard(shard, id), 'awaits_reply', 'from');
    const rows = await this.context.exec('ledger lookup', pipeline);
    const abandoned: string[] = [];
    for (const [i, id] of overdue.entries()) {
      const [awaitsReply, from] = (rows[i] ?? []) as Array<string | null>;
      if (awaitsReply !== '1' || !from) continue;
      // Closed first, and only while still overdue: a replay that moved the deadline keeps it open.
      if ((await this.closeInShard(shard, id, 'abandoned', undefined, now)) !== 'abandoned') continue;
      // Then its wait ends as the caller's would have: a reply from now on reaches the sender as an
      // ordinary message, and one stored meanwhile is recorded beside the question.
      const answer = await this.finishElicitWait(from, id);
      if (answer) await this.closeInShard(shard, id, 'abandoned', answer);
      abandoned.push(id);
    }
    return abandoned;
  }

  private async closeInShard(shard: number, messageId: string, state: ElicitEndState, answer?: ElicitAnswer, ifOverdueAt?: number): Promise<LedgerState | null> {
    const { keys, scripts, options } = this.context;
    const after = (await this.context.run(
      scripts.close_message,
      [keys.ledgerInShard(shard, messageId), keys.openMessages(shard)],
      [state, Date.now(), options.ledgerRetentionSeconds, answer === undefined ? '' : JSON.stringify(answer), messageId, ifOverdueAt ?? ''],
    )) as string;
    return after === '' ? null : (after as LedgerState);
  }
}
