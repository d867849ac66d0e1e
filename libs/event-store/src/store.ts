import type { LaneKind } from './keys.js';
import type {
  AckOutcome,
  AppendRequest,
  AppendResult,
  AuditEntry,
  CommunicationEvent,
  EventEntry,
  LedgerRecord,
  MailboxState,
  PollLanePage,
  PresenceSession,
  PublishOutcome,
  RouteDecision,
  RouteOutcome,
  ShardLease,
} from './types.js';

/** Accepting messages from senders. */
export interface MessageLog {
  /** Resolves only after the store durably holds the message (the caller may then acknowledge its sender). */
  append(request: AppendRequest): Promise<AppendResult>;
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
  deadLetter(lease: ShardLease, entry: EventEntry, reason: string): Promise<void>;
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
}

export interface PresenceStore {
  /** Live sessions per agent (expired ones left out). */
  readPresence(agentIds: string[]): Promise<Map<string, PresenceSession[]>>;
}

export interface ControlStore {
  readFlagSnapshotJson(): Promise<string | null>;
  publishFlagSnapshotJson(snapshotJson: string, expectedVersion: number, audit: AuditEntry): Promise<PublishOutcome>;
  readAudit(count: number): Promise<Array<AuditEntry & { id: string }>>;
}

export interface CommunicationLogStore {
  readCommunicationLog(shard: number, count: number): Promise<Array<CommunicationEvent & { id: string }>>;
}

export interface EventStore extends MessageLog, ShardStore, MailboxStore, LedgerStore, PresenceStore, ControlStore, CommunicationLogStore {
  ping(): Promise<void>;
}
