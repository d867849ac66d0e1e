import { ProtocolError, ProtocolErrorCode, SdkError, SdkErrorCode } from '@modelcontextprotocol/server';
import { deliverable } from '@agent-bridge/agent-tools';
import { doorbellTopics, LeasedConsumer, LeaseKeeper, type Doorbell, type EventStore, type LeasedStream, type PushLaneEntry, type PushLease, type ReadPhase } from '@agent-bridge/event-store';
import { evaluateProtocol, type FlagSnapshot } from '@agent-bridge/flags';
import { SpanKind, failSpan, traceIds, withSpan, type BridgeMetrics, type Logger, type Span } from '@agent-bridge/observability';
import { elicitationRequest } from '@agent-bridge/protocol';
import { answeredBefore, recordAnswer, type Answer, type AnswerDeps } from './answers.js';
import type { AgentSession, SessionRegistry } from './sessions.js';

export interface PushDelivererDeps {
  store: EventStore;
  doorbell: Doorbell;
  sessions: SessionRegistry;
  flags: () => FlagSnapshot;
  metrics: BridgeMetrics;
  logger: Logger;
  /** Lease owner and consumer name: unique per process, bound to `holder` (boundPushLeaseOwner). */
  instanceId: string;
  /** The replica's liveness as a lease holder: no read or push while it does not count as alive. */
  holder: { alive(): boolean };
  leaseTtlMs: number;
  recheckMs: number;
  messageDeadlineMs: number;
  /** Counts deliveries for the legacy inventory. */
  usage?: AnswerDeps['usage'];
}

/** Entries read from the push lane at a time (still pushed one by one). */
const PUSH_BATCH = 16;

/** How long an elicitation in flight may still be answered after its agent was rolled back to legacy. */
const ROLLBACK_GRACE_MS = 400;

/**
 * Pushes one agent's push lane to it, one elicitation at a time and in lane order, while this
 * replica holds the agent's push lease (kept by a LeaseKeeper) and a session that can receive
 * elicitations: the lane consumed by a LeasedConsumer. A lost lease stops the push in flight at
 * once (every write is fenced); a flag change that moves the agent back to legacy aborts the
 * elicitation in flight after a grace and drains the lane to the poll lane.
 */
export class PushDeliverer implements LeasedStream<PushLaneEntry> {
  readonly topic: string;
  readonly batchSize = PUSH_BATCH;
  readonly recheckMs: number;
  // A short batch means the lane was caught up when read: an entry routed since rang the waiter
  // registered before that read, so reading the empty lane again would only cost an XREADGROUP.
  readonly waitWhenCaughtUp = true;
  private readonly stopController = new AbortController();
  private readonly keeper: LeaseKeeper<PushLease>;
  private inFlight: { controller: AbortController; reason?: 'rollback' | 'lease_lost' | 'shutdown'; rollbackTimer?: NodeJS.Timeout } | undefined;
  private done: Promise<void> | undefined;
  private graceOver = false;

  constructor(
    readonly agentId: string,
    private readonly deps: PushDelivererDeps,
  ) {
    this.topic = doorbellTopics.lane(agentId, 'push');
    this.recheckMs = deps.recheckMs;
    this.keeper = new LeaseKeeper<PushLease>({
      ttlMs: deps.leaseTtlMs,
      renew: (lease, ttlMs) => deps.store.renewPushLease(lease, ttlMs),
      release: (lease) => deps.store.releasePushLease(lease),
      onLost: () => {
        deps.logger.warn({ agentId }, 'push lease expired before renewal');
        this.interrupt('lease_lost');
        deps.doorbell.ring(this.topic);
      },
      onRenewError: (error) => deps.logger.warn({ err: error, agentId }, 'push lease renewal failed'),
    });
  }

  start(): void {
    const consumer = new LeasedConsumer(this, this.deps.doorbell, this.stopController.signal);
    this.done = consumer
      .run()
      .finally(() => this.keeper.release())
      .catch((error) => this.deps.logger.error({ err: error, agentId: this.agentId }, 'push deliverer crashed'));
  }

