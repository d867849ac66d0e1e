import { newMessageId, toPollPayload, toPushPayload, type Envelope } from '@agent-bridge/protocol';
import type { EventEntry, RouteDecision } from './types.js';

export function envelope(from: string, to: string, content: string, extra: Partial<Envelope> = {}): Envelope {
  const now = Date.now();
  return {
    id: newMessageId(now),
    kind: 'message',
    from,
    to,
    content,
    metadata: {},
    sourceProtocol: 'legacy',
    acceptedAt: now,
    deadlineAt: now + 60_000,
    ...extra,
  };
}

/** The envelope of a `message` events entry (fails the test for any other kind). */
export function envelopeOf(entry: EventEntry | undefined): Envelope {
  if (entry?.type !== 'message') throw new Error(`expected a message entry, got ${entry?.type}`);
  return entry.envelope;
}

export function pollDecision(entryId: string, env: Envelope): RouteDecision {
  return {
    entryId,
    messageId: env.id,
    target: env.to,
    mode: 'route',
    lane: 'poll',
    via: 'legacy',
    payload: toPollPayload(env),
    communicationEvent: { type: 'communication', subtype: 'legacy_polling', agent_id: env.to, data: { message_id: env.id }, timestamp: Date.now() },
  };
}

export function pushDecision(entryId: string, env: Envelope): RouteDecision {
  return {
    ...pollDecision(entryId, env),
    lane: 'push',
    via: 'elicitation',
    payload: toPushPayload(env),
    pollPayload: toPollPayload(env),
    communicationEvent: { type: 'communication', subtype: 'elicitation', agent_id: env.to, data: { message_id: env.id }, timestamp: Date.now() },
  };
}
