import type { LaneKind } from './keys.js';
import type { DeliveryVia, McpGeneration } from '@agent-bridge/protocol';
import type {
  AckOutcome,
  Admission,
  MemoryPressure,
  SendQuota,
  SendToAdmit,
  ActiveAgentCounts,
  AdoptionSample,
  OwnerFeedback,
  OwnerFeedbackSummary,
  AppliedFlags,
  ControllerLease,
  ActivitySighting,
  AgentActivity,
  AgentUsage,
  AgentUsageDelta,
  ShardCensus,
  ElicitAnswer,
  ElicitEndState,
  PushLaneEntry,
  AppendRequest,
  AppendResult,
  AuditEntry,
  ClaimedNotice,
  EnqueueCounts,
  CommunicationEvent,
  EventEntry,
  LedgerRecord,
  LedgerState,
  MailboxState,
  NoticeBatch,
  NoticeState,
  NoticeStateName,
  PollLanePage,
  PresenceSession,
  PublishOutcome,
  PushLease,
  TakenRound,
  RouteDecision,
  RouteOutcome,
  ShardLease,
} from './types.js';

/** Accepting messages from senders. */
export interface MessageLog {
  /** Resolves only after the store durably holds the message (the caller may then acknowledge its sender). */
  append(request: AppendRequest): Promise<AppendResult>;
  /**
   * Whether the sender may send this message now: its token bucket and its backlog (sends not yet
   * delivered). Ask before `append`; an admitted send counts against the backlog until delivered.
   */
  admitSend(send: SendToAdmit, quota: SendQuota): Promise<Admission>;
  /** Redis memory use against its limit, read at most once a second. */
  memoryPressure(): Promise<MemoryPressure>;
}

/** What a router needs to own shards and route their entries. */
export interface ShardStore {
  /** Records that this router is alive and returns every live router id (sorted). */
  heartbeatRouter(routerId: string, ttlMs: number): Promise<string[]>;
  leaveRouters(routerId: string): Promise<void>;
  ensureShardGroup(shard: number): Promise<void>;
  acquireShardLease(shard: number, owner: string, ttlMs: number): Promise<ShardLease | null>;
  renewShardLease(lease: ShardLease, ttlMs: number): Promise<boolean>;
  releaseShardLease(lease: ShardLease): Promise<void>;
  /** Takes over every pending entry of the shard's group (the lease makes us the only consumer). */
  claimShardPending(shard: number, consumer: string): Promise<number>;
  readShardEntries(shard: number, consumer: string, which: 'pending' | 'new', count: number): Promise<EventEntry[]>;
  /** Routes entries in order; throws StoreError LEASE_LOST (and writes nothing more) once the lease is gone. */
  route(lease: ShardLease, decisions: RouteDecision[]): Promise<RouteOutcome[]>;
  /** `mismatch`: the entry's envelope failed its checksum; its ledger record ends `dead_lettered` and the shard's mismatch count rises. */
  deadLetter(lease: ShardLease, entry: EventEntry, reason: string, mismatch?: { messageId: string }): Promise<void>;
  /** Trims acknowledged entries only. */
  trimShard(shard: number): Promise<number>;
  trimAcknowledged(streamKey: string): Promise<number>;
  /** Forgets consumers that own no pending entry and have been idle longer than `idleMs` (routers that are gone). */
  pruneIdleConsumers(shard: number, idleMs: number): Promise<number>;
}

/** An agent's poll lane, read by `wait_for_messages`. */
export interface MailboxStore {
  mailboxState(agentId: string): Promise<MailboxState>;
  ackPollLane(agentId: string, cursor: string): Promise<AckOutcome>;
  readPollLane(agentId: string, after: string, count: number): Promise<PollLanePage>;
  laneLength(agentId: string, lane: LaneKind): Promise<number>;
}

export interface LedgerStore {
  /** A message's lifecycle; pass the target when known (one lookup instead of one per shard). */
  getMessage(messageId: string, targetAgentId?: string): Promise<LedgerRecord | null>;
  /** Messages of a shard past their deadline without a terminal state: how many, and the first ids. */
  unaccountedMessages(shard: number, now: number, sampleSize: number): Promise<{ count: number; sample: string[] }>;
  /**
   * Closes `abandoned` the shard's `elicit` questions still open past their deadline and its grace
   * (no caller waits for them any more: it crashed or went away), recording an answer that reached
   * their wait meanwhile; a later reply reaches the sender as an ordinary message. Looks at the
   * first `limit` overdue messages; returns the ids it closed.
   */
  abandonOverdueElicits(shard: number, now: number, limit: number): Promise<string[]>;
}