  /**
   * Stops after the elicitation in flight completes (it is not aborted: the agent may still answer).
   * With `graceMs` (a shutdown), one still unanswered after it is aborted and left pending: the
   * released lease lets the agent's next session, on another replica, be asked it again at once.
   */
  async stop(graceMs?: number): Promise<void> {
    this.stopController.abort();
    const timer = graceMs === undefined ? undefined : setTimeout(() => this.abortForShutdown(), graceMs);
    await this.done;
    clearTimeout(timer);
  }

  /**
   * Called when a new flag snapshot applies. For an agent moved back to legacy, the elicitation in
   * flight gets a short grace to be answered (then it counts as delivered); after that it is
   * cancelled and drained with the rest of the lane — all within a second of the change.
   */
  onFlagsChanged(flags: FlagSnapshot): void {
    const inFlight = this.inFlight;
    if (evaluateProtocol(flags, this.agentId).protocol === 'legacy' && inFlight && !inFlight.rollbackTimer) {
      inFlight.rollbackTimer = setTimeout(() => this.interrupt('rollback'), ROLLBACK_GRACE_MS);
    }
    this.deps.doorbell.ring(this.topic);
  }

  // ---------------------------------------------------------------- LeasedStream

  /** Holds the push lease while a session can receive elicitations; drains the lane instead for an agent back on legacy. */
  async prepare(): Promise<'ready' | 'claimed' | 'wait'> {
    const { store, logger } = this.deps;
    if (!this.deps.holder.alive()) {
      // Our leases cannot be told from a dead replica's: wait until the holder is renewed (it rings us).
      this.keeper.forget();
      return 'wait';
    }
    if (!this.deps.sessions.pushSession(this.agentId)) {
      // No stream to push on: let go of the lease so the router can fall the lane back, and
      // wait for a session change (or the periodic re-check).
      await this.keeper.release();
      return 'wait';
    }
    let readiness: 'ready' | 'claimed' = 'ready';
    let lease = this.keeper.lease;
    if (!lease) {
      const acquiredAt = Date.now();
      lease = (await store.acquirePushLease(this.agentId, this.deps.instanceId, this.deps.leaseTtlMs)) ?? undefined;
      // Another replica (or the router's drain) holds it; try again shortly.
      if (!lease) return 'wait';
      this.keeper.hold(lease, acquiredAt);
      const claimed = await store.claimPushLane(lease, this.deps.instanceId);
      if (claimed > 0) logger.info({ agentId: this.agentId, claimed }, 'took over pending push entries');
      readiness = 'claimed';
    }
    if (evaluateProtocol(this.deps.flags(), this.agentId).protocol === 'legacy') {
      const moved = await store.drainPushLane(lease, 'legacy_fallback');
      if (moved > 0) logger.info({ agentId: this.agentId, moved }, 'agent moved back to legacy: drained its push lane');
      return 'wait';
    }
    return readiness;
  }

  read(phase: ReadPhase, count: number): Promise<PushLaneEntry[]> {
    return this.deps.store.readPushLane(this.agentId, this.deps.instanceId, phase, count);
  }

  /** One at a time, in lane order; stops early when something changes under us (the rest stays pending). */
  async handle(entries: PushLaneEntry[], phase: ReadPhase): Promise<number> {
    let delivered = 0;
    for (const entry of entries) {
      const lease = this.keeper.lease;
      if (this.stopController.signal.aborted || !lease || !this.deps.holder.alive() || evaluateProtocol(this.deps.flags(), this.agentId).protocol === 'legacy') break;
      if (!(await this.deliver(entry, lease, this.deps.flags(), phase === 'pending'))) break;
      delivered++;
    }
    return delivered;
  }

  /** The replica's holder liveness ran out: every lease bound to it may be someone else's now. */
  onHolderLost(): void {
    this.keeper.forget();
    this.interrupt('lease_lost');
    this.deps.doorbell.ring(this.topic);
  }

  onLeaseLost(): 'retry' {
    this.deps.logger.warn({ agentId: this.agentId }, 'push lease lost');
    this.keeper.forget();
    return 'retry';
  }

  onError(error: unknown, failures: number): void {
    this.deps.logger.error({ err: error, agentId: this.agentId, failures }, 'push delivery failed; retrying');
  }

