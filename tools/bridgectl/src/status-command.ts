/** bridgectl status: the controller's report (GET /health/status) as a table, or as JSON. */
import type { FeatureFlagsSpec } from '@agent-bridge/flags';
import { MCP_GENERATIONS } from '@agent-bridge/protocol';
import { EXIT, ago, formatSpan, table, type ControllerCommandContext } from './common.js';
import { controllerUrl, fetchStatus, type ControllerReport } from './controller-client.js';

export async function status(ctx: ControllerCommandContext): Promise<number> {
  const url = controllerUrl(ctx.env);
  const report = await fetchStatus(url);
  if (ctx.json) ctx.io.out(`${JSON.stringify(report, null, 2)}\n`);
  else ctx.io.out(renderStatus(report, url, (ctx.now ?? Date.now)()));
  return EXIT.ok;
}

const pct = (share: number | null): string => (share === null ? 'n/a' : `${(share * 100).toFixed(1)}%`);
const num = (value: number | null | undefined): string => (value === null || value === undefined ? 'no data' : String(Number(value.toPrecision(4))));
const when = (iso: string | undefined, now: number): string => (iso ? `${iso} (${ago(iso, now)})` : 'unknown time');

export function renderStatus(report: ControllerReport, url: string, now: number): string {
  const { controller, resource, plan, status, snapshot, adoption } = report;
  const stages = plan?.stages ?? [];
  const rows: string[][] = [];
  rows.push(['controller', `${controller.id} at ${url} (${controller.leader ? 'leader' : 'follower'}, source ${controller.source}); leader id ${controller.leaderId ?? 'none: no controller holds the lease'}`]);
  rows.push(['resource', resource.state === 'ok' ? `${resource.name}${resource.namespace ? ` in ${resource.namespace}` : ''}, generation ${resource.generation}` : `${resource.state}: ${resource.message}`]);
  if (!status) {
    rows.push(['status', 'none yet: no leader has reconciled the resource']);
  } else {
    const specPhase = plan && plan.phase !== status.phase ? ` (spec.phase ${plan.phase})` : '';
    rows.push(['phase', `${status.phase}${specPhase}`]);
    rows.push(['stage', stageLine(status, stages, now)]);
    const paused: string[] = [];
    if (status.paused) paused.push(`yes, since ${when(status.pausedAt, now)}: ${status.pauseReason ?? 'no reason given'}`);
    if (plan?.paused) paused.push('yes: spec.paused is true (set it to false in the resource)');
    rows.push(['paused', paused.length > 0 ? paused.join('; ') : 'no']);
    const rb = status.rollback;
    rows.push([
      'rollback',
      rb
        ? `${rb.level} by ${rb.trigger} since ${when(rb.at, now)}: ${rb.reason}${rb.percentage !== undefined ? `; percentage capped at ${rb.percentage}%` : ''}${rb.agents?.length ? `; on legacy: ${rb.agents.join(', ')}` : ''} (holds the rollout until resume)`
        : 'none in force',
    ]);
  }
  const readOnly = snapshot.contingencies?.readOnly;
  if (readOnly) {
    rows.push(['read-only', readOnly.enabled ? `ON${readOnly.since ? ` since ${when(readOnly.since, now)}` : ''}, by ${readOnly.by} (${readOnly.trigger ?? 'unknown'}): ${readOnly.reason} — new sends are refused with READ_ONLY` : 'off']);
  }
  rows.push([
    'adoption',
    adoption.bothAgents !== undefined
      ? `${adoption.activeAgents} active agent${adoption.activeAgents === 1 ? '' : 's'} in the last ${formatSpan(adoption.windowMs)}: ${adoption.elicitationOnlyAgents} on elicitation only, ${adoption.legacyOnlyAgents} on legacy only, ${adoption.bothAgents} on both, ${adoption.otherAgents} on neither (sent only); migrated ${pct(adoption.rate)}, still using legacy ${pct(adoption.legacyShare)}`
      : `${adoption.activeAgents} active agent${adoption.activeAgents === 1 ? '' : 's'} in the last ${formatSpan(adoption.windowMs)}: ${adoption.elicitationAgents} on elicitation, ${adoption.legacyAgents} on legacy (an agent on both counts in both: the controller is older than bridgectl); rate ${pct(adoption.rate)}, legacy share ${pct(adoption.legacyShare)}`,
  ]);
  const byGeneration = adoption.agentsByGeneration;
  rows.push(['MCP generation', byGeneration ? MCP_GENERATIONS.map((generation) => `${generation} ${byGeneration[generation] ?? 0}`).join(', ') : 'not reported (the controller is older than bridgectl)']);
  rows.push(['snapshot', `version ${snapshot.version}, published ${when(snapshot.publishedAt, now)} by ${snapshot.publishedBy}`]);
  if (status?.lastRollback) {
    const last = status.lastRollback;
    const effect = last.effectMs !== undefined ? `effective in ${last.effectMs} ms` : 'effect not measured (yet)';
    rows.push(['last rollback', `${last.level} by ${last.trigger} at ${when(last.at, now)}: ${last.reason}; ${effect}`]);
  } else {
    rows.push(['last rollback', 'none']);
  }
  const health = report.healthCheck ?? status?.healthCheck;
  if (health) rows.push(['health check', `${health.lastResult}, ${health.consecutiveFailures} failed in a row (checked ${ago(health.lastCheckAt, now)}): ${health.message}`]);
  if (status?.drill) rows.push(['drill', `${status.drill.id} of ${status.drill.agent} running (${status.drill.state}, since ${when(status.drill.startedAt, now)})`]);
  const drill = status?.lastDrill;
  rows.push([
    'last drill',
    drill
      ? `${drill.result} at ${when(drill.at, now)}: ${drill.agent}${drill.effectMs !== undefined ? `, effect ${drill.effectMs} ms` : ''}${drill.restoreMs !== undefined ? `, restore ${drill.restoreMs} ms` : ''}${drill.result === 'failed' ? ` — ${drill.message}` : ''}`
      : 'none (bridgectl drill runs one)',
  ]);
  if (status?.abTest) rows.push(['A/B test', `${status.abTest.name} ${status.abTest.state}: ${status.abTest.verdict} (bridgectl ab)`]);
  if (status?.scorecard) rows.push(['scorecard', `${status.scorecard.summary.pass} pass, ${status.scorecard.summary.fail} fail, ${status.scorecard.summary.pending} pending (bridgectl scorecard)`]);
  const deprecation = status?.deprecation;
  if (deprecation) {
    const done = deprecation.steps.filter((step) => step.state === 'done').length;
    rows.push([
      'deprecation',
      `${deprecation.dryRun ? 'dry run, ' : ''}${done}/${deprecation.steps.length} steps run; ${deprecation.next ? `next ${deprecation.next.name} ${ago(deprecation.next.at, now)}` : 'all run'}; sunset ${deprecation.sunset} (bridgectl deprecation)`,
    ]);
  }
  if (status?.cutover) {
    const c = status.cutover;
    rows.push(['cutover', `${c.state ?? (c.ready ? 'ready' : c.forced ? 'forced' : 'blocked')}${c.snapshot ? ` (snapshot ${c.snapshot.id})` : ''}: ${c.message} (checked ${ago(c.checkedAt, now)})`]);
  }
  let text = table(rows);

  // Gates: the plan's checks, with the last round's values.
  const metrics = plan?.analysis.metrics ?? [];
  const last = status?.lastMetrics ?? [];
  if (metrics.length === 0 && last.length === 0) {
    text += '\ngates: none defined (holds alone decide)\n';
  } else {
    const a = plan?.analysis;
    text += `\ngates: every ${a?.interval ?? '?'}, ${status?.failedChecks ?? 0}/${a?.failureLimit ?? '?'} failed rounds in a row, last round ${status?.lastAnalysisAt ? when(status.lastAnalysisAt, now) : 'not yet'}\n`;
    const rowsOf: string[][] = [['metric', 'value', 'threshold', 'result']];
    const names = [...new Set([...metrics.map((m) => m.name), ...last.map((m) => m.name)])];
    for (const name of names) {
      const spec = metrics.find((m) => m.name === name);
      const got = last.find((m) => m.name === name);
      const max = got?.max ?? spec?.max;
      const min = got?.min ?? spec?.min;
      const threshold = max !== undefined && min !== undefined ? `${min} ≤ x ≤ ${max}` : max !== undefined ? `≤ ${max}` : min !== undefined ? `≥ ${min}` : '-';
      rowsOf.push([name, got ? num(got.value) : '-', threshold, got ? got.result : 'not checked yet']);
    }
    text += table(rowsOf, '  ');
  }

  const conditions = status?.conditions ?? [];
  if (conditions.length > 0) {
    text += '\nconditions:\n';
    text += table([['type', 'status', 'reason', 'message'], ...conditions.map((c) => [c.type, c.status, c.reason, c.message || '-'])], '  ');
  }
  return text;
}

function stageLine(status: NonNullable<ControllerReport['status']>, stages: FeatureFlagsSpec['rollout']['stages'], now: number): string {
  const n = status.stage;
  const done = status.conditions.some((c) => c.type === 'StagesComplete' && c.status === 'True');
  let line = `${n}/${stages.length}`;
  const stage = n > 0 ? stages[n - 1] : undefined;
  if (stage) line += ` (${stage.percentage}%, hold ${stage.hold})`;
  else if (n === 0) line += stages.length > 0 ? ' (before the first stage)' : ' (no stages in the plan)';
  line += `; effective percentage ${status.effectivePercentage}%`;
  if (done) line += '; every stage held';
  else if (stage && status.stageStartedAt && !status.rollback) {
    line += `; held ${formatSpan(now - Date.parse(status.stageStartedAt))} of ${stage.hold}${status.paused ? ' (the hold is stopped while paused)' : ''}`;
  }
  return line;
}
