import type { DeliveryVia, Envelope, LegacyMessage, MessageKind, PollLanePayload, Protocol, PushLanePayload } from '@agent-bridge/protocol';
import type { LaneKind } from './keys.js';

export interface AppendRequest {
  envelope: Envelope;
  /** Client idempotency key: the same key with the same content returns the first message id. */
  idempotencyKey?: string;
  /** The message stays open in the ledger after delivery until it is answered (elicit). */
  awaitsReply?: boolean;
}

export interface AppendResult {
  messageId: string;
  eventsEntryId: string;
  /** True when this call stored nothing new (a retry of an earlier send). */
  duplicate: boolean;
}

/** One entry of a shard events stream, as a router reads it. */
export interface EventEntry {
  id: string;
  type: string;
  messageId: string | undefined;
  envelope: Envelope | undefined;
  fields: Record<string, string>;
  /** Set when the entry cannot be decoded: such entries go to the dead-letter stream. */
  decodeError: string | undefined;
}

export interface ShardLease {
  shard: number;
  owner: string;
  /** `owner|fence`: every write a router makes under this lease is checked against it. */
  value: string;
  fence: number;
}

export interface RouteDecision {
  entryId: string;
  envelope: Envelope;
  lane: LaneKind;
  via: DeliveryVia;
  payload: PollLanePayload | PushLanePayload;
  communicationEvent: CommunicationEvent;
}

export interface RouteOutcome {
  entryId: string;
  messageId: string;
  status: 'routed' | 'duplicate';
  lane: LaneKind;
  laneEntryId: string;
  sequence: number | undefined;
}

export interface PollLaneEntry {
  /** Stream id of the entry: the cursor that acknowledges it and everything before it. */
  cursor: string;
  message: LegacyMessage;
  via: DeliveryVia;
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

export type AckOutcome =
  | { status: 'acked'; count: number; acked: string }
  | { status: 'expired'; acked: string }
  | { status: 'unknown'; last: string };

export const LEDGER_STATES = ['accepted', 'routed', 'delivered', 'answered', 'declined', 'cancelled', 'expired'] as const;
export type LedgerState = (typeof LEDGER_STATES)[number];

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
}

export interface PresenceSession {
  sessionId: string;
  replica: string;
  elicitation: { form: boolean; url: boolean };
  expiresAt: number;
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

export type PublishOutcome = { status: 'published'; version: number; auditId: string } | { status: 'conflict'; currentVersion: number };
