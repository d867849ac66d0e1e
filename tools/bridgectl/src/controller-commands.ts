/**
 * bridgectl commands that talk to the controller: status, rollback, promote, pause, resume (its HTTP
 * API), simulate (the plan's stages evaluated for given agents), and apply -f (local mode: writes
 * the FeatureFlags file the controller watches).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parseDocument } from 'yaml';
import type { OpenedEventStore } from '@agent-bridge/event-store';
import {
  DEFAULT_FLAGS,
  FlagsError,
  ROLLBACK_LEVELS,
  agentBucket,
  diffFlags,
  evaluateProtocol,
  flagSettingsOf,
  flagSettingsSchema,
  parseDuration,
  parseFeatureFlags,
  requestedSettings,
  type FeatureFlagsSpec,
  type FlagSettings,
  type ProtocolDecision,
  type RollbackLevel,
} from '@agent-bridge/flags';
import { MCP_GENERATIONS } from '@agent-bridge/protocol';
import { EXIT, InputError, UsageError, ago, formatSpan, requireReason, table, type Output } from './common.js';
import {
  DEFAULT_FEATURE_FLAGS_FILE,
  ControllerUnavailableError,
  adminToken,
  controllerUrl,
  fetchStatus,
  postAdmin,
  type AdminAnswer,
  type AdminPath,
  type ControllerReport,
} from './controller-client.js';

export const CONTROLLER_COMMANDS = new Set(['status', 'rollback', 'promote', 'pause', 'resume', 'simulate', 'apply']);

export interface ControllerCommandContext {
  env: NodeJS.ProcessEnv;
  io: Output;
  json: boolean;
  actor: string;
  values: Record<string, string | boolean | undefined>;
  openStore: () => Promise<OpenedEventStore>;
  now?: () => number;
}

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
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

function noMoreArgs(command: string, args: string[]): void {
  if (args.length > 0) throw new UsageError(`${command} takes no argument "${args.join(' ')}"`);
}

function optionalReason(reason: unknown): { reason?: string } {
  if (reason === undefined) return {};
  if (typeof reason !== 'string' || reason.trim() === '') throw new UsageError('--reason needs a text (or leave it out)');
  return { reason };
}

// ------------------------------------------------------------------------------------------ status

async function status(ctx: ControllerCommandContext): Promise<number> {
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
  rows.push([
    'controller',
    `${controller.id} at ${url} (${controller.leader ? 'leader' : 'follower'}, source ${controller.source}); leader id ${controller.leaderId ?? 'none: no controller holds the lease'}`,
  ]);
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
  rows.push([
    'adoption',
    `${adoption.activeAgents} active agent${adoption.activeAgents === 1 ? '' : 's'} in the last ${formatSpan(adoption.windowMs)}: ${adoption.elicitationAgents} on elicitation, ${adoption.legacyAgents} on legacy; rate ${pct(adoption.rate)}, legacy share ${pct(adoption.legacyShare)}`,
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
  if (status?.cutover) {
    const c = status.cutover;
    rows.push(['cutover', `${c.ready ? 'ready' : c.forced ? 'forced' : 'blocked'}: ${c.message} (checked ${ago(c.checkedAt, now)})`]);
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

function agentList(value: unknown, flag: string): string[] {
  if (typeof value !== 'string') throw new UsageError(`${flag} needs a comma-separated list of agent ids`);
  const agents = value.split(',').map((a) => a.trim()).filter((a) => a !== '');
  if (agents.length === 0) throw new UsageError(`${flag} needs a comma-separated list of agent ids`);
  return agents;
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

// ---------------------------------------------------------------------------------------- simulate

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

async function simulate(ctx: ControllerCommandContext): Promise<number> {
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
    ...(plan.now ? { now: { version: plan.now.version, percentage: plan.now.settings.elicitation.percentage, enabled: plan.now.settings.elicitation.enabled, onElicitation: columns[0]!.elicitation, ...(plan.now.rollback ? { rollback: plan.now.rollback } : {}) } } : {}),
    stages: stageColumns.map(({ stage, percentage, elicitation }) => ({ stage, percentage, onElicitation: elicitation })),
    agents: rows.map((row) => ({
      agentId: row.agentId,
      bucket: row.bucket,
      ...(plan.now ? { now: { ...row.decisions[0]! } } : {}),
      stages: stageColumns.map((column, i) => ({ stage: column.stage, percentage: column.percentage, ...row.decisions[i + offset]! })),
    })),
  };
}

function readResourceFile(path: string): { text: string; spec: FeatureFlagsSpec } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new InputError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  return { text, spec: parseResourceText(text, path) };
}

/** Parses a FeatureFlags YAML document; InputError naming each bad field (with its line when known). */
function parseResourceText(text: string, path: string): FeatureFlagsSpec {
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) throw new InputError(`${path}: not valid YAML:\n  - ${document.errors.map((e) => e.message.trimEnd()).join('\n  - ')}`);
  try {
    return parseFeatureFlags(document.toJS(), path).spec;
  } catch (error) {
    if (error instanceof FlagsError) throw new InputError(error.message);
    throw error;
  }
}

