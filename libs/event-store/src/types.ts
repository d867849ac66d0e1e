import type { DeliveryVia, Envelope, LegacyMessage, McpGeneration, MessageKind, PollLanePayload, Protocol, PushLanePayload } from '@agent-bridge/protocol';
import type { LaneKind } from './keys.js';

export interface AppendRequest {
  envelope: Envelope;
  /** Client idempotency key: the same key with the same content returns the first message id. */
  idempotencyKey?: string;
  /** The message stays open in the ledger after delivery until it is answered (elicit). */
  awaitsReply?: boolean;
  /**
   * The reply the bridge records for an agent's answer to a delivered message: stored even when
   * Redis is full (there is at most one per message accepted before), because the delivered entry
   * is settled, and its memory freed, only after it.
   */
  answer?: boolean;
}

export interface AppendResult {
  messageId: string;
  eventsEntryId: string;
  /** True when this call stored nothing new (a retry of an earlier send). */
  duplicate: boolean;
}

/** One entry of a shard events stream, as a router reads it. */
export type EventEntry = MessageEvent | DeliveryFailedEvent | UndecodableEvent;

interface EventEntryBase {
  id: string;
  fields: Record<string, string>;
}

/** A message accepted from a sender (`t=message`). */
export interface MessageEvent extends EventEntryBase {
  type: 'message';
  envelope: Envelope;
  /** The checksum stored with it; absent on entries stored before checksums existed (delivered as before). */
  checksum?: string;
}

/** A push that could not complete, handed back by an elicitation replica (`t=delivery.failed`). */
export interface DeliveryFailedEvent extends EventEntryBase {
  type: 'delivery.failed';
  messageId: string;
  target: string;
  reason: string;
  /** The push-lane entry that failed: a reroute only applies while the ledger still points at it. */
  failedLaneEntryId: string;
  pushPayload: PushLanePayload;
  pollPayload: PollLanePayload;
  /** The envelope checksum the failed entry carried (kept for the re-routed one). */
  checksum?: string;
}

/** An entry that cannot be decoded: it goes to the dead-letter stream. */
interface UndecodableEvent extends EventEntryBase {
  type: 'undecodable';
  decodeError: string;
}

export interface ShardLease {
  shard: number;
  owner: string;
  /** `owner|fence`: every write a router makes under this lease is checked against it. */
  value: string;
  fence: number;
}

/**
 * Owner prefix of a push lease held by a 2026-07-28 round: the lease waits for the agent's retry and
 * no process holds it, so a rollback drain may take it over (see acquire_lease.lua).
 */
export const ROUND_LEASE_OWNER_PREFIX = 'round:';

/**
 * The owner of a push lease bound to a holder (`<holder>/<n>`): the lease is held as long as the
 * holder's liveness key exists (PushLaneStore.heartbeatPushHolder), whatever the lease's own TTL.
 */
export function boundPushLeaseOwner(holder: string, n: number): string {
  if (holder.includes('/')) throw new Error(`a push-lease holder id may not contain "/" (got "${holder}")`);
  return `${holder}/${n}`;
}

/** The holder a push lease's owner is bound to, or undefined for an ordinary (TTL-only) lease. */
export function pushLeaseHolder(owner: string): string | undefined {
  const at = owner.lastIndexOf('/');
  return at > 0 ? owner.slice(0, at) : undefined;
}

/** The lease of the one replica pushing to an agent (`owner|fence`). */
export interface PushLease {
  agentId: string;
  owner: string;
  value: string;
  fence: number;
}

/** A 2026-07-28 round taken off an agent's push lane: the lease it holds and the entries it hands out. */
export interface TakenRound {
  lease: PushLease;
  /** Entries handed out before and never settled (redeliveries), in lane order. */
  pending: PushLaneEntry[];
  /** Entries never handed out before, in lane order. */
  fresh: PushLaneEntry[];
}

