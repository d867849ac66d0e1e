/**
 * The legacy inventory: every registered agent and every agent seen, with its owner (the agent
 * registry), what it used within the inventory window, when it was last seen and its calls and
 * messages per day (the usage store, libs/event-store/src/redis/usage.ts). `buildInventory` is
 * the pure part; `readInventory` reads its inputs. docs/operations.md, "Who is still on legacy",
 * says what each figure counts.
 */
import { DAY_MS, utcDay, type AgentUsage, type ControllerStore, type UsageCounter } from '@agent-bridge/event-store';
import type { BridgeMetrics, Logger } from '@agent-bridge/observability';
import { MCP_GENERATIONS } from '@agent-bridge/protocol';
import type { AgentOwner, AgentRegistry, RegisteredAgent } from '@agent-bridge/service-kit';

export const INVENTORY_PROTOCOLS = ['legacy', 'elicitation', 'both', 'none'] as const;
export type InventoryProtocol = (typeof INVENTORY_PROTOCOLS)[number];

export interface InventoryEntry {
  agentId: string;
  /** From the agent registry; null for an agent without one, or not registered (seen with a token since removed). */
  owner: AgentOwner | null;
  /** What the agent used within the window: the legacy endpoint, the elicitation endpoint with elicitation declared, both, or neither. */
  protocol: InventoryProtocol;
  /** The MCP generations (2025-11-25, 2026-07-28) it spoke within the window. */
  generations: string[];
  /** Its last request on either endpoint (kept 8 days), or null. */
  lastSeenAt: string | null;
  lastLegacyAt: string | null;
  lastElicitationAt: string | null;
  /** Tool calls on both endpoints per day, averaged over the counted days of the window. */
  callsPerDay: number;
  /** Messages it sent plus messages delivered to it, per day, averaged the same way. */
  messagesPerDay: number;
}

export interface AgentInventory {
  generatedAt: string;
  windowMs: number;
  /** Most recently seen first, then never-seen registered agents by id; filtered by protocol when asked. */
  agents: InventoryEntry[];
  /** Every agent of the inventory (whatever the filter) by owner team; `unowned` for agents without a team. */
  byTeam: Array<{ team: string; legacy: number; elicitation: number; both: number; none: number; total: number }>;
  /** True when more agents exist than the inventory lists (INVENTORY_MAX_AGENTS). */
  truncated: boolean;
}

export interface InventoryFilter {
  protocol?: InventoryProtocol;
}

export interface InventoryOptions {
  windowMs: number;
  /** Agents listed at most (the most recently seen first). */
  maxAgents: number;
}

/** The team of agents without an owner or a team in the registry. */
const UNOWNED_TEAM = 'unowned';

/** The UTC days the window [now − windowMs, now] touches, oldest first. */
export function windowDays(now: number, windowMs: number): string[] {
  const days: string[] = [];
  for (let at = Date.parse(`${utcDay(now - windowMs)}T00:00:00Z`); at <= now; at += DAY_MS) days.push(utcDay(at));
  return days;
}

export function buildInventory(input: { registered: readonly RegisteredAgent[]; usage: readonly AgentUsage[]; now: number; options: InventoryOptions; filter?: InventoryFilter }): AgentInventory {
  const { registered, usage, now, options } = input;
  const since = now - options.windowMs;
  const days = windowDays(now, options.windowMs);
  const owners = new Map(registered.map((agent) => [agent.id, agent.owner]));
  const seenIds = new Set(usage.map((u) => u.agentId));
  const neverSeen = registered.filter((agent) => !seenIds.has(agent.id)).sort((a, b) => (a.id < b.id ? -1 : 1));
  const all = [...usage.map((u) => entryOf(u.agentId, owners.get(u.agentId) ?? null, u, since, days)), ...neverSeen.map((agent) => entryOf(agent.id, agent.owner, undefined, since, days))];
  const listed = all.slice(0, options.maxAgents);
  const wanted = input.filter?.protocol;
  return {
    generatedAt: new Date(now).toISOString(),
    windowMs: options.windowMs,
    agents: wanted ? listed.filter((entry) => entry.protocol === wanted) : listed,
    byTeam: byTeamOf(listed),
    truncated: all.length > listed.length,
  };
}

function entryOf(agentId: string, owner: AgentOwner | null, usage: AgentUsage | undefined, since: number, days: readonly string[]): InventoryEntry {
  const seen = usage?.seen ?? {};
  const within = (at: number | undefined) => at !== undefined && at >= since;
  const legacy = within(seen.legacy);
  const elicitation = within(seen.elicitation);
  const iso = (at: number | undefined) => (at === undefined ? null : new Date(at).toISOString());
  const { calls, messages } = perDay(usage, days);
  return {
    agentId,
    owner,
    protocol: legacy && elicitation ? 'both' : legacy ? 'legacy' : elicitation ? 'elicitation' : 'none',
    generations: MCP_GENERATIONS.filter((generation) => within(seen[`generation:${generation}`])),
    lastSeenAt: iso(seen.any),
    lastLegacyAt: iso(seen.legacy),
    lastElicitationAt: iso(seen.elicitation),
    callsPerDay: calls,
    messagesPerDay: messages,
  };
}

/**
 * Averages over the window's UTC days from the first one with a counter of this agent through
 * today (a whole day even while it is under way): an agent first seen yesterday is averaged over
 * two days, not seven. Rounded to hundredths.
 */
