/**
 * The system snapshot of the cutover sequence (strategy: create_system_snapshot before legacy is
 * disabled): the flags as published, the rollout status, the backlog by lane and the legacy
 * inventory, stored under an id in the store (fenced by the leader lease) before the pass that
 * disables legacy. The id goes into status.cutover and the history; an emergency rollback restores
 * the flags it records (reconcile/cutover.ts), and `bridgectl cutover` shows the whole record.
 */
import type { ControllerLease, EventStore, Keys } from '@agent-bridge/event-store';
import { readPublishedFlags, type FeatureFlagsStatus } from '@agent-bridge/flags';
import type { NoticeAgent } from './owner-notices.js';

export interface SystemSnapshot {
  id: string;
  at: string;
  takenBy: string;
  flags: Awaited<ReturnType<typeof readPublishedFlags>>;
  rollout: { phase: string; stage: number; effectivePercentage: number; lastRollback: FeatureFlagsStatus['lastRollback'] | null; snapshotVersion: number };
  /** Messages waiting, by where they wait, over every shard. */
  backlog: { events: number; push: number; poll: number };
  activeAgents: { any: number; legacy: number; elicitation: number };
  /** Agents that still used legacy (legacy only or both) when the snapshot was taken. */
  legacyInventory: NoticeAgent[];
  /** Set when the inventory could not be read (the snapshot is still taken). */
  inventoryError?: string;
}

export async function takeSystemSnapshot(
  deps: { store: EventStore; keys: Keys; controllerId: string; activeWindowMs: number; inventory?: () => Promise<NoticeAgent[]> },
  status: FeatureFlagsStatus,
  lease: ControllerLease,
  now: number,
): Promise<SystemSnapshot> {
  const { store, keys } = deps;
  const since = now - deps.activeWindowMs;
  const [flags, censuses] = await Promise.all([readPublishedFlags(store), Promise.all(keys.allShards().map((shard) => store.shardCensus(shard, since)))]);
  let legacyInventory: NoticeAgent[] = [];
  let inventoryError: string | undefined;
  try {
    legacyInventory = ((await deps.inventory?.()) ?? []).filter((agent) => agent.protocol === 'legacy' || agent.protocol === 'both');
  } catch (error) {
    inventoryError = (error as Error).message;
  }
  const backlog = { events: 0, push: 0, poll: 0 };
  const activeAgents = { any: 0, legacy: 0, elicitation: 0 };
  for (const census of censuses) {
    backlog.events += census.backlog.events;
    backlog.push += census.backlog.push;
    backlog.poll += census.backlog.poll;
    activeAgents.any += census.activeAgents.any;
    activeAgents.legacy += census.activeAgents.legacy;
    activeAgents.elicitation += census.activeAgents.elicitation;
  }
  const at = new Date(now).toISOString();
  const id = `cutover-${at.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-v${flags.version}`;
  const snapshot: SystemSnapshot = {
    id,
    at,
    takenBy: deps.controllerId,
    flags,
    rollout: { phase: status.phase, stage: status.stage, effectivePercentage: status.effectivePercentage, lastRollback: status.lastRollback ?? null, snapshotVersion: status.snapshotVersion },
    backlog,
    activeAgents,
    legacyInventory,
    ...(inventoryError ? { inventoryError } : {}),
  };
  await store.writeSystemSnapshotJson(id, JSON.stringify(snapshot), lease);
  return snapshot;
}
