/**
 * The FeatureFlags resource (agentbridge.io/v1alpha1): what an operator applies with kubectl (or
 * keeps in a local YAML file) to drive the migration. The CRD's OpenAPI schema
 * (charts/agent-bridge/crds/featureflags.agentbridge.io.yaml) is the Kubernetes side of this contract; this
 * module is the controller's side, with the same fields, defaults and rules, and is checked against
 * the CRD by tests.
 */
import { z } from 'zod';
import { flagFileSchema, settingsFromFile } from './flag-file.js';
import { parseOrThrow } from './issues.js';
import { MIGRATION_PHASES, ROLLBACK_LEVELS, agentSelectorSchema, type FlagSettings, type RollbackLevel } from './snapshot.js';

export const FEATURE_FLAGS_GROUP = 'agentbridge.io';
export const FEATURE_FLAGS_VERSION = 'v1alpha1';
export const FEATURE_FLAGS_API_VERSION = `${FEATURE_FLAGS_GROUP}/${FEATURE_FLAGS_VERSION}`;
export const FEATURE_FLAGS_KIND = 'FeatureFlags';
export const FEATURE_FLAGS_PLURAL = 'featureflags';

/** Go-style durations as Kubernetes resources write them: `90s`, `5m`, `4h`, `1h30m`, `250ms`. */
export const DURATION_PATTERN = /^(\d+(ms|s|m|h))+$/;

export function parseDuration(text: string): number {
  if (!DURATION_PATTERN.test(text)) throw new RangeError(`not a duration: "${text}" (write e.g. 90s, 5m, 4h, 1h30m)`);
  const units: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
  let total = 0;
  for (const [, value, unit] of text.matchAll(/(\d+)(ms|s|m|h)/g)) total += Number(value) * units[unit!]!;
  return total;
}

export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1_000 === 0) return `${ms / 1_000}s`;
  return `${ms}ms`;
}

const duration = (min?: number) =>
  z
    .string({ error: 'expected a duration such as 90s, 5m or 4h' })
    .regex(DURATION_PATTERN, { error: 'expected a duration such as 90s, 5m or 4h' })
    .refine((text) => min === undefined || !DURATION_PATTERN.test(text) || parseDuration(text) >= min, { error: `expected a duration of at least ${min === undefined ? '' : formatDuration(min)}` });

const percentage = z.int({ error: 'expected an integer from 0 to 100' }).min(0, { error: 'expected an integer from 0 to 100' }).max(100, { error: 'expected an integer from 0 to 100' });
const mapping = { error: 'expected a mapping' } as const;
const level = z.enum(ROLLBACK_LEVELS, { error: `expected one of ${ROLLBACK_LEVELS.join(', ')}` });
const nonEmpty = (what: string) => z.string({ error: `expected ${what}` }).min(1, { error: `expected ${what}` });

const stageSchema = z.strictObject(
  {
    /** Share of agents on elicitation during this stage. */
    percentage,
    /** How long the stage is held (and analysed) before the next one. */
    hold: duration(0),
  },
  mapping,
);

const analysisMetricSchema = z
  .strictObject(
    {
      name: z.string({ error: 'expected a name' }).regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, { error: 'expected a lowercase name of letters, digits and "-" (at most 63)' }),
      /** PromQL instant query returning one number (the first sample is used). */
      query: nonEmpty('a PromQL query'),
      /** The check passes while the value is ≤ max and ≥ min (give at least one). */
      max: z.number({ error: 'expected a number' }).optional(),
      min: z.number({ error: 'expected a number' }).optional(),
    },
    mapping,
  )
  .refine((metric) => metric.max !== undefined || metric.min !== undefined, { error: 'give a threshold: max, min or both' });

const positiveInt = (max: number) =>
  z
    .int({ error: `expected an integer from 1 to ${max}` })
    .min(1, { error: `expected an integer from 1 to ${max}` })
    .max(max, { error: `expected an integer from 1 to ${max}` });
