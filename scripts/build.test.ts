/**
 * `make build` (scripts/build.ts): the compiled programs build in seconds and run without tsx:
 * bridgectl answers --help, publishes and shows flags on a real Redis and reads a compiled
 * controller's status; the controller answers its health endpoint.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort, REPO_ROOT, startRedis, startService, type RedisServerHandle, type ServiceHandle } from '@agent-bridge/testkit';
import { buildPrograms, PROGRAMS, type BuildResult } from './build.js';

const BIN = join(REPO_ROOT, 'tools/bridgectl/bin/bridgectl');

interface Run {
  code: number | null;
  out: string;
  err: string;
}

function run(command: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, out, err }));
  });
}

/** The compiled CLI, run by plain node: no loader, no TypeScript. */
const bridgectl = (args: string[], env: Record<string, string> = {}): Promise<Run> => run(process.execPath, [join(REPO_ROOT, 'dist/bridgectl.js'), ...args], env);

describe('make build: compiled programs', () => {
  let build: BuildResult;
  let redis: RedisServerHandle;
  let dir: string;

  before(async () => {
    build = await buildPrograms();
    redis = await startRedis();
    dir = mkdtempSync(join(tmpdir(), 'agent-bridge-build-'));
  });
  after(async () => {
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('builds every service and bridgectl into dist/ in seconds, with no TypeScript left to load', () => {
    assert.deepEqual(Object.keys(build.outputs).sort(), ['bridgectl', 'controller', 'elicitation', 'legacy-poll', 'router']);
    assert.ok(build.elapsedMs < 20_000, `the build took ${Math.round(build.elapsedMs)} ms`);
    for (const [name, file] of Object.entries(build.outputs)) {
      assert.ok(existsSync(file), `${name}: ${file} exists`);
      const code = readFileSync(file, 'utf8');
      assert.doesNotMatch(code, /from ["'][^"']+\.ts["']|from ["']@agent-bridge\//, `${name} imports neither a .ts file nor a workspace package`);
    }
    assert.equal(Object.keys(PROGRAMS).length, 5);
  });

  test('compiled bridgectl prints its usage, and bin/bridgectl runs the compiled file while it is fresh', async () => {
    const help = await bridgectl(['--help']);
    assert.equal(help.code, 0, help.err);
    assert.match(help.out, /^bridgectl — operate agent-bridge\n/);
    // A preload that names the main module: bin/bridgectl must have started dist/bridgectl.js.
    const preload = join(dir, 'main-module.cjs');
    writeFileSync(preload, 'process.stderr.write(`main module: ${process.argv[1]}\\n`);\n');
    const viaBin = await run(BIN, ['--help'], { NODE_OPTIONS: `--require ${preload}` });
    assert.equal(viaBin.code, 0, viaBin.err);
    assert.equal(viaBin.out, help.out);
    assert.match(viaBin.err, /main module: .*\/dist\/bridgectl\.js\n/);
    const fromSource = await run(BIN, ['--help'], { NODE_OPTIONS: `--require ${preload}`, BRIDGECTL_FROM_SOURCE: '1' });
    assert.equal(fromSource.out, help.out);
    assert.match(fromSource.err, /main module: .*\/tools\/bridgectl\/src\/main\.ts\n/);
  });

  test('compiled bridgectl publishes flags to a real Redis and reads them back', async () => {
    const env = { REDIS_URL: redis.url, BRIDGECTL_ACTOR: 'build-test' };
    const set = await bridgectl(['flags', 'set', 'elicitation.percentage=7', '--reason', 'compiled CLI test'], env);
    assert.equal(set.code, 0, set.err);
    const shown = await bridgectl(['flags', 'show', '--json'], env);
    assert.equal(shown.code, 0, shown.err);
    const snapshot = JSON.parse(shown.out) as { version: number; elicitation: { percentage: number } };
    assert.equal(snapshot.elicitation.percentage, 7);
    assert.ok(snapshot.version >= 1);
  });

  test('a compiled controller answers /healthz and compiled bridgectl status reads its report', async () => {
    const flagsFile = join(dir, 'featureflags.yaml');
    copyFileSync(join(REPO_ROOT, 'deploy/local/featureflags.yaml'), flagsFile);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    let controller: ServiceHandle | undefined;
    try {
      controller = await startService({
        name: 'controller (dist)',
        entry: 'dist/controller.js',
        env: {
          REDIS_URL: redis.url,
          HOST: '127.0.0.1',
          PORT: String(port),
          CONTROLLER_ID: 'ctl-build',
          FEATURE_FLAGS_FILE: flagsFile,
          ADMIN_TOKEN: 'admin-token-for-the-build-test',
          WEBHOOK_TOKEN: 'webhook-token-for-the-build-test',
          LOG_LEVEL: 'warn',
        },
        readyUrl: `${url}/healthz`,
      });
      const health = await fetch(`${url}/healthz`);
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), { status: 'ok' });
      const status = await bridgectl(['status', '--json'], { REDIS_URL: redis.url, BRIDGECTL_CONTROLLER_URL: url });
      assert.equal(status.code, 0, status.err);
      const report = JSON.parse(status.out) as { controller: { id: string; source: string }; resource: { state: string }; plan?: { phase: string } };
      assert.deepEqual(report.controller.id, 'ctl-build');
      assert.equal(report.controller.source, 'file');
      assert.equal(report.resource.state, 'ok');
      assert.equal(report.plan?.phase, 'canary', 'the phase of deploy/local/featureflags.yaml');
    } finally {
      await controller?.stop();
    }
  });
});
