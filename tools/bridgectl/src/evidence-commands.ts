/**
 * bridgectl ab, scorecard and drill: the controller's evidence for the migration decisions. `ab`
 * and `scorecard` read the status (GET /health/status) and print it as tables (or --json); `drill`
 * starts a rollback drill through the admin API and, unless --no-wait, waits for its result.
 */
import type { AbMetricResult, AbTestStatus, DrillResult, ScorecardCriterion, ScorecardStatus } from '@agent-bridge/flags';
import { EXIT, UsageError, ago, table, type ControllerCommandContext } from './common.js';
import { adminToken, controllerUrl, fetchStatus, postAdmin } from './controller-client.js';

const pct = (ratio: number | null | undefined, digits = 1) => (ratio === null || ratio === undefined ? '—' : `${(ratio * 100).toFixed(digits)}%`);

function estimate(metric: AbMetricResult, value: number | null): string {
  if (value === null) return '—';
  if (metric.name === 'latency') return value < 1 ? `${(value * 1000).toFixed(1)} ms` : `${value.toFixed(3)} s`;
  if (metric.name === 'success-rate') return `${(value * 100).toFixed(3)}%`;
  return `${(value * 1000).toFixed(3)} ms CPU/msg`;
}

function pValue(p: number | null): string {
  if (p === null) return '—';
  return p < 0.0001 ? '< 0.0001' : p.toFixed(4);
}

export function renderAbTest(ab: AbTestStatus | undefined, now: number): string {
  if (!ab) return 'no A/B test: describe one in spec.abTest (docs/featureflags.md, "abTest")\n';
  const head = [
    ['test', `${ab.name}: ${ab.state}${ab.startedAt ? `, ${ab.startedAt} → ${ab.endsAt}` : ''}`],
    ['verdict', `${ab.verdict.toUpperCase()} — ${ab.note}`],
    ['evaluated', ab.evaluatedAt ? `${ab.evaluatedAt} (${ago(ab.evaluatedAt, now)}), over ${ab.windowSeconds !== undefined ? `${(ab.windowSeconds / 3600).toFixed(1)} h` : 'no window yet'}; confidence ${ab.confidence}` : 'not yet'],
  ];
  let out = table(head);
  if (ab.metrics.length === 0) return out;
  const rows = [['metric', 'goal', 'legacy (n)', 'elicitation (n)', 'improvement', `${Math.round(ab.confidence * 100)}% interval`, 'p-value', 'verdict']];
  for (const m of ab.metrics) {
    rows.push([
      m.name,
      `${m.goal}${m.goal === 'improve' ? ` ≥ ${pct(m.minimumImprovement, 0)}` : ''}`,
      `${estimate(m, m.control.estimate)} (${m.control.n})`,
      `${estimate(m, m.treatment.estimate)} (${m.treatment.n})`,
      pct(m.improvement),
      m.interval ? `${pct(m.interval[0])} to ${pct(m.interval[1])}` : '—',
      pValue(m.pValue),
      m.verdict,
    ]);
  }
  out += `\n${table(rows)}\n`;
  out += ab.metrics.map((m) => `  ${m.name}: ${m.test}. ${m.note}`).join('\n') + '\n';
  out += '\nimprovement: relative to legacy, positive = better (lower latency or CPU per message, fewer failures).\n';
  return out;
}

const MARK: Record<ScorecardCriterion['result'], string> = { pass: 'PASS', fail: 'FAIL', pending: '....' };

