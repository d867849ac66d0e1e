/**
 * Step 6: the cutover guard. legacyDisabled takes effect only once the readiness checks hold
 * (analysis.ts, checkCutover) or the operator forces it; until then the legacy endpoint keeps
 * serving and the status says why. A rollback in force has already opened it again (rollback.ts).
 */
import type { FlagSettings } from '@agent-bridge/flags';
import { draft, record, type Pass, type PassContext } from './pass.js';
import type { CutoverCheck } from './types.js';
import { conditionOf } from '../status.js';

export function guardCutover(ctx: PassContext, input: Pass, settings: FlagSettings, check: CutoverCheck | undefined): { pass: Pass; settings: FlagSettings } {
  const pass = draft(input);
  const { status } = pass;
  const guarded = structuredClone(settings);
  if (!ctx.requested.legacyDisabled || status.rollback) {
    delete status.cutover;
    return { pass, settings: guarded };
  }
  const forced = ctx.spec.cutover.force;
  const checked = check ?? { ready: false, message: 'readiness not checked yet' };
  const wasReady = status.cutover?.ready || status.cutover?.forced;
  status.cutover = { ready: checked.ready, forced: !checked.ready && forced !== undefined, message: checked.message, checkedAt: ctx.at };
  if (!checked.ready && !forced) {
    guarded.legacyDisabled = false;
    if (!wasReady && !pass.events.some((e) => e.action === 'cutover.blocked') && conditionOf(status, 'CutoverBlocked')?.status !== 'True') {
      record(ctx, pass, { action: 'cutover.blocked', actor: ctx.self, trigger: 'guard', reason: checked.message, severity: 'Warning' });
    }
  } else if (!checked.ready && forced && !wasReady) {
    record(ctx, pass, { action: 'cutover.forced', actor: 'operator', trigger: 'resource', reason: forced.reason, details: { checks: checked.message }, severity: 'Warning' });
  }
  return { pass, settings: guarded };
}
