import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { MCP_GENERATIONS, decodeEnvelope, type DeliveryVia, type McpGeneration, type MessageKind, type PollLanePayload, type Protocol, type PushLanePayload } from '@agent-bridge/protocol';
import { StoreError } from './errors.js';
import { Keys, PUSH_GROUP, ROUTER_GROUP, type LaneKind } from './keys.js';
import { loadScripts, type LuaScript, type ScriptSet } from './scripts.js';
import type { AdminRequestReservation, EventStore } from './store.js';
import type {
  AckOutcome,
  ActiveAgentCounts,
  AppliedFlags,
  ControllerLease,
  AgentActivity,
  ShardCensus,
  AppendRequest,
  AppendResult,
  AuditEntry,
  CommunicationEvent,
  ElicitAnswer,
  ElicitEndState,
  EventEntry,
  LedgerRecord,
  LedgerState,
  MailboxState,
  PollLanePage,
  PresenceSession,
  PublishOutcome,
  PushLaneEntry,
  PushLease,
  TakenRound,
  RouteDecision,
  RouteOutcome,
  ShardLease,
  Admission,
  MemoryPressure,
  SendQuota,
  SendToAdmit,
} from './types.js';

export interface RedisEventStoreOptions {
  keys: Keys;
  /** How long a sender's idempotency key stays bound to its first message. */
  idempotencyTtlMs: number;
  /** How long a ledger record is kept after the message reached a terminal state. Must be ≥ the idempotency TTL. */
  ledgerRetentionSeconds: number;
  /** Approximate length the normalized communication log is capped at (it is a log, nobody acks it). */
  communicationLogMaxLength: number;
  /** Approximate length of the audit stream. */
  auditMaxLength: number;
  /** Redis memory limit to measure pressure against when Redis itself has no maxmemory (0: none known). */
  memoryLimitBytes: number;
  /**
   * How long after its deadline an `elicit` question may stay open before the router's census
   * closes it `abandoned`: the time its caller, whose wait ends at the deadline, has to record how
   * it ended. Shorter than the wait record's 60 s afterlife, so an answer stored there is kept.
   */
  elicitCloseGraceMs: number;
}

export const DEFAULT_STORE_OPTIONS = {
  idempotencyTtlMs: 24 * 60 * 60 * 1000,
  ledgerRetentionSeconds: 7 * 24 * 60 * 60,
  communicationLogMaxLength: 100_000,
  auditMaxLength: 100_000,
  memoryLimitBytes: 0,
  elicitCloseGraceMs: 10_000,
} as const;

type Reply = Array<string | number>;

/** Entries one ack script call settles at most, so a huge acknowledgement never holds Redis for long. */
const ACK_CHUNK = 500;
/** A sender at its backlog cap is told to retry after this long, and its backlog is re-counted at most this often. */
const BACKLOG_RETRY_MS = 1_000;
/** Redis memory use is read at most this often per process. */
const MEMORY_READ_INTERVAL_MS = 1_000;
/** Agents per pipeline of a batched presence refresh. */
const PRESENCE_BATCH = 500;
/** The protocol activity sets of a shard; the MCP generation sets follow them (`activitySets`). */
const ACTIVITY_KINDS = ['any', 'legacy', 'elicitation'] as const;

export class RedisEventStore implements EventStore {
  readonly keys: Keys;
  private readonly scripts: ScriptSet;
  private readonly options: RedisEventStoreOptions;
  private readonly lastPrune = new Map<string, { at: number; freed: Promise<number> }>();
  private memory: { at: number; pressure: MemoryPressure } | undefined;
  private memoryRead: Promise<MemoryPressure> | undefined;

  constructor(
    private readonly redis: Redis,
    options: Partial<RedisEventStoreOptions> & { keys: Keys },
  ) {
    this.options = { ...DEFAULT_STORE_OPTIONS, ...options };
    if (this.options.ledgerRetentionSeconds * 1000 < this.options.idempotencyTtlMs) {
      throw new RangeError('ledgerRetentionSeconds must cover idempotencyTtlMs, or a late retry could be stored twice');
    }
    this.keys = options.keys;
    this.scripts = loadScripts();
  }

  async ping(): Promise<void> {
    await this.call('ping', () => this.redis.ping());
  }

  // ---------------------------------------------------------------- sending

  async append(request: AppendRequest): Promise<AppendResult> {
    const { envelope } = request;
    let messageId = envelope.id;
    let replay = false;
    if (request.idempotencyKey !== undefined) {
      const fingerprint = createHash('sha256')
        .update(JSON.stringify([envelope.to, envelope.kind, envelope.content, envelope.metadata, envelope.inReplyTo ?? null, envelope.replySchema ?? null]))
        .digest('hex');
      const [status, boundId] = (await this.run(
        this.scripts.reserve_idempotency,
        [this.keys.idempotency(envelope.from, request.idempotencyKey)],
        [envelope.id, fingerprint, this.options.idempotencyTtlMs],
      )) as [string, string];
      if (status === 'CONFLICT') {
        throw new StoreError(
          'IDEMPOTENCY_CONFLICT',
          `idempotency key "${request.idempotencyKey}" already names message ${boundId} with different content`,
          { details: { messageId: boundId } },
        );
      }
      replay = status === 'REPLAY';
      messageId = boundId;
    }
    // A replayed key may belong to a send that crashed between reserving the key and appending:
    // append_message is idempotent per message id, so appending again completes that send.
    const stored = replay ? { ...envelope, id: messageId } : envelope;
    const shard = this.keys.shardOf(stored.to);
    const [status, eventsEntryId] = (await this.run(
      request.answer ? this.scripts.append_answer : this.scripts.append_message,
      [this.keys.events(shard), this.keys.ledgerInShard(shard, messageId), this.keys.openMessages(shard)],
      [
        messageId,
        JSON.stringify(stored),
        stored.from,
        stored.to,
        stored.kind,
        stored.sourceProtocol,
        stored.acceptedAt,
        stored.deadlineAt,
        request.awaitsReply ? '1' : '0',
        stored.inReplyTo ?? '',
        this.keys.eventsBell(shard),
        stored.traceparent ?? '',
        request.awaitsReply ? stored.deadlineAt + this.options.elicitCloseGraceMs : stored.deadlineAt,
      ],
    )) as [string, string];
    return { messageId, eventsEntryId, duplicate: replay || status === 'DUPLICATE' };
  }