export function renderScorecard(card: ScorecardStatus | undefined, now: number): string {
  if (!card) return 'no scorecard yet: the leader evaluates it every spec.scorecard.interval (default 5m)\n';
  let out = `scorecard evaluated ${card.evaluatedAt} (${ago(card.evaluatedAt, now)}): ${card.summary.pass} pass, ${card.summary.fail} fail, ${card.summary.pending} pending\n`;
  const groups: Array<[ScorecardCriterion['group'], string]> = [
    ['decision-point', 'Go/no-go decision points'],
    ['phase-gate', 'Phase gates'],
    ['acceptance', 'Final acceptance'],
  ];
  for (const [group, title] of groups) {
    const rows = [['', 'id', 'when', 'criterion', 'threshold', 'value', 'window']];
    for (const c of card.criteria.filter((criterion) => criterion.group === group)) {
      rows.push([MARK[c.result], c.id, c.section, c.title, c.threshold, `${c.display}${c.note && c.result !== 'pass' ? ` — ${c.note}` : ''}`, c.window ?? '']);
    }
    out += `\n${title}\n${table(rows, '  ')}`;
  }
  const attest = card.criteria.filter((c) => c.source === 'attestation' && c.result === 'pending').map((c) => c.id);
  if (attest.length > 0) out += `\nto attest (spec.attestations: criterion, by, at, evidence): ${attest.join(', ')}\n`;
  return out;
}

export async function abCommand(ctx: ControllerCommandContext): Promise<number> {
  const report = await fetchStatus(controllerUrl(ctx.env));
  const ab = report.status?.abTest;
  if (ctx.json) ctx.io.out(`${JSON.stringify(ab ?? null, null, 2)}\n`);
  else ctx.io.out(renderAbTest(ab, (ctx.now ?? Date.now)()));
  return ab ? EXIT.ok : EXIT.nothing;
}

export async function scorecardCommand(ctx: ControllerCommandContext): Promise<number> {
  const report = await fetchStatus(controllerUrl(ctx.env));
  const card = report.status?.scorecard;
  if (ctx.json) ctx.io.out(`${JSON.stringify(card ?? null, null, 2)}\n`);
  else ctx.io.out(renderScorecard(card, (ctx.now ?? Date.now)()));
  return card ? EXIT.ok : EXIT.nothing;
}

/** How long `bridgectl drill` waits for the drill's result before it says where to look. */
const DRILL_WAIT_MS = 120_000;

export async function drillCommand(ctx: ControllerCommandContext): Promise<number> {
  const agent = ctx.values.agent;
  if (agent !== undefined && (typeof agent !== 'string' || agent.trim() === '')) throw new UsageError('--agent needs an agent id (or leave it out for spec.rollback.drill.agent)');
  const url = controllerUrl(ctx.env);
  const answer = await postAdmin(url, adminToken(ctx.env), '/admin/drill', { ...(agent ? { agent } : {}), actor: ctx.actor, trigger: 'cli' });
  const id = (answer as { drill_id?: string }).drill_id;
  if (!answer.applied || !id || ctx.values['no-wait'] === true) {
    if (ctx.json) ctx.io.out(`${JSON.stringify(answer, null, 2)}\n`);
    else ctx.io.out(answer.applied ? `${answer.message}\n` : `drill not run: ${answer.message}\n`);
    return answer.applied ? EXIT.ok : EXIT.failed;
  }
  if (!ctx.json) ctx.io.out(`${answer.message}; waiting for its result…\n`);
  const now = ctx.now ?? Date.now;
  const deadline = now() + DRILL_WAIT_MS;
  let result: DrillResult | undefined;
  while (now() < deadline) {
    const last = (await fetchStatus(url)).status?.lastDrill;
    if (last?.id === id) {
      result = last;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  if (!result) {
    ctx.io.out(`drill ${id} did not finish within ${DRILL_WAIT_MS / 1000} s; bridgectl status shows it when it does\n`);
    return EXIT.failed;
  }
  if (ctx.json) ctx.io.out(`${JSON.stringify(result, null, 2)}\n`);
  else
    ctx.io.out(
      `drill ${result.id} ${result.result.toUpperCase()}: ${result.message}\n${result.effectMs !== undefined ? `  rollback effect ${result.effectMs} ms` : ''}${result.restoreMs !== undefined ? `, restore ${result.restoreMs} ms` : ''}\n`,
    );
  return result.result === 'passed' ? EXIT.ok : EXIT.failed;
}
