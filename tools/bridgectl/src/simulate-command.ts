/**
 * bridgectl simulate: the plan's stages (from a file or the controller) evaluated for given agents
 * or for the agents seen lately — who would be on elicitation at each stage, and now.
 */
import { DEFAULT_FLAGS, agentBucket, evaluateProtocol, flagSettingsOf, flagSettingsSchema, parseDuration, requestedSettings, type FeatureFlagsSpec, type FlagSettings, type ProtocolDecision } from '@agent-bridge/flags';
import { EXIT, UsageError, agentList, formatSpan, table, type ControllerCommandContext } from './common.js';
import { controllerUrl, fetchStatus } from './controller-client.js';
import { readResourceFile } from './resource-file.js';

interface PlanView {
  /** Where the plan came from: a file path or the controller URL. */
  source: string;
  generation?: number;
  phase: string;
  stages: FeatureFlagsSpec['rollout']['stages'];
  /** The flags the spec asks for, before stages and rollbacks. */
  flags: FlagSettings;
  /** How `flags` was obtained when it is not the spec itself. */
  flagsNote?: string;
  /** What is published now (from the controller). */
  now?: { version: number; settings: FlagSettings; rollback?: string };
}

export async function simulate(ctx: ControllerCommandContext): Promise<number> {
  const { values } = ctx;
  if (values.agents !== undefined && values.present) throw new UsageError('simulate takes --agents or --present, not both');
  if (values.agents === undefined && !values.present) throw new UsageError('simulate needs the agents: --agents a,b,c or --present (the agents seen lately)');
  const plan = typeof values.file === 'string' ? planFromFile(values.file) : await planFromController(ctx);

  let agents: string[];
  let agentsNote = '';
  if (values.present) {
    const windowText = typeof values.window === 'string' ? values.window : '5m';
    let windowMs: number;
    try {
      windowMs = parseDuration(windowText);
    } catch {
      throw new UsageError(`--window must be a duration such as 90s, 5m or 1h (got "${windowText}")`);
    }
    const limit = values.limit === undefined ? 500 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new UsageError('--limit must be a whole number from 1 to 100000');
    const { store } = await ctx.openStore();
    const seen = await store.activeAgents((ctx.now ?? Date.now)() - windowMs, limit + 1);
    agents = seen.slice(0, limit).map((a) => a.agentId);
    agentsNote = `${agents.length} agent${agents.length === 1 ? '' : 's'} seen in the last ${formatSpan(windowMs)}${seen.length > limit ? ` (the first ${limit}; raise --limit)` : ''}`;
    if (agents.length === 0) {
      if (ctx.json) ctx.io.out(`${JSON.stringify(simulationJson(plan, []), null, 2)}\n`);
      else ctx.io.out(`no agent seen in the last ${formatSpan(windowMs)}; nothing to simulate\n`);
      return EXIT.ok;
    }
  } else {
    agents = [...new Set(agentList(values.agents, '--agents'))];
    const globs = agents.filter((a) => a.includes('*'));
    if (globs.length > 0) throw new UsageError(`simulate evaluates agent ids, not patterns: ${globs.join(', ')}`);
  }

  if (ctx.json) {
    ctx.io.out(`${JSON.stringify(simulationJson(plan, agents), null, 2)}\n`);
    return EXIT.ok;
  }
  const { columns, rows: evaluated } = evaluatePlan(plan, agents);
  const head = [`plan from ${plan.source}${plan.generation !== undefined ? ` (generation ${plan.generation})` : ''}: phase ${plan.phase}, ${plan.stages.length} stage${plan.stages.length === 1 ? '' : 's'}`];
  if (agentsNote) head.push(agentsNote);
  if (plan.flagsNote) head.push(plan.flagsNote);
  const rows: string[][] = [['agent', 'bucket', ...columns.map((c) => c.label)]];
  for (const agent of evaluated) rows.push([agent.agentId, String(agent.bucket), ...agent.decisions.map(cell)]);
  rows.push(['on elicitation', '', ...columns.map((c) => `${c.elicitation}/${agents.length}`)]);
  let text = `${head.join('\n')}\n${table(rows)}`;
  if (plan.now?.rollback) text += `a ${plan.now.rollback} rollback is in force: "now" includes it, the stage columns show the plan without it\n`;
  ctx.io.out(text);
  return EXIT.ok;
}

function cell(decision: ProtocolDecision): string {
  switch (decision.reason) {
    case 'percentage':
      return 'elicitation';
    case 'opt_in':
      return 'elicitation (opt-in)';
    case 'excluded':
      return 'legacy (excluded)';
    case 'master_off':
      return 'legacy (off)';
    default:
      return 'legacy';
  }
}