/** An RFC 3339 timestamp with its offset; a plain pattern (which the CRD states as is) and a real date. */
const timestamp = z
  .string({ error: 'expected an ISO 8601 timestamp such as 2026-12-01T09:00:00Z' })
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/, { error: 'expected an ISO 8601 timestamp such as 2026-12-01T09:00:00Z' })
  .refine((text) => Number.isFinite(Date.parse(text)), { error: 'expected a real date and time, such as 2026-12-01T09:00:00Z' });

/** The A/B test metrics (strategy week 6: latency, success_rate, resource_usage). */
export const AB_METRICS = ['latency', 'success-rate', 'cost'] as const;
export type AbMetricName = (typeof AB_METRICS)[number];
/** What a metric must show for the test to pass: a significant improvement, or only no significant harm. */
const AB_GOALS = ['improve', 'not-worse'] as const;
export const DEFAULT_AB_GOALS: Record<AbMetricName, (typeof AB_GOALS)[number]> = { latency: 'improve', 'success-rate': 'not-worse', cost: 'not-worse' };

const abMetricSchema = z.strictObject(
  {
    name: z.enum(AB_METRICS, { error: `expected one of ${AB_METRICS.join(', ')}` }),
    /** improve: the verdict needs this metric improved; not-worse: only that it is not significantly worse. */
    goal: z.enum(AB_GOALS, { error: `expected one of ${AB_GOALS.join(', ')}` }).optional(),
    /** Overrides the test's minimumImprovement for this metric. */
    minimumImprovement: z.number({ error: 'expected a number from 0 to 1' }).min(0, { error: 'expected a number from 0 to 1' }).max(1, { error: 'expected a number from 0 to 1' }).optional(),
  },
  mapping,
);

const abTestSchema = z.strictObject(
  {
    /** A label for the test, shown in the status, Events and bridgectl ab. */
    name: z
      .string({ error: 'expected a name' })
      .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, { error: 'expected a lowercase name of letters, digits and "-" (at most 63)' })
      .default('ab-test'),
    /** Start of the test window; without it the test starts when the published percentage first reaches atPercentage. */
    startAt: timestamp.optional(),
    atPercentage: z.int({ error: 'expected an integer from 1 to 99' }).min(1, { error: 'expected an integer from 1 to 99' }).max(99, { error: 'expected an integer from 1 to 99' }).default(50),
    /** Length of the test window (the strategy: 7 days = 168h). */
    duration: duration(60_000).default('168h'),
    /** How often the controller evaluates the test while it runs. */
    interval: duration(10_000).default('5m'),
    /** Confidence of the intervals; a verdict needs the whole interval on one side (strategy: statistical_significance 0.95). */
    confidence: z
      .number({ error: 'expected a number from 0.5 to 0.999, such as 0.95' })
      .min(0.5, { error: 'expected a number from 0.5 to 0.999, such as 0.95' })
      .max(0.999, { error: 'expected a number from 0.5 to 0.999, such as 0.95' })
      .default(0.95),
    /** Smallest relative improvement that counts (strategy: minimum_improvement 0.10). */
    minimumImprovement: z.number({ error: 'expected a number from 0 to 1' }).min(0, { error: 'expected a number from 0 to 1' }).max(1, { error: 'expected a number from 0 to 1' }).default(0.1),
    /** Fewer messages (or, for cost, evaluation steps) than this in either group: not enough data. */
    minSamples: positiveInt(1_000_000_000).default(100),
    /** The metrics compared; default all three with their default goals (latency improve, success-rate and cost not-worse). */
    metrics: z.array(abMetricSchema, { error: 'expected a list of metrics' }).max(3, { error: 'at most 3 metrics (latency, success-rate, cost)' }).optional(),
    /** PromQL label matchers added to every query, e.g. namespace="agent-bridge" (when one Prometheus watches several installations). */
    matchers: z.string({ error: 'expected PromQL label matchers such as namespace="agent-bridge"' }).max(500, { error: 'at most 500 characters' }).optional(),
    /** Stages above this percentage wait until the test is complete with the overall verdict "improved" (omit for no gate). */
    gateAbovePercentage: percentage.optional(),
  },
  mapping,
);

