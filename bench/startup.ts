/**
 * Start-up benchmark (`make bench BENCH_PARTS=startup`): what a program costs before it does
 * anything, run from its TypeScript sources with tsx (development, and the image before issue 12)
 * and compiled (`make build`, dist/; what the image and tools/bridgectl/bin/bridgectl run now).
 * Goal (issue 12): `bridgectl --help` under 0.25 s.
 *
 * Three cases, each BENCH_STARTUP_RUNS times per form, the forms alternating (median reported):
 *   bridgectl --help  — usage only, no connection;
 *   bridgectl status  — against a real controller (compiled, SOURCE=file with
 *                       deploy/local/featureflags.yaml, on a testkit redis-server);
 *   router            — a router process until its /healthz answers 200 (polled every 5 ms), then
 *                       SIGTERM.
 * Wall time is taken here, from spawn to exit (the CLI) or to the first 200 (the router). CPU
 * (user + sys) and max RSS: GNU time (/usr/bin/time -f) for the CLI; for the router, the process's
 * own counters (/proc/<pid>/stat, VmHWM in /proc/<pid>/status) read at its first 200, so its
 * shutdown is not counted. Both come in clock ticks (10 ms).
 *
 * Results are printed and prepended to docs/benchmarks.md, section "Start-up" (5 runs kept).
 *
 * Environment (defaults): BENCH_STARTUP_RUNS=11, BENCH_WRITE_DOCS=1 (0: print only).
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, REPO_ROOT, startRedis, startService, type RedisServerHandle, type ServiceHandle } from '@agent-bridge/testkit';
import { buildPrograms } from '../scripts/build.js';
import { envNumber, partLog } from './lib/env.js';
import { describeMachine, machineInfo, runBenchmark } from './lib/run.js';
import { BENCHMARKS_DOC, MAX_RUNS_KEPT, writeSectionRunToDocs } from './lib/runs-doc.js';
import { median } from './lib/stats.js';

const params = {
  runs: Math.floor(envNumber('BENCH_STARTUP_RUNS', 11, 3)),
  writeDocs: process.env.BENCH_WRITE_DOCS !== '0',
};
const SECTION = { heading: '## Start-up', mark: '<!-- bench-startup-run -->' };
const GOAL_HELP_SECONDS = 0.25;
const TSX = ['--conditions=agentbridge-source', '--import', 'tsx'];
const CLOCK_TICK_MS = 10;

const log = partLog('bench startup');

interface Sample {
  wallMs: number;
  cpuMs: number;
  maxRssMiB: number;
}

type Form = 'source' | 'compiled';
const FORMS: Form[] = ['source', 'compiled'];

/** Runs a command to its end under GNU time: wall from here, CPU and max RSS from time. */
function timed(args: string[], env: Record<string, string>, dir: string): Promise<Sample> {
  const report = path.join(dir, 'time.txt');
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('/usr/bin/time', ['-f', '%U %S %M', '-o', report, process.execPath, ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      const wallMs = performance.now() - started;
      if (code !== 0) return reject(new Error(`${args.join(' ')} exited with ${code}: ${err}`));
      const [user, sys, rssKiB] = readFileSync(report, 'utf8').trim().split(/\s+/).map(Number);
      resolve({ wallMs, cpuMs: (user! + sys!) * 1000, maxRssMiB: rssKiB! / 1024 });
    });
  });
}

