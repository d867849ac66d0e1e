import {
  isStoreError,
  type ActivityStore,
  retryBackoffMs,
  sleep,
  type DeliveryFailedEvent,
  type Doorbell,
  type ElicitAnswer,
  type EventEntry,
  type LedgerStore,
  type LaneKind,
  type MessageEvent,
  type PresenceSession,
  type PresenceStore,
  type PushLaneStore,
  type RouteDecision,
  type ShardLease,
  type ShardStore,
  ROUND_LEASE_OWNER_PREFIX,
  doorbellTopics,
} from '@agent-bridge/event-store';
import { evaluateProtocol, type FlagSnapshot } from '@agent-bridge/flags';
import { SpanKind, failSpan, startSpan, traceparentOf, type BridgeMetrics, type Logger, type Span } from '@agent-bridge/observability';
import { AdapterError, MCP_GENERATIONS, toPollPayload, toPushPayload, type DeliveryVia, type Envelope, type PushLanePayload } from '@agent-bridge/protocol';
import { chooseLane } from './routing-policy.js';

const DRAIN_CHECK_INTERVAL_MS = 250;
/** Where an undelivered message can wait (agentbridge_lane_backlog), as ShardCensus reports it. */
const BACKLOG_LANES = ['events', 'push', 'poll'] as const;
const DRAIN_LEASE_TTL_MS = 5_000;
/**
 * How long a 2026-07-28 round outstanding at a rollback may still be answered before the drain
 * takes its lease back: the same grace an elicitation in flight on a session gets (decision 0005),
 * so an answer already on its way is stored rather than the message delivered twice.
 */
const ROUND_ROLLBACK_GRACE_MS = 400;
/**
 * Overdue messages each census looks at for abandoned `elicit` questions, oldest first. Only many
 * really lost messages (an incident the count reports anyway) can keep a question beyond them open.
 */
const ABANDON_SCAN_LIMIT = 200;

export interface ShardWorkerOptions {
  batchSize: number;
  /** How often the shard's unaccounted messages, active agents and backlog are counted. */
  auditIntervalMs: number;
  /** Agents seen within this window count as active. */
  activeAgentWindowMs: number;
  idleRecheckMs: number;
  trimIntervalMs: number;
}

export interface ShardWorkerDeps {
  store: ShardStore & PresenceStore & PushLaneStore & LedgerStore & ActivityStore;
  doorbell: Doorbell;
  flags: () => FlagSnapshot;
  metrics: BridgeMetrics;
  logger: Logger;
  /** Consumer name in the shard's group: the router id. */
  consumer: string;
  onLeaseLost: (shard: number) => void;
}

/**
 * Routes one shard's events, strictly in stream order, while its router holds the shard lease.
 * Pending entries (claimed from a crashed or deposed owner, or left by our own failed batch) are
 * always finished before new ones are read: that is what keeps per-(sender, target) order.
 */
export class ShardWorker {
  private readonly stopController = new AbortController();
  private done: Promise<void> | undefined;
  private lastTrimAt = 0;
  private lastDrainCheckAt = 0;
  private lastAuditAt = 0;
  private lastUnaccounted = 0;
  private lastDrainFlagsVersion = -1;
  /** When this worker first saw the flag version in force (a rollback's rounds get a grace from then). */
  private flagsSeenAt = 0;

  constructor(
    readonly lease: ShardLease,
    private readonly deps: ShardWorkerDeps,
    private readonly options: ShardWorkerOptions,
  ) {}

  get shard(): number {
    return this.lease.shard;
  }

  start(): void {
    this.done = this.run().catch((error) => this.deps.logger.error({ err: error, shard: this.shard }, 'shard worker crashed'));
  }

  /** Stops after the batch in progress; resolves when the worker has stopped. */
  async stop(): Promise<void> {
    this.stopController.abort();
    await this.done;
    // The next owner reports this shard now: never count it twice.
    const shard = String(this.shard);
    const { metrics } = this.deps;
    metrics.unaccountedMessages.remove({ shard });
    metrics.activeAgents.remove({ shard });
    for (const protocol of ['legacy', 'elicitation']) metrics.activeAgentsByProtocol.remove({ shard, protocol });
    for (const generation of MCP_GENERATIONS) metrics.activeAgentsByGeneration.remove({ shard, generation });
    for (const lane of BACKLOG_LANES) metrics.laneBacklog.remove({ shard, lane });
  }

  private get stopped(): boolean {
    return this.stopController.signal.aborted;
  }

