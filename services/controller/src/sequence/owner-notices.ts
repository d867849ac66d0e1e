/**
 * The owner notices of a deprecation step (spec.deprecation, actions notify-owners and
 * final-notice): one per owner of agents still using legacy (legacy only or both, from the legacy
 * inventory), saying which agents, by when, and what to do. The notifier's ledger makes each one
 * once per owner and milestone (`deprecation:<step>`), whoever leads and however often this runs.
 */
import type { DeprecationSpec } from '@agent-bridge/flags';

/** What the notices need of an inventory entry (services/controller/src/inventory.ts). */
export interface NoticeAgent {
  agentId: string;
  owner: { name: string; contact?: string; team?: string } | null;
  protocol: string;
  lastLegacyAt?: string | null;
}

export interface OwnerNoticeDraft {
  milestone: string;
  owner: { name: string; contact?: string; team?: string };
  agents: string[];
  subject: string;
  text: string;
  deadline: string;
  links: Record<string, string>;
}

/** Notices stop here per step: an operator's registry is bounded, and so is what one step sends. */
const MAX_NOTICES_PER_STEP = 5_000;
/** What one notice lists (the notifier's bound). */
const MAX_AGENTS_PER_NOTICE = 1_000;

function milestoneOf(step: string): string {
  return `deprecation:${step}`;
}

export function ownerNotices(step: { name: string; actions: readonly string[] }, spec: DeprecationSpec, agents: readonly NoticeAgent[], elicitationUrl: string | undefined): { notices: OwnerNoticeDraft[]; unowned: string[] } {
  const final = step.actions.includes('final-notice');
  const onLegacy = agents.filter((agent) => agent.protocol === 'legacy' || agent.protocol === 'both');
  const byOwner = new Map<string, { owner: NonNullable<NoticeAgent['owner']>; agents: NoticeAgent[] }>();
  const unowned: string[] = [];
  for (const agent of onLegacy) {
    if (!agent.owner) {
      unowned.push(agent.agentId);
      continue;
    }
    const key = (agent.owner.contact ?? agent.owner.name).toLowerCase();
    const group = byOwner.get(key) ?? { owner: agent.owner, agents: [] };
    group.agents.push(agent);
    byOwner.set(key, group);
  }
  const sunset = new Date(Date.parse(spec.sunset));
  const date = sunset.toISOString().slice(0, 10);
  const links: Record<string, string> = {
    ...(spec.migrationGuideUrl ? { migrationGuide: spec.migrationGuideUrl } : {}),
    ...(spec.progressPageUrl ? { progressPage: spec.progressPageUrl } : {}),
    ...(elicitationUrl ? { elicitationEndpoint: elicitationUrl } : {}),
  };
  const notices = [...byOwner.values()]
    .sort((a, b) => a.owner.name.localeCompare(b.owner.name))
    .slice(0, MAX_NOTICES_PER_STEP)
    .map(({ owner, agents: owned }): OwnerNoticeDraft => {
      // The notifier takes at most MAX_AGENTS_PER_NOTICE ids; the text says how many more there are.
      const ids = owned
        .map((agent) => agent.agentId)
        .sort()
        .slice(0, MAX_AGENTS_PER_NOTICE);
      const subject = final ? `Final deadline ${date}: ${owned.length} of your agents still use the legacy agent-bridge protocol` : `Action needed by ${date}: ${owned.length} of your agents still use the legacy agent-bridge protocol`;
      const lines = [
        `Hello ${owner.name},`,
        '',
        final
          ? `This is the final deadline announcement: the legacy agent-bridge endpoint (wait_for_messages) stops serving on ${sunset.toISOString()}.`
          : `The legacy agent-bridge endpoint (wait_for_messages) is deprecated and will be removed on ${sunset.toISOString()}.`,
        `These agents of yours${owner.team ? ` (team ${owner.team})` : ''} still used it lately:`,
        ...owned
          .slice()
          .sort((a, b) => a.agentId.localeCompare(b.agentId))
          .slice(0, MAX_AGENTS_PER_NOTICE)
          .map((agent) => `  - ${agent.agentId}${agent.protocol === 'both' ? ' (also on elicitation)' : ''}${agent.lastLegacyAt ? `, last legacy call ${agent.lastLegacyAt}` : ''}`),
        ...(owned.length > MAX_AGENTS_PER_NOTICE ? [`  … and ${owned.length - MAX_AGENTS_PER_NOTICE} more (bridgectl agents --protocol legacy lists them all)`] : []),
        '',
        'What to do: connect each agent to the elicitation endpoint with the same token; messages then arrive as elicitations, and nothing waiting for it is lost.',
        ...(elicitationUrl ? [`Elicitation endpoint: ${elicitationUrl}`] : []),
        ...(spec.migrationGuideUrl ? [`Migration guide: ${spec.migrationGuideUrl}`] : []),
        ...(spec.progressPageUrl ? [`Migration progress and a lookup of your agents: ${spec.progressPageUrl}`] : []),
        ...(final ? ['', 'Need help? Reply to this message for hands-on migration assistance.'] : []),
      ];
      const extra = spec.steps.find((s) => s.name === step.name)?.message;
      if (extra) lines.push('', extra);
      return { milestone: milestoneOf(step.name), owner, agents: ids, subject, text: lines.join('\n'), deadline: sunset.toISOString(), links };
    });
  return { notices, unowned: unowned.sort() };
}