/** The scorecard criteria only a person can judge (the others are measured). */
export const ATTESTED_CRITERIA = ['staging-tests', 'final-readiness-review', 'agent-satisfaction', 'legacy-code-removed', 'owner-feedback'] as const;

/** A criterion that needs a person: who attests it, when, and where the evidence is. */
const attestationSchema = z.strictObject(
  {
    criterion: z.enum(ATTESTED_CRITERIA, { error: `expected one of ${ATTESTED_CRITERIA.join(', ')} (the criteria a person attests; bridgectl scorecard lists them)` }),
    result: z.enum(['pass', 'fail'], { error: 'expected pass or fail' }).default('pass'),
    by: nonEmpty('who attests it'),
    at: timestamp,
    evidence: z.url({ error: 'expected a link to the evidence (an http(s) URL)' }),
    note: z.string({ error: 'expected a string' }).max(1_000, { error: 'at most 1000 characters' }).optional(),
  },
  mapping,
);

const healthCheckSchema = z.strictObject(
  {
    /** Probe the elicitation path (every replica's /readyz) and roll back when it stays unhealthy. */
    enabled: z.boolean({ error: 'expected true or false' }).default(true),
    interval: duration(1_000).default('10s'),
    /** Failed checks in a row that trigger the rollback (strategy: HealthCheckTrigger(consecutive_failures=3)). */
    consecutiveFailures: positiveInt(100).default(3),
    timeout: duration(100).default('2s'),
    level: level.default('full'),
  },
  mapping,
);

const drillSchema = z.strictObject(
  {
    /** The agent a drill sends to legacy and back; it must be on elicitation when a drill starts. */
    agent: nonEmpty('the id of the drill agent'),
    /** Run a drill this often (omit: only on demand, bridgectl drill). */
    interval: duration(60_000).optional(),
    /** A drill whose rollback or restore is not effective within this fails (and raises RollbackDrillFailed). */
    timeout: duration(1_000).default('30s'),
  },
  mapping,
);

const scorecardSchema = z.strictObject(
  {
    /** How often the controller evaluates the scorecard. */
    interval: duration(10_000).default('5m'),
    /** The legacy mean delivery latency before the migration, for "average latency reduced by 50 %"; default: the A/B test's control estimate. */
    baselineLatencySeconds: z.number({ error: 'expected a positive number of seconds' }).min(0.000001, { error: 'expected a positive number of seconds' }).optional(),
  },
  mapping,
);

/** What a deprecation step does (the strategy's week 9, day 1 / 3 / 5 / 7). */
const DEPRECATION_ACTIONS = ['warnings', 'headers', 'throttle', 'notify-owners', 'final-notice'] as const;
export type DeprecationAction = (typeof DEPRECATION_ACTIONS)[number];

const deprecationStepSchema = z.strictObject(
  {
    /** Names the step in the status, the audit trail and the notification milestone ("deprecation:<name>"). */
    name: z.string({ error: 'expected a step name' }).regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, { error: 'expected a step name: lowercase letters, digits and "-", at most 63 characters' }),
    /** When the step runs, after spec.deprecation.start. */
    after: duration(0),
    actions: z
      .array(z.enum(DEPRECATION_ACTIONS, { error: `expected one of ${DEPRECATION_ACTIONS.join(', ')}` }), { error: 'expected a list of actions' })
      .min(1, { error: 'give at least one action' })
      .max(DEPRECATION_ACTIONS.length, { error: `at most ${DEPRECATION_ACTIONS.length} actions` }),
    /** Said in this step's owner notifications, after the standard text. */
    message: z.string({ error: 'expected a string' }).max(2_000, { error: 'at most 2000 characters' }).optional(),
  },
  mapping,
);

/** The strategy's week-9 campaign: day 1 warnings, day 3 headers and the 100 ms throttle, day 5 owner notifications, day 7 the final deadline. */
const DEFAULT_DEPRECATION_STEPS: ReadonlyArray<z.input<typeof deprecationStepSchema>> = [
  { name: 'day-1', after: '0s', actions: ['warnings'] },
  { name: 'day-3', after: '48h', actions: ['headers', 'throttle'] },
  { name: 'day-5', after: '96h', actions: ['notify-owners'] },
  { name: 'day-7', after: '144h', actions: ['final-notice'] },
];

