/**
 * A stand-in for the legacy inventory (issue 14, item 1) until Controller.inventory() exists: the
 * agents active in the window (store.activeAgents) and what each was last seen using. It knows no
 * owners, so every agent counts under the team "unassigned". Drop this file and pass
 * `controller.inventory()` to the page once the real one is merged.
 */
import type { ControllerStore, ProgressStore } from '@agent-bridge/event-store';
import type { AgentProtocol, ProgressInventory } from './source.js';

/** Agents the stand-in lists at most (the real inventory lists the registry). */
const MAX_AGENTS = 10_000;

export async function activityInventory(store: Pick<ControllerStore, 'activeAgents'> & Pick<ProgressStore, 'agentLastSeen'>, windowMs: number, now: number): Promise<ProgressInventory> {
  const since = now - windowMs;
  const active = await store.activeAgents(since, MAX_AGENTS);
  const agents = await Promise.all(
    active.map(async ({ agentId, lastSeenAt }) => {
      const seen = await store.agentLastSeen(agentId, since);
      const protocol: AgentProtocol = seen.legacy !== null && seen.elicitation !== null ? 'both' : seen.legacy !== null ? 'legacy' : seen.elicitation !== null ? 'elicitation' : 'none';
      return { agentId, protocol, lastSeenAt: new Date(lastSeenAt).toISOString() };
    }),
  );
  const count = (protocol: AgentProtocol) => agents.filter((agent) => agent.protocol === protocol).length;
  const byTeam = agents.length > 0 ? [{ team: 'unassigned', legacy: count('legacy'), elicitation: count('elicitation'), both: count('both'), none: count('none'), total: agents.length }] : [];
  return { generatedAt: new Date(now).toISOString(), windowMs, agents, byTeam };
}