export interface PresenceStore {
  /** Live sessions per agent: expired ones left out, and those bound to a replica process no longer registered. */
  readPresence(agentIds: string[]): Promise<Map<string, PresenceSession[]>>;
  /** Records (or refreshes) one session of an agent. */
  recordPresence(agentId: string, session: PresenceSession): Promise<void>;
  /**
   * Refreshes many sessions in one round trip (a replica's heartbeat): one write per agent and one
   * expiry, however many sessions each holds.
   */
  recordPresences(entries: ReadonlyArray<{ agentId: string; session: PresenceSession }>): Promise<void>;
  removePresence(agentId: string, sessionId: string): Promise<void>;
}

/** Who used which endpoint lately: the input of the adoption and legacy-usage numbers. */
export interface ActivityStore {
  /** Notes that the agent was active at `at` (ms), speaking MCP `generation` when known; callers throttle (ActivityRecorder). */
  recordActivity(agentId: string, activity: AgentActivity, at: number, generation?: McpGeneration): Promise<void>;
  /**
   * Many sightings at once (ActivityRecorder's batch): one ZADD per activity set touched, however
   * many agents it names, so the cost does not grow with the agents an endpoint holds.
   */
  recordActivities(sightings: readonly ActivitySighting[]): Promise<void>;
  /**
   * Counts the shard's agents active since `since` (ms) and its undelivered messages. Forgets
   * activity older than `since`, so only the shard's owner should call it.
   */
  shardCensus(shard: number, since: number): Promise<ShardCensus>;
  /**
   * Adds what a process counted for the legacy inventory (last seen, calls and messages per day)
   * in one pipeline; kept USAGE_RETENTION_DAYS, untouched by the census. Callers batch (UsageRecorder).
   */
  recordUsage(deltas: readonly AgentUsageDelta[]): Promise<void>;
}

/** Replicas of a stateful service and where to reach them (the elicitation service forwards requests for sessions it does not own). */
export interface ReplicaRegistry {
  /** Registers (or refreshes) a replica for `ttlMs`; `instance` names the process (its boot id), which presence records can be bound to. */
  heartbeatReplica(service: string, replicaId: string, url: string, ttlMs: number, instance?: string): Promise<void>;
  removeReplica(service: string, replicaId: string): Promise<void>;
  /** The URL of a live replica, or null when it is gone. */
  lookupReplica(service: string, replicaId: string): Promise<string | null>;
}

/** What the replica pushing to an agent needs: the agent's push lease and its push lane. */
export interface PushLaneStore {
  /**
   * `preempt`: an owner prefix whose lease this caller may take over (a rollback drain taking back a
   * 2026 round). A lease held by a bound owner (boundPushLeaseOwner) whose holder is no longer alive
   * is released first, so its agent moves within the holder's TTL, not the lease's.
   */
  acquirePushLease(agentId: string, owner: string, ttlMs: number, options?: { preempt?: string }): Promise<PushLease | null>;
  /** Keeps a push-lease holder alive for `ttlMs` (one write per holder, however many leases it holds). */
  heartbeatPushHolder(holder: string, ttlMs: number): Promise<void>;
  /** The holder is gone for good (a shutdown): its remaining leases may be released at once. */
  removePushHolder(holder: string): Promise<void>;
  renewPushLease(lease: PushLease, ttlMs: number): Promise<boolean>;
  releasePushLease(lease: PushLease): Promise<void>;
  /** Creates the lane's consumer group and takes over every pending entry (the lease makes us the only consumer). */
  claimPushLane(lease: PushLease, consumer: string): Promise<number>;
  readPushLane(agentId: string, consumer: string, which: 'pending' | 'new', count: number): Promise<PushLaneEntry[]>;
  /**
   * Takes the free push lease for a 2026-07-28 round, claims the lane's pending entries for
   * `consumer` and reads up to `count` (pending first): 'empty' for an empty lane (no lease taken),
   * 'held' when another owner holds the lease.
   */
  takeRound(agentId: string, owner: string, ttlMs: number, consumer: string, count: number): Promise<TakenRound | 'empty' | 'held'>;
  /** Settles the answered entries of a round and releases its lease, fenced by it; says what still waits. */
  settleRound(lease: PushLease, settlements: ReadonlyArray<{ entry: PushLaneEntry; state: 'answered' | 'declined' | 'cancelled' }>): Promise<{ pushRemaining: number; mailbox: { last: string; acked: string } }>;
  /** How many entries the push lane holds, and whether someone (a deliverer, a round, a drain) holds its lease. */
  pushLaneState(agentId: string): Promise<{ length: number; leased: boolean }>;
  /** The entries with these ids still on the lane (settled or drained ones are gone), in the order given. */
  readPushEntries(agentId: string, ids: readonly string[]): Promise<PushLaneEntry[]>;
  /** The agent answered (or saw) the message: ack the entry and record the terminal state. Fenced by the lease. */
  settlePush(lease: PushLease, entry: PushLaneEntry, state: 'answered' | 'declined' | 'cancelled' | 'delivered'): Promise<void>;
  /** The push could not complete: hand the message back to the router (delivery.failed). Fenced by the lease. */
  failPush(lease: PushLease, entry: PushLaneEntry, reason: string): Promise<void>;
  /** Moves every undelivered push entry of the agent to its poll lane, each exactly once. Fenced by the lease. */
  drainPushLane(lease: PushLease, via: DeliveryVia): Promise<number>;
  /** Agents of a shard with a non-empty push lane. */
  agentsWithPushBacklog(shard: number): Promise<string[]>;
  /** Which of these agents have a non-empty push lane: one read per shard they live in, however many they are. */
  pushBacklogAmong(agentIds: Iterable<string>): Promise<string[]>;
}

