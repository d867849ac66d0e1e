import type { Envelope } from './envelope.js';
import type { PollLanePayload, PushLanePayload } from './lane-payloads.js';

/** Reply schema used when a plain message is pushed as an elicitation (the strategy's adapter shape). */
export const DEFAULT_REPLY_SCHEMA: Record<string, unknown> = Object.freeze({
  type: 'object',
  properties: {
    response: { type: 'string', title: 'Response', description: 'Your reply to the sender' },
  },
});

export class AdapterError extends Error {
  readonly code = 'ADAPTER_ERROR';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AdapterError';
  }
}

/** Canonical envelope → legacy `wait_for_messages` entry (minus the lane-assigned sequence). */
export function toPollPayload(envelope: Envelope): PollLanePayload {
  const payload: PollLanePayload = {
    message_id: envelope.id,
    from: envelope.from,
    content: envelope.content,
    metadata: envelope.metadata,
    timestamp: new Date(envelope.acceptedAt).toISOString(),
  };
  if (envelope.inReplyTo !== undefined) payload.reply_to = envelope.inReplyTo;
  if (envelope.replySchema !== undefined) payload.reply_schema = envelope.replySchema;
  return payload;
}

/** Canonical envelope → `elicitation/create` parameters for the target's session. */
export function toPushPayload(envelope: Envelope): PushLanePayload {
  if (envelope.content.length === 0 && envelope.kind !== 'reply') {
    throw new AdapterError(`message ${envelope.id} has no content to show in an elicitation`);
  }
  const payload: PushLanePayload = {
    message_id: envelope.id,
    from: envelope.from,
    message: envelope.content,
    requestedSchema: envelope.replySchema ?? DEFAULT_REPLY_SCHEMA,
    metadata: envelope.metadata,
    timestamp: new Date(envelope.acceptedAt).toISOString(),
  };
  if (envelope.inReplyTo !== undefined) payload.in_reply_to = envelope.inReplyTo;
  return payload;
}
