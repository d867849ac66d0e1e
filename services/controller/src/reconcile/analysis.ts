/**
 * Step 3: the results of an analysis round (analysis.ts runs the queries). Failures count in a row
 * and roll back once they reach spec.analysis.failureLimit (rollback.ts decides); no data is
 * inconclusive and holds promotion.
 */
import { durationsOf, type FeatureFlagsSpec, type FeatureFlagsStatus, type MetricValue } from '@agent-bridge/flags';
import { applyRollback, gateRollback } from '../rollback.js';
import { STAGED_PHASES, draft, record, type Pass, type PassContext } from './pass.js';

/** Whether an analysis round is due: during a hold, with checks defined, every interval. */
export function analysisDue(spec: FeatureFlagsSpec, status: FeatureFlagsStatus, now: number): boolean {
  if (spec.analysis.metrics.length === 0 || status.stage === 0 || status.rollback || status.paused || spec.paused) return false;
  if (!STAGED_PHASES.has(spec.phase)) return false;
  if (!status.lastAnalysisAt) return true;
  return now - Date.parse(status.lastAnalysisAt) >= durationsOf(spec).analysisIntervalMs;
}

export function applyAnalysis(ctx: PassContext, input: Pass, analysis: MetricValue[] | undefined): Pass {
  if (!analysis || analysis.length === 0 || input.status.stage === 0 || input.status.rollback) return input;
  let pass = draft(input);
  const { status } = pass;
  status.lastAnalysisAt = ctx.at;
  status.lastMetrics = analysis;
  const failed = analysis.filter((metric) => metric.result === 'fail');
  const inconclusive = analysis.filter((metric) => metric.result === 'inconclusive');
  if (failed.length > 0) {
    status.failedChecks += 1;
    record(ctx, pass, {
      action: 'analysis.failed',
      actor: ctx.self,
      trigger: 'gate',
      reason: `${failed.map((m) => `${m.name}=${m.value}`).join(', ')} outside thresholds (${status.failedChecks}/${ctx.spec.analysis.failureLimit})`,
      details: { metrics: analysis, failedChecks: status.failedChecks },
      severity: 'Warning',
    });
    const rollback = gateRollback(ctx, status, failed, analysis);
    if (rollback) pass = applyRollback(ctx, pass, rollback);
  } else if (inconclusive.length === 0) {
    status.failedChecks = 0; // failures count in a row
  } else {
    record(ctx, pass, { action: 'analysis.inconclusive', actor: ctx.self, trigger: 'gate', reason: `no data for ${inconclusive.map((m) => m.name).join(', ')}; promotion waits`, details: { metrics: analysis }, severity: 'Warning' });
  }
  return pass;
}