/** Where one events entry goes. */
export interface RouteDecision {
  entryId: string;
  messageId: string;
  target: string;
  lane: LaneKind;
  via: DeliveryVia;
  payload: PollLanePayload | PushLanePayload;
  /** For the push lane: the poll-lane rendering, kept for a later fallback or drain. */
  pollPayload?: PollLanePayload;
  /** The envelope checksum of the message, carried into the lane entry (verified at delivery). */
  checksum?: string;
  communicationEvent: CommunicationEvent;
  /** `reroute` applies a delivery.failed hand-back, only while the ledger still points at `failedLaneEntryId`. */
  mode: 'route' | 'reroute';
  failedLaneEntryId?: string;
  /** For a reply: completes the target's waiting `elicit` call for `answer.in_reply_to` instead of entering a lane. */
  answer?: ElicitAnswer;
  /** W3C traceparent stored with the lane entry, so the delivery span joins the message's trace. */
  traceparent?: string;
}

/** What a waiting `elicit` call receives. */
export interface ElicitAnswer {
  in_reply_to: string;
  message_id: string;
  responder: string;
  action: 'accept' | 'decline' | 'cancel';
  /** The reply's content as sent (legacy replies), or the JSON of the accepted form content. */
  text: string;
  /** Structured content of an elicitation answer, when there is one. */
  content?: Record<string, unknown>;
  via: 'elicitation' | 'legacy';
  answered_at: number;
}

export interface RouteOutcome {
  entryId: string;
  messageId: string;
  status: 'routed' | 'answered' | 'duplicate';
  lane: LaneKind | 'answer';
  laneEntryId: string;
  sequence: number | undefined;
}

/** One entry of an agent's push lane, as the elicitation replica delivering to it reads it. */
export interface PushLaneEntry {
  id: string;
  messageId: string;
  sequence: number;
  via: DeliveryVia;
  payload: PushLanePayload;
  /** W3C traceparent of the routing span, when the message is traced. */
  traceparent?: string;
  /** The envelope checksum (absent on entries routed before checksums existed: delivered unverified). */
  checksum?: string;
  /** Why the stored payload does not decode (the payload is then empty): never delivered, dead-lettered. */
  corrupt?: string;
}

export interface PollLaneEntry {
  /** Stream id of the entry: the cursor that acknowledges it and everything before it. */
  cursor: string;
  message: LegacyMessage;
  via: DeliveryVia;
  /** W3C traceparent of the routing span, when the message is traced. */
  traceparent?: string;
  /** The envelope checksum (absent on entries routed before checksums existed: delivered unverified). */
  checksum?: string;
  /** Why the stored payload does not decode (the message then has only its id): never delivered, dead-lettered. */
  corrupt?: string;
}

export interface PollLanePage {
  entries: PollLaneEntry[];
  hasMore: boolean;
}

export interface MailboxState {
  /** Last acknowledged poll-lane id (`0-0` when none). */
  acked: string;
  /** Last poll-lane id ever issued (`0-0` when none). */
  last: string;
  /** Last sequence number issued to this agent. */
  sequence: number;
}

/** `last` of an acknowledgement: the newest entry the poll lane issued when it was acknowledged (equal to `acked` when nothing waited after the cursor). */
export type AckOutcome = { status: 'acked'; count: number; acked: string; last: string } | { status: 'expired'; acked: string } | { status: 'unknown'; last: string };

/** A message's lifecycle in the ledger; docs/event-store.md ("Ledger states") says what each means. */
export type LedgerState = 'accepted' | 'routed' | 'delivered' | 'answered' | 'declined' | 'cancelled' | 'expired' | 'abandoned' | 'dead_lettered';
/**
 * How an `elicit` question ends (`delivered` is not an end for a question: it waits for its answer).
 * `abandoned`: its deadline passed and nobody waited for it any more (the caller crashed or went
 * away; decision 0010). close_message.lua keeps the same list.
 */
export const ELICIT_END_STATES = ['answered', 'declined', 'cancelled', 'expired', 'abandoned'] as const;
export type ElicitEndState = (typeof ELICIT_END_STATES)[number];

