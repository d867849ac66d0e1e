import type { Envelope } from './envelope.js';

/**
 * One entry of a `wait_for_messages` result: the legacy shape agents already parse. `sequence` is
 * per recipient and strictly increasing; it is assigned when the message enters the poll lane.
 */
export interface LegacyMessage {
  sequence: number;
  message_id: string;
  from: string;
  content: string;
  metadata: Record<string, unknown>;
  timestamp: string;
  reply_to?: string;
  reply_schema?: Record<string, unknown>;
}

/** Poll-lane payload: the legacy message without its sequence (the lane assigns it). */
export type PollLanePayload = Omit<LegacyMessage, 'sequence'>;

/** Push-lane payload: what the elicitation service sends as `elicitation/create`. */
export interface PushLanePayload {
  message_id: string;
  /** `elicitation`: the sender waits in `elicit` for the answer; `message`/`reply`: a plain message shown as a form. */
  kind: 'message' | 'elicitation' | 'reply';
  from: string;
  message: string;
  requestedSchema: Record<string, unknown>;
  metadata: Record<string, unknown>;
  in_reply_to?: string;
  timestamp: string;
}

export type { Envelope };
