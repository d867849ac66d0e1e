/**
 * The envelope checksum (decision 0024): SHA-256 over what a receiver gets of a message — its id,
 * sender, target, content, metadata and the message it replies to — in a canonical JSON form (keys
 * sorted), computed before the message is stored and verified at every delivery. The lane payloads
 * carry these fields verbatim (adapter.ts), so the receiver's copy can be checked without the
 * envelope. Hex, 64 characters.
 */
import { createHash } from 'node:crypto';
import type { PollLanePayload, PushLanePayload } from './lane-payloads.js';

export interface ChecksummedFields {
  id: string;
  from: string;
  to: string;
  content: string;
  metadata: Record<string, unknown>;
  inReplyTo?: string | undefined;
}

export function envelopeChecksum(fields: ChecksummedFields): string {
  const canonical = canonicalJson([fields.id, fields.from, fields.to, fields.content, fields.metadata, fields.inReplyTo ?? null]);
  return createHash('sha256').update(canonical).digest('hex');
}

/** JSON with every object's keys sorted, so equal values always hash alike whatever their key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, child]) => child !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, child]) => `${JSON.stringify(key)}:${canonicalJson(child)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * Whether a lane payload delivered to `to` is what was checksummed: true when it matches, or when
 * the entry carries no checksum (routed before checksums existed: delivered as before).
 */
export function lanePayloadIntact(payload: PollLanePayload | PushLanePayload, to: string, checksum: string | undefined): boolean {
  if (checksum === undefined) return true;
  const content = 'content' in payload ? payload.content : payload.message;
  const inReplyTo = 'content' in payload ? payload.reply_to : payload.in_reply_to;
  return envelopeChecksum({ id: payload.message_id, from: payload.from, to, content, metadata: payload.metadata, inReplyTo }) === checksum;
}