function perDay(usage: AgentUsage | undefined, days: readonly string[]): { calls: number; messages: number } {
  const first = days.findIndex((day) => usage?.days[day] !== undefined);
  if (first < 0) return { calls: 0, messages: 0 };
  let calls = 0;
  let messages = 0;
  for (const day of days.slice(first)) {
    for (const [counter, count] of Object.entries(usage!.days[day] ?? {}) as Array<[UsageCounter, number]>) {
      if (counter.startsWith('calls:')) calls += count;
      else messages += count;
    }
  }
  const counted = days.length - first;
  const round = (value: number) => Math.round((value / counted) * 100) / 100;
  return { calls: round(calls), messages: round(messages) };
}

function byTeamOf(entries: readonly InventoryEntry[]): AgentInventory['byTeam'] {
  const teams = new Map<string, AgentInventory['byTeam'][number]>();
  for (const entry of entries) {
    const team = entry.owner?.team ?? UNOWNED_TEAM;
    let row = teams.get(team);
    if (!row) teams.set(team, (row = { team, legacy: 0, elicitation: 0, both: 0, none: 0, total: 0 }));
    row[entry.protocol] += 1;
    row.total += 1;
  }
  // The teams with the most agents still using legacy first.
  return [...teams.values()].sort((a, b) => b.legacy + b.both - (a.legacy + a.both) || (a.team < b.team ? -1 : 1));
}

/** Reads the usage of the window's agents and the registry, and builds the inventory. */
export async function readInventory(store: Pick<ControllerStore, 'readAgentUsage'>, registry: Pick<AgentRegistry, 'entries'> | undefined, options: InventoryOptions, now: number, filter?: InventoryFilter): Promise<AgentInventory> {
  // Everyone seen within the retention, so lastSeenAt is known even for agents idle for the whole window.
  const usage = await store.readAgentUsage(0, windowDays(now, options.windowMs), options.maxAgents);
  return buildInventory({ registered: registry?.entries() ?? [], usage, now, options, ...(filter ? { filter } : {}) });
}

/** Team series agentbridge_agents_by_team has at most; further teams are added up as `other`. */
const MAX_TEAM_SERIES = 200;
/** Agents agentbridge_legacy_agent_last_seen_timestamp_seconds lists at most (one series each). */
export const MAX_LEGACY_AGENT_SERIES = 100;

/**
 * Exports the inventory as metrics: agents by team and protocol, and the agents still on legacy
 * (legacy or both), the most recently seen first, at most MAX_LEGACY_AGENT_SERIES of them. Each
 * export replaces the last: an agent that migrated leaves no series behind.
 */
export function exportInventory(metrics: Pick<BridgeMetrics, 'agentsByTeam' | 'legacyAgentLastSeen'>, inventory: AgentInventory): void {
  exportAgentsByTeam(metrics, inventory.byTeam);
  metrics.legacyAgentLastSeen.reset();
  const stillOnLegacy = inventory.agents.filter((agent) => (agent.protocol === 'legacy' || agent.protocol === 'both') && agent.lastLegacyAt !== null);
  for (const agent of stillOnLegacy.slice(0, MAX_LEGACY_AGENT_SERIES)) {
    metrics.legacyAgentLastSeen.set({ agent: agent.agentId, team: agent.owner?.team ?? UNOWNED_TEAM }, Date.parse(agent.lastLegacyAt!) / 1000);
  }
}

/** Sets agentbridge_agents_by_team from the inventory's byTeam (every team and protocol, zeros included). */
function exportAgentsByTeam(metrics: Pick<BridgeMetrics, 'agentsByTeam'>, byTeam: AgentInventory['byTeam']): void {
  const rows = new Map<string, Record<InventoryProtocol, number>>();
  for (const row of byTeam) {
    const team = rows.size < MAX_TEAM_SERIES || rows.has(row.team) ? row.team : 'other';
    const into = rows.get(team) ?? { legacy: 0, elicitation: 0, both: 0, none: 0 };
    for (const protocol of INVENTORY_PROTOCOLS) into[protocol] += row[protocol];
    rows.set(team, into);
  }
  metrics.agentsByTeam.reset();
  for (const [team, counts] of rows) for (const protocol of INVENTORY_PROTOCOLS) metrics.agentsByTeam.set({ team, protocol }, counts[protocol]);
}

/**
 * The leader exports the inventory as metrics every `intervalMs`, beside the reconcile pass and never
 * in its way (the read runs on its own; a failed one is retried at the next interval). Only the
 * leader reports: a follower's series would count every agent twice.
 */
export class InventoryExporter {
  /** When the last export started (0: none in this term), and whether one runs. */
  private at = 0;
  private running = false;

  constructor(
    private readonly deps: {
      read: () => Promise<AgentInventory>;
      isLeader: () => boolean;
      metrics: Pick<BridgeMetrics, 'agentsByTeam' | 'legacyAgentLastSeen'>;
      logger: Logger;
      intervalMs: number;
      now: () => number;
    },
  ) {}

  /** A new leadership term: a leader exports at once, a follower drops its series. */
  newTerm(leader: boolean): void {
    this.at = 0;
    if (leader) return;
    this.deps.metrics.agentsByTeam.reset();
    this.deps.metrics.legacyAgentLastSeen.reset();
  }

  maybeExport(): void {
    const now = this.deps.now();
    if (this.running || (this.at !== 0 && now - this.at < this.deps.intervalMs)) return;
    this.running = true;
    this.at = now;
    this.deps
      .read()
      .then((inventory) => {
        if (this.deps.isLeader()) exportInventory(this.deps.metrics, inventory);
      })
      .catch((error: unknown) => this.deps.logger.warn({ err: error }, 'could not export the agent inventory as metrics; retrying at the next interval'))
      .finally(() => (this.running = false));
  }
}