  // ---------------------------------------------------------------- delivery

  /** The push in flight stops: the drain (rollback), the new lease holder or the agent's next session takes it from here. */
  private interrupt(reason: 'rollback' | 'lease_lost' | 'shutdown'): void {
    if (!this.inFlight) return;
    this.inFlight.reason = reason;
    this.inFlight.controller.abort();
  }

  /** The grace of a shutdown is over: the push in flight (or one about to start) is aborted. */
  private abortForShutdown(): void {
    this.graceOver = true;
    this.interrupt('shutdown');
  }

  /** Pushes one entry; false when the deliverer should stop taking entries (no session, interrupted). */
  private async deliver(entry: PushLaneEntry, lease: PushLease, flags: FlagSnapshot, redelivery: boolean): Promise<boolean> {
    const { store } = this.deps;
    // A predecessor may have recorded the answer and died before settling: settle, do not ask again.
    if (redelivery && (await answeredBefore(store, entry))) {
      await store.settlePush(lease, entry, 'answered');
      return true;
    }
    // Never pushed corrupted: a mismatch is dead-lettered and the deliverer goes on with the next entry.
    if (!(await deliverable(this.deps, 'push', this.agentId, entry))) return true;
    const session = this.deps.sessions.pushSession(this.agentId);
    if (!session) return false;
    const attributes = { 'agentbridge.message.id': entry.messageId, 'agentbridge.agent.id': this.agentId, 'agentbridge.via': entry.via, 'mcp.session.id': session.id };
    // The push joins the message's trace (child of its routing span); the reply carries this span's context.
    return withSpan('deliver push', { kind: SpanKind.CLIENT, parent: entry.traceparent, attributes }, (span) => this.push(entry, lease, flags, session, span));
  }

  private async push(entry: PushLaneEntry, lease: PushLease, flags: FlagSnapshot, session: AgentSession, span: Span): Promise<boolean> {
    const { store, metrics } = this.deps;
    const controller = new AbortController();
    this.inFlight = { controller };
    if (this.graceOver) this.abortForShutdown();
    let answer: Answer;
    try {
      answer = (await session.server.elicitInput(elicitationRequest(entry.payload, entry.sequence) as never, { timeout: flags.elicitationTimeoutMs, signal: controller.signal })) as Answer;
    } catch (error) {
      const interrupted = this.inFlight?.reason;
      // The drain, the new owner or the agent's next session takes it from here.
      if (interrupted === 'rollback' || interrupted === 'lease_lost' || interrupted === 'shutdown') return false;
      const reason = failureReason(error);
      failSpan(span, error);
      this.deps.logger.warn({ agentId: this.agentId, messageId: entry.messageId, reason, err: error, ...traceIds(span) }, 'push could not complete; handing it back to the router');
      metrics.errors.inc({ component: 'elicitation', protocol: 'elicitation', code: `PUSH_${reason.toUpperCase()}` });
      await store.failPush(lease, entry, reason);
      return true;
    } finally {
      clearTimeout(this.inFlight?.rollbackTimer);
      this.inFlight = undefined;
    }

    await recordAnswer(this.deps, lease, entry, answer, span);
    return true;
  }
}

/** Every reason a push can fail with, as a stable reason (metric code PUSH_<REASON>, the delivery.failed event, logs). */
export const PUSH_FAILURE_REASONS = ['timeout', 'invalid_answer', 'transport_error', 'client_error', 'no_capability'] as const;

export function failureReason(error: unknown): (typeof PUSH_FAILURE_REASONS)[number] {
  if (error instanceof SdkError) {
    if (error.code === SdkErrorCode.RequestTimeout) return 'timeout';
    if (error.code === SdkErrorCode.CapabilityNotSupported) return 'no_capability';
    if (error.code === SdkErrorCode.InvalidResult) return 'invalid_answer';
    return 'transport_error';
  }
  if (error instanceof ProtocolError) {
    if (error.code === ProtocolErrorCode.InvalidParams) return 'invalid_answer';
    return 'client_error';
  }
  if (error instanceof Error && /does not support .*elicitation/i.test(error.message)) return 'no_capability';
  return 'transport_error';
}