export interface LedgerRecord {
  id: string;
  from: string;
  to: string;
  kind: MessageKind;
  protocol: Protocol;
  state: LedgerState;
  lane: LaneKind | undefined;
  via: DeliveryVia | undefined;
  acceptedAt: number;
  routedAt: number | undefined;
  deliveredAt: number | undefined;
  deadlineAt: number;
  awaitsReply: boolean;
  inReplyTo: string | undefined;
  eventsEntryId: string;
  laneEntryId: string | undefined;
  sequence: number | undefined;
  /** An elicit question's answer, recorded when the elicit ended (a replay returns it). */
  answer?: ElicitAnswer;
}

export interface PresenceSession {
  sessionId: string;
  replica: string;
  /** What the client declared at initialize (`elicitation: {}` counts as form). */
  elicitation: { form: boolean; url: boolean };
  /** Whether the session's GET stream is open: server-to-client requests can only travel on it. */
  streamOpen: boolean;
  expiresAt: number;
  /**
   * The replica process (its boot id) that holds the session. With it, the session is live only
   * while that process is registered (ReplicaRegistry.heartbeatReplica with the same instance):
   * the record itself may then live long and be refreshed rarely, and a replica that dies or
   * restarts takes its sessions' presence with it within the registry's TTL.
   */
  instance?: string;
}

/** The strategy's normalized communication event, one format for both protocols. */
export interface CommunicationEvent {
  type: 'communication';
  subtype: 'legacy_polling' | 'elicitation';
  agent_id: string;
  data: Record<string, unknown>;
  timestamp: number;
}

export interface AuditEntry {
  at: string;
  actor: string;
  action: string;
  reason: string;
  trigger?: string;
  changes?: Array<{ flag: string; oldValue: unknown; newValue: unknown }>;
  details?: Record<string, unknown>;
}

export type PublishOutcome = { status: 'published'; version: number; auditId: string } | { status: 'conflict'; currentVersion: number } | { status: 'fenced'; currentVersion: number };

/** The controllers' leader lease (`owner|fence`). */
export interface ControllerLease {
  owner: string;
  value: string;
  fence: number;
}

/** Which flag snapshot a live process applies, as it last reported. */
export interface AppliedFlags {
  service: string;
  replica: string;
  version: number;
  at: number;
}

/** What an agent was seen doing: using the legacy endpoint, holding a push-capable session, or neither. */
export type AgentActivity = 'legacy' | 'elicitation' | 'other';

/** One sighting of an agent for the activity sets (ActivityStore.recordActivities). */
export interface ActivitySighting {
  agentId: string;
  activity: AgentActivity;
  /** When, ms. */
  at: number;
  generation?: McpGeneration;
}

/**
 * The legacy inventory's usage, which outlives the census window: last seen by kind and counters
 * per UTC day, kept USAGE_RETENTION_DAYS.
 */
export type UsageProtocol = 'legacy' | 'elicitation';
/** `any` (every request), by protocol (as AgentActivity counts it), and by MCP generation. */
export type UsageSeenKind = 'any' | UsageProtocol | `generation:${McpGeneration}`;
/** Tool calls on an endpoint, and messages sent or delivered through it. */
export type UsageCounter = `${'calls' | 'messages'}:${UsageProtocol}`;

/** What one process counted for an agent since its last flush (UsageRecorder). */
export interface AgentUsageDelta {
  agentId: string;
  /** The latest time (ms) seen, by kind. */
  seen: Partial<Record<UsageSeenKind, number>>;
  /** Counts to add, by UTC day (`YYYY-MM-DD`) and counter. */
  days: Record<string, Partial<Record<UsageCounter, number>>>;
  /**
   * Set the keys' expiries too (the retention). The recorder asks for it on an agent's first write
   * of the day in its process; later writes leave them alone, a command less each.
   */
  refreshExpiry?: boolean;
}

/** An agent's stored usage (readAgentUsage). */
export interface AgentUsage {
  agentId: string;
  seen: Partial<Record<UsageSeenKind, number>>;
  /** Counters of the days asked for that have any. */
  days: Record<string, Partial<Record<UsageCounter, number>>>;
}

