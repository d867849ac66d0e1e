/**
 * The router's push-lane drain: moves push-lane backlogs to the poll lane for agents that are back
 * on legacy (a rollback) or have no session that can receive elicitations while auto-fallback is
 * on. A lane whose agent is served by an elicitation replica (it holds the push lease) is left to
 * that replica, which drains it itself after aborting the elicitation in flight. Runs on every flag
 * change and every 250 ms, from the worker that owns the shard.
 */
import { ROUND_LEASE_OWNER_PREFIX, type PresenceStore, type PushLaneStore } from '@agent-bridge/event-store';
import { evaluateProtocol, type FlagSnapshot } from '@agent-bridge/flags';
import type { BridgeMetrics, Logger } from '@agent-bridge/observability';

export const DRAIN_CHECK_INTERVAL_MS = 250;
const DRAIN_LEASE_TTL_MS = 5_000;
/**
 * How long a 2026-07-28 round outstanding at a rollback may still be answered before the drain
 * takes its lease back: the same grace an elicitation in flight on a session gets (decision 0005),
 * so an answer already on its way is stored rather than the message delivered twice.
 */
const ROUND_ROLLBACK_GRACE_MS = 400;

export interface PushLaneDrainDeps {
  store: PushLaneStore & PresenceStore;
  flags: () => FlagSnapshot;
  metrics: BridgeMetrics;
  logger: Logger;
  /** The push lease owner while draining: the router's instance id. */
  owner: string;
}

export class PushLaneDrain {
  private lastCheckAt = 0;
  private lastFlagsVersion = -1;
  /** When the drain first saw the flag version in force (a rollback's rounds get a grace from then). */
  private flagsSeenAt = 0;

  constructor(
    private readonly shard: number,
    private readonly deps: PushLaneDrainDeps,
  ) {}

  /** Drains what must be drained, at most every DRAIN_CHECK_INTERVAL_MS unless the flags changed. */
  async maybeDrain(): Promise<void> {
    const { store, metrics, logger } = this.deps;
    const flags = this.deps.flags();
    const now = Date.now();
    if (flags.version === this.lastFlagsVersion && now - this.lastCheckAt < DRAIN_CHECK_INTERVAL_MS) return;
    this.lastCheckAt = now;
    if (flags.version !== this.lastFlagsVersion) this.flagsSeenAt = now;
    this.lastFlagsVersion = flags.version;
    const takeBackRounds = now - this.flagsSeenAt >= ROUND_ROLLBACK_GRACE_MS;
    const agents = await store.agentsWithPushBacklog(this.shard);
    if (agents.length === 0) return;
    const presence = await store.readPresence(agents);
    for (const agentId of agents) {
      const rolledBack = evaluateProtocol(flags, agentId).protocol === 'legacy';
      const reachable = (presence.get(agentId) ?? []).some((session) => session.elicitation.form && session.streamOpen);
      if (!rolledBack && (reachable || !flags.autoFallback)) continue;
      // A rollback also takes back a 2026-07-28 round waiting for its retry (no process holds it), after the grace.
      const lease = await store.acquirePushLease(agentId, this.deps.owner, DRAIN_LEASE_TTL_MS, rolledBack && takeBackRounds ? { preempt: ROUND_LEASE_OWNER_PREFIX } : {});
      if (!lease) continue;
      try {
        const moved = await store.drainPushLane(lease, 'legacy_fallback');
        if (moved > 0) {
          metrics.fallbacks.inc({ reason: rolledBack ? 'rollback_drain' : 'no_session_drain' }, moved);
          logger.info({ shard: this.shard, agentId, moved, rolledBack }, 'drained push lane to the poll lane');
        }
      } finally {
        await store.releasePushLease(lease).catch(() => undefined);
      }
    }
  }
}