function planFromFile(path: string): PlanView {
  const { spec } = readResourceFile(path);
  return { source: path, phase: spec.phase, stages: spec.rollout.stages, flags: requestedSettings(spec) };
}

async function planFromController(ctx: ControllerCommandContext): Promise<PlanView> {
  const url = controllerUrl(ctx.env);
  const report = await fetchStatus(url);
  if (!report.plan) {
    const why = report.resource.state === 'ok' ? 'it reports no plan' : `its resource is ${report.resource.state}: ${report.resource.message}`;
    throw Object.assign(new Error(`the controller at ${url} has no plan to simulate (${why}); use --file <featureflags.yaml>`), { code: 'NO_PLAN' });
  }
  const { snapshot, status } = report;
  const published: FlagSettings = { ...flagSettingsOf(DEFAULT_FLAGS), elicitation: structuredClone(snapshot.elicitation), legacyDisabled: snapshot.legacyDisabled };
  // The flags the spec asks for (before stages and rollbacks): what each stage would publish.
  const parsed = flagSettingsSchema.safeParse(report.plan.flags);
  if (!parsed.success) throw Object.assign(new Error(`the controller at ${url} reported flags this bridgectl cannot read; use --file <featureflags.yaml>`), { code: 'NO_PLAN' });
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

// ------------------------------------------------------------------------------------------- apply

async function apply(ctx: ControllerCommandContext): Promise<number> {
  const source = ctx.values.file;
  if (typeof source !== 'string' || source === '') throw new UsageError('apply needs -f <featureflags.yaml>');
  const { text, spec } = readResourceFile(source);
  const target = resolve(ctx.env.BRIDGECTL_FEATURE_FLAGS_FILE?.trim() || DEFAULT_FEATURE_FLAGS_FILE);
  if (!existsSync(dirname(target))) throw new InputError(`cannot write ${target}: its directory does not exist (set BRIDGECTL_FEATURE_FLAGS_FILE to the controller's FEATURE_FLAGS_FILE)`);

  let previous: { text: string; spec?: FeatureFlagsSpec; problem?: string } | undefined;
  if (existsSync(target)) {
    const oldText = readFileSync(target, 'utf8');
    try {
      previous = { text: oldText, spec: parseResourceText(oldText, target) };
    } catch (error) {
      previous = { text: oldText, problem: (error as Error).message.split('\n')[0]! };
    }
  }
  if (previous?.text === text) {
    ctx.io.out(`unchanged: ${target} already holds ${source}\n`);
    return EXIT.ok;
  }

  // The generation the controller serves now, to tell when it has loaded the new file.
  const url = controllerUrl(ctx.env);
  const before = await fetchStatus(url, 2_000).catch((error: unknown) => {
    if (error instanceof ControllerUnavailableError) return undefined;
    throw error;
  });

  await writeAtomically(target, text);
  const lines = previous?.spec ? describeSpecChanges(previous.spec, spec) : undefined;
  ctx.io.out(`wrote ${target}${source !== target ? ` (from ${source})` : ''}\n`);
  if (!previous) ctx.io.out(`  created: ${summarizeSpec(spec)}\n`);
  else if (!previous.spec) ctx.io.out(`  replaced a file the controller could not use (${previous.problem}); now: ${summarizeSpec(spec)}\n`);
  else if (lines!.length === 0) {
    ctx.io.out('  the spec is the same (only comments or layout changed); the generation does not move\n');
    return EXIT.ok;
  } else for (const line of lines!) ctx.io.out(`  ${line}\n`);

  if (!before) {
    ctx.io.out(`the controller at ${url} is not reachable; it reads the file when it starts\n`);
    return EXIT.ok;
  }
  const generationBefore = before.resource.state === 'ok' ? before.resource.generation : undefined;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const report = await fetchStatus(url, 2_000).catch(() => undefined);
    const resource = report?.resource;
    const loaded = resource?.state === 'ok' && (generationBefore === undefined || resource.generation > generationBefore);
    // Loaded, and reconciled by the leader (its status has observed this generation).
    if (loaded && report?.status && report.status.observedGeneration >= resource.generation) {
      ctx.io.out(`the controller at ${url} loaded it: generation ${resource.generation}${report?.status ? `, phase ${report.status.phase}, stage ${report.status.stage}/${report.plan?.stages.length ?? 0}, ${report.status.effectivePercentage}%` : ''}\n`);
      return EXIT.ok;
    }
    if (Date.now() > deadline) {
      const seen = !resource
        ? 'does not answer'
        : loaded
          ? `loaded generation ${resource.state === 'ok' ? resource.generation : '?'} but no leader has reconciled it yet (is a controller leading?)`
          : `still reports ${resource.state === 'ok' ? `generation ${resource.generation}` : `${resource.state}: ${resource.message}`} after 10 s. Is it watching this file (its FEATURE_FLAGS_FILE)? Set BRIDGECTL_FEATURE_FLAGS_FILE to that path`;
      ctx.io.err(`bridgectl: wrote ${target}, but the controller at ${url} ${seen}.\n`);
      return EXIT.failed;
    }
    await new Promise((done) => setTimeout(done, 200));
  }
}