/** Pending `elicit` calls wait here for their answer. */
export interface ElicitWaitStore {
  beginElicitWait(senderId: string, messageId: string, ttlMs: number): Promise<void>;
  readElicitAnswer(senderId: string, messageId: string): Promise<ElicitAnswer | null>;
  /** Ends the wait: returns the answer if one arrived, otherwise marks the call expired (a late reply then arrives as a message). */
  finishElicitWait(senderId: string, messageId: string): Promise<ElicitAnswer | null>;
  /**
   * Records how an elicit ended in the question's ledger (e.g. `expired` for one nobody answered),
   * and its answer: a terminal state already there is kept. Returns the state afterwards (null: no record).
   */
  closeMessage(messageId: string, targetAgentId: string, state: Exclude<ElicitEndState, 'abandoned'>, answer?: ElicitAnswer): Promise<LedgerState | null>;
  /** A replayed `elicit` waits until `deadlineAt`: its question is not abandoned before then (and its grace). */
  extendElicitDeadline(messageId: string, targetAgentId: string, deadlineAt: number): Promise<void>;
}

export interface ControlStore {
  readFlagSnapshotJson(): Promise<string | null>;
  /**
   * With `leaseValue`, publishes only while that controller lease is held ('fenced' otherwise).
   * `controllerStatusJson`: the controller's status with this publication, stored in the same step
   * (what readControllerStatusJson returns afterwards).
   */
  publishFlagSnapshotJson(snapshotJson: string, expectedVersion: number, audit: AuditEntry, leaseValue?: string, controllerStatusJson?: string): Promise<PublishOutcome>;
  readAudit(count: number): Promise<Array<AuditEntry & { id: string }>>;
  /** An audit entry that is not a flag publication (pause, gate result, rollback effect); fenced like publications. */
  appendAudit(entry: AuditEntry, leaseValue?: string): Promise<string>;
  /** Each live process reports the snapshot version it applies (and again every few seconds). */
  recordFlagsApplied(service: string, replica: string, version: number): Promise<void>;
  /** Reports newer than `since` (ms). */
  readFlagsApplied(since: number): Promise<AppliedFlags[]>;
}

/**
 * The owner notification ledger (redis/notices.ts): once per owner per milestone per channel,
 * pending → sending (claimed, with an expiry) → sent | skipped | failed. Decision 0023.
 */
export interface NoticeLedgerStore {
  /** Records what is not recorded yet (fenced by the controller lease; LIMIT error past `maxOwners`); old milestones are forgotten. */
  enqueueNotices(batch: NoticeBatch, leaseValue: string): Promise<Record<string, EnqueueCounts>>;
  /** Claims up to `limit` due notices of a channel (fenced by the lease); `exhausted` ones were recorded failed instead (attempts used up). */
  claimDueNotices(
    channel: string,
    claim: { now: number; claimUntil: number; token: string; maxAttempts: number; limit: number },
    leaseValue: string,
  ): Promise<Array<ClaimedNotice | (Omit<ClaimedNotice, 'noticeJson'> & { exhausted: true })>>;
  /** Records how a claimed send ended (fenced by the claim's token); `open`: the channel's notices of the milestone still pending or sending. */
  settleNotice(
    notice: { milestone: string; owner: string; channel: string; token: string },
    outcome: { result: 'sent' | 'skipped' | 'failed' } | { result: 'retry'; dueAt: number },
    detail: string,
    now: number,
    retentionSeconds: number,
  ): Promise<{ status: 'settled'; open: number } | { status: 'stale' }>;
  /** When the channel's next notice is due (ms), null when none is. */
  nextNoticeDueAt(channel: string): Promise<number | null>;
  /** Every milestone recorded, oldest first, with its counts by channel and state. */
  noticeMilestones(): Promise<Array<{ milestone: string; recordedAt: number; owners: number; counts: Record<string, Partial<Record<NoticeStateName, number>>> }>>;
  /** A milestone's notices, by owner, with their state on each channel. */
  readNotices(milestone: string): Promise<Array<{ owner: string; noticeJson: string; channels: Record<string, NoticeState> }>>;
}

