/**
 * The go/no-go scorecard: every decision point of the strategy (weeks 2, 4, 6, 9, 10), its phase
 * gates (canary, rollout, cutover) and its final acceptance list, each with its threshold, the
 * value measured now over its window, and pass / fail / pending. pass: met now; fail: measured and
 * not met; pending: nothing to measure yet (no data, not attested, the A/B test not over). Values
 * come from Prometheus, the status (A/B test, cutover readiness) or an attestation in the spec for
 * what only a person can judge. A Prometheus that does not answer, or has no agent-bridge series,
 * leaves the measured criteria pending — never passed.
 */
import type { ATTESTED_CRITERIA, Attestation, CriterionGroup, CriterionResult, FeatureFlagsSpec, FeatureFlagsStatus, ScorecardCriterion, ScorecardStatus } from '@agent-bridge/flags';
import { checkCutover, LEGACY_SHARE_QUERY } from '../analysis.js';
import type { PrometheusClient } from '../prometheus.js';

type Measured = Pick<ScorecardCriterion, 'value' | 'display' | 'result' | 'source'> & { note?: string; attestation?: ScorecardCriterion['attestation'] };

interface Context {
  spec: FeatureFlagsSpec;
  status: FeatureFlagsStatus;
  client: PrometheusClient | undefined;
  /** One number from Prometheus, or null (no data); throws when Prometheus fails. */
  q: (expr: string) => Promise<number | null>;
}

interface Definition {
  id: string;
  group: CriterionGroup;
  section: string;
  title: string;
  threshold: string;
  window?: string;
  measure: (ctx: Context) => Promise<Measured>;
}

const pct = (ratio: number, digits = 2) => `${(ratio * 100).toFixed(digits)} %`;
const secs = (seconds: number) => (seconds < 1 ? `${(seconds * 1000).toFixed(1)} ms` : `${seconds.toFixed(2)} s`);

const errorRate = (protocol: string, w: string) =>
  `sum(increase(agentbridge_errors_total{protocol="${protocol}"}[${w}])) / (sum(increase(agentbridge_messages_delivered_total{protocol="${protocol}"}[${w}])) + sum(increase(agentbridge_errors_total{protocol="${protocol}"}[${w}])))`;
const p99 = (protocol: string, w: string) => `histogram_quantile(0.99, sum by (le) (increase(agentbridge_delivery_latency_seconds_bucket{protocol="${protocol}"}[${w}])))`;
const meanLatency = (protocol: string, w: string) => `sum(increase(agentbridge_delivery_latency_seconds_sum{protocol="${protocol}"}[${w}])) / sum(increase(agentbridge_delivery_latency_seconds_count{protocol="${protocol}"}[${w}]))`;
const deliveryRate = (w: string) => `sum(increase(agentbridge_messages_delivered_total[${w}])) / sum(increase(agentbridge_messages_sent_total[${w}]))`;
/** Per-shard maxima summed: 0 exactly when no shard reported an unaccounted message in the window (no subquery: a young installation has data too). */
const unaccounted = (w: string) => `sum(max_over_time(agentbridge_messages_unaccounted[${w}]))`;
const criticalAlerts = (w: string) => `max_over_time((count(ALERTS{alertstate="firing",severity="critical"}) or vector(0))[${w}:1m])`;
/** Every process mirrors the rollback counts: one series per (level, trigger) counts once. */
const unplannedRollbacks = (w: string) => `sum(max by (level, trigger) (increase(agentbridge_rollbacks_total{trigger=~"alert|gate|health-check"}[${w}]))) or vector(0)`;
const legacyAgents = 'sum(agentbridge_active_agents_by_protocol{protocol="legacy"})';

/** A criterion measured by one query: its value → result by `pass`, or pending without data. */
function fromQuery(expr: string | ((ctx: Context) => string), display: (v: number) => string, pass: (v: number, ctx: Context) => boolean): (ctx: Context) => Promise<Measured> {
  return async (ctx) => {
    const value = await ctx.q(typeof expr === 'string' ? expr : expr(ctx));
    if (value === null || !Number.isFinite(value)) return { value: null, display: 'no data', result: 'pending', source: 'prometheus', note: 'no data in the window' };
    return { value, display: display(value), result: pass(value, ctx) ? 'pass' : 'fail', source: 'prometheus' };
  };
}

/** The week-4 criterion and the canary gate measure the same thing. */
const elicitationErrorRate24h = fromQuery(
  errorRate('elicitation', '24h'),
  (v) => pct(v, 3),
  (v) => v < 0.001,
);

