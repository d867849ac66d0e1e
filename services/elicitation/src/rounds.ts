import { randomUUID } from 'node:crypto';
import { doorbellTopics, ROUND_LEASE_OWNER_PREFIX, isStoreError, type Doorbell, type EventStore, type PushLaneEntry, type PushLease } from '@agent-bridge/event-store';
import { evaluateProtocol, type FlagSnapshot } from '@agent-bridge/flags';
import { SpanKind, withSpan, type BridgeMetrics, type Logger } from '@agent-bridge/observability';
import { ToolError, elicitationRequest } from '@agent-bridge/protocol';
import { InputRequired, type RequestStateSealer, type ToolCallContext } from '@agent-bridge/service-kit';
import { deliverable, type RoundAnswer, type RoundCarry, type RoundDelivery } from '@agent-bridge/agent-tools';
import { answeredBefore, parseAnswer, storeReply, type AnswerDeps } from './answers.js';

export interface RoundDeliveryDeps {
  store: EventStore;
  doorbell: Doorbell;
  flags: () => FlagSnapshot;
  metrics: BridgeMetrics;
  logger: Logger;
  sealer: RequestStateSealer;
  replica: string;
  /** Elicitations per round at most. */
  maxPerRound: number;
  /** Rounds one wait_for_messages call hands out at most before it returns its result. */
  roundsPerCall: number;
  /** A 2026 agent counts as present for push this long after its last waiting call. */
  presenceWindowMs: number;
  messageDeadlineMs: number;
  /** Counts deliveries for the legacy inventory. */
  usage?: AnswerDeps['usage'];
}

/** The consumer name of every round: one lease holder at a time, so one name serves them all. */
const ROUND_CONSUMER = 'rounds';

/** Extra lease time beyond the answer window, so a retry arriving just in time still finds the lease. */
const LEASE_MARGIN_MS = 2_000;

/** What a round's requestState carries: the push lease it holds, the lane entries it handed out, and the call's carry. */
interface RoundState {
  /** push lease value `owner|fence` */
  l: string;
  /** lane entry ids, in lane order */
  e: string[];
  /** the call's hold deadline, epoch ms */
  d: number;
  /** this round's number within the call (1, 2, …) */
  n: number;
  /** what the call's earlier rounds answered */
  a: RoundAnswer[];
}

/** A rejected answer's problem as the state carries it: bounded, whatever the form was. */
const MAX_PROBLEM_CHARS = 160;
/** A call whose answers so far take more than this (as JSON) returns its result rather than carry them on. */
const MAX_CARRIED_ANSWERS_CHARS = 16_000;

/**
 * Push delivery to 2026-07-28 agents. A waiting `wait_for_messages` takes the agent's push lease
 * (owner `round:…`), reads up to `maxPerRound` entries (redeliveries first) and answers
 * `input_required` with one form elicitation per entry, keyed by message id. The lease and the
 * entry ids travel in the signed requestState, so the retry can land on any replica: it stores
 * each answer's reply, then settles the entry, then releases the lease. An entry not answered in
 * time stays pending and is handed out again (or drained to the poll lane by the router when the
 * agent is gone and auto-fallback is on, or rolled back).
 */
export class StatelessRounds implements RoundDelivery {
  private readonly presenceWrittenUntil = new Map<string, number>();

  constructor(private readonly deps: RoundDeliveryDeps) {}

  serves(flags: FlagSnapshot, context: ToolCallContext): boolean {
    if (context.generation !== '2026-07-28' || evaluateProtocol(flags, context.agentId).protocol !== 'elicitation') return false;
    if (!context.elicitation.form) {
      throw new ToolError(
        'ELICITATION_REQUIRED',
        'You are served by elicitation: messages reach a 2026-07-28 client as form elicitations of the wait_for_messages answer. Declare the capability (capabilities: { elicitation: { form: {} } }) and handle elicitation/create; nothing was taken off your mailbox.',
      );
    }
    return true;
  }

  present(context: ToolCallContext, holdMs: number): void {
    if (context.generation !== '2026-07-28' || !context.elicitation.form) return;
    const agentId = context.agentId;
    const now = Date.now();
    const until = now + holdMs + this.deps.presenceWindowMs;
    // One presence write per agent and replica while earlier ones still cover half the window.
    if ((this.presenceWrittenUntil.get(agentId) ?? 0) >= until - this.deps.presenceWindowMs / 2) return;
    this.presenceWrittenUntil.set(agentId, until);
    if (this.presenceWrittenUntil.size > 50_000) for (const [id, at] of this.presenceWrittenUntil) if (at < now) this.presenceWrittenUntil.delete(id);
    this.deps.store.recordPresence(agentId, { sessionId: `stateless:${this.deps.replica}`, replica: this.deps.replica, elicitation: { form: true, url: false }, streamOpen: true, expiresAt: until }).catch((error: unknown) => {
      this.presenceWrittenUntil.delete(agentId);
      this.deps.logger.warn({ err: error, agentId }, 'cannot record presence of a 2026-07-28 agent');
    });
  }