  async admitSend(send: SendToAdmit, quota: SendQuota): Promise<Admission> {
    const keys = [this.keys.sendQuota(send.from), this.keys.openSends(send.from)];
    const member = `${send.to}\n${send.messageId}`;
    for (let attempt = 0; ; attempt++) {
      const [verdict, value] = (await this.run(this.scripts.admit_send, keys, [
        Date.now(),
        quota.ratePerSecond,
        quota.burst,
        quota.backlogMax,
        member,
        send.deadlineAt,
      ])) as [string, number?];
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
    const key = this.keys.openSends(sender);
    const members = await this.call('read open sends', () => this.redis.zrange(key, '0', '-1'));
    if (members.length === 0) return 0;
    const pipeline = this.redis.pipeline();
    for (const member of members) {
      const [target = '', messageId = ''] = member.split('\n');
      pipeline.hget(this.keys.ledger(target, messageId), 'state');
    }
    const states = (await this.call('open sends ledger', () => pipeline.exec())) ?? [];
    // Left the backlog: delivered or further (a terminal state), or no record (expired, or a send refused after admission).
    const left = members.filter((_, i) => {
      const [error, state] = states[i] ?? [new Error('no reply'), null];
      return !error && state !== 'accepted' && state !== 'routed';
    });
    if (left.length > 0) await this.call('prune open sends', () => this.redis.zrem(key, ...left));
    return left.length;
  }

  async memoryPressure(): Promise<MemoryPressure> {
    const now = Date.now();
    if (this.memory && now - this.memory.at < MEMORY_READ_INTERVAL_MS) return this.memory.pressure;
    this.memoryRead ??= this.call('info memory', () => this.redis.info('memory'))
      .then((info) => {
        const field = (name: string): number => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
        const usedBytes = field('used_memory');
        const limitBytes = field('maxmemory') || this.options.memoryLimitBytes;
        const pressure: MemoryPressure = { usedBytes, limitBytes, ratio: limitBytes > 0 ? usedBytes / limitBytes : 0 };
        this.memory = { at: Date.now(), pressure };
        return pressure;
      })
      .finally(() => (this.memoryRead = undefined));
    return this.memoryRead;
  }

  // ---------------------------------------------------------------- shards (router)

  async heartbeatRouter(routerId: string, ttlMs: number): Promise<string[]> {
    const now = Date.now();
    const key = this.keys.routerMembers();
    const replies = await this.call('router heartbeat', () =>
      this.redis.multi().zadd(key, String(now + ttlMs), routerId).zremrangebyscore(key, '-inf', String(now)).zrange(key, '0', '-1').exec(),
    );
    const members = replies?.[2]?.[1] as string[] | undefined;
    return [...(members ?? [routerId])].sort();
  }

  async leaveRouters(routerId: string): Promise<void> {
    await this.call('router leave', () => this.redis.zrem(this.keys.routerMembers(), routerId));
  }

  async ensureShardGroup(shard: number): Promise<void> {
    await this.ensureGroup(this.keys.events(shard), ROUTER_GROUP);
  }

  async acquireShardLease(shard: number, owner: string, ttlMs: number): Promise<ShardLease | null> {
    const held = await this.acquireLease(this.keys.lease(shard), this.keys.fence(shard), owner, ttlMs);
    return held && { shard, ...held };
  }

  async renewShardLease(lease: ShardLease, ttlMs: number): Promise<boolean> {
    return this.renewLease(this.keys.lease(lease.shard), lease.value, ttlMs);
  }

  async releaseShardLease(lease: ShardLease): Promise<void> {
    await this.releaseLease(this.keys.lease(lease.shard), lease.value);
  }

  async claimShardPending(shard: number, consumer: string): Promise<number> {
    return this.claimAll(this.keys.events(shard), ROUTER_GROUP, consumer);
  }

  async readShardEntries(shard: number, consumer: string, which: 'pending' | 'new', count: number): Promise<EventEntry[]> {
    const reply = (await this.call('xreadgroup', () =>
      this.redis.xreadgroup('GROUP', ROUTER_GROUP, consumer, 'COUNT', count, 'STREAMS', this.keys.events(shard), which === 'new' ? '>' : '0'),
    )) as Array<[string, Array<[string, string[] | null]>]> | null;
    if (!reply || reply.length === 0) return [];
    return reply[0]![1].map(([id, flat]) => decodeEventEntry(id, flat));
  }

  async route(lease: ShardLease, decisions: RouteDecision[]): Promise<RouteOutcome[]> {
    if (decisions.length === 0) return [];
    const shard = lease.shard;
    const commands = decisions.map((d) => ({
      keys: [
        this.keys.events(shard),
        this.keys.lease(shard),
        this.keys.lane(d.target, d.lane),
        this.keys.mailbox(d.target),
        this.keys.ledgerInShard(shard, d.messageId),
        this.keys.communicationLog(shard),
        d.answer ? this.keys.elicitWait(d.target, d.answer.in_reply_to) : this.keys.placeholder(d.target),
        this.keys.openMessages(shard),
        this.keys.pushAgents(shard),
      ],
      args: [
        ROUTER_GROUP,
        d.entryId,
        lease.value,
        d.lane,
        d.via,
        d.messageId,
        JSON.stringify(d.payload),
        Date.now(),
        this.keys.lanesBell(shard),
        this.keys.laneTopic(d.target, d.lane),
        JSON.stringify(d.communicationEvent),
        this.options.communicationLogMaxLength,
        d.mode,
        d.failedLaneEntryId ?? '',
        d.answer ? JSON.stringify(d.answer) : '',
        d.pollPayload ? JSON.stringify(d.pollPayload) : '',
        d.target,
        this.options.ledgerRetentionSeconds,
        d.traceparent ?? '',
      ] as Array<string | number>,
    }));
    // One pipeline keeps the entries' order (one connection executes them in sequence) and costs one
    // round trip. Re-running it after NOSCRIPT is safe: each script is idempotent per message.
    const results = await this.pipelineScript(this.scripts.route_message, commands);
    return results.map((result, i) => {
      const decision = decisions[i]!;
      const [status, a, b] = result as Reply;
      const base = { entryId: decision.entryId, messageId: decision.messageId };
      if (status === 'ROUTED') return { ...base, status: 'routed', lane: decision.lane, laneEntryId: String(a), sequence: Number(b) };
      if (status === 'ANSWERED') return { ...base, status: 'answered', lane: 'answer', laneEntryId: '', sequence: undefined };
      return { ...base, status: 'duplicate', lane: (a || decision.lane) as LaneKind, laneEntryId: String(b), sequence: undefined };
    });
  }

  async deadLetter(lease: ShardLease, entry: EventEntry, reason: string): Promise<void> {
    await this.run(
      this.scripts.dead_letter,
      [this.keys.events(lease.shard), this.keys.lease(lease.shard), this.keys.deadLetters(lease.shard)],
      [ROUTER_GROUP, entry.id, lease.value, reason, JSON.stringify(entry.fields)],
    );
  }

  async trimShard(shard: number): Promise<number> {
    return this.trimAcknowledged(this.keys.events(shard));
  }

  async trimAcknowledged(streamKey: string): Promise<number> {
    return Number(await this.run(this.scripts.trim_acknowledged, [streamKey], []));
  }

  async pruneIdleConsumers(shard: number, idleMs: number): Promise<number> {
    const key = this.keys.events(shard);
    let pruned = 0;
    for (const consumer of await this.consumersOf(key, ROUTER_GROUP)) {
      // Only a consumer with nothing pending can go: deleting one that owns entries would orphan them.
      if (consumer.pending === 0 && consumer.idle > idleMs) {
        await this.call('xgroup delconsumer', () => this.redis.xgroup('DELCONSUMER', key, ROUTER_GROUP, consumer.name));
        pruned++;
      }
    }
    return pruned;
  }

  /** The consumers of a stream's group (XINFO CONSUMERS, whose replies are flat name/value lists). */
  private async consumersOf(key: string, group: string): Promise<Array<{ name: string; pending: number; idle: number }>> {
    const consumers = (await this.call('xinfo consumers', () => this.redis.xinfo('CONSUMERS', key, group))) as unknown[][];
    return consumers.map((flat) => {
      const info = fieldMap(flat);
      return { name: String(info.name), pending: Number(info.pending), idle: Number(info.idle) };
    });
  }

  // ---------------------------------------------------------------- mailboxes (poll lane)

  async mailboxState(agentId: string): Promise<MailboxState> {
    const [acked, last, seq] = await this.call('hmget', () => this.redis.hmget(this.keys.mailbox(agentId), 'acked', 'last', 'seq'));
    return { acked: acked ?? '0-0', last: last ?? '0-0', sequence: Number(seq ?? 0) };
  }

  async ackPollLane(agentId: string, cursor: string): Promise<AckOutcome> {
    const shard = this.keys.shardOf(agentId);
    let total = 0;
    for (;;) {
      const [status, a, b] = (await this.run(
        this.scripts.ack_poll_lane,
        [this.keys.lane(agentId, 'poll'), this.keys.mailbox(agentId), this.keys.openMessages(shard)],
        [cursor, Date.now(), this.keys.ledgerPrefix(shard), this.options.ledgerRetentionSeconds, ACK_CHUNK],
      )) as Reply;
      if (status === 'PARTIAL') {
        total += Number(a);
        continue;
      }
      if (status === 'OK') return { status: 'acked', count: total + Number(a), acked: String(b) };
      if (status === 'EXPIRED') return { status: 'expired', acked: String(a) };
      return { status: 'unknown', last: String(a) };
    }
  }

  async readPollLane(agentId: string, after: string, count: number): Promise<PollLanePage> {
    const raw = await this.call('xrange', () => this.redis.xrange(this.keys.lane(agentId, 'poll'), `(${after}`, '+', 'COUNT', count + 1));
    const entries = raw.slice(0, count).map(([id, flat]) => {
      const fields = pairs(flat);
      const payload = JSON.parse(fields.p ?? '{}') as PollLanePayload;
      return {
        cursor: id,
        message: { sequence: Number(fields.s), ...payload },
        via: (fields.v ?? 'legacy') as DeliveryVia,
        ...(fields.tp ? { traceparent: fields.tp } : {}),
      };
    });
    return { entries, hasMore: raw.length > count };
  }

  async laneLength(agentId: string, lane: LaneKind): Promise<number> {
    return this.call('xlen', () => this.redis.xlen(this.keys.lane(agentId, lane)));
  }

  // ---------------------------------------------------------------- ledger

  async getMessage(messageId: string, targetAgentId?: string): Promise<LedgerRecord | null> {
    if (targetAgentId !== undefined) {
      const hash = await this.call('hgetall', () => this.redis.hgetall(this.keys.ledger(targetAgentId, messageId)));
      return decodeLedger(hash);
    }
    const pipeline = this.redis.pipeline();
    for (const shard of this.keys.allShards()) pipeline.hgetall(this.keys.ledgerInShard(shard, messageId));
    const results = (await this.call('ledger lookup', () => pipeline.exec())) ?? [];
    for (const [error, hash] of results) {
      if (error) throw this.unavailable('ledger lookup', error);
      const record = decodeLedger(hash as Record<string, string>);
      if (record) return record;
    }
    return null;
  }

  async unaccountedMessages(shard: number, now: number, sampleSize: number): Promise<{ count: number; sample: string[] }> {
    const key = this.keys.openMessages(shard);
    const [count, sample] = await Promise.all([
      this.call('zcount open', () => this.redis.zcount(key, '-inf', String(now))),
      this.call('zrange open', () => this.redis.zrangebyscore(key, '-inf', String(now), 'LIMIT', 0, sampleSize)),
    ]);
    return { count, sample };
  }

  // ---------------------------------------------------------------- presence

  async readPresence(agentIds: string[]): Promise<Map<string, PresenceSession[]>> {
    const result = new Map<string, PresenceSession[]>();
    if (agentIds.length === 0) return result;
    const pipeline = this.redis.pipeline();
    for (const agentId of agentIds) pipeline.hgetall(this.keys.presence(agentId));
    const replies = (await this.call('presence lookup', () => pipeline.exec())) ?? [];
    const now = Date.now();
    agentIds.forEach((agentId, i) => {
      const [error, hash] = replies[i] ?? [null, {}];
      if (error) throw this.unavailable('presence lookup', error);
      const sessions: PresenceSession[] = [];
      for (const [sessionId, json] of Object.entries((hash ?? {}) as Record<string, string>)) {
        try {
          const session = JSON.parse(json) as Omit<PresenceSession, 'sessionId'>;
          if (session.expiresAt > now) sessions.push({ sessionId, ...session });
        } catch {
          // A malformed presence entry is treated as absent: the agent is then served on its poll lane.
        }
      }
      result.set(agentId, sessions);
    });
    return result;
  }

  async recordPresence(agentId: string, session: PresenceSession): Promise<void> {
    await this.recordPresences([{ agentId, session }]);
  }

  async recordPresences(entries: ReadonlyArray<{ agentId: string; session: PresenceSession }>): Promise<void> {
    const byAgent = new Map<string, { fields: string[]; expiresAt: number }>();
    for (const { agentId, session } of entries) {
      const { sessionId, ...rest } = session;
      let agent = byAgent.get(agentId);
      if (!agent) byAgent.set(agentId, (agent = { fields: [], expiresAt: 0 }));
      agent.fields.push(sessionId, JSON.stringify(rest));
      agent.expiresAt = Math.max(agent.expiresAt, session.expiresAt);
    }
    const agents = [...byAgent];
    // The hash expires with its longest-lived session; expired sessions inside it are ignored by readers.
    // Pipelines of at most PRESENCE_BATCH agents: a replica with 10,000 sessions never builds one huge reply.
    for (let start = 0; start < agents.length; start += PRESENCE_BATCH) {
      const pipeline = this.redis.pipeline();
      const now = Date.now();
      for (const [agentId, { fields, expiresAt }] of agents.slice(start, start + PRESENCE_BATCH)) {
        const key = this.keys.presence(agentId);
        pipeline.hset(key, ...fields).pexpire(key, Math.max(1, expiresAt - now));
      }
      const replies = (await this.call('record presences', () => pipeline.exec())) ?? [];
      const failed = replies.find(([error]) => error);
      if (failed) throw this.unavailable('record presences', failed[0]);
    }
  }

  async removePresence(agentId: string, sessionId: string): Promise<void> {
    await this.call('remove presence', () => this.redis.hdel(this.keys.presence(agentId), sessionId));
  }

  // ---------------------------------------------------------------- activity and census

  async recordActivity(agentId: string, activity: AgentActivity, at: number, generation?: McpGeneration): Promise<void> {
    const shard = this.keys.shardOf(agentId);
    // GT: a late write from another replica never moves an agent's last-seen time backwards.
    const multi = this.redis.multi().zadd(this.keys.activity(shard, 'any'), 'GT', at, agentId);
    if (activity !== 'other') multi.zadd(this.keys.activity(shard, activity), 'GT', at, agentId);
    if (generation !== undefined) multi.zadd(this.keys.generationActivity(shard, generation), 'GT', at, agentId);
    await this.call('record activity', () => multi.exec());
  }

  /** The sets a shard's active agents are counted in, in the order `activeAgentCountsOf` reads their counts. */
  private activitySets(shard: number): string[] {
    return [...ACTIVITY_KINDS.map((kind) => this.keys.activity(shard, kind)), ...MCP_GENERATIONS.map((generation) => this.keys.generationActivity(shard, generation))];
  }

  async shardCensus(shard: number, since: number): Promise<ShardCensus> {
    const sets = this.activitySets(shard);
    const pipeline = this.redis.pipeline();
    // Forgetting what is older than the window keeps the sets as small as the active population.
    for (const key of sets) pipeline.zremrangebyscore(key, '-inf', `(${since}`).zcard(key);
    pipeline.xinfo('GROUPS', this.keys.events(shard)).xlen(this.keys.events(shard)).zcard(this.keys.openMessages(shard)).smembers(this.keys.pushAgents(shard));
    const replies = (await this.call('shard census', () => pipeline.exec())) ?? [];
    const value = (index: number): unknown => {
      const [error, result] = replies[index] ?? [null, null];
      // A shard nobody wrote to yet has no events stream: XINFO fails with "no such key".
      if (error && !/no such key/i.test(error.message)) throw this.unavailable('shard census', error);
      return error ? null : result;
    };
    const activeAgents = activeAgentCountsOf(sets.map((_, i) => Number(value(i * 2 + 1))));
    const backlogAt = sets.length * 2;
    const eventsLength = Number(value(backlogAt + 1));
    const open = Number(value(backlogAt + 2));
    const pushAgents = (value(backlogAt + 3) as string[] | null) ?? [];

    let events = eventsLength;
    for (const group of (value(backlogAt) as unknown[][] | null) ?? []) {
      const fields = fieldMap(group);
      if (fields.name !== ROUTER_GROUP) continue;
      // `lag` is nil when Redis cannot tell (after deletions); the stream length is then an upper bound.
      events = Number(fields.pending ?? 0) + (fields.lag === null || fields.lag === undefined ? eventsLength : Number(fields.lag));
      events = Math.min(events, eventsLength);
    }

    let push = 0;
    if (pushAgents.length > 0) {
      const lengths = this.redis.pipeline();
      for (const agentId of pushAgents) lengths.xlen(this.keys.lane(agentId, 'push'));
      for (const [error, length] of (await this.call('push lane lengths', () => lengths.exec())) ?? []) {
        if (error) throw this.unavailable('push lane lengths', error);
        push += Number(length);
      }
    }
    // Every accepted message stays in the open set until it is delivered; what is neither waiting to
    // be routed nor in a push lane waits in a poll lane (delivered to a poll but not yet acked included).
    const poll = Math.max(0, open - events - push);
    return { activeAgents, backlog: { events, push, poll } };
  }

  // ---------------------------------------------------------------- replicas

  async heartbeatReplica(service: string, replicaId: string, url: string, ttlMs: number): Promise<void> {
    await this.call('replica heartbeat', () => this.redis.hset(this.keys.replicas(service), replicaId, JSON.stringify({ url, expiresAt: Date.now() + ttlMs })));
  }

  async removeReplica(service: string, replicaId: string): Promise<void> {
    await this.call('replica leave', () => this.redis.hdel(this.keys.replicas(service), replicaId));
  }

  async lookupReplica(service: string, replicaId: string): Promise<string | null> {
    const json = await this.call('replica lookup', () => this.redis.hget(this.keys.replicas(service), replicaId));
    if (!json) return null;
    const { url, expiresAt } = JSON.parse(json) as { url: string; expiresAt: number };
    return expiresAt > Date.now() ? url : null;
  }

  // ---------------------------------------------------------------- push lanes

  async acquirePushLease(agentId: string, owner: string, ttlMs: number, options: { preempt?: string } = {}): Promise<PushLease | null> {
    const held = await this.acquireLease(this.keys.pushLease(agentId), this.keys.pushFence(agentId), owner, ttlMs, options.preempt);
    return held && { agentId, ...held };
  }

  async takeRound(agentId: string, owner: string, ttlMs: number, consumer: string, count: number): Promise<TakenRound | 'empty' | 'held'> {
    const reply = (await this.run(
      this.scripts.take_round,
      [this.keys.pushLease(agentId), this.keys.pushFence(agentId), this.keys.lane(agentId, 'push')],
      [owner, ttlMs, PUSH_GROUP, consumer, count],
    )) as 'EMPTY' | 'HELD' | [string, Array<[string, string[]]>, Array<[string, string[]]>];
    if (reply === 'EMPTY') return 'empty';
    if (reply === 'HELD') return 'held';
    const [value, pending, fresh] = reply;
    return {
      lease: { agentId, owner, value, fence: Number(value.slice(value.lastIndexOf('|') + 1)) },
      pending: pending.map(([id, flat]) => pushLaneEntry(id, flat)),
      fresh: fresh.map(([id, flat]) => pushLaneEntry(id, flat)),
    };
  }

  async settleRound(lease: PushLease, settlements: ReadonlyArray<{ entry: PushLaneEntry; state: 'answered' | 'declined' | 'cancelled' }>): Promise<{ pushRemaining: number; mailbox: { last: string; acked: string } }> {
    const shard = this.keys.shardOf(lease.agentId);
    const [, remaining, last, acked] = (await this.run(
      this.scripts.settle_round,
      [this.keys.lane(lease.agentId, 'push'), this.keys.pushLease(lease.agentId), this.keys.openMessages(shard), this.keys.pushAgents(shard), this.keys.mailbox(lease.agentId)],
      [PUSH_GROUP, lease.value, Date.now(), this.options.ledgerRetentionSeconds, lease.agentId, this.keys.ledgerPrefix(shard), ...settlements.flatMap(({ entry, state }) => [entry.id, entry.messageId, state])],
    )) as [number, number, string, string];
    return { pushRemaining: Number(remaining), mailbox: { last: String(last), acked: String(acked) } };
  }

  async pushLaneState(agentId: string): Promise<{ length: number; leased: boolean }> {
    const replies = (await this.call('push lane state', () => this.redis.pipeline().xlen(this.keys.lane(agentId, 'push')).exists(this.keys.pushLease(agentId)).exec())) ?? [];
    const [[lengthError, length] = [null, 0], [leaseError, leased] = [null, 0]] = replies;
    if (lengthError || leaseError) throw this.unavailable('push lane state', lengthError ?? leaseError);
    return { length: Number(length), leased: Number(leased) === 1 };
  }

  async readPushEntries(agentId: string, ids: readonly string[]): Promise<PushLaneEntry[]> {
    if (ids.length === 0) return [];
    const key = this.keys.lane(agentId, 'push');
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.xrange(key, id, id);
    const replies = (await this.call('xrange push', () => pipeline.exec())) ?? [];
    const entries: PushLaneEntry[] = [];
    for (const [error, reply] of replies) {
      if (error) throw this.unavailable('xrange push', error);
      const [found] = reply as Array<[string, string[]]>;
      if (found) entries.push(pushLaneEntry(found[0], found[1]));
    }
    return entries;
  }

  async renewPushLease(lease: PushLease, ttlMs: number): Promise<boolean> {
    return this.renewLease(this.keys.pushLease(lease.agentId), lease.value, ttlMs);
  }

  async releasePushLease(lease: PushLease): Promise<void> {
    await this.releaseLease(this.keys.pushLease(lease.agentId), lease.value);
  }

  async claimPushLane(lease: PushLease, consumer: string): Promise<number> {
    const key = this.keys.lane(lease.agentId, 'push');
    await this.ensureGroup(key, PUSH_GROUP);
    const claimed = await this.claimAll(key, PUSH_GROUP, consumer);
    // The lease makes us the lane's only consumer: earlier ones (replicas gone, sessions closed) own
    // nothing now and are forgotten, so reconnects do not pile consumers up in Redis.
    for (const other of await this.consumersOf(key, PUSH_GROUP)) {
      if (other.name !== consumer && other.pending === 0) await this.call('xgroup delconsumer', () => this.redis.xgroup('DELCONSUMER', key, PUSH_GROUP, other.name));
    }
    return claimed;
  }

  async readPushLane(agentId: string, consumer: string, which: 'pending' | 'new', count: number): Promise<PushLaneEntry[]> {
    const reply = (await this.call('xreadgroup push', () =>
      this.redis.xreadgroup('GROUP', PUSH_GROUP, consumer, 'COUNT', count, 'STREAMS', this.keys.lane(agentId, 'push'), which === 'new' ? '>' : '0'),
    )) as Array<[string, Array<[string, string[] | null]>]> | null;
    if (!reply || reply.length === 0) return [];
    const entries: PushLaneEntry[] = [];
    const gone: string[] = [];
    for (const [id, flat] of reply[0]![1]) {
      if (flat === null) {
        gone.push(id); // drained or settled meanwhile: nothing left to deliver
        continue;
      }
      entries.push(pushLaneEntry(id, flat));
    }
    if (gone.length > 0) await this.call('xack push', () => this.redis.xack(this.keys.lane(agentId, 'push'), PUSH_GROUP, ...gone));
    return entries;
  }

  async settlePush(lease: PushLease, entry: PushLaneEntry, state: 'answered' | 'declined' | 'cancelled' | 'delivered'): Promise<void> {
    const shard = this.keys.shardOf(lease.agentId);
    await this.run(
      this.scripts.settle_push,
      [this.keys.lane(lease.agentId, 'push'), this.keys.pushLease(lease.agentId), this.keys.ledgerInShard(shard, entry.messageId), this.keys.openMessages(shard), this.keys.pushAgents(shard)],
      [PUSH_GROUP, entry.id, lease.value, state, Date.now(), this.options.ledgerRetentionSeconds, lease.agentId, entry.messageId],
    );
  }

  async failPush(lease: PushLease, entry: PushLaneEntry, reason: string): Promise<void> {
    const shard = this.keys.shardOf(lease.agentId);
    await this.run(
      this.scripts.fail_push,
      [this.keys.lane(lease.agentId, 'push'), this.keys.pushLease(lease.agentId), this.keys.events(shard), this.keys.pushAgents(shard)],
      [PUSH_GROUP, entry.id, lease.value, reason, this.keys.eventsBell(shard), lease.agentId],
    );
  }

  async drainPushLane(lease: PushLease, via: DeliveryVia): Promise<number> {
    const shard = this.keys.shardOf(lease.agentId);
    let moved = 0;
    for (;;) {
      const [count, remaining] = (await this.run(
        this.scripts.drain_push_lane,
        [this.keys.lane(lease.agentId, 'push'), this.keys.lane(lease.agentId, 'poll'), this.keys.mailbox(lease.agentId), this.keys.pushLease(lease.agentId), this.keys.pushAgents(shard)],
        [lease.value, this.keys.ledgerPrefix(shard), via, Date.now(), ACK_CHUNK, lease.agentId, this.keys.lanesBell(shard), PUSH_GROUP],
      )) as [number, number];
      moved += Number(count);
      if (Number(remaining) === 0) return moved;
    }
  }

  async agentsWithPushBacklog(shard: number): Promise<string[]> {
    return this.call('push agents', () => this.redis.smembers(this.keys.pushAgents(shard)));
  }

  // ---------------------------------------------------------------- elicit waits

  async beginElicitWait(senderId: string, messageId: string, ttlMs: number): Promise<void> {
    const key = this.keys.elicitWait(senderId, messageId);
    // HSETNX: a retried `elicit` (same idempotency key) must not turn an answer back into "waiting".
    await this.call('begin elicit', () => this.redis.multi().hsetnx(key, 'state', 'waiting').pexpire(key, ttlMs).exec());
  }

  async readElicitAnswer(senderId: string, messageId: string): Promise<ElicitAnswer | null> {
    const [state, answer] = await this.call('read elicit', () => this.redis.hmget(this.keys.elicitWait(senderId, messageId), 'state', 'answer'));
    return state === 'answered' && answer ? (JSON.parse(answer) as ElicitAnswer) : null;
  }

  async finishElicitWait(senderId: string, messageId: string): Promise<ElicitAnswer | null> {
    const [status, answer] = (await this.run(this.scripts.finish_elicit, [this.keys.elicitWait(senderId, messageId)], [60_000])) as [string, string?];
    return status === 'ANSWERED' && answer ? (JSON.parse(answer) as ElicitAnswer) : null;
  }

  async closeMessage(messageId: string, targetAgentId: string, state: Exclude<ElicitEndState, 'abandoned'>, answer?: ElicitAnswer): Promise<LedgerState | null> {
    return this.closeInShard(this.keys.shardOf(targetAgentId), messageId, state, answer);
  }

  async extendElicitDeadline(messageId: string, targetAgentId: string, deadlineAt: number): Promise<void> {
    // XX: only a question still open; GT: never earlier than it was.
    const score = String(deadlineAt + this.options.elicitCloseGraceMs);
    await this.call('extend elicit deadline', () => this.redis.zadd(this.keys.openMessages(this.keys.shardOf(targetAgentId)), 'XX', 'GT', score, messageId));
  }

  async abandonOverdueElicits(shard: number, now: number, limit: number): Promise<string[]> {
    const overdue = await this.call('zrange overdue', () => this.redis.zrangebyscore(this.keys.openMessages(shard), '-inf', String(now), 'LIMIT', 0, limit));
    if (overdue.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of overdue) pipeline.hmget(this.keys.ledgerInShard(shard, id), 'awaits_reply', 'from');
    const rows = (await this.call('ledger lookup', () => pipeline.exec())) ?? [];
    const abandoned: string[] = [];
    for (const [i, id] of overdue.entries()) {
      const [error, row] = rows[i] ?? [null, []];
      if (error) throw this.unavailable('ledger lookup', error);
      const [awaitsReply, from] = row as Array<string | null>;
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
    const after = (await this.run(
      this.scripts.close_message,
      [this.keys.ledgerInShard(shard, messageId), this.keys.openMessages(shard)],
      [state, Date.now(), this.options.ledgerRetentionSeconds, answer === undefined ? '' : JSON.stringify(answer), messageId, ifOverdueAt ?? ''],
    )) as string;
    return after === '' ? null : (after as LedgerState);
  }

  // ---------------------------------------------------------------- control plane

  async readFlagSnapshotJson(): Promise<string | null> {
    return this.call('get flags', () => this.redis.get(this.keys.flagSnapshot()));
  }

  async publishFlagSnapshotJson(snapshotJson: string, expectedVersion: number, audit: AuditEntry, leaseValue = '', controllerStatusJson = ''): Promise<PublishOutcome> {
    const [status, version, auditId] = (await this.run(
      this.scripts.publish_flags,
      [this.keys.flagSnapshot(), this.keys.audit(), this.keys.controllerLease(), this.keys.controllerStatus()],
      [expectedVersion, snapshotJson, this.keys.flagChannel(), JSON.stringify(audit), this.options.auditMaxLength, leaseValue, controllerStatusJson],
    )) as Reply;
    if (status === 'OK') return { status: 'published', version: Number(version), auditId: String(auditId) };
    if (status === 'FENCED') return { status: 'fenced', currentVersion: Number(version) };
    return { status: 'conflict', currentVersion: Number(version) };
  }

  async appendAudit(entry: AuditEntry, leaseValue?: string): Promise<string> {
    if (leaseValue === undefined) {
      return this.call('xadd audit', async () => (await this.redis.xadd(this.keys.audit(), 'MAXLEN', '~', this.options.auditMaxLength, '*', 'a', JSON.stringify(entry)))!);
    }
    return String(await this.run(this.scripts.fenced_write, [this.keys.controllerLease(), this.keys.audit()], [leaseValue, 'xadd', JSON.stringify(entry), this.options.auditMaxLength]));
  }

  async recordFlagsApplied(service: string, replica: string, version: number): Promise<void> {
    const key = this.keys.flagsApplied();
    const now = Date.now();
    // Reports of processes that died stay behind until someone prunes them: every writer drops
    // reports older than an hour, readers ignore the ones older than their window.
    await this.call('record flags applied', () => this.redis.hset(key, `${service}/${replica}`, JSON.stringify({ version, at: now })));
  }

  async readFlagsApplied(since: number): Promise<AppliedFlags[]> {
    const hash = await this.call('read flags applied', () => this.redis.hgetall(this.keys.flagsApplied()));
    const reports: AppliedFlags[] = [];
    const stale: string[] = [];
    for (const [field, json] of Object.entries(hash)) {
      const [service = '', replica = ''] = field.split('/');
      try {
        const { version, at } = JSON.parse(json) as { version: number; at: number };
        if (at >= since) reports.push({ service, replica, version, at });
        else if (at < Date.now() - 3_600_000) stale.push(field);
      } catch {
        stale.push(field);
      }
    }
    if (stale.length > 0) await this.call('prune flags applied', () => this.redis.hdel(this.keys.flagsApplied(), ...stale));
    return reports;
  }

  // ---------------------------------------------------------------- controller

  async acquireControllerLease(owner: string, ttlMs: number): Promise<ControllerLease | null> {
    return this.acquireLease(this.keys.controllerLease(), this.keys.controllerFence(), owner, ttlMs);
  }

  async renewControllerLease(lease: ControllerLease, ttlMs: number): Promise<boolean> {
    return this.renewLease(this.keys.controllerLease(), lease.value, ttlMs);
  }

  async releaseControllerLease(lease: ControllerLease): Promise<void> {
    await this.releaseLease(this.keys.controllerLease(), lease.value);
  }

  async controllerLeaseHolder(): Promise<string | null> {
    const value = await this.call('get controller lease', () => this.redis.get(this.keys.controllerLease()));
    return value ? value.slice(0, value.lastIndexOf('|')) : null;
  }

  async reserveAdminRequest(idempotencyKey: string, fingerprint: string, ttlSeconds: number): Promise<AdminRequestReservation> {
    const key = this.keys.adminRequest(idempotencyKey);
    const reserved = await this.call('reserve admin request', () => this.redis.set(key, JSON.stringify({ fingerprint }), 'EX', ttlSeconds, 'NX'));
    if (reserved === 'OK') return { status: 'new' };
    const raw = await this.call('read admin request', () => this.redis.get(key));
    if (raw === null) return this.reserveAdminRequest(idempotencyKey, fingerprint, ttlSeconds); // expired in between
    const record = JSON.parse(raw) as { fingerprint: string; answer?: unknown };
    if (record.fingerprint !== fingerprint) return { status: 'conflict' };
    return record.answer === undefined ? { status: 'pending' } : { status: 'done', answer: record.answer };
  }

  async completeAdminRequest(idempotencyKey: string, fingerprint: string, answer: unknown, ttlSeconds: number): Promise<void> {
    await this.call('complete admin request', () => this.redis.set(this.keys.adminRequest(idempotencyKey), JSON.stringify({ fingerprint, answer }), 'EX', ttlSeconds));
  }

  async abandonAdminRequest(idempotencyKey: string): Promise<void> {
    await this.call('abandon admin request', () => this.redis.del(this.keys.adminRequest(idempotencyKey)));
  }

  async readControllerStatusJson(): Promise<string | null> {
    return this.call('get controller status', () => this.redis.get(this.keys.controllerStatus()));
  }

  async writeControllerStatusJson(json: string, lease: ControllerLease): Promise<void> {
    await this.run(this.scripts.fenced_write, [this.keys.controllerLease(), this.keys.controllerStatus()], [lease.value, 'set', json, 0]);
  }

  async activeAgents(since: number, limit: number): Promise<Array<{ agentId: string; lastSeenAt: number }>> {
    const pipeline = this.redis.pipeline();
    for (const shard of this.keys.allShards()) pipeline.zrevrangebyscore(this.keys.activity(shard, 'any'), '+inf', since, 'WITHSCORES', 'LIMIT', 0, limit);
    const replies = (await this.call('active agents', () => pipeline.exec())) ?? [];
    const agents: Array<{ agentId: string; lastSeenAt: number }> = [];
    for (const [error, flat] of replies) {
      if (error) throw this.unavailable('active agents', error);
      const list = flat as string[];
      for (let i = 0; i + 1 < list.length; i += 2) agents.push({ agentId: list[i]!, lastSeenAt: Number(list[i + 1]) });
    }
    return agents.sort((a, b) => b.lastSeenAt - a.lastSeenAt).slice(0, limit);
  }

  async activeAgentCounts(since: number): Promise<ActiveAgentCounts> {
    const sets = this.keys.allShards().map((shard) => this.activitySets(shard));
    const pipeline = this.redis.pipeline();
    for (const key of sets.flat()) pipeline.zcount(key, since, '+inf');
    const replies = (await this.call('active agents', () => pipeline.exec())) ?? [];
    // An agent lives in one shard, so the shards' counts add up.
    const perShard = sets[0]!.length;
    const totals = new Array<number>(perShard).fill(0);
    replies.forEach(([error, count], i) => {
      if (error) throw this.unavailable('active agents', error);
      totals[i % perShard]! += Number(count);
    });
    return activeAgentCountsOf(totals);
  }

  async readAudit(count: number): Promise<Array<AuditEntry & { id: string }>> {
    const raw = await this.call('xrevrange audit', () => this.redis.xrevrange(this.keys.audit(), '+', '-', 'COUNT', count));
    return raw.reverse().map(([id, flat]) => ({ id, ...(JSON.parse(pairs(flat).a ?? '{}') as AuditEntry) }));
  }

  async readCommunicationLog(shard: number, count: number): Promise<Array<CommunicationEvent & { id: string }>> {
    const raw = await this.call('xrevrange comm', () => this.redis.xrevrange(this.keys.communicationLog(shard), '+', '-', 'COUNT', count));
    return raw.reverse().map(([id, flat]) => ({ id, ...(JSON.parse(pairs(flat).c ?? '{}') as CommunicationEvent) }));
  }

  // ---------------------------------------------------------------- plumbing

  /** Takes a free lease (or extends our own) with a fresh fencing token; null when another owner holds it. */
  private async acquireLease(leaseKey: string, fenceKey: string, owner: string, ttlMs: number, preempt = ''): Promise<{ owner: string; value: string; fence: number } | null> {
    const value = (await this.run(this.scripts.acquire_lease, [leaseKey, fenceKey], [owner, ttlMs, preempt])) as string | null;
    if (!value) return null;
    return { owner, value, fence: Number(value.slice(value.lastIndexOf('|') + 1)) };
  }

  private async renewLease(leaseKey: string, value: string, ttlMs: number): Promise<boolean> {
    return (await this.run(this.scripts.renew_lease, [leaseKey], [value, ttlMs])) === 1;
  }

  private async releaseLease(leaseKey: string, value: string): Promise<void> {
    await this.run(this.scripts.release_lease, [leaseKey], [value]);
  }

  private async ensureGroup(key: string, group: string): Promise<void> {
    try {
      await this.redis.xgroup('CREATE', key, group, '0', 'MKSTREAM');
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith('BUSYGROUP'))) throw this.unavailable(`create group ${group}`, error);
    }
  }

