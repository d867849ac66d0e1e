/**
 * The controller's decisions, as a pure function of (spec, status, clock, what happened): a chain
 * of named steps, each a pure function of the pass so far (reconcile/*.ts), and rollbacks in one
 * module (rollback.ts). No I/O here, so every transition is tested with a fake clock
 * (reconcile.test.ts, reconcile/steps.test.ts, rollback.test.ts).
 */
import { applyActions } from './reconcile/actions.js';
import { applyAnalysis } from './reconcile/analysis.js';
import { setConditions } from './reconcile/conditions.js';
import { effectiveContingencies, onChecksumMismatches } from './reconcile/contingencies.js';
import { guardCutover } from './reconcile/cutover.js';
import { runDeprecation } from './reconcile/deprecation.js';
import { applyEvidence } from './reconcile/evidence.js';
import { effectiveFlags } from './reconcile/flags.js';
import { observeSpec } from './reconcile/observe-spec.js';
import { firstPass, passContext } from './reconcile/pass.js';
import { advanceStages } from './reconcile/stages.js';
import type { ReconcileInput, ReconcileResult } from './reconcile/types.js';
import { countRollbacks } from './rollback.js';

export { analysisDue } from './reconcile/analysis.js';
export type * from './reconcile/types.js';

export function reconcile(input: ReconcileInput): ReconcileResult {
  const ctx = passContext(input);
  const observed = observeSpec(ctx, firstPass(input.status));
  const acted = applyActions(ctx, observed.pass, [...(observed.requested ? [observed.requested] : []), ...(input.actions ?? [])]);
  const checked = onChecksumMismatches(ctx, acted, input.checksumMismatches);
  const analysed = applyAnalysis(ctx, checked, input.analysis);
  const evidenced = applyEvidence(ctx, analysed, input.evidence);
  const staged = advanceStages(ctx, evidenced);
  const flagged = effectiveFlags(ctx, staged);
  const deprecated = runDeprecation(ctx, flagged.pass, flagged.settings);
  const guarded = guardCutover(ctx, deprecated.pass, deprecated.settings, input.cutover, input.cutoverSnapshot);
  const { status, events, outcomes, rollbacks } = setConditions(ctx, guarded.pass, guarded.settings);
  const { phase, stage } = status;
  const applied = [...rollbacks];
  return {
    status,
    settings: guarded.settings,
    contingencies: effectiveContingencies(ctx, status),
    rollout: (current) => countRollbacks({ ...current, phase, stage }, applied, ctx.at),
    // One outcome per input action, in order (the admin API answers each caller with its own):
    // the rollback requested in the resource has no caller waiting, and its outcome comes first.
    outcomes: observed.requested ? outcomes.slice(1) : outcomes,
    events,
    rollbacks,
  };
}