/** What the controllers need: leader election, the local-mode status, the adoption numbers, the notification ledger. */
export interface ControllerStore extends NoticeLedgerStore {
  acquireControllerLease(owner: string, ttlMs: number): Promise<ControllerLease | null>;
  renewControllerLease(lease: ControllerLease, ttlMs: number): Promise<boolean>;
  releaseControllerLease(lease: ControllerLease): Promise<void>;
  /** Who holds the lease now, if anyone. */
  controllerLeaseHolder(): Promise<string | null>;
  readControllerStatusJson(): Promise<string | null>;
  /**
   * An admin request with an Idempotency-Key, before it runs: 'new' (reserved for this caller; run
   * it, then complete or abandon), 'done' with the answer it got, 'pending' (another attempt runs
   * it now), 'conflict' (the key was used for a different request).
   */
  reserveAdminRequest(idempotencyKey: string, fingerprint: string, ttlSeconds: number): Promise<AdminRequestReservation>;
  completeAdminRequest(idempotencyKey: string, fingerprint: string, answer: unknown, ttlSeconds: number): Promise<void>;
  /** The request failed without effect: a retry with the key runs it again. */
  abandonAdminRequest(idempotencyKey: string): Promise<void>;
  /** Fenced by the lease: throws LEASE_LOST when `lease` is no longer held. */
  writeControllerStatusJson(json: string, lease: ControllerLease): Promise<void>;
  /** A system snapshot before a cutover, kept under its id (and as the latest); fenced like the status. */
  writeSystemSnapshotJson(id: string, json: string, lease: ControllerLease): Promise<void>;
  /** The snapshot with this id, or the latest one; null when there is none. */
  readSystemSnapshotJson(id?: string): Promise<string | null>;
  /** The agents active since `since` (ms) over every shard, most recent first, at most `limit`. */
  activeAgents(since: number, limit: number): Promise<Array<{ agentId: string; lastSeenAt: number }>>;
  /** Distinct agents active since `since` (ms) over every shard, in total, by protocol and by MCP generation. */
  activeAgentCounts(since: number): Promise<ActiveAgentCounts>;
  /**
   * The inventory's usage of the agents seen since `since` (ms) over every shard, most recent first,
   * at most `limit`, with their counters of the UTC `days` asked for.
   */
  readAgentUsage(since: number, days: readonly string[], limit: number): Promise<AgentUsage[]>;
}

/** The public progress page's data: adoption over time and owner feedback. */
export interface ProgressStore {
  /** Appends a sample; samples older than `retentionMs` before it, or beyond `maxLength`, are trimmed. */
  appendAdoptionSample(sample: AdoptionSample, retentionMs: number, maxLength: number): Promise<void>;
  /** Samples appended since `since` (ms), oldest first, at most `limit` (the newest ones). */
  readAdoptionSamples(since: number, limit: number): Promise<AdoptionSample[]>;
  /** Records an owner's answer (the latest per agent replaces the previous); 'full' when `maxAgents` other agents have answered. */
  recordOwnerFeedback(feedback: OwnerFeedback, maxAgents: number): Promise<{ status: 'recorded'; previousScore: number | null } | { status: 'full' }>;
  ownerFeedbackSummary(): Promise<OwnerFeedbackSummary>;
  /** The latest answers, newest first, at most `limit` (for operators: comments are never shown on the page). */
  readOwnerFeedback(limit: number): Promise<OwnerFeedback[]>;
}

export interface CommunicationLogStore {
  readCommunicationLog(shard: number, count: number): Promise<Array<CommunicationEvent & { id: string }>>;
}

/** Envelope checksums (decision 0024): what failed one at delivery, taken out of its lane and counted. */
export interface IntegrityStore {
  /**
   * Takes a lane entry that failed its checksum out of the agent's lane into the shard's dead-letter
   * stream, ends its ledger record `dead_lettered` and counts it; false when it was already taken out.
   */
  deadLetterLaneEntry(agentId: string, lane: LaneKind, entry: { id: string; messageId: string }, reason: string): Promise<boolean>;
  /** Messages dead-lettered for a checksum mismatch, over every shard (the controller's read-only trigger). */
  checksumMismatchCount(): Promise<number>;
}

export interface EventStore
  extends IntegrityStore, MessageLog, ShardStore, MailboxStore, LedgerStore, PresenceStore, ActivityStore, ReplicaRegistry, PushLaneStore, ElicitWaitStore, ControlStore, ControllerStore, CommunicationLogStore, ProgressStore {
  ping(): Promise<void>;
}

export type AdminRequestReservation = { status: 'new' } | { status: 'done'; answer: unknown } | { status: 'pending' } | { status: 'conflict' };
