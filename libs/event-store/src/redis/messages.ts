/**
 * Accepting messages (MessageLog) and looking them up (the ledger part of LedgerStore): the
 * sender's idempotency key, its token bucket and backlog, the append to the target shard's events
 * stream, Redis memory pressure.
 */
import { envelopeChecksum } from '@agent-bridge/protocol';
import { createHash } from 'node:crypto';
import { decodeLedger } from '../entry-codec.js';
import { StoreError } from '../errors.js';
import type { LedgerStore, MessageLog } from '../store.js';
import type { Admission, AppendRequest, AppendResult, LedgerRecord, MemoryPressure, SendQuota, SendToAdmit } from '../types.js';
import type { RedisContext } from './context.js';

/** A sender at its backlog cap is told to retry after this long, and its backlog is re-counted at most this often. */
const BACKLOG_RETRY_MS = 1_000;
/** Redis memory use is read at most this often per process. */
const MEMORY_READ_INTERVAL_MS = 1_000;

export class RedisMessages implements MessageLog, Pick<LedgerStore, 'getMessage' | 'unaccountedMessages'> {
  private readonly lastPrune = new Map<string, { at: number; freed: Promise<number> }>();
  private memory: { at: number; pressure: MemoryPressure } | undefined;
  private memoryRead: Promise<MemoryPressure> | undefined;

  constructor(private readonly context: RedisContext) {}

  async ping(): Promise<void> {
    await this.context.call('ping', () => this.context.redis.ping());
  }

  async append(request: AppendRequest): Promise<AppendResult> {
    const { keys, scripts, options } = this.context;
    const { envelope } = request;
    let messageId = envelope.id;
    let replay = false;
    if (request.idempotencyKey !== undefined) {
      const fingerprint = createHash('sha256')
        .update(JSON.stringify([envelope.to, envelope.kind, envelope.content, envelope.metadata, envelope.inReplyTo ?? null, envelope.replySchema ?? null]))
        .digest('hex');
      const [status, boundId] = (await this.context.run(scripts.reserve_idempotency, [keys.idempotency(envelope.from, request.idempotencyKey)], [envelope.id, fingerprint, options.idempotencyTtlMs])) as [string, string];
      if (status === 'CONFLICT') {
        throw new StoreError('IDEMPOTENCY_CONFLICT', `idempotency key "${request.idempotencyKey}" already names message ${boundId} with different content`, { details: { messageId: boundId } });
      }
      replay = status === 'REPLAY';
      messageId = boundId;
    }
    // A replayed key may belong to a send that crashed between reserving the key and appending:
    // append_message is idempotent per message id, so appending again completes that send.
    const stored = replay ? { ...envelope, id: messageId } : envelope;
    const shard = keys.shardOf(stored.to);
    const [status, eventsEntryId] = (await this.context.run(
      request.answer ? scripts.append_answer : scripts.append_message,
      [keys.events(shard), keys.ledgerInShard(shard, messageId), keys.openMessages(shard)],
      [
        JSON.stringify({
          id: messageId,
          from: stored.from,
          to: stored.to,
          kind: stored.kind,
          protocol: stored.sourceProtocol,
          accepted_at: stored.acceptedAt,
          deadline_at: stored.deadlineAt,
          awaits_reply: request.awaitsReply ? '1' : '0',
          in_reply_to: stored.inReplyTo ?? '',
          traceparent: stored.traceparent ?? '',
          bell: keys.eventsBell(shard),
          open_until: request.awaitsReply ? stored.deadlineAt + options.elicitCloseGraceMs : stored.deadlineAt,
          // What the sender sent, fixed before it is stored: the router verifies it (decision 0024).
          checksum: envelopeChecksum(stored),
        }),
        JSON.stringify(stored),
      ],
    )) as [string, string];
    // Redis has it; with REDIS_WAIT_REPLICAS, a replica too, before the sender hears it was accepted.
    await this.context.waitForReplicas(`message ${messageId}`, keys.events(shard));
    return { messageId, eventsEntryId, duplicate: replay || status === 'DUPLICATE' };
  }

