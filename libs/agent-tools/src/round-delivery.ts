import type { FlagSnapshot } from '@agent-bridge/flags';
import type { InputRequired, ToolCallContext } from '@agent-bridge/service-kit';

/**
 * Push delivery to 2026-07-28 agents, which have no session to push on: a waiting
 * `wait_for_messages` answers `input_required` with one elicitation per waiting message, and the
 * client's retry carries the answers. The mailbox tools call a RoundDelivery; the elicitation
 * service implements it (services/elicitation/src/rounds.ts).
 */

/** What one answer of a round did: the action given, or `rejected` with the problem. */
export interface RoundAnswer {
  message_id: string;
  action: 'accept' | 'decline' | 'cancel' | 'rejected';
  problem?: string;
}

/**
 * What a call's rounds carry from one to the next: one `wait_for_messages` call may hand out
 * several rounds (each retry stores its answers, then the call goes on while messages wait or
 * until its hold ends), and its final result lists every answer.
 */
export interface RoundCarry {
  /** When the call's hold ends (epoch ms), counted from its first request. */
  deadline: number;
  /** Rounds handed out by the call so far. */
  round: number;
  answered: RoundAnswer[];
  /** Set by handOut: the push lane was empty at its last look, so the answer's has_more need not look again. */
  pushLaneEmpty?: boolean;
}

export interface RoundDelivery {
  /**
   * Whether this call is served by rounds (a 2026-07-28 call of an agent the flags put on
   * elicitation). Throws a ToolError for such a call that cannot be (no elicitation capability);
   * it runs before anything is acknowledged, so a refused call has no effect.
   */
  serves(flags: FlagSnapshot, context: ToolCallContext): boolean;
  /**
   * The retry of a round (it carries requestState): stores the answers, settles their entries.
   * `carry` is set when the same call may go on with another round (it has rounds left).
   */
  complete(context: ToolCallContext): Promise<{ answered: RoundAnswer[]; has_more: boolean; cursor: string; carry: RoundCarry | undefined }>;
  /** Takes the next round of the agent's push lane, or undefined when there is none to take now. */
  handOut(context: ToolCallContext, carry: RoundCarry): Promise<InputRequired | undefined>;
  /** A 2026-07-28 agent that can answer elicitations counts as present for push while its call waits, and for a window after. */
  present(context: ToolCallContext, holdMs: number): void;
}
