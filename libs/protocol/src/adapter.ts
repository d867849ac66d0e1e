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
    kind: envelope.kind,
    from: envelope.from,
    message: envelope.content,
    requestedSchema: envelope.replySchema ?? DEFAULT_REPLY_SCHEMA,
    metadata: envelope.metadata,
    timestamp: new Date(envelope.acceptedAt).toISOString(),
  };
  if (envelope.inReplyTo !== undefined) payload.in_reply_to = envelope.inReplyTo;
  return payload;
}

/** The text of an elicitation answer as a legacy agent reads it (the strategy's elicitation_to_legacy). */
export function answerToLegacyContent(answer: { action: 'accept' | 'decline' | 'cancel'; content?: Record<string, unknown> }): string {
  if (answer.action === 'decline') return '[declined]';
  if (answer.action === 'cancel') return '[cancelled]';
  const content = answer.content ?? {};
  const keys = Object.keys(content);
  if (keys.length === 1 && typeof content.response === 'string') return content.response;
  return JSON.stringify(content);
}

/** The form message shown to the target: it names the sender and, on its last line, the message id. */
export function elicitationMessageText(payload: PushLanePayload): string {
  const verb = payload.kind === 'elicitation' ? 'asks' : 'says';
  return `${payload.from} ${verb}:\n\n${payload.message}\n\n(message ${payload.message_id})`;
}

/**
 * The `_meta` key under which every elicitation the bridge delivers names its message, on both MCP
 * generations (a pushed `elicitation/create` and each `input_required` elicitation). An agent
 * asked again after a crash uses `message_id` to tell that it already handled the message.
 */
export const MESSAGE_META_KEY = 'io.agentbridge/message';

/** What `_meta[MESSAGE_META_KEY]` carries (documented in docs/agent-guide.md). */
export interface MessageMeta {
  message_id: string;
  from: string;
  kind: PushLanePayload['kind'];
  /** Per-recipient sequence number of the lane entry. */
  sequence: number;
  timestamp: string;
  metadata: Record<string, unknown>;
  in_reply_to?: string;
}

/** The form elicitation for one push-lane entry: the same request on both MCP generations. */
export function elicitationRequest(payload: PushLanePayload, sequence: number): { mode: 'form'; message: string; requestedSchema: Record<string, unknown>; _meta: Record<string, MessageMeta> } {
  const meta: MessageMeta = { message_id: payload.message_id, from: payload.from, kind: payload.kind, sequence, timestamp: payload.timestamp, metadata: payload.metadata };
  if (payload.in_reply_to !== undefined) meta.in_reply_to = payload.in_reply_to;
  return { mode: 'form', message: elicitationMessageText(payload), requestedSchema: payload.requestedSchema, _meta: { [MESSAGE_META_KEY]: meta } };
}
