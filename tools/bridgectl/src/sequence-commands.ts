/**
 * bridgectl deprecation and cutover: the end of the migration. `deprecation` prints the schedule
 * (spec.deprecation) as the controller plans or ran it — each step, when, what it does, what it did
 * — and, for a dry run, what would happen when and how many owners would be told. `cutover` prints
 * the cutover sequence (guard, system snapshot, watch, outcome); `cutover rollback --reason R`
 * trips its breaker: legacy serves again with the snapshot's flags.
 */
import type { CutoverStatus } from '@agent-bridge/flags';
import { EXIT, UsageError, ago, requireReason, table, type ControllerCommandContext } from './common.js';
import { adminToken, controllerUrl, fetchStatus, postAdmin, type DeprecationPlan } from './controller-client.js';

const EFFECT: Record<string, string> = {
  warnings: 'deprecation notice in every legacy result, a warning in the legacy logs',
  headers: 'Deprecation, Sunset and Link headers on legacy responses',
  throttle: 'legacy calls throttled',
  'notify-owners': 'owners of agents still on legacy notified (once each)',
  'final-notice': 'final deadline announced to those owners and in every warning',
};

export function renderDeprecation(plan: DeprecationPlan | null | undefined, now: number): string {
  if (!plan) return 'no deprecation schedule: describe one in spec.deprecation (docs/featureflags.md, "deprecation")\n';
  let out = `deprecation ${plan.dryRun ? 'DRY RUN (nothing is done, nobody is notified)' : 'schedule'}: start ${plan.start}, sunset ${plan.sunset} (${ago(plan.sunset, now)})\n`;
  out += `next: ${plan.next ? `${plan.next.name} at ${plan.next.at} (${ago(plan.next.at, now)})` : 'every step has run'}\n\n`;
  const rows = [['step', 'due', 'state', 'ran', 'what it does']];
  for (const step of plan.steps) {
    const effect = step.actions.map((action) => (action === 'throttle' ? `${EFFECT.throttle} by ${plan.throttleMs} ms` : (EFFECT[action] ?? action))).join('; ');
    const notices = step.notices ? ` — ${step.notices.owners} owner(s): ${step.notices.queued} queued, ${step.notices.already} already` : '';
    rows.push([step.name, `${step.dueAt} (${ago(step.dueAt, now)})`, step.state === 'planned' ? 'would run' : step.state, step.executedAt ?? '', `${effect}${notices}`]);
  }
  out += table(rows);
  const would = plan.wouldNotify;
  if (would && 'error' in would) out += `\nowners to notify: unknown (${would.error})\n`;
  else if (would) out += `\nowners to notify now: ${would.owners} owner(s) of ${would.agents} agent(s) still on legacy${would.unowned ? `; ${would.unowned} agent(s) without an owner in the registry cannot be notified` : ''}\n`;
  return out;
}

export function renderCutover(cutover: CutoverStatus | undefined, snapshot: Record<string, unknown> | null | undefined, now: number): string {
  if (!cutover) return 'no cutover requested: set flags.legacyDisabled to true (docs/operations.md, "The cutover")\n';
  const rows: string[][] = [
    ['state', cutover.state ?? (cutover.ready || cutover.forced ? 'ready' : 'blocked')],
    ['checks', `${cutover.ready ? 'hold' : cutover.forced ? 'FORCED' : 'fail'}: ${cutover.message}`],
  ];
  if (cutover.snapshot) rows.push(['snapshot', `${cutover.snapshot.id} at ${cutover.snapshot.at}`]);
  if (cutover.startedAt) rows.push(['legacy disabled', `${cutover.startedAt} (${ago(cutover.startedAt, now)})`]);
  if (cutover.watchUntil) rows.push(['watch until', `${cutover.watchUntil} (${ago(cutover.watchUntil, now)})`]);
  if (cutover.endedAt) rows.push(['watch ended', cutover.endedAt]);
  if (cutover.rollbackReason) rows.push(['rolled back', cutover.rollbackReason]);
  for (const issue of cutover.issues ?? []) rows.push(['minor issue', `${issue.alert} (${issue.severity}) since ${issue.at}${issue.summary ? `: ${issue.summary}` : ''}`]);
  if (snapshot && !snapshot.missing) {
    const backlog = snapshot.backlog as { events: number; push: number; poll: number } | undefined;
    if (backlog) rows.push(['backlog then', `${backlog.events} to route, ${backlog.push} in push lanes, ${backlog.poll} in poll lanes`]);
    rows.push(['legacy agents then', String(snapshot.legacyAgents ?? '?')]);
  }
  return table(rows);
}

export async function deprecationCommand(ctx: ControllerCommandContext): Promise<number> {
  const report = await fetchStatus(controllerUrl(ctx.env));
  if (ctx.json) ctx.io.out(`${JSON.stringify(report.deprecation ?? null, null, 2)}\n`);
  else ctx.io.out(renderDeprecation(report.deprecation, (ctx.now ?? Date.now)()));
  return report.deprecation ? EXIT.ok : EXIT.nothing;
}

export async function cutoverCommand(args: string[], ctx: ControllerCommandContext): Promise<number> {
  const url = controllerUrl(ctx.env);
  if (args[0] === 'rollback') {
    if (args.length > 1) throw new UsageError(`unexpected argument "${args[1]}"`);
    const answer = await postAdmin(url, adminToken(ctx.env), '/admin/cutover/rollback', { reason: requireReason(ctx.values.reason), actor: ctx.actor, trigger: 'cli' });
    if (ctx.json) ctx.io.out(`${JSON.stringify(answer, null, 2)}\n`);
    else ctx.io.out(answer.applied ? `${answer.message}\n` : `nothing rolled back: ${answer.message}\n`);
    return answer.applied ? EXIT.ok : EXIT.nothing;
  }
  if (args.length > 0) throw new UsageError(`unknown cutover subcommand "${args[0]}": use bridgectl cutover, or bridgectl cutover rollback --reason R`);
  const report = await fetchStatus(url);
  const cutover = report.status?.cutover;
  if (ctx.json) ctx.io.out(`${JSON.stringify({ cutover: cutover ?? null, snapshot: report.cutoverSnapshot ?? null }, null, 2)}\n`);
  else ctx.io.out(renderCutover(cutover, report.cutoverSnapshot, (ctx.now ?? Date.now)()));
  return cutover ? EXIT.ok : EXIT.nothing;
}