  private async run(): Promise<void> {
    const { store, logger } = this.deps;
    let phase: 'pending' | 'new' = 'pending';
    let failures = 0;
    let claimed = false;
    while (!this.stopped) {
      const waiter = this.deps.doorbell.register(doorbellTopics.events(this.shard));
      try {
        if (!claimed) {
          await store.ensureShardGroup(this.shard);
          const count = await store.claimShardPending(this.shard, this.deps.consumer);
          if (count > 0) logger.info({ shard: this.shard, count }, 'claimed pending entries of the previous owner');
          claimed = true;
        }
        await this.maybeDrainPushLanes();
        await this.maybeAudit();
        const entries = await store.readShardEntries(this.shard, this.deps.consumer, phase, this.options.batchSize);
        if (entries.length === 0) {
          if (phase === 'pending') {
            phase = 'new';
            continue;
          }
          await this.maybeTrim();
          await waiter.wait(Math.min(this.options.idleRecheckMs, DRAIN_CHECK_INTERVAL_MS), this.stopController.signal);
          continue;
        }
        const started = performance.now();
        await this.routeBatch(entries);
        this.deps.metrics.routingBatchSeconds.observe((performance.now() - started) / 1000);
        failures = 0;
        // A short batch means we are caught up: wait for the next ring (one that came during the
        // batch resolves at once) instead of reading an empty stream again.
        if (phase === 'new' && entries.length < this.options.batchSize) await waiter.wait(Math.min(this.options.idleRecheckMs, DRAIN_CHECK_INTERVAL_MS), this.stopController.signal);
      } catch (error) {
        if (isStoreError(error, 'LEASE_LOST')) {
          logger.warn({ shard: this.shard, lease: this.lease.value }, 'shard lease lost; stopping its worker');
          this.deps.onLeaseLost(this.shard);
          return;
        }
        failures++;
        // Whatever part of the batch was done is acked; the rest is still pending and must be
        // finished before anything newer, so go back to reading our pending entries.
        phase = 'pending';
        logger.error({ err: error, shard: this.shard, failures }, 'routing failed; retrying');
        this.deps.metrics.errors.inc({ component: 'router', protocol: 'none', code: isStoreError(error) ? error.code : 'INTERNAL' });
        await sleep(retryBackoffMs(failures), this.stopController.signal);
      } finally {
        waiter.dispose();
      }
    }
  }

  private async routeBatch(entries: EventEntry[]): Promise<void> {
    const flags = this.deps.flags();
    // Presence only matters for targets the flags send to elicitation.
    const targets = new Set<string>();
    for (const entry of entries) {
      if (entry.type === 'message' && evaluateProtocol(flags, entry.envelope.to).protocol === 'elicitation') targets.add(entry.envelope.to);
    }
    const presence = await this.deps.store.readPresence([...targets]);
    let pending: RouteDecision[] = [];
    const spans: Span[] = [];
    try {
      for (const entry of entries) {
        if (entry.type === 'undecodable') {
          await this.flush(pending);
          pending = [];
          this.deps.logger.error({ shard: this.shard, entryId: entry.id, reason: entry.decodeError }, 'moving undecodable entry to the dead-letter stream');
          this.deps.metrics.errors.inc({ component: 'router', protocol: 'none', code: 'CORRUPT_ENTRY' });
          await this.deps.store.deadLetter(this.lease, entry, entry.decodeError);
          continue;
        }
        if (entry.type === 'message') {
          const decision = this.decideMessage(entry, flags, presence.get(entry.envelope.to) ?? []);
          if (entry.envelope.traceparent) spans.push(this.traceRouting(decision, entry.envelope.traceparent));
          pending.push(decision);
        } else {
          pending.push(this.decideFailedPush(entry, flags));
        }
      }
      await this.flush(pending);
    } catch (error) {
      for (const span of spans) failSpan(span, error);
      throw error;
    } finally {
      for (const span of spans) span.end();
    }
  }

  /**
   * The routing step of a traced message: a child of the sender's span, ended once the batch is
   * stored. The lane entry carries this span's context, so the delivery becomes its child.
   */
  private traceRouting(decision: RouteDecision, parent: string): Span {
    const span = startSpan('route message', {
      kind: SpanKind.CONSUMER,
      parent,
      attributes: {
        'agentbridge.message.id': decision.messageId,
        'agentbridge.agent.id': decision.target,
        'agentbridge.lane': decision.answer ? 'answer' : decision.lane,
        'agentbridge.via': decision.via,
        'agentbridge.shard': this.shard,
      },
    });
    const traceparent = traceparentOf(span);
    if (traceparent) decision.traceparent = traceparent;
    return span;
  }