  /**
   * Moves every pending entry of the group to `consumer`, whatever its idle time: callers hold the
   * lease that makes them the stream's only consumer, so the previous owner is dead or fenced.
   */
  private async claimAll(key: string, group: string, consumer: string): Promise<number> {
    let start = '0-0';
    let claimed = 0;
    do {
      const reply = (await this.call('xautoclaim', () => this.redis.xautoclaim(key, group, consumer, '0', start, 'COUNT', 500, 'JUSTID'))) as [string, string[]];
      start = reply[0];
      claimed += reply[1].length;
    } while (start !== '0-0');
    return claimed;
  }

  private async run(script: LuaScript, keys: string[], args: Array<string | number>): Promise<unknown> {
    try {
      return await script.run(this.redis, keys, args);
    } catch (error) {
      throw this.translate(script.name, error);
    }
  }

  private async pipelineScript(script: LuaScript, commands: Array<{ keys: string[]; args: Array<string | number> }>): Promise<unknown[]> {
    for (let attempt = 0; ; attempt++) {
      const pipeline = this.redis.pipeline();
      for (const { keys, args } of commands) script.queue(pipeline, keys, args);
      const replies = (await this.call(script.name, () => pipeline.exec())) ?? [];
      const noscript = replies.some(([error]) => error instanceof Error && error.message.startsWith('NOSCRIPT'));
      if (noscript && attempt === 0) {
        await this.call('script load', () => script.ensureLoaded(this.redis));
        continue;
      }
      return replies.map(([error, value]) => {
        if (error) throw this.translate(script.name, error);
        return value;
      });
    }
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw this.translate(what, error);
    }
  }

  private translate(what: string, error: unknown): StoreError {
    if (error instanceof StoreError) return error;
    const message = error instanceof Error ? error.message : String(error);
    if (message.startsWith('FENCED')) return new StoreError('LEASE_LOST', message, { cause: error });
    if (/timed out/i.test(message)) return new StoreError('STORE_DEADLINE_EXCEEDED', `${what}: ${message}`, { cause: error });
    if (message.startsWith('OOM')) return new StoreError('STORE_FULL', `${what}: ${message}`, { cause: error });
    return this.unavailable(what, error);
  }

  private unavailable(what: string, error: unknown): StoreError {
    const message = error instanceof Error ? error.message : String(error);
    return new StoreError('STORE_UNAVAILABLE', `${what} failed: ${message}`, { cause: error });
  }
}

