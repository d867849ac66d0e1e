/**
 * bridgectl agents: the legacy inventory (GET /admin/agents) — who uses which protocol, when last
 * seen, how much, and who owns it — as a table, or the AgentInventory as --json.
 */
import { EXIT, UsageError, ago, formatSpan, table, type ControllerCommandContext } from './common.js';
import { adminToken, controllerUrl, fetchInventory, type AgentInventory } from './controller-client.js';

const PROTOCOLS = ['legacy', 'elicitation', 'both', 'none'];

export async function agentsCommand(ctx: ControllerCommandContext): Promise<number> {
  const protocol = ctx.values.protocol;
  if (protocol !== undefined && (typeof protocol !== 'string' || !PROTOCOLS.includes(protocol))) {
    throw new UsageError(`--protocol must be ${PROTOCOLS.join(', ')}${typeof protocol === 'string' ? ` (got "${protocol}")` : ''}`);
  }
  const inventory = await fetchInventory(controllerUrl(ctx.env), adminToken(ctx.env), protocol);
  if (ctx.json) ctx.io.out(`${JSON.stringify(inventory, null, 2)}\n`);
  else ctx.io.out(renderInventory(inventory, (ctx.now ?? Date.now)(), protocol));
  return EXIT.ok;
}

const perDay = (value: number) => (Number.isInteger(value) ? String(value) : value.toFixed(2));

export function renderInventory(inventory: AgentInventory, now: number, protocol?: string): string {
  const window = formatSpan(inventory.windowMs);
  const rows = [['agent', 'protocol', 'generation', 'last seen', 'calls/day', 'messages/day', 'owner', 'contact', 'team']];
  for (const agent of inventory.agents) {
    rows.push([
      agent.agentId,
      agent.protocol,
      agent.generations.join(',') || '—',
      agent.lastSeenAt ? ago(agent.lastSeenAt, now) : 'never',
      perDay(agent.callsPerDay),
      perDay(agent.messagesPerDay),
      agent.owner?.name ?? '—',
      agent.owner?.contact ?? '—',
      agent.owner?.team ?? '—',
    ]);
  }
  let out = inventory.agents.length === 0 ? `no agent${protocol ? ` on ${protocol}` : ''} in the inventory\n` : table(rows);
  if (inventory.truncated) out += `(cut at ${inventory.agents.length} agents: INVENTORY_MAX_AGENTS; the most recently seen are listed)\n`;
  const teams = [['team', 'legacy', 'both', 'elicitation', 'none', 'total']];
  for (const row of inventory.byTeam) teams.push([row.team, String(row.legacy), String(row.both), String(row.elicitation), String(row.none), String(row.total)]);
  if (inventory.byTeam.length > 0) out += `\nby team (every agent, whatever --protocol):\n${table(teams, '  ')}`;
  out +=
    `\nprotocol: what the agent used in the last ${window} (legacy endpoint; elicitation endpoint with elicitation declared; both; none).` +
    `\ncalls/day: tool calls on either endpoint; messages/day: messages it sent plus messages delivered to it;` +
    `\nboth averaged over the UTC days from its first counted day in the window through today.\n`;
  return out;
}
