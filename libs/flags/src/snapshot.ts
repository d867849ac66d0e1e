import { z } from 'zod';
import { parseOrThrow } from './issues.js';

const MAX_AGENT_SELECTOR_LENGTH = 128;

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
  return z.string({ error: expected }).min(1, { error: expected }).max(MAX_AGENT_SELECTOR_LENGTH, { error: expected });
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

function isoTimestamp() {
  return z.iso.datetime({ offset: true, error: 'expected an ISO 8601 timestamp such as 2025-01-31T12:00:00Z' });
}

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
  /** Set by the deprecation schedule (spec.deprecation): the legacy endpoint's standard headers and the deadline its warnings give. */
  deprecationNotice: z
    .strictObject(
      {
        /** When the deprecation took effect: the Deprecation header (RFC 9745). */
        deprecatedAt: isoTimestamp(),
        /** When legacy goes away: the Sunset header (RFC 8594) and the date in warnings. */
        sunsetAt: isoTimestamp(),
        /** The migration guide: Link rel="deprecation". */
        link: z.url({ error: 'expected an http(s) URL' }).optional(),
        /** Send the Deprecation, Sunset and Link headers (the day-3 step). */
        headers: flag(),
        /** The final deadline has been announced (the day-7 step): warnings say so. */
        final: flag(),
      },
      mapping,
    )
    .optional(),
};

/** The flags themselves, without the publication metadata. */
export const flagSettingsSchema = z.strictObject(flagSettingsShape, mapping);

export const MIGRATION_PHASES = ['preparation', 'canary', 'rollout', 'stabilization', 'completion'] as const;
export type MigrationPhase = (typeof MIGRATION_PHASES)[number];
export const ROLLBACK_LEVELS = ['full', 'partial', 'canary'] as const;
export type RollbackLevel = (typeof ROLLBACK_LEVELS)[number];
/** What started a rollback: an Alertmanager notification, a failed analysis gate, the admin API, bridgectl, an edit of the resource, or the elicitation health check. */
const ROLLBACK_TRIGGERS = ['alert', 'gate', 'admin', 'cli', 'resource', 'health-check'] as const;
export type RollbackTrigger = (typeof ROLLBACK_TRIGGERS)[number];

const rollbackLevel = z.enum(ROLLBACK_LEVELS, { error: `expected one of ${ROLLBACK_LEVELS.join(', ')}` });
const rollbackTrigger = z.enum(ROLLBACK_TRIGGERS, { error: `expected one of ${ROLLBACK_TRIGGERS.join(', ')}` });
const count = z.int({ error: 'expected a non-negative integer' }).min(0, { error: 'expected a non-negative integer' });

/**
 * Where the migration stands, published with the flags so every service (and its metrics) sees the
 * same phase, stage and rollback history. The controller owns it; other publishers carry it forward.
 */
const rolloutStateSchema = z.strictObject(
  {
    phase: z.enum(MIGRATION_PHASES, { error: `expected one of ${MIGRATION_PHASES.join(', ')}` }),
    /** 0 before the first stage of the plan, n while at the nth stage. */
    stage: count,
    /** Rollbacks since the migration started, by level and trigger (monotonic). */
    rollbacks: z.array(z.strictObject({ level: rollbackLevel, trigger: rollbackTrigger, count }, mapping)),
    lastRollback: z
      .strictObject(
        {
          level: rollbackLevel,
          trigger: rollbackTrigger,
          reason: z.string({ error: 'expected a string' }),
          at: z.iso.datetime({ offset: true, error: 'expected an ISO 8601 timestamp such as 2025-01-31T12:00:00Z' }),
        },
        mapping,
      )
      .nullable(),
  },
  mapping,
);

export type RolloutState = z.infer<typeof rolloutStateSchema>;

export const INITIAL_ROLLOUT: RolloutState = deepFreeze({ phase: 'preparation', stage: 0, rollbacks: [], lastRollback: null });

