/**
 * The controller's view of Prometheus: instant queries (GET /api/v1/query) for the analysis gates
 * and the cutover readiness checks. A query that returns nothing — or a Prometheus that does not
 * answer — is "no data", which the gates treat as inconclusive, never as a pass.
 */
import type { AnalysisMetric, CheckResult, FeatureFlagsSpec, FeatureFlagsStatus, MetricValue } from '@agent-bridge/flags';
import { durationsOf, formatDuration } from '@agent-bridge/flags';
import type { PrometheusClient } from './prometheus.js';
import type { CutoverCheck } from './reconcile.js';

export { prometheusClient, type PrometheusClient } from './prometheus.js';

function judge(metric: AnalysisMetric, value: number | null, noData: 'inconclusive' | 'fail'): CheckResult {
  if (value === null) return noData === 'fail' ? 'fail' : 'inconclusive';
  if (metric.max !== undefined && value > metric.max) return 'fail';
  if (metric.min !== undefined && value < metric.min) return 'fail';
  return 'pass';
}

/** One analysis round: every metric check of the spec, now. */
export async function runAnalysis(spec: FeatureFlagsSpec, client: PrometheusClient | undefined, now: number): Promise<MetricValue[]> {
  const at = new Date(now).toISOString();
  return Promise.all(
    spec.analysis.metrics.map(async (metric) => {
      let value: number | null;
      try {
        value = client ? await client.query(metric.query) : null;
      } catch {
        value = null; // Prometheus down is no data: inconclusive, never a pass
      }
      return {
        name: metric.name,
        value,
        ...(metric.max !== undefined ? { max: metric.max } : {}),
        ...(metric.min !== undefined ? { min: metric.min } : {}),
        result: judge(metric, value, spec.analysis.noData),
        at,
      };
    }),
  );
}

/** The legacy share of active agents, the quantity the cutover guard and the HighLegacyUsage alert watch. */
export const LEGACY_SHARE_QUERY = 'sum(agentbridge_active_agents_by_protocol{protocol="legacy"}) / clamp_min(sum(agentbridge_active_agents), 1)';

/**
 * Readiness for legacyDisabled: every stage done, no critical alert firing, and the legacy share
 * below spec.cutover.maxLegacyShare over the whole window. Each failing check is named.
 */
export async function checkCutover(spec: FeatureFlagsSpec, status: FeatureFlagsStatus, client: PrometheusClient | undefined): Promise<CutoverCheck> {
  const problems: string[] = [];
  const stages = spec.rollout.stages.length;
  const stagesDone = stages === 0 ? spec.flags.elicitation?.percentage === 100 : status.stage === stages && status.conditions.some((c) => c.type === 'StagesComplete' && c.status === 'True');
  if (!stagesDone) problems.push(stages === 0 ? 'elicitation is not at 100%' : `the rollout is at stage ${status.stage} of ${stages}`);
  if (status.rollback) problems.push(`a ${status.rollback.level} rollback is in force`);
  if (!client) {
    problems.push('readiness needs spec.analysis.prometheusUrl (legacy usage and alerts come from Prometheus)');
  } else {
    const window = formatDuration(durationsOf(spec).cutoverWindowMs);
    try {
      const critical = await client.query('count(ALERTS{alertstate="firing",severity="critical"})');
      if (critical !== null && critical > 0) problems.push(`${critical} critical alert(s) firing`);
      const share = await client.query(`max_over_time((${LEGACY_SHARE_QUERY})[${window}:1m])`);
      if (share === null) problems.push(`no legacy-usage data for the last ${window}`);
      else if (share >= spec.cutover.maxLegacyShare) problems.push(`legacy share reached ${(share * 100).toFixed(1)}% in the last ${window} (must stay below ${(spec.cutover.maxLegacyShare * 100).toFixed(1)}%)`);
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  return problems.length === 0 ? { ready: true, message: 'all readiness checks hold' } : { ready: false, message: problems.join('; ') };
}
