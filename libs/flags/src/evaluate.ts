import { agentBucket } from './bucket.js';
import type { FlagSettings } from './snapshot.js';

type Protocol = 'elicitation' | 'legacy';
export type ProtocolReason = 'master_off' | 'excluded' | 'opt_in' | 'percentage' | 'not_selected';

export interface ProtocolDecision {
  readonly protocol: Protocol;
  readonly reason: ProtocolReason;
}

const DECISIONS = {
  master_off: Object.freeze({ protocol: 'legacy', reason: 'master_off' }),
  excluded: Object.freeze({ protocol: 'legacy', reason: 'excluded' }),
  opt_in: Object.freeze({ protocol: 'elicitation', reason: 'opt_in' }),
  percentage: Object.freeze({ protocol: 'elicitation', reason: 'percentage' }),
  not_selected: Object.freeze({ protocol: 'legacy', reason: 'not_selected' }),
} as const satisfies Record<ProtocolReason, ProtocolDecision>;

/** Matches an agent id against a list of exact ids and `*` globs. */
export interface AgentMatcher {
  matches(agentId: string): boolean;
}

interface CompiledSelectors {
  readonly optedIn: AgentMatcher;
  readonly excluded: AgentMatcher;
}

// Snapshots are treated as immutable (FlagWatcher freezes the ones it applies), so a compilation
// stays valid for as long as its snapshot object lives.
const compiledBySnapshot = new WeakMap<object, CompiledSelectors>();

/**
 * Which protocol serves `agentId`. Rules, first match wins: master switch off → legacy;
 * excluded → legacy; opted in → elicitation; bucket < percentage → elicitation; else legacy.
 */
export function evaluateProtocol(flags: FlagSettings, agentId: string): ProtocolDecision {
  const { elicitation } = flags;
  if (!elicitation.enabled) return DECISIONS.master_off;
  let compiled = compiledBySnapshot.get(flags);
  if (compiled === undefined) {
    compiled = {
      optedIn: compileAgentMatcher(elicitation.agents),
      excluded: compileAgentMatcher(elicitation.excludedAgents),
    };
    compiledBySnapshot.set(flags, compiled);
  }
  if (compiled.excluded.matches(agentId)) return DECISIONS.excluded;
  if (compiled.optedIn.matches(agentId)) return DECISIONS.opt_in;
  if (agentBucket(agentId) < elicitation.percentage) return DECISIONS.percentage;
  return DECISIONS.not_selected;
}

/** Compiles selectors once: exact ids go to a set, globs (`*` = any run of characters) into one anchored regex. */
export function compileAgentMatcher(selectors: readonly string[]): AgentMatcher {
  const exact = new Set<string>();
  const globs: string[] = [];
  for (const selector of selectors) {
    if (selector.includes('*')) globs.push(selector.split('*').map(escapeRegExp).join('.*'));
    else exact.add(selector);
  }
  const pattern = globs.length > 0 ? new RegExp(`^(?:${globs.join('|')})$`, 's') : undefined;
  return {
    matches: (agentId) => exact.has(agentId) || (pattern !== undefined && pattern.test(agentId)),
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}