const deprecationSchema = z.strictObject(
  {
    /** Day 1 of the campaign: every step's `after` counts from here. */
    start: timestamp,
    /** When the legacy endpoint goes away: the Sunset header, the deadline in warnings and notifications. */
    sunset: timestamp,
    /** The migration guide: the Link header (rel="deprecation") and every notice point to it. */
    migrationGuideUrl: z.url({ error: 'expected an http(s) URL of the migration guide' }).optional(),
    /** The public progress page, linked from notifications. */
    progressPageUrl: z.url({ error: 'expected an http(s) URL of the progress page' }).optional(),
    /** The artificial delay of the throttle action (strategy: 100 ms). */
    throttleMs: z.int({ error: 'expected an integer from 1 to 10000' }).min(1, { error: 'expected an integer from 1 to 10000' }).max(10_000, { error: 'expected an integer from 1 to 10000' }).default(100),
    /** Plan only: the status shows each step and when it would run; nothing is done and nobody is notified. */
    dryRun: z.boolean({ error: 'expected true or false' }).default(false),
    steps: z
      .array(deprecationStepSchema, { error: 'expected a list of steps' })
      .min(1, { error: 'give at least one step' })
      .max(20, { error: 'at most 20 steps' })
      .default(() => DEFAULT_DEPRECATION_STEPS.map((step) => ({ ...step, actions: [...step.actions] })) as Array<z.infer<typeof deprecationStepSchema>>),
  },
  mapping,
);

/** The strategy's contingencies (decision 0024; docs/operations.md, "Contingencies"). */
const contingenciesSpecSchema = z.strictObject(
  {
    /** Read-only mode: new sends refused with READ_ONLY, delivery of what was accepted goes on. */
    readOnly: z
      .strictObject(
        {
          enabled: z.boolean({ error: 'expected true or false' }).default(false),
          /** Shown to agents and in the status. */
          reason: z.string({ error: 'expected a string' }).max(500, { error: 'at most 500 characters' }).optional(),
        },
        mapping,
      )
      .default({ enabled: false }),
    /** What an envelope checksum mismatch at delivery does besides dead-lettering the message. */
    checksumMismatch: z
      .strictObject(
        {
          /** Switch read-only mode on (strategy: data_corruption → read-only mode). */
          readOnly: z.boolean({ error: 'expected true or false' }).default(true),
        },
        mapping,
      )
      .default({ readOnly: true }),
    /** Load shedding (strategy: performance_collapse, latency > 10x baseline → shed 50 % load). */
    loadShedding: z
      .strictObject(
        {
          enabled: z.boolean({ error: 'expected true or false' }).default(false),
          latencyMultiple: z.number({ error: 'expected a number from 1.5 to 1000' }).min(1.5, { error: 'expected a number from 1.5 to 1000' }).max(1000, { error: 'expected a number from 1.5 to 1000' }).default(10),
          share: z.number({ error: 'expected a number from 0 to 1' }).min(0, { error: 'expected a number from 0 to 1' }).max(1, { error: 'expected a number from 0 to 1' }).default(0.5),
          retryAfter: duration(100).default('5s'),
          minSamples: positiveInt(1_000_000).default(100),
        },
        mapping,
      )
      .default({ enabled: false, latencyMultiple: 10, share: 0.5, retryAfter: '5s', minSamples: 100 }),
  },
  mapping,
);