/** The rollout state after one more rollback (counts carried forward, `lastRollback` replaced). */
export function withRollback(state: RolloutState, rollback: { level: RollbackLevel; trigger: RollbackTrigger; reason: string; at: string }): RolloutState {
  const rollbacks = state.rollbacks.map((entry) => ({ ...entry }));
  const existing = rollbacks.find((entry) => entry.level === rollback.level && entry.trigger === rollback.trigger);
  if (existing) existing.count += 1;
  else rollbacks.push({ level: rollback.level, trigger: rollback.trigger, count: 1 });
  return { ...state, rollbacks, lastRollback: { ...rollback } };
}

/** What a refusal of new sends can be switched on by (status.readOnly.trigger). */
const READ_ONLY_TRIGGERS = ['resource', 'admin', 'cli', 'alert', 'checksum'] as const;
export type ReadOnlyTrigger = (typeof READ_ONLY_TRIGGERS)[number];

/**
 * The strategy's contingencies as every service applies them (decision 0024): read-only mode (new
 * sends refused, delivery goes on) and load shedding (a share of new sends refused while the
 * replica's own Redis latency is a multiple of its baseline). Published with the flags like the
 * rollout state; the controller owns it, other publishers carry it forward.
 */
const contingenciesSchema = z.strictObject(
  {
    readOnly: z.strictObject(
      {
        enabled: flag(),
        /** Why, for the agents' error message and the status ('' when off). */
        reason: z.string({ error: 'expected a string' }).max(500, { error: 'at most 500 characters' }),
        /** When and by whom it was switched on (null when off). */
        since: z.string({ error: 'expected an ISO 8601 timestamp' }).nullable(),
        by: z.string({ error: 'expected a string' }).max(200, { error: 'at most 200 characters' }),
        trigger: z.enum(READ_ONLY_TRIGGERS, { error: `expected one of ${READ_ONLY_TRIGGERS.join(', ')}` }).nullable(),
      },
      mapping,
    ),
    loadShedding: z.strictObject(
      {
        enabled: flag(),
        /** Shedding starts when the latency is this many times its baseline (strategy: 10x). */
        latencyMultiple: z.number({ error: 'expected a number from 1.5 to 1000' }).min(1.5, { error: 'expected a number from 1.5 to 1000' }).max(1000, { error: 'expected a number from 1.5 to 1000' }),
        /** Share of new sends refused while shedding (strategy: 50 %). */
        share: z.number({ error: 'expected a number from 0 to 1' }).min(0, { error: 'expected a number from 0 to 1' }).max(1, { error: 'expected a number from 0 to 1' }),
        /** What a shed sender is told to wait. */
        retryAfterMs: boundedInteger(100, 600_000),
        /** Latency samples a replica needs before it may shed (its baseline is not known before). */
        minSamples: boundedInteger(1, 1_000_000),
      },
      mapping,
    ),
  },
  mapping,
);

export type Contingencies = z.infer<typeof contingenciesSchema>;

export const DEFAULT_CONTINGENCIES: Contingencies = deepFreeze({
  readOnly: { enabled: false, reason: '', since: null, by: '', trigger: null },
  loadShedding: { enabled: false, latencyMultiple: 10, share: 0.5, retryAfterMs: 5_000, minSamples: 100 },
});

/** The effective flag snapshot the controller publishes and every service applies. */
const flagSnapshotSchema = z.strictObject(
  {
    /** Snapshots published before the rollout state existed read as the initial state. */
    rollout: rolloutStateSchema.default(() => structuredClone(INITIAL_ROLLOUT) as RolloutState),
    /** Snapshots published before the contingencies existed read as none in force. */
    contingencies: contingenciesSchema.default(() => structuredClone(DEFAULT_CONTINGENCIES) as Contingencies),
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
  rollout: { phase: 'preparation', stage: 0, rollbacks: [], lastRollback: null },
  contingencies: {
    readOnly: { enabled: false, reason: '', since: null, by: '', trigger: null },
    loadShedding: { enabled: false, latencyMultiple: 10, share: 0.5, retryAfterMs: 5_000, minSamples: 100 },
  },
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
  const {
    version: _version,
    publishedAt: _publishedAt,
    publishedBy: _publishedBy,
    rollout: _rollout,
    contingencies: _contingencies,
    ...settings
  } = flags as Partial<Pick<FlagSnapshot, 'version' | 'publishedAt' | 'publishedBy' | 'rollout' | 'contingencies'>> & FlagSettings;
  return settings;
}

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
