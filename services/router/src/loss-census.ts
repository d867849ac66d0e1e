/**
 * The message-loss census of one shard (the strategy's "message auditor"; not the audit trail of
 * flag changes): messages past their deadline without a terminal state, the shard's active agents
 * and where its backlog waits, as gauges. Only the shard's lease holder counts it, so the sum over
 * routers counts each message once. An `elicit` question still open past its deadline (and grace)
 * has no caller any more: it is closed `abandoned` first, since its caller is gone, not the message.
 * A message dead-lettered for a checksum mismatch has a terminal state (`dead_lettered`) and is
 * counted here apart, in the shard's dead letters: taken out of delivery, not lost.
 */
import type { ActivityStore, LedgerStore } from '@agent-bridge/event-store';
import type { BridgeMetrics, Logger } from '@agent-bridge/observability';
import { MCP_GENERATIONS } from '@agent-bridge/protocol';

/** Where an undelivered message can wait (agentbridge_lane_backlog), as ShardCensus reports it. */
const BACKLOG_LANES = ['events', 'push', 'poll'] as const;
/**
 * Overdue messages each census looks at for abandoned `elicit` questions, oldest first. Only many
 * really lost messages (an incident the count reports anyway) can keep a question beyond them open.
 */
const ABANDON_SCAN_LIMIT = 200;
/** Ids of unaccounted messages logged with their count. */
const UNACCOUNTED_SAMPLE = 20;

export interface LossCensusDeps {
  store: LedgerStore & ActivityStore;
  metrics: BridgeMetrics;
  logger: Logger;
  /** How often the census runs. */
  intervalMs: number;
  /** Agents seen within this window count as active. */
  activeAgentWindowMs: number;
}

export class LossCensus {
  private lastAt = 0;
  private lastUnaccounted = 0;

  constructor(
    private readonly shard: number,
    private readonly deps: LossCensusDeps,
  ) {}

  /** Counts the shard when its interval has passed. */
  async maybeCount(): Promise<void> {
    const now = Date.now();
    if (now - this.lastAt < this.deps.intervalMs) return;
    this.lastAt = now;
    const { store, metrics, logger } = this.deps;
    const abandoned = await store.abandonOverdueElicits(this.shard, now, ABANDON_SCAN_LIMIT);
    if (abandoned.length > 0) logger.info({ shard: this.shard, messageIds: abandoned }, 'elicit questions past their deadline with no caller waiting closed as abandoned');
    const { count, sample } = await store.unaccountedMessages(this.shard, now, UNACCOUNTED_SAMPLE);
    metrics.unaccountedMessages.set({ shard: String(this.shard) }, count);
    if (count > 0 && count !== this.lastUnaccounted) {
      logger.warn({ shard: this.shard, count, messageIds: sample }, 'messages past their deadline without a terminal state');
    }
    this.lastUnaccounted = count;

    const census = await store.shardCensus(this.shard, now - this.deps.activeAgentWindowMs);
    const shard = String(this.shard);
    metrics.activeAgents.set({ shard }, census.activeAgents.any);
    metrics.activeAgentsByProtocol.set({ shard, protocol: 'legacy' }, census.activeAgents.legacy);
    metrics.activeAgentsByProtocol.set({ shard, protocol: 'elicitation' }, census.activeAgents.elicitation);
    // Every generation, 0 included: the by-generation panel has both series from the first census.
    for (const generation of MCP_GENERATIONS) metrics.activeAgentsByGeneration.set({ shard, generation }, census.activeAgents.byGeneration[generation]);
    for (const lane of BACKLOG_LANES) metrics.laneBacklog.set({ shard, lane }, census.backlog[lane]);
    // Taken out of delivery (a checksum mismatch, an undecodable entry), not lost: kept for an operator.
    metrics.deadLetters.set({ shard }, census.deadLetters);
  }

  /** The shard's series go when its worker stops: the next owner reports it, never count it twice. */
  forget(): void {
    const shard = String(this.shard);
    const { metrics } = this.deps;
    metrics.unaccountedMessages.remove({ shard });
    metrics.activeAgents.remove({ shard });
    for (const protocol of ['legacy', 'elicitation']) metrics.activeAgentsByProtocol.remove({ shard, protocol });
    for (const generation of MCP_GENERATIONS) metrics.activeAgentsByGeneration.remove({ shard, generation });
    for (const lane of BACKLOG_LANES) metrics.laneBacklog.remove({ shard, lane });
    metrics.deadLetters.remove({ shard });
  }
}