  async admitSend(send: SendToAdmit, quota: SendQuota): Promise<Admission> {
    const { keys, scripts } = this.context;
    const wait = send.elicitWaitTtlMs === undefined ? undefined : { key: keys.elicitWait(send.from, send.messageId), ttlMs: send.elicitWaitTtlMs };
    const redisKeys = [keys.sendQuota(send.from), keys.openSends(send.from), ...(wait ? [wait.key] : [])];
    const member = `${send.to}\n${send.messageId}`;
    for (let attempt = 0; ; attempt++) {
      const [verdict, value] = (await this.context.run(scripts.admit_send, redisKeys, [Date.now(), quota.ratePerSecond, quota.burst, quota.backlogMax, member, send.deadlineAt, ...(wait ? [wait.ttlMs] : [])])) as [string, number?];
      if (verdict === 'OK') return { admitted: true };
      if (verdict === 'RATE') return { admitted: false, reason: 'rate', retryAfterMs: Number(value) };
      if (attempt > 0 || (await this.pruneOpenSends(send.from)) === 0) {
        return { admitted: false, reason: 'backlog', retryAfterMs: BACKLOG_RETRY_MS, open: Number(value) };
      }
    }
  }

  /**
   * Forgets the sender's sends that left its backlog (delivered, answered, expired, or never
   * stored), at most once per BACKLOG_RETRY_MS per sender: a sender at its cap cannot make every
   * refused call cost a scan. Concurrent callers within that window share the last scan's result,
   * so each of them retries its admission when that scan freed room. Returns how many it forgot.
   */
  private pruneOpenSends(sender: string): Promise<number> {
    const now = Date.now();
    const last = this.lastPrune.get(sender);
    if (last && last.at > now - BACKLOG_RETRY_MS) return last.freed;
    if (this.lastPrune.size > 10_000) this.lastPrune.clear();
    const freed = this.scanOpenSends(sender);
    this.lastPrune.set(sender, { at: now, freed: freed.catch(() => 0) });
    return freed;
  }

  private async scanOpenSends(sender: string): Promise<number> {
    const { redis, keys } = this.context;
    const key = keys.openSends(sender);
    const members = await this.context.call('read open sends', () => redis.zrange(key, '0', '-1'));
    if (members.length === 0) return 0;
    const pipeline = this.context.pipeline();
    for (const member of members) {
      const [target = '', messageId = ''] = member.split('\n');
      pipeline.hget(keys.ledger(target, messageId), 'state');
    }
    const states = (await this.context.call('open sends ledger', () => pipeline.exec())) ?? [];
    // Left the backlog: delivered or further (a terminal state), or no record (expired, or a send refused after admission).
    const left = members.filter((_, i) => {
      const [error, state] = states[i] ?? [new Error('no reply'), null];
      return !error && state !== 'accepted' && state !== 'routed';
    });
    if (left.length > 0) await this.context.call('prune open sends', () => redis.zrem(key, ...left));
    return left.length;
  }

  async memoryPressure(): Promise<MemoryPressure> {
    const now = Date.now();
    if (this.memory && now - this.memory.at < MEMORY_READ_INTERVAL_MS) return this.memory.pressure;
    this.memoryRead ??= this.context
      .call('info memory', () => this.context.redis.info('memory'))
      .then((info) => {
        const field = (name: string): number => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
        const usedBytes = field('used_memory');
        const limitBytes = field('maxmemory') || this.context.options.memoryLimitBytes;
        const pressure: MemoryPressure = { usedBytes, limitBytes, ratio: limitBytes > 0 ? usedBytes / limitBytes : 0 };
        this.memory = { at: Date.now(), pressure };
        return pressure;
      })
      .finally(() => (this.memoryRead = undefined));
    return this.memoryRead;
  }

  async getMessage(messageId: string, targetAgentId?: string): Promise<LedgerRecord | null> {
    const { redis, keys } = this.context;
    if (targetAgentId !== undefined) {
      const hash = await this.context.call('hgetall', () => redis.hgetall(keys.ledger(targetAgentId, messageId)));
      return decodeLedger(hash);
    }
    const pipeline = this.context.pipeline();
    for (const shard of keys.allShards()) pipeline.hgetall(keys.ledgerInShard(shard, messageId));
    for (const hash of await this.context.exec('ledger lookup', pipeline)) {
      const record = decodeLedger(hash as Record<string, string>);
      if (record) return record;
    }
    return null;
  }

  async unaccountedMessages(shard: number, now: number, sampleSize: number): Promise<{ count: number; sample: string[] }> {
    const { redis, keys } = this.context;
    const key = keys.openMessages(shard);
    const [count, sample] = await Promise.all([this.context.call('zcount open', () => redis.zcount(key, '-inf', String(now))), this.context.call('zrange open', () => redis.zrangebyscore(key, '-inf', String(now), 'LIMIT', 0, sampleSize))]);
    return { count, sample };
  }
}
