import { z } from 'zod';
import { parseOrThrow } from './issues.js';

export const MAX_AGENT_SELECTOR_LENGTH = 128;

function boundedInteger(min: number, max: number) {
  const expected = `expected an integer from ${min} to ${max}`;
  return z.int({ error: expected }).min(min, { error: expected }).max(max, { error: expected });
}

function flag() {
  return z.boolean({ error: 'expected true or false' });
}

/** An exact agent id or a pattern in which `*` matches any run of characters. */
export const agentSelectorSchema = (() => {
  const expected = `expected an agent id or glob pattern: a non-empty string of at most ${MAX_AGENT_SELECTOR_LENGTH} characters`;
  return z
    .string({ error: expected })
    .min(1, { error: expected })
    .max(MAX_AGENT_SELECTOR_LENGTH, { error: expected });
})();

function agentSelectorList() {
  return z.array(agentSelectorSchema, { error: 'expected a list of agent ids or glob patterns' });
}

/** Building blocks shared by the snapshot schema and the flag-file schema. */
export const flagFieldSchemas = {
  elicitationEnabled: flag(),
  elicitationPercentage: boundedInteger(0, 100),
  agentSelectors: agentSelectorList(),
  autoFallback: flag(),
  dualMode: flag(),
  deprecationWarnings: flag(),
  deprecationThrottleMs: boundedInteger(0, 10_000),
  legacyDisabled: flag(),
  legacyTimeoutMs: boundedInteger(1_000, 55_000),
  elicitationTimeoutMs: boundedInteger(1_000, 600_000),
} as const;

const mapping = { error: 'expected a mapping' } as const;

const flagSettingsShape = {
  elicitation: z.strictObject(
    {
      enabled: flagFieldSchemas.elicitationEnabled,
      percentage: flagFieldSchemas.elicitationPercentage,
      agents: flagFieldSchemas.agentSelectors,
      excludedAgents: flagFieldSchemas.agentSelectors,
    },
    mapping,
  ),
  autoFallback: flagFieldSchemas.autoFallback,
  dualMode: flagFieldSchemas.dualMode,
  deprecation: z.strictObject(
    {
      warnings: flagFieldSchemas.deprecationWarnings,
      throttleMs: flagFieldSchemas.deprecationThrottleMs,
    },
    mapping,
  ),
  legacyDisabled: flagFieldSchemas.legacyDisabled,
  legacyTimeoutMs: flagFieldSchemas.legacyTimeoutMs,
  elicitationTimeoutMs: flagFieldSchemas.elicitationTimeoutMs,
};

/** The flags themselves, without the publication metadata. */
export const flagSettingsSchema = z.strictObject(flagSettingsShape, mapping);

/** The effective flag snapshot the controller publishes and every service applies. */
export const flagSnapshotSchema = z.strictObject(
  {
    version: z.int({ error: 'expected a non-negative integer' }).min(0, { error: 'expected a non-negative integer' }),
    publishedAt: z.iso.datetime({ offset: true, error: 'expected an ISO 8601 timestamp such as 2025-01-31T12:00:00Z' }),
    publishedBy: z.string({ error: 'expected a non-empty string' }).min(1, { error: 'expected a non-empty string' }),
    ...flagSettingsShape,
  },
  mapping,
);

export type FlagSnapshot = z.infer<typeof flagSnapshotSchema>;
export type FlagSettings = z.infer<typeof flagSettingsSchema>;

/** The flags every service uses until the controller publishes a snapshot (version 0). */
export const DEFAULT_FLAGS: FlagSnapshot = deepFreeze({
  /** 0 means "built-in defaults"; the publisher numbers real snapshots from 1. */
  version: 0,
  publishedAt: '1970-01-01T00:00:00.000Z',
  publishedBy: 'built-in-defaults',
  elicitation: {
    /** Master switch: when off, every agent is served by the legacy protocol. */
    enabled: false,
    /** Share of agents (by md5 bucket, 0..100) moved to elicitation. */
    percentage: 0,
    /** Agents (ids or `*` globs) moved to elicitation whatever the percentage. */
    agents: [],
    /** Agents (ids or `*` globs) kept on legacy; wins over `agents` and the percentage. */
    excludedAgents: [],
  },
  /** Re-route a push that could not be delivered to the poll lane. */
  autoFallback: true,
  /** Serve both protocols side by side. */
  dualMode: true,
  deprecation: {
    /** Attach a deprecation notice to legacy responses. */
    warnings: false,
    /** Throttle delay the legacy endpoint applies while deprecating; 0 = no throttling. */
    throttleMs: 0,
  },
  /** Final cutover: the legacy endpoint refuses service. */
  legacyDisabled: false,
  /** Longest a `wait_for_messages` call may wait (stays below the 60 s MCP client timeout). */
  legacyTimeoutMs: 30_000,
  /** How long a pushed elicitation may go unanswered before it counts as failed. */
  elicitationTimeoutMs: 5_000,
});

export function parseFlagSnapshot(input: unknown): FlagSnapshot {
  return parseOrThrow(flagSnapshotSchema, input, 'invalid flag snapshot');
}

export function parseFlagSettings(input: unknown): FlagSettings {
  return parseOrThrow(flagSettingsSchema, input, 'invalid flag settings');
}

/**
 * The settings part of a snapshot (or a copy of settings): drops exactly the publication
 * metadata, so a FlagSnapshot can be used wherever FlagSettings are validated strictly.
 */
export function flagSettingsOf(flags: FlagSettings): FlagSettings {
  const { version: _version, publishedAt: _publishedAt, publishedBy: _publishedBy, ...settings } =
    flags as Partial<Pick<FlagSnapshot, 'version' | 'publishedAt' | 'publishedBy'>> & FlagSettings;
  return settings;
}

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