  private decideMessage(entry: MessageEvent, flags: FlagSnapshot, sessions: readonly PresenceSession[]): RouteDecision {
    const envelope = entry.envelope;
    let choice = chooseLane(flags, envelope.to, sessions);
    let pushPayload: PushLanePayload | undefined;
    if (choice.lane === 'push') {
      try {
        pushPayload = toPushPayload(envelope);
      } catch (error) {
        if (!(error instanceof AdapterError)) throw error;
        this.deps.metrics.adapterErrors.inc({ direction: 'to_elicitation' });
        this.deps.logger.warn({ err: error, messageId: envelope.id }, 'cannot render as elicitation; delivering on the poll lane');
        choice = { ...choice, lane: 'poll', via: 'legacy_fallback', fallback: 'no_elicitation_capability' };
      }
    }
    const pollPayload = toPollPayload(envelope);
    if (choice.fallback) this.deps.metrics.fallbacks.inc({ reason: choice.fallback });
    const decision: RouteDecision = {
      entryId: entry.id,
      messageId: envelope.id,
      target: envelope.to,
      mode: 'route',
      lane: choice.lane,
      via: choice.via,
      payload: pushPayload ?? pollPayload,
      communicationEvent: communicationEvent(envelope.id, envelope.from, envelope.to, choice.lane, choice.via, { kind: envelope.kind, reason: choice.reason }),
    };
    if (pushPayload) decision.pollPayload = pollPayload;
    if (envelope.kind === 'reply' && envelope.inReplyTo !== undefined) decision.answer = answerOf(envelope);
    return decision;
  }

  /**
   * A push the elicitation service could not complete: with auto-fallback on (or when the agent has
   * meanwhile been moved back to legacy) it goes to the poll lane; otherwise it waits on the push
   * lane for the agent to come back.
   */
  private decideFailedPush(entry: DeliveryFailedEvent, flags: FlagSnapshot): RouteDecision {
    const toPoll = flags.autoFallback || evaluateProtocol(flags, entry.target).protocol === 'legacy';
    const lane = toPoll ? 'poll' : 'push';
    const via = toPoll ? 'legacy_fallback' : 'elicitation';
    if (toPoll) this.deps.metrics.fallbacks.inc({ reason: `push_${entry.reason}` });
    const decision: RouteDecision = {
      entryId: entry.id,
      messageId: entry.messageId,
      target: entry.target,
      mode: 'reroute',
      failedLaneEntryId: entry.failedLaneEntryId,
      lane,
      via,
      payload: toPoll ? entry.pollPayload : entry.pushPayload,
      communicationEvent: communicationEvent(entry.messageId, entry.pushPayload.from, entry.target, lane, via, { failure: entry.reason }),
    };
    if (!toPoll) decision.pollPayload = entry.pollPayload;
    return decision;
  }

  private async flush(decisions: RouteDecision[]): Promise<void> {
    if (decisions.length === 0) return;
    const outcomes = await this.deps.store.route(this.lease, decisions);
    outcomes.forEach((outcome, i) => {
      if (outcome.status !== 'duplicate') this.deps.metrics.messagesRouted.inc({ lane: outcome.lane, via: decisions[i]!.via });
    });
  }

