/**
 * bridgectl commands that talk to the controller: status (status-command.ts), rollback, promote,
 * pause, resume (its admin API, here), ab, scorecard and drill (evidence-commands.ts), simulate (simulate-command.ts: the plan's stages evaluated for
 * given agents), and apply -f (apply-command.ts, local mode: writes the FeatureFlags file the
 * controller watches).
 */
import { ROLLBACK_LEVELS, type RollbackLevel } from '@agent-bridge/flags';
import { agentsCommand } from './agents-command.js';
import { apply } from './apply-command.js';
import { EXIT, UsageError, agentList, noMoreArgs, requireReason, type ControllerCommandContext } from './common.js';
import { adminToken, controllerUrl, postAdmin, type AdminAnswer, type AdminPath } from './controller-client.js';
import { cutoverCommand, deprecationCommand } from './sequence-commands.js';
import { abCommand, drillCommand, scorecardCommand } from './evidence-commands.js';
import { notificationsCommand } from './notifications-command.js';
import { simulate } from './simulate-command.js';
import { status } from './status-command.js';

export const CONTROLLER_COMMANDS = new Set(['status', 'rollback', 'promote', 'pause', 'resume', 'simulate', 'apply', 'ab', 'scorecard', 'drill', 'agents', 'notifications', 'deprecation', 'cutover', 'read-only']);

export async function runControllerCommand(command: string, args: string[], ctx: ControllerCommandContext): Promise<number> {
  switch (command) {
    case 'status':
      noMoreArgs(command, args);
      return status(ctx);
    case 'rollback':
      return rollback(args, ctx);
    case 'promote':
      noMoreArgs(command, args);
      return admin(ctx, '/admin/promote', { full: ctx.values.full === true, ...optionalReason(ctx.values.reason) });
    case 'pause':
      noMoreArgs(command, args);
      return admin(ctx, '/admin/pause', { reason: requireReason(ctx.values.reason) });
    case 'resume':
      noMoreArgs(command, args);
      return admin(ctx, '/admin/resume', optionalReason(ctx.values.reason));
    case 'simulate':
      noMoreArgs(command, args);
      return simulate(ctx);
    case 'apply':
      noMoreArgs(command, args);
      return apply(ctx);
    case 'ab':
      noMoreArgs(command, args);
      return abCommand(ctx);
    case 'scorecard':
      noMoreArgs(command, args);
      return scorecardCommand(ctx);
    case 'drill':
      noMoreArgs(command, args);
      return drillCommand(ctx);
    case 'deprecation':
      noMoreArgs(command, args);
      return deprecationCommand(ctx);
    case 'cutover':
      return cutoverCommand(args, ctx);
    case 'agents':
      noMoreArgs(command, args);
      return agentsCommand(ctx);
    case 'notifications':
      noMoreArgs(command, args);
      return notificationsCommand(ctx);
    case 'read-only': {
      const [mode, ...extra] = args;
      if (mode !== 'on' && mode !== 'off') throw new UsageError(`read-only needs on or off (got ${mode === undefined ? 'nothing' : `"${mode}"`})`);
      noMoreArgs(`read-only ${mode}`, extra);
      return admin(ctx, '/admin/read-only', { enabled: mode === 'on', reason: requireReason(ctx.values.reason) });
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

function optionalReason(reason: unknown): { reason?: string } {
  if (reason === undefined) return {};
  if (typeof reason !== 'string' || reason.trim() === '') throw new UsageError('--reason needs a text (or leave it out)');
  return { reason };
}

// ----------------------------------------------------------------------------------- admin actions

async function rollback(args: string[], ctx: ControllerCommandContext): Promise<number> {
  const [level, ...extra] = args;
  const levels = 'full, partial or canary';
  if (!level) throw new UsageError(`rollback needs a level: ${levels}`);
  if (!(ROLLBACK_LEVELS as readonly string[]).includes(level)) throw new UsageError(`rollback level must be ${levels} (got "${level}")`);
  noMoreArgs(`rollback ${level}`, extra);
  const reason = requireReason(ctx.values.reason);
  const payload: Record<string, unknown> = { level: level as RollbackLevel, reason };
  if (ctx.values.step !== undefined) {
    if (level !== 'partial') throw new UsageError('--step applies to a partial rollback only');
    const step = Number(ctx.values.step);
    if (typeof ctx.values.step !== 'string' || !/^\d+$/.test(ctx.values.step) || step < 1 || step > 100) throw new UsageError('--step must be a whole number of percentage points from 1 to 100');
    payload.percentage_reduction = step;
  }
  if (ctx.values.agents !== undefined) {
    if (level !== 'canary') throw new UsageError('--agents applies to a canary rollback only');
    payload.agents = agentList(ctx.values.agents, '--agents');
  }
  return admin(ctx, '/admin/rollback', payload);
}

async function admin(ctx: ControllerCommandContext, path: AdminPath, payload: Record<string, unknown>): Promise<number> {
  const url = controllerUrl(ctx.env);
  const token = adminToken(ctx.env);
  const answer: AdminAnswer = await postAdmin(url, token, path, { ...payload, actor: ctx.actor, trigger: 'cli' });
  if (ctx.json) ctx.io.out(`${JSON.stringify(answer, null, 2)}\n`);
  else if (answer.applied) ctx.io.out(`${answer.message}${answer.snapshot_version !== undefined ? ` (flag snapshot version ${answer.snapshot_version})` : ''}\n`);
  else ctx.io.out(`nothing done: ${answer.message}\n`);
  return answer.applied ? EXIT.ok : EXIT.nothing;
}