interface SimulationColumn {
  label: string;
  /** null for "now". */
  stage: number | null;
  percentage: number;
  settings: FlagSettings;
  elicitation: number;
}

function evaluatePlan(plan: PlanView, agents: string[]): { columns: SimulationColumn[]; rows: Array<{ agentId: string; bucket: number; decisions: ProtocolDecision[] }> } {
  const columns: SimulationColumn[] = [];
  if (plan.now) {
    const e = plan.now.settings.elicitation;
    columns.push({ label: `now (v${plan.now.version}, ${e.enabled ? `${e.percentage}%` : 'off'})`, stage: null, percentage: e.percentage, settings: plan.now.settings, elicitation: 0 });
  }
  if (plan.stages.length === 0) {
    columns.push({ label: `no stage (${plan.flags.elicitation.percentage}%)`, stage: 0, percentage: plan.flags.elicitation.percentage, settings: plan.flags, elicitation: 0 });
  }
  plan.stages.forEach((stage, i) => {
    // What the controller publishes at this stage: the spec's flags with the stage's percentage.
    const settings = structuredClone(plan.flags);
    settings.elicitation.percentage = stage.percentage;
    columns.push({ label: `stage ${i + 1} (${stage.percentage}%)`, stage: i + 1, percentage: stage.percentage, settings, elicitation: 0 });
  });
  const rows = agents.map((agentId) => {
    const decisions = columns.map((column) => {
      const decision = evaluateProtocol(column.settings, agentId);
      if (decision.protocol === 'elicitation') column.elicitation += 1;
      return decision;
    });
    return { agentId, bucket: agentBucket(agentId), decisions };
  });
  return { columns, rows };
}

function simulationJson(plan: PlanView, agents: string[]): Record<string, unknown> {
  const { columns, rows } = evaluatePlan(plan, agents);
  const stageColumns = columns.filter((c) => c.stage !== null);
  const offset = columns.length - stageColumns.length;
  return {
    source: plan.source,
    ...(plan.generation !== undefined ? { generation: plan.generation } : {}),
    phase: plan.phase,
    ...(plan.flagsNote ? { note: plan.flagsNote } : {}),
    ...(plan.now
      ? {
          now: {
            version: plan.now.version,
            percentage: plan.now.settings.elicitation.percentage,
            enabled: plan.now.settings.elicitation.enabled,
            onElicitation: columns[0]!.elicitation,
            ...(plan.now.rollback ? { rollback: plan.now.rollback } : {}),
          },
        }
      : {}),
    stages: stageColumns.map(({ stage, percentage, elicitation }) => ({ stage, percentage, onElicitation: elicitation })),
    agents: rows.map((row) => ({
      agentId: row.agentId,
      bucket: row.bucket,
      ...(plan.now ? { now: { ...row.decisions[0]! } } : {}),
      stages: stageColumns.map((column, i) => ({ stage: column.stage, percentage: column.percentage, ...row.decisions[i + offset]! })),
    })),
  };
}

function planFromFile(path: string): PlanView {
  const { spec } = readResourceFile(path);
  return { source: path, phase: spec.phase, stages: spec.rollout.stages, flags: requestedSettings(spec) };
}

/** The controller has no plan bridgectl can simulate: simulate the resource file instead. */
class NoPlanError extends Error {
  readonly code = 'NO_PLAN';
}

async function planFromController(ctx: ControllerCommandContext): Promise<PlanView> {
  const url = controllerUrl(ctx.env);
  const report = await fetchStatus(url);
  if (!report.plan) {
    const why = report.resource.state === 'ok' ? 'it reports no plan' : `its resource is ${report.resource.state}: ${report.resource.message}`;
    throw new NoPlanError(`the controller at ${url} has no plan to simulate (${why}); use --file <featureflags.yaml>`);
  }
  const { snapshot, status } = report;
  const published: FlagSettings = { ...flagSettingsOf(DEFAULT_FLAGS), elicitation: structuredClone(snapshot.elicitation), legacyDisabled: snapshot.legacyDisabled };
  // The flags the spec asks for (before stages and rollbacks): what each stage would publish.
  const parsed = flagSettingsSchema.safeParse(report.plan.flags);
  if (!parsed.success) throw new NoPlanError(`the controller at ${url} reported flags this bridgectl cannot read; use --file <featureflags.yaml>`);
  const flags = parsed.data;
  const flagsNote: string | undefined = undefined;
  return {
    source: url,
    ...(report.resource.state === 'ok' ? { generation: report.resource.generation } : {}),
    phase: status?.phase ?? report.plan.phase,
    stages: report.plan.stages,
    flags,
    ...(flagsNote ? { flagsNote } : {}),
    now: { version: snapshot.version, settings: published, ...(status?.rollback ? { rollback: status.rollback.level } : {}) },
  };
}