function attested(id: (typeof ATTESTED_CRITERIA)[number]): (ctx: Context) => Promise<Measured> {
  return async ({ spec }) => {
    const latest = spec.attestations.filter((a: Attestation) => a.criterion === id).sort((a, b) => Date.parse(b.at) - Date.parse(a.at))[0];
    if (!latest) return { value: null, display: 'not attested', result: 'pending', source: 'attestation', note: `attest it in spec.attestations (criterion: ${id}, by, at, evidence)` };
    return {
      value: latest.result === 'pass' ? 1 : 0,
      display: `${latest.result} by ${latest.by} at ${latest.at}`,
      result: latest.result,
      source: 'attestation',
      attestation: { by: latest.by, at: latest.at, evidence: latest.evidence, ...(latest.note ? { note: latest.note } : {}) },
    };
  };
}

/** The progress page's answers (latest per agent, positive = 4 or 5), once any owner answered. */
const OWNER_FEEDBACK_QUERY = 'max(agentbridge_owner_feedback_positive_ratio) and on() (max(agentbridge_owner_feedback_agents) > 0)';
const measuredOwnerFeedback = fromQuery(
  OWNER_FEEDBACK_QUERY,
  (v) => `${pct(v, 1)} of answers positive`,
  (v) => v >= 0.9,
);

/**
 * Measured from the progress page's feedback; before any answer (or without Prometheus), an
 * attestation (a survey run elsewhere) counts.
 */
async function ownerFeedback(ctx: Context): Promise<Measured> {
  const measured = await measuredOwnerFeedback(ctx).catch(() => undefined);
  return measured && measured.result !== 'pending' ? measured : attested('owner-feedback')(ctx);
}

function abVerdict(): (ctx: Context) => Promise<Measured> {
  return async ({ spec, status }) => {
    const ab = status.abTest;
    if (!spec.abTest) return { value: null, display: 'no A/B test', result: 'pending', source: 'ab-test', note: 'describe the test in spec.abTest' };
    if (!ab || ab.verdict === 'pending') return { value: null, display: ab?.note ?? 'not evaluated yet', result: 'pending', source: 'ab-test' };
    const display = `${ab.verdict} (${ab.note})`;
    // Decided at the end of the window: an interim verdict is shown, not counted (decision 0019, repeated looks).
    if (ab.state !== 'complete') return { value: null, display: `interim: ${display}`, result: 'pending', source: 'ab-test', note: `the test runs until ${ab.endsAt}` };
    if (ab.verdict === 'improved') return { value: 1, display, result: 'pass', source: 'ab-test' };
    return { value: 0, display, result: 'fail', source: 'ab-test' };
  };
}

function latencyImprovement(window: string, pass: (improvement: number) => boolean, baseline?: (ctx: Context) => number | undefined): (ctx: Context) => Promise<Measured> {
  return async (ctx) => {
    const treatment = await ctx.q(meanLatency('elicitation', window));
    const control = baseline?.(ctx) ?? (await ctx.q(meanLatency('legacy', window)));
    if (treatment === null || control === null || control === undefined || !(control > 0))
      return {
        value: null,
        display: 'no data',
        result: 'pending',
        source: 'prometheus',
        note: baseline ? 'needs elicitation deliveries and a baseline (spec.scorecard.baselineLatencySeconds, or the A/B control estimate)' : 'needs deliveries on both protocols in the window',
      };
    const improvement = 1 - treatment / control;
    return { value: improvement, display: `${pct(improvement, 1)} lower (elicitation ${secs(treatment)}, ${baseline ? 'baseline' : 'legacy'} ${secs(control)})`, result: pass(improvement) ? 'pass' : 'fail', source: 'prometheus' };
  };
}