async function writeAtomically(target: string, text: string): Promise<void> {
  const temp = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx', 0o644);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true });
    throw new InputError(`cannot write ${target}: ${(error as Error).message}`);
  }
}

const stagesText = (stages: FeatureFlagsSpec['rollout']['stages']): string => (stages.length === 0 ? 'none' : stages.map((s) => `${s.percentage}%/${s.hold}`).join(', '));

function summarizeSpec(spec: FeatureFlagsSpec): string {
  const e = requestedSettings(spec).elicitation;
  return `phase ${spec.phase}${spec.paused ? ' (paused)' : ''}, stages ${stagesText(spec.rollout.stages)}, elicitation ${e.enabled ? `on at ${e.percentage}% with ${e.agents.length} opt-in agent${e.agents.length === 1 ? '' : 's'}` : 'off'}`;
}

/** A short diff of two specs: phase, paused, stages, each changed flag, then other changed fields. */
export function describeSpecChanges(before: FeatureFlagsSpec, after: FeatureFlagsSpec): string[] {
  const lines: string[] = [];
  if (before.phase !== after.phase) lines.push(`phase: ${before.phase} -> ${after.phase}`);
  if (before.paused !== after.paused) lines.push(`paused: ${before.paused} -> ${after.paused}`);
  if (!isDeepStrictEqual(before.rollout.stages, after.rollout.stages)) lines.push(`stages: ${stagesText(before.rollout.stages)} -> ${stagesText(after.rollout.stages)}`);
  for (const change of diffFlags(requestedSettings(before), requestedSettings(after))) {
    lines.push(`flags.${change.flag}: ${JSON.stringify(change.oldValue)} -> ${JSON.stringify(change.newValue)}`);
  }
  for (const section of ['analysis', 'rollback', 'cutover'] as const) {
    const a = before[section] as Record<string, unknown>;
    const b = after[section] as Record<string, unknown>;
    for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])]) {
      if (isDeepStrictEqual(a[key], b[key])) continue;
      const scalar = (v: unknown) => v === undefined || v === null || typeof v !== 'object';
      lines.push(scalar(a[key]) && scalar(b[key]) ? `${section}.${key}: ${JSON.stringify(a[key]) ?? 'unset'} -> ${JSON.stringify(b[key]) ?? 'unset'}` : `${section}.${key} changed`);
    }
  }
  return lines;
}