/** A push-lane stream entry as readers see it (the fields are named in docs/event-store.md). */
function pushLaneEntry(id: string, flat: string[]): PushLaneEntry {
  const fields = pairs(flat);
  return {
    id,
    messageId: fields.m ?? '',
    sequence: Number(fields.s),
    via: (fields.v ?? 'elicitation') as DeliveryVia,
    payload: JSON.parse(fields.p ?? '{}') as PushLanePayload,
    ...(fields.tp ? { traceparent: fields.tp } : {}),
  };
}

/** Counts in `activitySets` order: the activity kinds, then one per MCP generation. */
function activeAgentCountsOf(counts: number[]): ActiveAgentCounts {
  const [any = 0, legacy = 0, elicitation = 0] = counts;
  const byGeneration = Object.fromEntries(MCP_GENERATIONS.map((generation, i) => [generation, counts[ACTIVITY_KINDS.length + i] ?? 0])) as Record<McpGeneration, number>;
  return { any, legacy, elicitation, byGeneration };
}

function pairs(flat: string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
  return fields;
}

function decodeEventEntry(id: string, flat: string[] | null): EventEntry {
  const fields = pairs(flat ?? []);
  const undecodable = (decodeError: string): EventEntry => ({ id, fields, type: 'undecodable', decodeError });
  if (flat === null) return undecodable('entry was deleted from the stream while pending');
  try {
    if (fields.t === 'message') return { id, fields, type: 'message', envelope: decodeEnvelope(fields.e ?? '') };
    if (fields.t === 'delivery.failed') {
      if (!fields.m || !fields.a || !fields.l || !fields.p || !fields.q) return undecodable('delivery.failed entry lacks a field');
      return {
        id,
        fields,
        type: 'delivery.failed',
        messageId: fields.m,
        target: fields.a,
        reason: fields.r ?? 'unknown',
        failedLaneEntryId: fields.l,
        pushPayload: JSON.parse(fields.p) as PushLanePayload,
        pollPayload: JSON.parse(fields.q) as PollLanePayload,
      };
    }
    return undecodable(`unknown event type "${fields.t ?? ''}"`);
  } catch (error) {
    return undecodable(`entry does not decode: ${error instanceof Error ? error.message.slice(0, 300) : String(error)}`);
  }
}

