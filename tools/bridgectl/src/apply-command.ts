/** bridgectl apply -f (local mode): writes the FeatureFlags file the controller watches, says what changed, and waits until the controller loaded it. */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { diffFlags, requestedSettings, type FeatureFlagsSpec } from '@agent-bridge/flags';
import { EXIT, InputError, UsageError, type ControllerCommandContext } from './common.js';
import { ControllerUnavailableError, DEFAULT_FEATURE_FLAGS_FILE, controllerUrl, fetchStatus } from './controller-client.js';
import { parseResourceText, readResourceFile } from './resource-file.js';

export async function apply(ctx: ControllerCommandContext): Promise<number> {
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
      ctx.io.out(
        `the controller at ${url} loaded it: generation ${resource.generation}${report?.status ? `, phase ${report.status.phase}, stage ${report.status.stage}/${report.plan?.stages.length ?? 0}, ${report.status.effectivePercentage}%` : ''}\n`,
      );
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
function describeSpecChanges(before: FeatureFlagsSpec, after: FeatureFlagsSpec): string[] {
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
