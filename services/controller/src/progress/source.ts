/**
 * What the progress page reads, as an interface of its own: the controller's report, the legacy
 * inventory, and the page's data in the store. The page depends on nothing else, so how each is
 * built (the inventory above all) can change without it.
 */
import type { ProgressStore } from '@agent-bridge/event-store';

export type AgentProtocol = 'legacy' | 'elicitation' | 'both' | 'none';

/** The part of the legacy inventory (Controller.inventory) the page uses. Owners' names and contacts are never shown. */
export interface ProgressInventory {
  generatedAt: string;
  windowMs: number;
  agents: ReadonlyArray<{ agentId: string; protocol: AgentProtocol; lastSeenAt: string | null }>;
  byTeam: ReadonlyArray<{ team: string; legacy: number; elicitation: number; both: number; none: number; total: number }>;
}

export interface ProgressSource {
  /** The controller's report (GET /health/status): read defensively, fields may be absent. */
  report(): Promise<Record<string, unknown>>;
  inventory(): Promise<ProgressInventory>;
  isLeader(): boolean;
  store: Pick<ProgressStore, 'appendAdoptionSample' | 'readAdoptionSamples' | 'recordOwnerFeedback' | 'ownerFeedbackSummary'>;
}