  async handOut(context: ToolCallContext, carry: RoundCarry): Promise<InputRequired | undefined> {
    const { store, flags } = this.deps;
    const agentId = context.agentId;
    // Moved back to legacy while waiting: the router drains the lane to the poll lane.
    if (evaluateProtocol(flags(), agentId).protocol === 'legacy') return undefined;
    const answerWindowMs = flags().elicitationTimeoutMs;
    const owner = `${ROUND_LEASE_OWNER_PREFIX}${this.deps.replica}:${randomUUID()}`;
    const taken = await store.takeRound(agentId, owner, answerWindowMs + LEASE_MARGIN_MS, ROUND_CONSUMER, this.deps.maxPerRound);
    carry.pushLaneEmpty = taken === 'empty';
    // Empty, or a session's deliverer, another round or a drain holds the lane: wait for a ring.
    if (taken === 'empty' || taken === 'held') return undefined;
    let handedOut = false;
    try {
      const entries: PushLaneEntry[] = [];
      for (const entry of taken.pending) {
        // A redelivery whose reply is already stored (its round's retry died before settling): settle, do not ask again.
        if (await answeredBefore(store, entry)) await store.settlePush(taken.lease, entry, 'answered');
        else if (await deliverable(this.deps, 'round', agentId, entry)) entries.push(entry);
      }
      for (const entry of taken.fresh) if (await deliverable(this.deps, 'round', agentId, entry)) entries.push(entry);
      if (entries.length === 0) return undefined;
      const elicitations = Object.fromEntries(entries.map((entry) => [entry.messageId, elicitationRequest(entry.payload, entry.sequence)]));
      const state = this.deps.sealer.seal<RoundState>({ l: taken.lease.value, e: entries.map((entry) => entry.id), d: carry.deadline, n: carry.round + 1, a: carry.answered }, { agentId, expiresAt: Date.now() + answerWindowMs });
      this.deps.metrics.roundsHandedOut.inc();
      handedOut = true;
      return new InputRequired(elicitations, state);
    } finally {
      // Kept only by a round handed out: it is the round's until the retry (or its expiry).
      if (!handedOut) await store.releasePushLease(taken.lease).catch(() => undefined);
    }
  }

  async complete(context: ToolCallContext): Promise<{ answered: RoundAnswer[]; has_more: boolean; cursor: string; carry: RoundCarry | undefined }> {
    const { store } = this.deps;
    const agentId = context.agentId;
    const state = this.deps.sealer.open<RoundState>(context.requestState, agentId);
    const separator = state.l.lastIndexOf('|');
    const lease: PushLease = { agentId, owner: state.l.slice(0, separator), value: state.l, fence: Number(state.l.slice(separator + 1)) };
    const taken = () =>
      new ToolError(
        'REQUEST_STATE_EXPIRED',
        'this round is no longer yours to answer: it expired or was taken back (the agent moved back to legacy, or the answers came too late). Nothing more was settled; call wait_for_messages again and what is unanswered is delivered again.',
      );
    // Checked first so that a round taken back stores no reply the poll lane will also deliver.
    if (!(await store.renewPushLease(lease, this.deps.flags().elicitationTimeoutMs + LEASE_MARGIN_MS))) throw taken();
    const answered: RoundAnswer[] = [...state.a];
    const settlements: Array<{ entry: PushLaneEntry; state: 'answered' | 'declined' | 'cancelled' }> = [];
    let settled = false;
    try {
      for (const entry of await store.readPushEntries(agentId, state.e)) {
        const response = context.inputResponses?.[entry.messageId];
        if (response === undefined) continue; // not answered this round: it stays pending and comes again
        const parsed = parseAnswer(response, entry.payload.requestedSchema);
        const attributes = { 'agentbridge.message.id': entry.messageId, 'agentbridge.agent.id': agentId, 'agentbridge.via': entry.via, 'mcp.protocol.version': '2026-07-28' };
        await withSpan('deliver round', { kind: SpanKind.CLIENT, parent: entry.traceparent, attributes }, async (span) => {
          if ('problem' in parsed) {
            // As for a push: an answer that does not fit the form goes back to the router (fallback rules).
            this.deps.metrics.errors.inc({ component: 'elicitation', protocol: 'elicitation', code: 'PUSH_INVALID_ANSWER' });
            await store.failPush(lease, entry, 'invalid_answer');
            answered.push({ message_id: entry.messageId, action: 'rejected', problem: parsed.problem.slice(0, MAX_PROBLEM_CHARS) });
            return;
          }
          // The reply first (idempotent), the settle after, in one step for the whole round below.
          settlements.push({ entry, state: await storeReply(this.deps, lease, entry, parsed.answer, span) });
          answered.push({ message_id: entry.messageId, action: parsed.answer.action });
        });
      }
      const outcome = await store.settleRound(lease, settlements);
      settled = true;
      // The cursor is the acknowledged position: the first call of the round acknowledged what it was given.
      return {
        answered,
        has_more: outcome.pushRemaining > 0 || outcome.mailbox.last !== outcome.mailbox.acked,
        cursor: outcome.mailbox.acked,
        // The call goes on while it has rounds left and what it carries stays small.
        carry: state.n < this.deps.roundsPerCall && JSON.stringify(answered).length < MAX_CARRIED_ANSWERS_CHARS ? { deadline: state.d, round: state.n, answered } : undefined,
      };
    } catch (error) {
      if (isStoreError(error, 'LEASE_LOST')) throw taken();
      throw error;
    } finally {
      // settle_round released the lease; on any failure let the next round have it now.
      if (!settled) await store.releasePushLease(lease).catch(() => undefined);
      this.deps.doorbell.ring(doorbellTopics.lane(agentId, 'push'));
    }
  }
}
