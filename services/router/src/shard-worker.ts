/**
 * Routes one shard's events, strictly in stream order, while its router holds the shard lease:
 * the shard's events stream consumed by a LeasedConsumer, each batch decided (routing-decisions.ts)
 * and stored in one pipeline of route_message calls. Between batches the worker runs the shard's
 * chores: the push-lane drain, the loss census, trimming.
 */
import {
  doorbellTopics,
  EVENT_FIELDS,
  LeasedConsumer,
  type ActivityStore,
  type Doorbell,
  type EventEntry,
  type LeasedStream,
  type LedgerStore,
  type PresenceStore,
  type PushLaneStore,
  type ReadPhase,
  type RouteDecision,
  type ShardLease,
  type ShardStore,
  isStoreError,
} from '@agent-bridge/event-store';
import { evaluateProtocol, type FlagSnapshot } from '@agent-bridge/flags';
import { envelopeChecksum } from '@agent-bridge/protocol';
import { SpanKind, failSpan, startSpan, traceparentOf, type BridgeMetrics, type Logger, type Span } from '@agent-bridge/observability';
import { LossCensus } from './loss-census.js';
import { DRAIN_CHECK_INTERVAL_MS, PushLaneDrain } from './push-lane-drain.js';
import { decideFailedPush, decideMessage, type Decided } from './routing-decisions.js';
import { ShardTrimmer } from './shard-trimmer.js';

export interface ShardWorkerOptions {
  batchSize: number;
  /** How often the loss census counts the shard (unaccounted messages, active agents, backlog): AUDIT_INTERVAL_MS. */
  censusIntervalMs: number;
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

export class ShardWorker implements LeasedStream<EventEntry> {
  readonly topic: string;
  readonly batchSize: number;
  readonly recheckMs: number;
  readonly waitWhenCaughtUp = true;
  private readonly stopController = new AbortController();
  private done: Promise<void> | undefined;
  private claimed = false;
  private readonly drain: PushLaneDrain;
  private readonly census: LossCensus;
  private readonly trimmer: ShardTrimmer;

  constructor(
    readonly lease: ShardLease,
    private readonly deps: ShardWorkerDeps,
    options: ShardWorkerOptions,
  ) {
    this.topic = doorbellTopics.events(lease.shard);
    this.batchSize = options.batchSize;
    // The drain must look again within DRAIN_CHECK_INTERVAL_MS even when nothing rings.
    this.recheckMs = Math.min(options.idleRecheckMs, DRAIN_CHECK_INTERVAL_MS);
    const { store, flags, metrics, logger } = deps;
    this.drain = new PushLaneDrain(lease.shard, { store, flags, metrics, logger, owner: deps.consumer });
    this.census = new LossCensus(lease.shard, { store, metrics, logger, intervalMs: options.censusIntervalMs, activeAgentWindowMs: options.activeAgentWindowMs });
    this.trimmer = new ShardTrimmer(lease.shard, { store, logger, intervalMs: options.trimIntervalMs });
  }

  get shard(): number {
    return this.lease.shard;
  }

  start(): void {
    const consumer = new LeasedConsumer(this, this.deps.doorbell, this.stopController.signal);
    this.done = consumer.run().catch((error) => this.deps.logger.error({ err: error, shard: this.shard }, 'shard worker crashed'));
  }

  /** Stops after the batch in progress; resolves when the worker has stopped. */
  async stop(): Promise<void> {
    this.stopController.abort();
    await this.done;
    this.census.forget();
  }

  // ---------------------------------------------------------------- LeasedStream

  async prepare(): Promise<'ready' | 'claimed'> {
    const { store, logger } = this.deps;
    let readiness: 'ready' | 'claimed' = 'ready';
    if (!this.claimed) {
      await store.ensureShardGroup(this.shard);
      const count = await store.claimShardPending(this.shard, this.deps.consumer);
      if (count > 0) logger.info({ shard: this.shard, count }, 'claimed pending entries of the previous owner');
      this.claimed = true;
      readiness = 'claimed';
    }
    await this.drain.maybeDrain();
    await this.census.maybeCount();
    return readiness;
  }

  read(phase: ReadPhase, count: number): Promise<EventEntry[]> {
    return this.deps.store.readShardEntries(this.shard, this.deps.consumer, phase, count);
  }

