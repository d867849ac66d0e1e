/**
 * The one place that names the fields of agent-bridge's stream entries and ledger hashes. Redis
 * stream fields are kept to one or two letters (they are stored with every entry); the Lua scripts
 * see the same names through the generated `fields` include (scripts.ts), so a script and the
 * TypeScript that reads its entries cannot disagree. docs/event-store.md describes each stream.
 */
import { decodeEnvelope, type DeliveryVia, type MessageKind, type PollLanePayload, type Protocol, type PushLanePayload } from '@agent-bridge/protocol';
import type { LaneKind } from './keys.js';
import type { AuditEntry, CommunicationEvent, ElicitAnswer, EventEntry, LedgerRecord, LedgerState, PollLaneEntry, PushLaneEntry } from './types.js';

/** A shard's events stream: `message` entries (append_message) and `delivery.failed` hand-backs (fail_push). */
export const EVENT_FIELDS = {
  type: 't',
  messageId: 'm',
  envelope: 'e',
  target: 'a',
  reason: 'r',
  failedLaneEntryId: 'l',
  pushPayload: 'p',
  pollPayload: 'q',
  /** The envelope checksum of what the sender sent (`message`, and `delivery.failed` carrying it on); absent on entries stored before checksums. */
  checksum: 'k',
} as const;

/** An agent's poll and push lanes (route_message, drain_push_lane). `pollPayload` only on a push lane: kept for a fallback. */
export const LANE_FIELDS = {
  messageId: 'm',
  sequence: 's',
  via: 'v',
  payload: 'p',
  pollPayload: 'q',
  traceparent: 'tp',
  /** The envelope checksum carried from the events entry (route_message), verified at delivery; absent on older entries. */
  checksum: 'k',
} as const;

/** The audit stream (publish_flags, fenced_write) and the shards' communication logs (route_message). */
export const LOG_FIELDS = {
  audit: 'a',
  communication: 'c',
  /** An adoption sample of the progress page (JSON AdoptionSample). */
  adoptionSample: 's',
} as const;

/** The named field tables the Lua `fields` include defines (one Lua table per entry). */
export const LUA_FIELD_TABLES = { EVENT: EVENT_FIELDS, LANE: LANE_FIELDS, LOG: LOG_FIELDS } as const;

/** A flat `[name, value, name, value…]` reply as a record (stream entries, XINFO replies). */
export function pairs(flat: readonly string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
  return fields;
}

/** XINFO replies are flat `[name, value, name, value…]` lists of mixed types. */
export function fieldMap(flat: readonly unknown[]): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[String(flat[i])] = flat[i + 1];
  return fields;
}

export function decodeEventEntry(id: string, flat: string[] | null): EventEntry {
  const fields = pairs(flat ?? []);
  const F = EVENT_FIELDS;
  const undecodable = (decodeError: string): EventEntry => ({ id, fields, type: 'undecodable', decodeError });
  if (flat === null) return undecodable('entry was deleted from the stream while pending');
  try {
    if (fields[F.type] === 'message') {
      const checksum = fields[F.checksum];
      return { id, fields, type: 'message', envelope: decodeEnvelope(fields[F.envelope] ?? ''), ...(checksum ? { checksum } : {}) };
    }
    if (fields[F.type] === 'delivery.failed') {
      const [messageId, target, failedLaneEntryId, push, poll] = [F.messageId, F.target, F.failedLaneEntryId, F.pushPayload, F.pollPayload].map((name) => fields[name]);
      if (!messageId || !target || !failedLaneEntryId || !push || !poll) return undecodable('delivery.failed entry lacks a field');
      return {
        id,
        fields,
        type: 'delivery.failed',
        messageId,
        target,
        reason: fields[F.reason] ?? 'unknown',
        failedLaneEntryId,
        pushPayload: JSON.parse(push) as PushLanePayload,
        pollPayload: JSON.parse(poll) as PollLanePayload,
        ...(fields[F.checksum] ? { checksum: fields[F.checksum] } : {}),
      };
    }
    return undecodable(`unknown event type "${fields[F.type] ?? ''}"`);
  } catch (error) {
    return undecodable(`entry does not decode: ${error instanceof Error ? error.message.slice(0, 300) : String(error)}`);
  }
}

/**
 * A lane entry's payload, or why it is corrupt: a payload that no longer parses as a JSON object
 * must not stop its reader (every later entry of the agent's lane would be stuck behind it); the
 * delivery side dead-letters it instead (agent-tools, delivery-integrity).
 */
function lanePayload<T>(text: string | undefined): { payload: T; corrupt?: undefined } | { payload?: undefined; corrupt: string } {
  if (text === undefined) return { payload: {} as T };
  try {
    const value = JSON.parse(text) as unknown;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return { corrupt: `the payload is JSON but not an object (${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value})` };
    return { payload: value as T };
  } catch (error) {
    return { corrupt: `the payload does not parse as JSON (${error instanceof Error ? error.message.slice(0, 200) : String(error)})` };
  }
}

/** A push-lane entry as readers see it (`corrupt` set, payload empty, when its payload does not decode). */
export function decodePushLaneEntry(id: string, flat: string[]): PushLaneEntry {
  const fields = pairs(flat);
  const F = LANE_FIELDS;
  const { payload, corrupt } = lanePayload<PushLanePayload>(fields[F.payload]);
  return {
    id,
    messageId: fields[F.messageId] ?? '',
    sequence: Number(fields[F.sequence]),
    via: (fields[F.via] ?? 'elicitation') as DeliveryVia,
    payload: payload ?? ({} as PushLanePayload),
    ...(corrupt !== undefined ? { corrupt } : {}),
    ...(fields[F.traceparent] ? { traceparent: fields[F.traceparent] } : {}),
    ...(fields[F.checksum] ? { checksum: fields[F.checksum] } : {}),
  };
}

/** A poll-lane entry as `wait_for_messages` serves it: its id is the cursor (`corrupt` set when its payload does not decode). */
export function decodePollLaneEntry(id: string, flat: string[]): PollLaneEntry {
  const fields = pairs(flat);
  const F = LANE_FIELDS;
  const { payload, corrupt } = lanePayload<PollLanePayload>(fields[F.payload]);
  return {
    cursor: id,
    message: { sequence: Number(fields[F.sequence]), ...(payload ?? ({ message_id: fields[F.messageId] ?? '' } as PollLanePayload)) },
    via: (fields[F.via] ?? 'legacy') as DeliveryVia,
    ...(corrupt !== undefined ? { corrupt } : {}),
    ...(fields[F.traceparent] ? { traceparent: fields[F.traceparent] } : {}),
    ...(fields[F.checksum] ? { checksum: fields[F.checksum] } : {}),
  };
}

export function decodeAuditEntry(id: string, flat: string[]): AuditEntry & { id: string } {
  return { id, ...(JSON.parse(pairs(flat)[LOG_FIELDS.audit] ?? '{}') as AuditEntry) };
}

export function decodeCommunicationEvent(id: string, flat: string[]): CommunicationEvent & { id: string } {
  return { id, ...(JSON.parse(pairs(flat)[LOG_FIELDS.communication] ?? '{}') as CommunicationEvent) };
}

/** A message's ledger hash (written by append_message, route_message and the settling scripts). */
export function decodeLedger(hash: Record<string, string>): LedgerRecord | null {
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