export const featureFlagsSpecSchema = z.strictObject(
  {
    /** The phase the operator has put the migration in; the controller moves rollout → stabilization after the last stage. */
    phase: z.enum(MIGRATION_PHASES, { error: `expected one of ${MIGRATION_PHASES.join(', ')}` }).default('preparation'),
    /** Stops stage progression (holds do not advance) until set back to false. */
    paused: z.boolean({ error: 'expected true or false' }).default(false),
    /** The flags (the strategy's feature_flags.yaml groups); `elicitation.percentage` applies while no stage is active. */
    flags: flagFileSchema.default({}),
    rollout: z
      .strictObject(
        {
          /** Ordered stages, percentages strictly ascending. */
          stages: z.array(stageSchema, { error: 'expected a list of stages' }).max(101, { error: 'at most 101 stages (percentages 0–100, strictly ascending)' }).default([]),
        },
        mapping,
      )
      .default({ stages: [] }),
    analysis: z
      .strictObject(
        {
          /** Prometheus base URL (the controller calls /api/v1/query). */
          prometheusUrl: z.url({ error: 'expected an http(s) URL such as http://prometheus:9090' }).optional(),
          /** How often the checks run during a hold. */
          interval: duration(1_000).default('1m'),
          /** Failed checks (in a row, within a stage) that trigger a rollback. */
          failureLimit: z.int({ error: 'expected an integer from 1 to 100' }).min(1, { error: 'expected an integer from 1 to 100' }).max(100, { error: 'expected an integer from 1 to 100' }).default(3),
          /** What a query that returns nothing means: inconclusive (pauses promotion) or a failed check. */
          noData: z.enum(['inconclusive', 'fail'], { error: 'expected inconclusive or fail' }).default('inconclusive'),
          metrics: z.array(analysisMetricSchema, { error: 'expected a list of metric checks' }).default([]),
        },
        mapping,
      )
      .default({ interval: '1m', failureLimit: 3, noData: 'inconclusive', metrics: [] }),
    rollback: z
      .strictObject(
        {
          /** Act on Alertmanager notifications and gate breaches (manual rollbacks always work). */
          automatic: z.boolean({ error: 'expected true or false' }).default(true),
          /** Percentage points a partial rollback removes. */
          partialStep: z.int({ error: 'expected an integer from 1 to 100' }).min(1, { error: 'expected an integer from 1 to 100' }).max(100, { error: 'expected an integer from 1 to 100' }).default(25),
          /** Agents (ids or globs) a canary rollback sends back to legacy; default: the opt-in list. */
          canaryAgents: z.array(agentSelectorSchema, { error: 'expected a list of agent ids or glob patterns' }).optional(),
          /** Alert name → level; an alert not listed uses its `rollback` label (none = no action). */
          alerts: z
            .array(z.strictObject({ alertName: nonEmpty('an alert name'), level: z.enum([...ROLLBACK_LEVELS, 'none'], { error: `expected one of ${ROLLBACK_LEVELS.join(', ')}, none` }) }, mapping), {
              error: 'expected a list of {alertName, level}',
            })
            .default([]),
          /** Level applied when an analysis gate fails failureLimit times. */
          onGateFailure: level.default('partial'),
          /** The health-check trigger: the elicitation path unhealthy for consecutiveFailures checks in a row. */
          healthCheck: healthCheckSchema.default({ enabled: true, interval: '10s', consecutiveFailures: 3, timeout: '2s', level: 'full' }),
          /** Rollback drills (rollback readiness): a designated agent rolled back and restored, its effect time measured. */
          drill: drillSchema.optional(),
          /** A rollback requested by editing the resource: applied once per distinct id. */
          request: z.strictObject({ id: nonEmpty('a request id'), level, reason: nonEmpty('a reason'), agents: z.array(agentSelectorSchema).optional() }, mapping).optional(),
        },
        mapping,
      )
      .default({ automatic: true, partialStep: 25, alerts: [], onGateFailure: 'partial', healthCheck: { enabled: true, interval: '10s', consecutiveFailures: 3, timeout: '2s', level: 'full' } }),
    /** Readiness checks before legacyDisabled takes effect. */
    cutover: z
      .strictObject(
        {
          /** Legacy share of active agents must stay below this (0–1)… */
          maxLegacyShare: z.number({ error: 'expected a number from 0 to 1' }).min(0, { error: 'expected a number from 0 to 1' }).max(1, { error: 'expected a number from 0 to 1' }).default(0.05),
          /** …for this long. */
          window: duration(60_000).default('24h'),
          /** Disable legacy even though the checks fail; the reason goes into the audit trail. */
          force: z.strictObject({ reason: nonEmpty('a reason') }, mapping).optional(),
          /** The post-cutover watch: a critical alert within it rolls back to the snapshot; a clean one schedules legacy removal. */
          watch: duration(1_000).default('30m'),
        },
        mapping,
      )
      .default({ maxLegacyShare: 0.05, window: '24h', watch: '30m' }),
    /** The deprecation campaign (strategy week 9), run by the controller on its dates. */
    deprecation: deprecationSchema.optional(),
    /** The week-6 A/B test: legacy (control) against elicitation (treatment), from Prometheus. */
    abTest: abTestSchema.optional(),
    /** The go/no-go scorecard (bridgectl scorecard). */
    scorecard: scorecardSchema.default({ interval: '5m' }),
    /** Criteria that need a person (staging tests passed, readiness review…), attested. */
    attestations: z.array(attestationSchema, { error: 'expected a list of attestations' }).max(100, { error: 'at most 100 attestations' }).default([]),
    /** Read-only mode, envelope checksum mismatches, load shedding. */
    contingencies: contingenciesSpecSchema.default({
      readOnly: { enabled: false },
      checksumMismatch: { readOnly: true },
      loadShedding: { enabled: false, latencyMultiple: 10, share: 0.5, retryAfter: '5s', minSamples: 100 },
    }),
  },
  mapping,
);

