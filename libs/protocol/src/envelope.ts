import { z } from 'zod';
import { AGENT_ID_PATTERN, MESSAGE_ID_PATTERN } from './ids.js';

const PROTOCOLS = ['legacy', 'elicitation'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** How a message reached its target: its own lane, or the poll lane because push was impossible. */
export type DeliveryVia = 'legacy' | 'elicitation' | 'legacy_fallback';

const MESSAGE_KINDS = ['message', 'elicitation', 'reply'] as const;
export type MessageKind = (typeof MESSAGE_KINDS)[number];

const agentId = z.string().regex(AGENT_ID_PATTERN);
const messageId = z.string().regex(MESSAGE_ID_PATTERN);

/**
 * The canonical envelope: what every endpoint appends to the events stream, whatever protocol the
 * sender used. Lane payloads are rendered from it by the adapter.
 */
const envelopeSchema = z
  .object({
    id: messageId,
    kind: z.enum(MESSAGE_KINDS),
    from: agentId,
    to: agentId,
    content: z.string(),
    metadata: z.record(z.string(), z.unknown()),
    inReplyTo: messageId.optional(),
    /** Restricted MCP form schema the sender expects the answer to follow (elicit). */
    replySchema: z.record(z.string(), z.unknown()).optional(),
    sourceProtocol: z.enum(PROTOCOLS),
    acceptedAt: z.number().int(),
    /** After this instant a message without a terminal state counts as unaccounted. */
    deadlineAt: z.number().int(),
    /** Set on a reply that is the target's answer to an elicitation (accept with content, decline, cancel). */
    answer: z
      .object({
        action: z.enum(['accept', 'decline', 'cancel']),
        content: z.record(z.string(), z.unknown()).optional(),
      })
      .strict()
      .optional(),
    /** W3C trace context, so one trace follows a message across services. */
    traceparent: z.string().optional(),
  })
  .strict();

export type Envelope = z.infer<typeof envelopeSchema>;

export function decodeEnvelope(json: string): Envelope {
  return envelopeSchema.parse(JSON.parse(json));
}