  async handle(entries: EventEntry[]): Promise<number> {
    const started = performance.now();
    await this.routeBatch(entries);
    this.deps.metrics.routingBatchSeconds.observe((performance.now() - started) / 1000);
    return entries.length;
  }

  idle(): Promise<void> {
    return this.trimmer.maybeTrim();
  }

  onLeaseLost(): 'stop' {
    this.deps.logger.warn({ shard: this.shard, lease: this.lease.value }, 'shard lease lost; stopping its worker');
    this.deps.onLeaseLost(this.shard);
    return 'stop';
  }

  onError(error: unknown, failures: number): void {
    this.deps.logger.error({ err: error, shard: this.shard, failures }, 'routing failed; retrying');
    this.deps.metrics.errors.inc({ component: 'router', protocol: 'none', code: isStoreError(error) ? error.code : 'INTERNAL' });
  }

  // ---------------------------------------------------------------- routing

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
        const mismatch = checksumMismatch(entry);
        if (mismatch) {
          await this.flush(pending);
          pending = [];
          this.deps.logger.error({ shard: this.shard, entryId: entry.id, messageId: mismatch.messageId, reason: mismatch.reason }, 'envelope checksum mismatch: the message is dead-lettered, not delivered');
          this.deps.metrics.checksumMismatches.inc({ stage: 'route' });
          await this.deps.store.deadLetter(this.lease, entry, mismatch.reason, { messageId: mismatch.messageId });
          continue;
        }
        if (entry.type === 'undecodable') {
          await this.flush(pending);
          pending = [];
          this.deps.logger.error({ shard: this.shard, entryId: entry.id, reason: entry.decodeError }, 'moving undecodable entry to the dead-letter stream');
          this.deps.metrics.errors.inc({ component: 'router', protocol: 'none', code: 'CORRUPT_ENTRY' });
          await this.deps.store.deadLetter(this.lease, entry, entry.decodeError);
          continue;
        }
        if (entry.type === 'message') {
          const decision = this.count(decideMessage(entry, flags, presence.get(entry.envelope.to) ?? []));
          if (entry.envelope.traceparent) spans.push(this.traceRouting(decision, entry.envelope.traceparent));
          pending.push(decision);
        } else {
          pending.push(this.count(decideFailedPush(entry, flags)));
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

  /** Counts what a decision reports (a fallback, a message that does not render as an elicitation). */
  private count({ decision, fallback, adapterError }: Decided): RouteDecision {
    if (adapterError) {
      this.deps.metrics.adapterErrors.inc({ direction: 'to_elicitation' });
      this.deps.logger.warn({ err: adapterError, messageId: decision.messageId }, 'cannot render as elicitation; delivering on the poll lane');
    }
    if (fallback) this.deps.metrics.fallbacks.inc({ reason: fallback });
    return decision;
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

  private async flush(decisions: RouteDecision[]): Promise<void> {
    if (decisions.length === 0) return;
    const outcomes = await this.deps.store.route(this.lease, decisions);
    outcomes.forEach((outcome, i) => {
      if (outcome.status !== 'duplicate') this.deps.metrics.messagesRouted.inc({ lane: outcome.lane, via: decisions[i]!.via });
    });
  }
}

/**
 * A message whose stored envelope is not what its sender sent (decision 0024): its checksum differs,
 * or it carries a checksum but no longer decodes. An entry stored before checksums existed has none
 * and is routed as before.
 */
function checksumMismatch(entry: EventEntry): { messageId: string; reason: string } | null {
  if (entry.type === 'message') {
    if (entry.checksum === undefined || entry.checksum === envelopeChecksum(entry.envelope)) return null;
    return { messageId: entry.envelope.id, reason: `envelope checksum mismatch: stored ${entry.checksum}, content hashes to ${envelopeChecksum(entry.envelope)}` };
  }
  const fields = entry.fields;
  const messageId = fields[EVENT_FIELDS.messageId];
  if (entry.type === 'undecodable' && fields[EVENT_FIELDS.type] === 'message' && fields[EVENT_FIELDS.checksum] && messageId) {
    return { messageId, reason: `envelope checksum mismatch: the checksummed envelope no longer decodes (${entry.decodeError})` };
  }
  return null;
}