export type FeatureFlagsSpec = z.infer<typeof featureFlagsSpecSchema>;
export type Stage = z.infer<typeof stageSchema>;
export type AnalysisMetric = z.infer<typeof analysisMetricSchema>;
export type AbTestSpec = z.infer<typeof abTestSchema>;
export type Attestation = z.infer<typeof attestationSchema>;
export type DeprecationSpec = z.infer<typeof deprecationSchema>;

const metadataSchema = z.looseObject({
  name: z.string({ error: 'expected a name' }).regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, { error: 'expected a DNS subdomain name (lowercase letters, digits, "-", ".")' }),
  namespace: z.string().optional(),
  generation: z.int().optional(),
  resourceVersion: z.string().optional(),
});

const featureFlagsResourceSchema = z.looseObject({
  apiVersion: z.literal(FEATURE_FLAGS_API_VERSION, { error: `expected ${FEATURE_FLAGS_API_VERSION}` }),
  kind: z.literal(FEATURE_FLAGS_KIND, { error: `expected ${FEATURE_FLAGS_KIND}` }),
  metadata: metadataSchema,
  spec: featureFlagsSpecSchema,
});

export type FeatureFlagsResource = z.infer<typeof featureFlagsResourceSchema>;

/**
 * Parses a FeatureFlags resource (the object, not YAML) and checks what the OpenAPI schema cannot
 * express structurally: stages strictly ascending. Throws a FlagsError naming each bad field.
 */