const DEFINITIONS: Definition[] = [
  // Go/no-go decision points (strategy: Timeline with Buffer).
  { id: 'staging-tests', group: 'decision-point', section: 'end of week 2', title: 'Staging tests pass (functional, performance, chaos)', threshold: 'attested pass', measure: attested('staging-tests') },
  {
    id: 'week4-error-rate',
    group: 'decision-point',
    section: 'end of week 4: canary criteria',
    title: 'Elicitation error rate',
    threshold: '< 0.1 %',
    window: '24h',
    measure: elicitationErrorRate24h,
  },
  {
    id: 'week4-latency-p99',
    group: 'decision-point',
    section: 'end of week 4: canary criteria',
    title: 'Elicitation delivery latency p99',
    threshold: '< 1000 ms',
    window: '24h',
    measure: fromQuery(p99('elicitation', '24h'), secs, (v) => v < 1),
  },
  {
    id: 'week4-delivery',
    group: 'decision-point',
    section: 'end of week 4: canary criteria',
    title: 'Messages delivered of those accepted',
    threshold: '> 99.9 %',
    window: '24h',
    measure: fromQuery(
      deliveryRate('24h'),
      (v) => pct(v, 3),
      (v) => v > 0.999,
    ),
  },
  { id: 'ab-improvement', group: 'decision-point', section: 'end of week 6', title: 'The A/B test shows an improvement', threshold: 'verdict improved', measure: abVerdict() },
  {
    id: 'legacy-usage',
    group: 'decision-point',
    section: 'end of week 9',
    title: 'Legacy usage (share of active agents)',
    threshold: '< 5 % over the cutover window',
    measure: fromQuery(
      ({ spec }) => `max_over_time((${LEGACY_SHARE_QUERY})[${spec.cutover.window}:1m])`,
      (v) => pct(v, 1),
      (v, { spec }) => v < spec.cutover.maxLegacyShare,
    ),
  },
  {
    id: 'cutover-readiness',
    group: 'decision-point',
    section: 'week 10: final readiness review',
    title: 'The cutover readiness checks hold (stages done, no rollback, no critical alert, legacy share)',
    threshold: 'ready',
    measure: async ({ spec, status, client }) => {
      const check = await checkCutover(spec, status, client);
      return { value: check.ready ? 1 : 0, display: check.message, result: check.ready ? 'pass' : 'fail', source: 'status' };
    },
  },
  { id: 'final-readiness-review', group: 'decision-point', section: 'week 10: final readiness review', title: 'The readiness review signed off', threshold: 'attested pass', measure: attested('final-readiness-review') },
  // Phase gates (strategy: Success Criteria).
  {
    id: 'canary-zero-loss',
    group: 'phase-gate',
    section: 'canary success',
    title: 'Zero message loss',
    threshold: '0 unaccounted',
    window: '24h',
    measure: fromQuery(
      unaccounted('24h'),
      (v) => `${v} unaccounted`,
      (v) => v === 0,
    ),
  },
  {
    id: 'canary-error-rate',
    group: 'phase-gate',
    section: 'canary success',
    title: 'Elicitation error rate',
    threshold: '< 0.1 %',
    window: '24h',
    measure: elicitationErrorRate24h,
  },
  {
    id: 'canary-latency-improvement',
    group: 'phase-gate',
    section: 'canary success',
    title: 'Mean delivery latency, elicitation against legacy',
    threshold: '> 10 % lower',
    window: '24h',
    measure: latencyImprovement('24h', (improvement) => improvement > 0.1),
  },
  { id: 'rollout-ab-positive', group: 'phase-gate', section: 'rollout success', title: 'All A/B test metrics positive', threshold: 'verdict improved, no metric worse', measure: abVerdict() },
  {
    id: 'rollout-no-critical',
    group: 'phase-gate',
    section: 'rollout success',
    title: 'No critical incidents (critical alerts firing)',
    threshold: '0',
    window: '24h',
    measure: fromQuery(
      criticalAlerts('24h'),
      (v) => `${v} firing at most`,
      (v) => v === 0,
    ),
  },
  { id: 'agent-satisfaction', group: 'phase-gate', section: 'rollout success', title: 'Agent satisfaction maintained', threshold: 'attested pass', measure: attested('agent-satisfaction') },
  {
    id: 'cutover-stable-48h',
    group: 'phase-gate',
    section: 'cutover success',
    title: '48 hours stable in completion: no critical alert, no unplanned rollback',
    threshold: 'completion for 48h, 0 critical, 0 unplanned rollbacks',
    window: '48h',
    measure: async ({ q }) => {
      const inCompletion = await q('min_over_time(max(agentbridge_migration_phase{phase="completion"})[48h:5m])');
      if (inCompletion === null) return { value: null, display: 'no data', result: 'pending', source: 'prometheus', note: 'no phase series for the last 48h' };
      if (inCompletion < 1) return { value: 0, display: 'not in completion for the whole 48h', result: 'pending', source: 'prometheus', note: 'the cutover is less than 48h old (or not done)' };
      const [critical, rollbacks] = [await q(criticalAlerts('48h')), await q(unplannedRollbacks('48h'))];
      if (critical === null || rollbacks === null) return { value: null, display: 'no data', result: 'pending', source: 'prometheus' };
      return { value: critical + rollbacks, display: `${critical} critical alert(s), ${rollbacks} unplanned rollback(s)`, result: critical === 0 && rollbacks === 0 ? 'pass' : 'fail', source: 'prometheus' };
    },
  },
  {
    id: 'cutover-all-migrated',
    group: 'phase-gate',
    section: 'cutover success',
    title: 'All agents migrated (no agent active on legacy)',
    threshold: '0 legacy agents',
    window: '48h',
    measure: fromQuery(
      'sum(max_over_time(agentbridge_active_agents_by_protocol{protocol="legacy"}[48h]))',
      (v) => `${v} on legacy at most (per-shard maxima)`,
      (v) => v === 0,
    ),
  },
  { id: 'legacy-code-removed', group: 'phase-gate', section: 'cutover success', title: 'Legacy code removed', threshold: 'attested pass', measure: attested('legacy-code-removed') },
  // Final acceptance (strategy: Success Criteria).
  {
    id: 'all-agents-on-elicitation',
    group: 'acceptance',
    section: 'final acceptance',
    title: 'All agents using the elicitation protocol',
    threshold: '0 active on legacy',
    measure: async ({ q }) => {
      const [legacy, all] = [await q(legacyAgents), await q('sum(agentbridge_active_agents)')];
      if (legacy === null || all === null || all === 0) return { value: null, display: 'no active agents', result: 'pending', source: 'prometheus' };
      return { value: legacy, display: `${legacy} of ${all} active agents on legacy`, result: legacy === 0 ? 'pass' : 'fail', source: 'prometheus' };
    },
  },
  {
    id: 'latency-halved',
    group: 'acceptance',
    section: 'final acceptance',
    title: 'Average delivery latency reduced by 50 %',
    threshold: '≥ 50 % below the legacy baseline',
    window: '168h',
    measure: latencyImprovement(
      '168h',
      (improvement) => improvement >= 0.5,
      ({ spec, status }) => spec.scorecard.baselineLatencySeconds ?? status.abTest?.metrics.find((m) => m.name === 'latency')?.control.estimate ?? undefined,
    ),
  },
  {
    id: 'delivery-rate',
    group: 'acceptance',
    section: 'final acceptance',
    title: 'Message delivery rate',
    threshold: '> 99.99 %',
    window: '168h',
    measure: fromQuery(
      deliveryRate('168h'),
      (v) => pct(v, 3),
      (v) => v > 0.9999,
    ),
  },
  {
    id: 'no-unplanned-rollbacks',
    group: 'acceptance',
    section: 'final acceptance',
    title: 'Zero unplanned rollbacks in the final week (alert, gate, health-check)',
    threshold: '0',
    window: '168h',
    measure: fromQuery(
      unplannedRollbacks('168h'),
      (v) => `${v}`,
      (v) => v === 0,
    ),
  },
  {
    id: 'owner-feedback',
    group: 'acceptance',
    section: 'final acceptance',
    title: 'Positive feedback from 90 % of agent owners',
    threshold: '≥ 90 % of answers positive (progress page), or attested',
    measure: ownerFeedback,
  },
];