/** Distinct agents seen since the window start. */
export interface ActiveAgentCounts {
  /** Every agent seen, whatever it did. */
  any: number;
  /** By protocol (AgentActivity): an agent using both counts in both, an `other` one in neither. */
  legacy: number;
  elicitation: number;
  /**
   * Agents counted in both `legacy` and `elicitation` (activeAgentCounts only), so the figures add
   * up: any = (legacy − both) + (elicitation − both) + both + those that did neither.
   */
  both?: number;
  /**
   * By the MCP generation the agent spoke: an agent using both counts in both, one seen without a
   * generation (recorded before generations were) in neither.
   */
  byGeneration: Record<McpGeneration, number>;
}

/** One shard's numbers for the dashboards, taken by the router that owns the shard. */
export interface ShardCensus {
  activeAgents: ActiveAgentCounts;
  /** Accepted messages not yet delivered, by where they wait. */
  backlog: { events: number; push: number; poll: number };
  /** Entries of the shard's dead-letter stream: undecodable entries and messages that failed their checksum (each with a terminal ledger state). */
  deadLetters: number;
}

/** A send about to be accepted, as the sender's quota sees it. */
export interface SendToAdmit {
  from: string;
  to: string;
  messageId: string;
  deadlineAt: number;
  /** An `elicit` question: its wait record is opened with the admission (as beginElicitWait does), for this long. */
  elicitWaitTtlMs?: number;
}

/** How much one agent may send: a token bucket (rate, burst) and a cap on its undelivered sends. */
export interface SendQuota {
  ratePerSecond: number;
  burst: number;
  backlogMax: number;
}

export type Admission = { admitted: true } | { admitted: false; reason: 'rate'; retryAfterMs: number } | { admitted: false; reason: 'backlog'; retryAfterMs: number; open: number };

/** Redis memory as last read: `ratio` is 0 when no limit is known (no maxmemory and no configured limit). */
export interface MemoryPressure {
  usedBytes: number;
  limitBytes: number;
  ratio: number;
}

/** Adoption at one moment, as the progress page charts it (the controller leader samples it). */
export interface AdoptionSample {
  /** ISO time of the sample. */
  at: string;
  /** Active agents in the window, and how they split: elicitation only, legacy only, both. */
  active: number;
  elicitationOnly: number;
  legacyOnly: number;
  both: number;
}

/** An agent owner's answer on the progress page: the latest per agent counts. */
export interface OwnerFeedback {
  agentId: string;
  /** Satisfaction, 1 (bad) to 5 (good). */
  score: 1 | 2 | 3 | 4 | 5;
  comment: string;
  at: string;
}

/** Agents whose latest answer has each score (keys "1" to "5"), and how many answered at all. */
export interface OwnerFeedbackSummary {
  byScore: Record<'1' | '2' | '3' | '4' | '5', number>;
  total: number;
}

/** Where an owner notice stands on one channel (the notification ledger, notice_*.lua). */
export type NoticeStateName = 'pending' | 'sending' | 'sent' | 'skipped' | 'failed';

export interface NoticeState {
  state: NoticeStateName;
  /** Sends begun (each claim is one). */
  attempts: number;
  createdAt: number;
  updatedAt: number;
  /** When it may be sent (again). */
  dueAt: number;
  /** While sending: the claim's token and when it runs out. */
  token?: string;
  claimUntil?: number;
  sentAt?: number;
  lastError?: string;
  /** Why it was skipped. */
  detail?: string;
}

/** A milestone's notices to record: for each owner, the notice (opaque JSON) and its first state on each channel. */
export interface NoticeBatch {
  milestone: string;
  channels: string[];
  notices: Array<{ owner: string; noticeJson: string; initial: Array<{ state: 'pending' | 'skipped'; detail?: string }> }>;
  now: number;
  retentionSeconds: number;
  maxOwners: number;
  maxMilestones: number;
}

/** What one enqueue did on one channel: newly pending, already recorded, newly recorded as skipped. */
export interface EnqueueCounts {
  queued: number;
  already: number;
  skipped: number;
}

export interface ClaimedNotice {
  milestone: string;
  owner: string;
  channel: string;
  noticeJson: string;
  state: NoticeState;
}
