import { evaluateProtocol, type FlagSnapshot, type ProtocolReason } from '@agent-bridge/flags';
import type { LaneKind, PresenceSession } from '@agent-bridge/event-store';
import type { DeliveryVia } from '@agent-bridge/protocol';

export interface LaneChoice {
  lane: LaneKind;
  via: DeliveryVia;
  /** Why the flags chose the protocol. */
  reason: ProtocolReason;
  /** Set when an elicitation agent is served on the poll lane instead. */
  fallback: 'no_session' | 'no_elicitation_capability' | 'no_stream' | undefined;
}

/**
 * Which lane delivers a message to `agentId`: the flags pick the protocol (master switch, excluded,
 * opt-in, percentage bucket); then presence decides whether push can work right now. An agent
 * chosen for elicitation without a live, elicitation-capable session is served on the poll lane
 * when auto-fallback is on, and otherwise waits on its push lane until it connects.
 */
export function chooseLane(flags: FlagSnapshot, agentId: string, sessions: readonly PresenceSession[]): LaneChoice {
  const decision = evaluateProtocol(flags, agentId);
  if (decision.protocol === 'legacy') return { lane: 'poll', via: 'legacy', reason: decision.reason, fallback: undefined };
  if (sessions.some((session) => session.elicitation.form && session.streamOpen)) {
    return { lane: 'push', via: 'elicitation', reason: decision.reason, fallback: undefined };
  }
  if (!flags.autoFallback) return { lane: 'push', via: 'elicitation', reason: decision.reason, fallback: undefined };
  const capable = sessions.filter((session) => session.elicitation.form);
  return {
    lane: 'poll',
    via: 'legacy_fallback',
    reason: decision.reason,
    fallback: sessions.length === 0 ? 'no_session' : capable.length === 0 ? 'no_elicitation_capability' : 'no_stream',
  };
}
