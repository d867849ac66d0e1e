/**
 * Where one message goes: the pure decisions a shard worker turns into route_message calls. A new
 * message goes by the flags and the target's sessions (routing-policy.ts: chooseLane); a push the
 * elicitation service handed back goes to the poll lane or waits on the push lane; a reply that an
 * `elicit` call waits for carries the answer that call gets. No I/O here: the worker counts the
 * fallbacks and adapter errors these decisions report.
 */
import type { DeliveryFailedEvent, ElicitAnswer, LaneKind, MessageEvent, PresenceSession, RouteDecision } from '@agent-bridge/event-store';
import { evaluateProtocol, type FlagSnapshot } from '@agent-bridge/flags';
import { AdapterError, toPollPayload, toPushPayload, type DeliveryVia, type Envelope, type PushLanePayload } from '@agent-bridge/protocol';
import { chooseLane } from './routing-policy.js';

export interface Decided {
  decision: RouteDecision;
  /** The fallback reason to count (agentbridge_fallbacks_total), when the message does not go where the flags first said. */
  fallback?: string;
  /** The message could not be rendered as an elicitation (it goes to the poll lane instead). */
  adapterError?: AdapterError;
}

/** A new message: push lane when the flags and the target's sessions allow it and it renders as an elicitation, poll lane otherwise. */
export function decideMessage(entry: MessageEvent, flags: FlagSnapshot, sessions: readonly PresenceSession[], now: number = Date.now()): Decided {
  const envelope = entry.envelope;
  let choice = chooseLane(flags, envelope.to, sessions);
  let pushPayload: PushLanePayload | undefined;
  let adapterError: AdapterError | undefined;
  if (choice.lane === 'push') {
    try {
      pushPayload = toPushPayload(envelope);
    } catch (error) {
      if (!(error instanceof AdapterError)) throw error;
      adapterError = error;
      choice = { ...choice, lane: 'poll', via: 'legacy_fallback', fallback: 'no_elicitation_capability' };
    }
  }
  const pollPayload = toPollPayload(envelope);
  const decision: RouteDecision = {
    entryId: entry.id,
    messageId: envelope.id,
    target: envelope.to,
    mode: 'route',
    lane: choice.lane,
    via: choice.via,
    payload: pushPayload ?? pollPayload,
    communicationEvent: communicationEvent(envelope.id, envelope.from, envelope.to, choice.lane, choice.via, { kind: envelope.kind, reason: choice.reason }, now),
  };
  if (pushPayload) decision.pollPayload = pollPayload;
  if (entry.checksum) decision.checksum = entry.checksum;
  if (envelope.kind === 'reply' && envelope.inReplyTo !== undefined) decision.answer = answerOf(envelope);
  return { decision, ...(choice.fallback ? { fallback: choice.fallback } : {}), ...(adapterError ? { adapterError } : {}) };
}

/**
 * A push the elicitation service could not complete: with auto-fallback on (or when the agent has
 * meanwhile been moved back to legacy) it goes to the poll lane; otherwise it waits on the push
 * lane for the agent to come back.
 */
export function decideFailedPush(entry: DeliveryFailedEvent, flags: FlagSnapshot, now: number = Date.now()): Decided {
  const toPoll = flags.autoFallback || evaluateProtocol(flags, entry.target).protocol === 'legacy';
  const lane = toPoll ? 'poll' : 'push';
  const via = toPoll ? 'legacy_fallback' : 'elicitation';
  const decision: RouteDecision = {
    entryId: entry.id,
    messageId: entry.messageId,
    target: entry.target,
    mode: 'reroute',
    failedLaneEntryId: entry.failedLaneEntryId,
    lane,
    via,
    payload: toPoll ? entry.pollPayload : entry.pushPayload,
    communicationEvent: communicationEvent(entry.messageId, entry.pushPayload.from, entry.target, lane, via, { failure: entry.reason }, now),
  };
  if (!toPoll) decision.pollPayload = entry.pollPayload;
  if (entry.checksum) decision.checksum = entry.checksum;
  return { decision, ...(toPoll ? { fallback: `push_${entry.reason}` } : {}) };
}

/** What a waiting `elicit` call gets when this reply completes it. */
export function answerOf(envelope: Envelope): ElicitAnswer {
  const answer: ElicitAnswer = {
    in_reply_to: envelope.inReplyTo!,
    message_id: envelope.id,
    responder: envelope.from,
    action: envelope.answer?.action ?? 'accept',
    text: envelope.content,
    via: envelope.answer ? 'elicitation' : 'legacy',
    answered_at: envelope.acceptedAt,
  };
  if (envelope.answer?.content !== undefined) answer.content = envelope.answer.content;
  return answer;
}

function communicationEvent(messageId: string, from: string, to: string, lane: LaneKind, via: DeliveryVia, extra: Record<string, unknown>, now: number) {
  return {
    type: 'communication' as const,
    subtype: lane === 'push' ? ('elicitation' as const) : ('legacy_polling' as const),
    agent_id: to,
    data: { message_id: messageId, from, to, lane, via, ...extra },
    timestamp: now,
  };
}