export async function evaluateScorecard(spec: FeatureFlagsSpec, status: FeatureFlagsStatus, client: PrometheusClient | undefined, now: number): Promise<ScorecardStatus> {
  let unavailable: string | undefined = client ? undefined : 'no Prometheus URL (spec.analysis.prometheusUrl)';
  if (client && !unavailable) {
    try {
      if ((await client.query('count(agentbridge_flag_snapshot_version)', now)) === null) unavailable = 'Prometheus has no agent-bridge series (is it scraping the bridge?)';
    } catch (error) {
      unavailable = (error as Error).message;
    }
  }
  const q = async (expr: string) => {
    if (unavailable || !client) throw new Error(unavailable);
    return client.query(expr, now);
  };
  const criteria: ScorecardCriterion[] = [];
  for (const definition of DEFINITIONS) {
    let result: Measured;
    try {
      result = await definition.measure({ spec, status, client, q });
    } catch (error) {
      result = { value: null, display: 'no data', result: 'pending', source: 'prometheus', note: (error as Error).message };
    }
    const { measure: _measure, ...line } = definition;
    criteria.push({ ...line, ...result });
  }
  const count = (result: CriterionResult) => criteria.filter((c) => c.result === result).length;
  return { evaluatedAt: new Date(now).toISOString(), summary: { pass: count('pass'), fail: count('fail'), pending: count('pending') }, criteria };
}