  /**
   * Moves push-lane backlogs to the poll lane for agents that are back on legacy (rollback) or have
   * no session that can receive elicitations while auto-fallback is on. A lane whose agent is being
   * served by an elicitation replica (it holds the push lease) is left to that replica, which drains
   * it itself after aborting the elicitation in flight. Checked on every flag change and every 250 ms.
   */
  private async maybeDrainPushLanes(): Promise<void> {
    const flags = this.deps.flags();
    const now = Date.now();
    if (flags.version === this.lastDrainFlagsVersion && now - this.lastDrainCheckAt < DRAIN_CHECK_INTERVAL_MS) return;
    this.lastDrainCheckAt = now;
    if (flags.version !== this.lastDrainFlagsVersion) this.flagsSeenAt = now;
    this.lastDrainFlagsVersion = flags.version;
    const takeBackRounds = now - this.flagsSeenAt >= ROUND_ROLLBACK_GRACE_MS;
    const agents = await this.deps.store.agentsWithPushBacklog(this.shard);
    if (agents.length === 0) return;
    const presence = await this.deps.store.readPresence(agents);
    for (const agentId of agents) {
      const rolledBack = evaluateProtocol(flags, agentId).protocol === 'legacy';
      const reachable = (presence.get(agentId) ?? []).some((session) => session.elicitation.form && session.streamOpen);
      if (!rolledBack && (reachable || !flags.autoFallback)) continue;
      // A rollback also takes back a 2026-07-28 round waiting for its retry (no process holds it), after the grace.
      const lease = await this.deps.store.acquirePushLease(agentId, this.deps.consumer, DRAIN_LEASE_TTL_MS, rolledBack && takeBackRounds ? { preempt: ROUND_LEASE_OWNER_PREFIX } : {});
      if (!lease) continue;
      try {
        const moved = await this.deps.store.drainPushLane(lease, 'legacy_fallback');
        if (moved > 0) {
          this.deps.metrics.fallbacks.inc({ reason: rolledBack ? 'rollback_drain' : 'no_session_drain' }, moved);
          this.deps.logger.info({ shard: this.shard, agentId, moved, rolledBack }, 'drained push lane to the poll lane');
        }
      } finally {
        await this.deps.store.releasePushLease(lease).catch(() => undefined);
      }
    }
  }

  /**
   * The message-loss auditor for this shard: messages past their deadline without a terminal state.
   * Only the lease holder reports a shard, so the sum over routers counts each message once. An
   * `elicit` question still open past its deadline (and grace) has no caller any more: it is closed
   * `abandoned` first, since its caller is gone, not the message.
   */
  private async maybeAudit(): Promise<void> {
    const now = Date.now();
    if (now - this.lastAuditAt < this.options.auditIntervalMs) return;
    this.lastAuditAt = now;
    const abandoned = await this.deps.store.abandonOverdueElicits(this.shard, now, ABANDON_SCAN_LIMIT);
    if (abandoned.length > 0) this.deps.logger.info({ shard: this.shard, messageIds: abandoned }, 'elicit questions past their deadline with no caller waiting closed as abandoned');
    const { count, sample } = await this.deps.store.unaccountedMessages(this.shard, now, 20);
    this.deps.metrics.unaccountedMessages.set({ shard: String(this.shard) }, count);
    if (count > 0 && count !== this.lastUnaccounted) {
      this.deps.logger.warn({ shard: this.shard, count, messageIds: sample }, 'messages past their deadline without a terminal state');
    }
    this.lastUnaccounted = count;

    const census = await this.deps.store.shardCensus(this.shard, now - this.options.activeAgentWindowMs);
    const shard = String(this.shard);
    const { metrics } = this.deps;
    metrics.activeAgents.set({ shard }, census.activeAgents.any);
    metrics.activeAgentsByProtocol.set({ shard, protocol: 'legacy' }, census.activeAgents.legacy);
    metrics.activeAgentsByProtocol.set({ shard, protocol: 'elicitation' }, census.activeAgents.elicitation);
    // Every generation, 0 included: the by-generation panel has both series from the first census.
    for (const generation of MCP_GENERATIONS) metrics.activeAgentsByGeneration.set({ shard, generation }, census.activeAgents.byGeneration[generation]);
    for (const lane of BACKLOG_LANES) metrics.laneBacklog.set({ shard, lane }, census.backlog[lane]);
  }

  private async maybeTrim(): Promise<void> {
    const now = Date.now();
    if (now - this.lastTrimAt < this.options.trimIntervalMs) return;
    this.lastTrimAt = now;
    const trimmed = await this.deps.store.trimShard(this.shard);
    const pruned = await this.deps.store.pruneIdleConsumers(this.shard, 60 * 60 * 1000);
    if (trimmed > 0 || pruned > 0) this.deps.logger.debug({ shard: this.shard, trimmed, pruned }, 'trimmed acknowledged shard entries');
  }
}

function communicationEvent(messageId: string, from: string, to: string, lane: LaneKind, via: DeliveryVia, extra: Record<string, unknown>) {
  return {
    type: 'communication' as const,
    subtype: lane === 'push' ? ('elicitation' as const) : ('legacy_polling' as const),
    agent_id: to,
    data: { message_id: messageId, from, to, lane, via, ...extra },
    timestamp: Date.now(),
  };
}

/** What a waiting `elicit` call gets when this reply completes it. */
function answerOf(envelope: Envelope): ElicitAnswer {
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