function decodeLedger(hash: Record<string, string>): LedgerRecord | null {
  if (!hash || !hash.id) return null;
  const optionalNumber = (value: string | undefined) => (value === undefined || value === '' ? undefined : Number(value));
  return {
    id: hash.id,
    from: hash.from ?? '',
    to: hash.to ?? '',
    kind: (hash.kind ?? 'message') as MessageKind,
    protocol: (hash.protocol ?? 'legacy') as Protocol,
    state: (hash.state ?? 'accepted') as LedgerState,
    lane: (hash.lane || undefined) as LaneKind | undefined,
    via: (hash.via || undefined) as DeliveryVia | undefined,
    acceptedAt: Number(hash.accepted_at),
    routedAt: optionalNumber(hash.routed_at),
    deliveredAt: optionalNumber(hash.delivered_at),
    deadlineAt: Number(hash.deadline_at),
    awaitsReply: hash.awaits_reply === '1',
    inReplyTo: hash.in_reply_to || undefined,
    eventsEntryId: hash.events_id ?? '',
    laneEntryId: hash.lane_id || undefined,
    sequence: optionalNumber(hash.seq),
    ...(hash.answer ? { answer: JSON.parse(hash.answer) as ElicitAnswer } : {}),
  };
}

/** XINFO replies are flat `[name, value, name, value…]` lists. */
function fieldMap(flat: unknown[]): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[String(flat[i])] = flat[i + 1];
  return fields;
}