export function parseFeatureFlags(input: unknown, source = 'FeatureFlags'): FeatureFlagsResource {
  const strict = featureFlagsResourceSchema.superRefine((resource, context) => {
    const stages = resource.spec.rollout.stages;
    for (let i = 1; i < stages.length; i++) {
      if (stages[i]!.percentage <= stages[i - 1]!.percentage) {
        context.addIssue({
          code: 'custom',
          path: ['spec', 'rollout', 'stages', i, 'percentage'],
          message: `stage percentages must be strictly ascending: ${stages[i]!.percentage} follows ${stages[i - 1]!.percentage}`,
        });
      }
    }
    if (resource.spec.analysis.metrics.length > 0 && !resource.spec.analysis.prometheusUrl) {
      context.addIssue({ code: 'custom', path: ['spec', 'analysis', 'prometheusUrl'], message: 'metric checks need a Prometheus URL' });
    }
    const url = resource.spec.analysis.prometheusUrl;
    if (url && !/^https?:\/\//.test(url)) context.addIssue({ code: 'custom', path: ['spec', 'analysis', 'prometheusUrl'], message: 'expected an http(s) URL such as http://prometheus:9090' });
    const names = new Set<string>();
    resource.spec.analysis.metrics.forEach((metric, i) => {
      if (names.has(metric.name)) context.addIssue({ code: 'custom', path: ['spec', 'analysis', 'metrics', i, 'name'], message: `duplicate metric name "${metric.name}"` });
      names.add(metric.name);
      if (metric.min !== undefined && metric.max !== undefined && metric.min > metric.max) {
        context.addIssue({ code: 'custom', path: ['spec', 'analysis', 'metrics', i, 'min'], message: `min ${metric.min} is above max ${metric.max}: the check could never pass` });
      }
    });
    if (resource.spec.abTest && !resource.spec.analysis.prometheusUrl) {
      context.addIssue({ code: 'custom', path: ['spec', 'analysis', 'prometheusUrl'], message: 'the A/B test needs a Prometheus URL' });
    }
    const abMetrics = resource.spec.abTest?.metrics;
    if (abMetrics && !abMetrics.some((metric) => (metric.goal ?? DEFAULT_AB_GOALS[metric.name]) === 'improve')) {
      context.addIssue({ code: 'custom', path: ['spec', 'abTest', 'metrics'], message: 'give at least one metric the goal improve (latency has it by default): the test must be able to show an improvement' });
    }
    const abNames = new Set<string>();
    resource.spec.abTest?.metrics?.forEach((metric, i) => {
      if (abNames.has(metric.name)) context.addIssue({ code: 'custom', path: ['spec', 'abTest', 'metrics', i, 'name'], message: `"${metric.name}" is listed twice; keep one entry per metric` });
      abNames.add(metric.name);
    });
    const deprecation = resource.spec.deprecation;
    if (deprecation) {
      if (Date.parse(deprecation.sunset) <= Date.parse(deprecation.start))
        context.addIssue({ code: 'custom', path: ['spec', 'deprecation', 'sunset'], message: `the sunset (${deprecation.sunset}) must come after the start (${deprecation.start})` });
      const stepNames = new Set<string>();
      deprecation.steps.forEach((step, i) => {
        if (stepNames.has(step.name)) context.addIssue({ code: 'custom', path: ['spec', 'deprecation', 'steps', i, 'name'], message: `"${step.name}" is used twice; give each step its own name` });
        stepNames.add(step.name);
        if (new Set(step.actions).size !== step.actions.length) context.addIssue({ code: 'custom', path: ['spec', 'deprecation', 'steps', i, 'actions'], message: 'an action is listed twice' });
        if (Date.parse(deprecation.start) + parseDuration(step.after) > Date.parse(deprecation.sunset))
          context.addIssue({ code: 'custom', path: ['spec', 'deprecation', 'steps', i, 'after'], message: `step "${step.name}" would run after the sunset; move it earlier or the sunset later` });
      });
    }
    const alerts = new Set<string>();
    resource.spec.rollback.alerts.forEach((entry, i) => {
      if (alerts.has(entry.alertName)) context.addIssue({ code: 'custom', path: ['spec', 'rollback', 'alerts', i, 'alertName'], message: `"${entry.alertName}" is mapped twice; keep one entry per alert` });
      alerts.add(entry.alertName);
    });
  });
  return parseOrThrow(strict, input, `invalid ${source}`);
}

/** The flag settings the spec asks for, before stages, rollbacks and the cutover guard apply. */
export function requestedSettings(spec: FeatureFlagsSpec): FlagSettings {
  return settingsFromFile(spec.flags);
}

export interface SpecDurations {
  holdsMs: number[];
  analysisIntervalMs: number;
  cutoverWindowMs: number;
  cutoverWatchMs: number;
}

export function durationsOf(spec: FeatureFlagsSpec): SpecDurations {
  return {
    holdsMs: spec.rollout.stages.map((stage) => parseDuration(stage.hold)),
    analysisIntervalMs: parseDuration(spec.analysis.interval),
    cutoverWindowMs: parseDuration(spec.cutover.window),
    cutoverWatchMs: parseDuration(spec.cutover.watch),
  };
}

export type { RollbackLevel };
