/**
 * Step 3b: the evidence evaluated by the caller this pass — the A/B test, the scorecard and the
 * elicitation health check — goes into the status, and each change a person acts on (a test
 * starting, a verdict changing, a criterion passing or failing) becomes an Event and a history
 * entry. Nothing here rolls back: the health check's rollback is an action (rollback.ts).
 */
import type { AbTestStatus, HealthCheckStatus, ScorecardStatus } from '@agent-bridge/flags';
import { draft, record, type Pass, type PassContext } from './pass.js';

export interface Evidence {
  abTest?: AbTestStatus;
  scorecard?: ScorecardStatus;
  healthCheck?: HealthCheckStatus;
}

export function applyEvidence(ctx: PassContext, input: Pass, evidence: Evidence | undefined): Pass {
  if (!evidence || (!evidence.abTest && !evidence.scorecard && !evidence.healthCheck)) {
    if (!ctx.spec.abTest && input.status.abTest) {
      const pass = draft(input);
      delete pass.status.abTest; // the test was removed from the spec
      return pass;
    }
    return input;
  }
  const pass = draft(input);
  const { status } = pass;
  if (evidence.abTest) {
    const before = status.abTest?.name === evidence.abTest.name ? status.abTest : undefined;
    if (evidence.abTest.state !== 'waiting' && before?.state !== evidence.abTest.state) {
      record(ctx, pass, {
        action: evidence.abTest.state === 'complete' ? 'ab.completed' : 'ab.started',
        actor: ctx.self,
        trigger: 'controller',
        reason: evidence.abTest.state === 'complete' ? `A/B test ${evidence.abTest.name} complete: ${evidence.abTest.verdict} (${evidence.abTest.note})` : `A/B test ${evidence.abTest.name} started; it ends at ${evidence.abTest.endsAt}`,
        details: { name: evidence.abTest.name, startedAt: evidence.abTest.startedAt, endsAt: evidence.abTest.endsAt, verdict: evidence.abTest.verdict },
        severity: 'Normal',
      });
    } else if (before && before.verdict !== evidence.abTest.verdict && evidence.abTest.state === 'running') {
      record(ctx, pass, {
        action: 'ab.verdict',
        actor: ctx.self,
        trigger: 'controller',
        reason: `A/B test ${evidence.abTest.name}: ${before.verdict} → ${evidence.abTest.verdict} (${evidence.abTest.note})`,
        details: {
          name: evidence.abTest.name,
          from: before.verdict,
          to: evidence.abTest.verdict,
          metrics: evidence.abTest.metrics.map((m) => ({ name: m.name, verdict: m.verdict, improvement: m.improvement, interval: m.interval, pValue: m.pValue })),
        },
        severity: evidence.abTest.verdict === 'worse' ? 'Warning' : 'Normal',
      });
    }
    status.abTest = evidence.abTest;
  }
  if (evidence.scorecard) {
    const before = new Map((status.scorecard?.criteria ?? []).map((c) => [c.id, c.result]));
    const changed = evidence.scorecard.criteria.filter((c) => before.has(c.id) && before.get(c.id) !== c.result);
    if (changed.length > 0) {
      record(ctx, pass, {
        action: 'scorecard.changed',
        actor: ctx.self,
        trigger: 'controller',
        reason: changed.map((c) => `${c.id} ${before.get(c.id)} → ${c.result} (${c.display})`).join('; '),
        details: { changed: changed.map((c) => ({ id: c.id, from: before.get(c.id), to: c.result, value: c.value })), summary: evidence.scorecard.summary },
        severity: changed.some((c) => c.result === 'fail') ? 'Warning' : 'Normal',
      });
    }
    status.scorecard = evidence.scorecard;
  }
  if (evidence.healthCheck) status.healthCheck = evidence.healthCheck;
  return pass;
}

/**
 * The A/B gate: the stage `percentage` may not start until the test is complete with the overall
 * verdict improved. An interim "improved" does not open it: acting on the first of many looks would
 * raise the false-positive rate well above the test's (decision 0019, repeated looks).
 */
export function abGateHolds(ctx: PassContext, abTest: AbTestStatus | undefined, percentage: number): boolean {
  const gate = ctx.spec.abTest?.gateAbovePercentage;
  return gate !== undefined && percentage > gate && !(abTest?.state === 'complete' && abTest.verdict === 'improved');
}
