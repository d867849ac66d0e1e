/**
 * When a published change is in effect: every live router and elicitation replica applied the
 * snapshot (routing and push delivery follow it), and no agent that is now on legacy still has
 * entries in its push lane (the drain is complete). Rollbacks and drills measure trigger → effect
 * with it.
 */
import type { EventStore, Keys } from '@agent-bridge/event-store';
import { evaluateProtocol, type FlagSettings, type FlagSnapshot } from '@agent-bridge/flags';

/** Services whose applied version decides when a change is effective in routing and delivery. */
const EFFECT_SERVICES = new Set(['router', 'elicitation']);
/** A process whose last report is older than this counts as gone. */
const LIVE_REPORT_MS = 15_000;

export interface EffectOutcome {
  /** Elapsed ms from `since` when the change was in effect; undefined when the deadline passed first. */
  effectMs: number | undefined;
  lagging: string[];
  undrained: string[];
}

export async function awaitEffect(store: EventStore, keys: Keys, snapshot: FlagSnapshot, since: number, deadline: number, now: () => number): Promise<EffectOutcome> {
  let lagging: string[] = [];
  let undrained: string[] = [];
  while (now() < deadline) {
    const reports = await store.readFlagsApplied(now() - LIVE_REPORT_MS);
    lagging = reports.filter((r) => EFFECT_SERVICES.has(r.service) && r.version < snapshot.version).map((r) => `${r.service}/${r.replica}@${r.version}`);
    if (lagging.length === 0) undrained = await agentsAwaitingDrain(store, snapshot, keys.allShards());
    if (lagging.length === 0 && undrained.length === 0) return { effectMs: now() - since, lagging, undrained };
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { effectMs: undefined, lagging, undrained };
}

async function agentsAwaitingDrain(store: EventStore, settings: FlagSettings, shards: number[]): Promise<string[]> {
  const waiting: string[] = [];
  for (const shard of shards) {
    for (const agentId of await store.agentsWithPushBacklog(shard)) {
      if (evaluateProtocol(settings, agentId).protocol === 'legacy') waiting.push(agentId);
    }
  }
  return waiting;
}
