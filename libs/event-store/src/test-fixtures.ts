import { newMessageId, toPollPayload, type Envelope } from '@agent-bridge/protocol';
import type { RouteDecision } from './types.js';

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

export function pollDecision(entryId: string, env: Envelope): RouteDecision {
  return {
    entryId,
    envelope: env,
    lane: 'poll',
    via: 'legacy',
    payload: toPollPayload(env),
    communicationEvent: { type: 'communication', subtype: 'legacy_polling', agent_id: env.to, data: { message_id: env.id }, timestamp: Date.now() },
  };
}
