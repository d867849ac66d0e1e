/**
 * Step 5: the effective flags — what the spec asks for, at the current stage's percentage, with a
 * rollback in force applied (rollback.ts), a drill's agent excluded while it rolls back (drill.ts) —
 * and the effective percentage the status reports.
 */
import type { FlagSettings } from '@agent-bridge/flags';
import { rollbackFlags } from '../rollback.js';
import { drillFlags } from './drill.js';
import { draft, type Pass, type PassContext } from './pass.js';
import { plannedPercentage } from './stages.js';

export function effectiveFlags(ctx: PassContext, input: Pass): { pass: Pass; settings: FlagSettings } {
  const pass = draft(input);
  const { status } = pass;
  const planned = structuredClone(ctx.requested);
  planned.elicitation.percentage = plannedPercentage(ctx, status);
  const settings = drillFlags(rollbackFlags(planned, status.rollback), status.drill);
  status.effectivePercentage = settings.elicitation.enabled ? settings.elicitation.percentage : 0;
  return { pass, settings };
}
