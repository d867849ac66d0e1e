/**
 * Step 1: the spec as observed. A new generation keeps the progress that still makes sense (the
 * stage, unless the phase runs none), and the phase follows the spec — except that a rollout
 * finished by the controller stays in stabilization. A rollback requested in the resource comes out
 * as an action, once per request id.
 */
import { resourceRollback } from '../rollback.js';
import { STAGED_PHASES, draft, record, type Pass, type PassContext } from './pass.js';
import type { RollbackAction } from './types.js';

export interface ObservedSpec {
  pass: Pass;
  /** The rollback spec.rollback.request asks for, when this id was not applied yet. */
  requested?: RollbackAction;
}

export function observeSpec(ctx: PassContext, input: Pass): ObservedSpec {
  const pass = draft(input);
  const { status } = pass;
  const { spec, stages, generation } = ctx;
  const adopting = status.observedGeneration === 0;
  let requested: RollbackAction | undefined;
  if (status.observedGeneration !== generation) {
    if (status.observedGeneration !== 0) record(ctx, pass, { action: 'spec.changed', actor: 'operator', trigger: 'resource', reason: `generation ${generation} applied`, severity: 'Normal' });
    if (!STAGED_PHASES.has(spec.phase) && spec.phase !== 'stabilization' && spec.phase !== 'completion') status.stage = 0;
    if (status.stage > stages.length) status.stage = stages.length;
    const request = spec.rollback.request;
    if (request && request.id !== status.appliedRequestId) {
      status.appliedRequestId = request.id;
      requested = resourceRollback(request);
    }
    status.observedGeneration = generation;
  }
  if (adopting) status.phase = spec.phase;
  const finishedRollout = spec.phase === 'rollout' && status.phase === 'stabilization' && status.stage === stages.length && stages.length > 0;
  if (spec.phase !== status.phase && !finishedRollout) {
    record(ctx, pass, { action: 'phase.changed', actor: 'operator', trigger: 'resource', reason: `phase ${status.phase} → ${spec.phase}`, details: { from: status.phase, to: spec.phase }, severity: 'Normal' });
    status.phase = spec.phase;
  }
  return requested ? { pass, requested } : { pass };
}