/** A router from spawn to its first /healthz 200; CPU and RSS from /proc at that moment. */
async function routerUntilHealthy(form: Form, redis: RedisServerHandle): Promise<Sample> {
  const port = await freePort();
  const entry = form === 'source' ? [...TSX, 'services/router/src/main.ts'] : ['--enable-source-maps', 'dist/router.js'];
  const started = performance.now();
  const child = spawn(process.execPath, entry, { cwd: REPO_ROOT, env: { ...process.env, REDIS_URL: redis.url, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn' }, stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`router (${form}) exited with ${child.exitCode} before answering /healthz`);
      if (performance.now() - started > 30_000) throw new Error(`router (${form}) did not answer /healthz within 30 s`);
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (response) => response.status === 200,
        () => false,
      );
      if (ok) break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const wallMs = performance.now() - started;
    const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuMs = (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_MS;
    const hwmKiB = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1]);
    return { wallMs, cpuMs, maxRssMiB: hwmKiB / 1024 };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

interface Case {
  name: string;
  measure(form: Form): Promise<Sample>;
}

function summarize(samples: Sample[]): Sample {
  return { wallMs: median(samples.map((s) => s.wallMs)), cpuMs: median(samples.map((s) => s.cpuMs)), maxRssMiB: median(samples.map((s) => s.maxRssMiB)) };
}

async function main(): Promise<void> {
  const info = machineInfo();
  const build = await buildPrograms();
  log(`built dist/ in ${Math.round(build.elapsedMs)} ms`);
  const dir = mkdtempSync(path.join(tmpdir(), 'agent-bridge-startup-'));
  let redis: RedisServerHandle | undefined;
  let controller: ServiceHandle | undefined;
  try {
    redis = await startRedis();
    const flagsFile = path.join(dir, 'featureflags.yaml');
    copyFileSync(path.join(REPO_ROOT, 'deploy/local/featureflags.yaml'), flagsFile);
    const controllerPort = await freePort();
    const controllerUrl = `http://127.0.0.1:${controllerPort}`;
    controller = await startService({
      name: 'controller',
      entry: 'dist/controller.js',
      env: { REDIS_URL: redis.url, HOST: '127.0.0.1', PORT: String(controllerPort), FEATURE_FLAGS_FILE: flagsFile, ADMIN_TOKEN: 'startup-bench-admin-token', WEBHOOK_TOKEN: 'startup-bench-webhook-token', LOG_LEVEL: 'warn' },
      readyUrl: `${controllerUrl}/readyz`,
    });
    const cli = (form: Form, args: string[]): string[] => (form === 'source' ? [...TSX, 'tools/bridgectl/src/main.ts', ...args] : ['dist/bridgectl.js', ...args]);
    const cliEnv = { REDIS_URL: redis.url, BRIDGECTL_CONTROLLER_URL: controllerUrl };
    const running = redis;
    const cases: Case[] = [
      { name: 'bridgectl --help', measure: (form) => timed(cli(form, ['--help']), cliEnv, dir) },
      { name: 'bridgectl status', measure: (form) => timed(cli(form, ['status']), cliEnv, dir) },
      { name: 'router until /healthz answers', measure: (form) => routerUntilHealthy(form, running) },
    ];
    const results: Array<{ name: string; forms: Record<Form, Sample> }> = [];
    for (const c of cases) {
      for (const form of FORMS) await c.measure(form); // warm the file cache
      const samples: Record<Form, Sample[]> = { source: [], compiled: [] };
      for (let run = 0; run < params.runs; run++) for (const form of FORMS) samples[form].push(await c.measure(form));
      const forms = { source: summarize(samples.source), compiled: summarize(samples.compiled) };
      results.push({ name: c.name, forms });
      log(`${c.name}: source ${forms.source.wallMs.toFixed(0)} ms, compiled ${forms.compiled.wallMs.toFixed(0)} ms`);
    }

    const help = results[0]!.forms.compiled.wallMs / 1000;
    const verdict = `bridgectl --help ${help.toFixed(2)} s compiled (${(results[0]!.forms.source.wallMs / 1000).toFixed(2)} s from source): goal ${help < GOAL_HELP_SECONDS ? 'met' : 'missed'} (< ${GOAL_HELP_SECONDS} s)`;
    const row = (name: string, form: Form, s: Sample): string => `| ${name} | ${form} | ${s.wallMs.toFixed(0)} ms | ${s.cpuMs.toFixed(0)} ms | ${s.maxRssMiB.toFixed(0)} MiB |`;
    const report = [
      `### ${info.date} — ${verdict}`,
      '',
      `${describeMachine({ ...info, redis: (await redisInfo(running)) ?? 'unknown' })}. Median of ${params.runs} runs per form; the build took ${Math.round(build.elapsedMs)} ms.`,
      '',
      '| program | form | wall | CPU (user + sys) | max RSS |',
      '|---|---|---|---|---|',
      ...results.flatMap((r) => FORMS.map((form) => row(r.name, form, r.forms[form]))),
      '',
    ].join('\n');
    process.stdout.write(`${report}\n`);
    if (params.writeDocs) {
      const intro = `${SECTION.heading} (\`make bench BENCH_PARTS=startup\`)

\`bench/startup.ts\` times each program from its TypeScript sources with tsx and compiled
(\`make build\`: dist/, what the image and \`tools/bridgectl/bin/bridgectl\` run): \`bridgectl --help\`,
\`bridgectl status\` against a real controller, and a router until its \`/healthz\` answers. Wall time
from spawn to exit (to the first 200 for the router); CPU and max RSS from GNU time for the CLI, from
\`/proc\` at the first 200 for the router (10 ms ticks). Goal (issue 12): the CLI under 0.25 s. Why a
bundle, and why bridgectl's bundle takes in its npm packages: docs/decisions/0017-package-graph-and-build.md.

`;
      writeSectionRunToDocs(BENCHMARKS_DOC, SECTION, intro, report, MAX_RUNS_KEPT);
      log(`results written to ${path.relative(REPO_ROOT, BENCHMARKS_DOC)}`);
    }
  } finally {
    await controller?.stop();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function redisInfo(redis: RedisServerHandle): Promise<string | undefined> {
  const client = redis.client();
  try {
    return /redis_version:(\S+)/.exec(await client.info('server'))?.[1];
  } finally {
    client.disconnect();
  }
}

await runBenchmark(main, 600, 'the start-up benchmark', log);
