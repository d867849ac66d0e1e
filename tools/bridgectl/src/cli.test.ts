import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openEventStore } from '@agent-bridge/event-store';
import { DEFAULT_FLAGS, FLAG_PATHS, type FlagSnapshot } from '@agent-bridge/flags';
import { newMessageId } from '@agent-bridge/protocol';
import { REPO_ROOT, freePort, startRedis, type RedisServerHandle } from '@agent-bridge/testkit';
import { EXIT, runBridgectl } from './cli.js';

interface Run {
  code: number;
  out: string;
  err: string;
}

describe('bridgectl against a real Redis', () => {
  let redis: RedisServerHandle;
  let env: NodeJS.ProcessEnv;
  let dir: string;

  before(async () => {
    redis = await startRedis();
    env = { REDIS_URL: redis.url, SHARD_COUNT: '4', BRIDGECTL_ACTOR: 'ops-jane' };
    dir = mkdtempSync(join(tmpdir(), 'bridgectl-test-'));
  });
  after(async () => {
    await redis?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function run(...argv: string[]): Promise<Run> {
    let out = '';
    let err = '';
    const code = await runBridgectl(argv, env, { out: (text) => (out += text), err: (text) => (err += text) });
    return { code, out, err };
  }

  async function published(): Promise<FlagSnapshot> {
    const result = await run('flags', 'show', '--json');
    assert.equal(result.code, EXIT.ok, result.err);
    return JSON.parse(result.out) as FlagSnapshot;
  }

  function file(name: string, text: string): string {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  }

  test('flags show on an empty store shows version 0 and the built-in defaults', async () => {
    const shown = await run('flags', 'show');
    assert.equal(shown.code, EXIT.ok, shown.err);
    assert.match(shown.out, /^# version 0, published .* by built-in-defaults$/m);
    assert.match(shown.out, /^\s+enabled: false$/m);
    assert.match(shown.out, /^\s+percentage: 0$/m);
    assert.match(shown.out, /^legacyDisabled: false$/m);
    assert.deepEqual(await published(), DEFAULT_FLAGS);
  });

  test('flags set publishes version 1 and names every change', async () => {
    const set = await run('flags', 'set', 'elicitation.percentage=25', 'elicitation.enabled=true', '--reason', 'canary');
    assert.equal(set.code, EXIT.ok, set.err);
    assert.match(set.out, /published flag snapshot version 1 \(was 0\)/);
    assert.match(set.out, /elicitation\.percentage: 0 -> 25/);
    assert.match(set.out, /elicitation\.enabled: false -> true/);
    const snapshot = await published();
    assert.equal(snapshot.version, 1);
    assert.equal(snapshot.elicitation.percentage, 25);
    assert.equal(snapshot.elicitation.enabled, true);
    assert.equal(snapshot.publishedBy, 'ops-jane');
    assert.equal(snapshot.dualMode, DEFAULT_FLAGS.dualMode, 'flags not named keep their value');
  });

  test('setting the same values again says there is nothing to change and publishes nothing', async () => {
    const again = await run('flags', 'set', 'elicitation.percentage=25', 'elicitation.enabled=true', '--reason', 'canary again');
    assert.equal(again.code, EXIT.ok, again.err);
    assert.match(again.out, /nothing to change/);
    assert.equal((await published()).version, 1);
    const history = await run('history', '--json');
    assert.equal((JSON.parse(history.out) as unknown[]).length, 1, 'no audit entry for a change that changed nothing');
  });

  test('history lists each change with actor, reason and old -> new', async () => {
    const history = await run('history');
    assert.equal(history.code, EXIT.ok, history.err);
    assert.match(history.out, /flags\.publish v1\s+by ops-jane \(cli\): canary$/m);
    assert.match(history.out, /^\s+elicitation\.enabled: false -> true$/m);
    assert.match(history.out, /^\s+elicitation\.percentage: 0 -> 25$/m);
    const [entry] = JSON.parse((await run('history', '--json')).out) as Array<{ actor: string; reason: string; changes: unknown[] }>;
    assert.equal(entry?.actor, 'ops-jane');
    assert.equal(entry?.reason, 'canary');
    assert.deepEqual(entry?.changes, [
      { flag: 'elicitation.enabled', oldValue: false, newValue: true },
      { flag: 'elicitation.percentage', oldValue: 0, newValue: 25 },
    ]);
  });

  test('flags set without --reason is a usage error (exit 2) that asks for one, and publishes nothing', async () => {
    for (const argv of [
      ['flags', 'set', 'elicitation.percentage=30'],
      ['flags', 'set', 'elicitation.percentage=30', '--reason', ''],
      ['flags', 'set', 'elicitation.percentage=30', '--reason', '   '],
    ]) {
      const result = await run(...argv);
      assert.equal(result.code, EXIT.usage, `${argv.join(' ')}: ${result.err}`);
      assert.match(result.err, /--reason/);
    }
    assert.equal((await published()).version, 1);
  });

  test('an unknown flag fails (exit 1) naming the valid flags, and publishes nothing', async () => {
    const result = await run('flags', 'set', 'elicitation.percent=30', '--reason', 'typo');
    assert.equal(result.code, EXIT.failed);
    assert.match(result.err, /unknown flag "elicitation\.percent"/);
    for (const flag of FLAG_PATHS) assert.ok(result.err.includes(flag), `names valid flag ${flag}`);
    assert.equal((await published()).version, 1);
  });

  test('a bad value fails (exit 1) naming the field and the allowed range; a batch with one bad value publishes nothing', async () => {
    const result = await run('flags', 'set', 'elicitation.percentage=250', '--reason', 'too much');
    assert.equal(result.code, EXIT.failed);
    assert.match(result.err, /elicitation\.percentage/);
    assert.match(result.err, /0 to 100/);
    const mixed = await run('flags', 'set', 'deprecation.warnings=true', 'dualMode=maybe', '--reason', 'mixed');
    assert.equal(mixed.code, EXIT.failed);
    assert.match(mixed.err, /dualMode/);
    const snapshot = await published();
    assert.equal(snapshot.version, 1);
    assert.equal(snapshot.deprecation.warnings, false, 'the valid half of the batch was not published either');
  });

  test('flags apply -f publishes the flags of a YAML file', async () => {
    const path = file('flags.yaml', ['elicitation:', '  enabled: true', '  percentage: 50', '  agents: [alpha, "canary-*"]', 'deprecation:', '  warnings: true', '  throttleMs: 100', ''].join('\n'));
    const applied = await run('flags', 'apply', '-f', path, '--reason', 'stage 2');
    assert.equal(applied.code, EXIT.ok, applied.err);
    assert.match(applied.out, /published flag snapshot version 2 \(was 1\)/);
    assert.match(applied.out, /elicitation\.percentage: 25 -> 50/);
    const snapshot = await published();
    assert.equal(snapshot.version, 2);
    assert.equal(snapshot.elicitation.percentage, 50);
    assert.deepEqual(snapshot.elicitation.agents, ['alpha', 'canary-*']);
    assert.equal(snapshot.deprecation.warnings, true);
    assert.equal(snapshot.deprecation.throttleMs, 100);
    const history = await run('history');
    assert.match(history.out, /by ops-jane \(flag-file\): stage 2$/m);
  });

  test('a bad flag file fails (exit 1) naming the file and the line, and publishes nothing', async () => {
    const syntax = file('syntax.yaml', ['elicitation:', '  enabled: true', '  percentage: [10, 20', ''].join('\n'));
    const badSyntax = await run('flags', 'apply', '-f', syntax, '--reason', 'broken');
    assert.equal(badSyntax.code, EXIT.failed);
    assert.ok(badSyntax.err.includes(syntax), `names the file: ${badSyntax.err}`);
    assert.match(badSyntax.err, /line \d+/, `names the line: ${badSyntax.err}`);

    const invalid = file('invalid.yaml', ['elicitation:', '  enabled: true', '  percentage: 250', ''].join('\n'));
    const badValue = await run('flags', 'apply', '-f', invalid, '--reason', 'broken');
    assert.equal(badValue.code, EXIT.failed);
    assert.ok(badValue.err.includes(`${invalid}:3`), `names file:line of the bad value: ${badValue.err}`);
    assert.match(badValue.err, /percentage/);

    const unknownKey = file('unknown.yaml', ['elicitation:', '  enabled: true', 'compatibility:', '  dual_mode: false', ''].join('\n'));
    const badKey = await run('flags', 'apply', '-f', unknownKey, '--reason', 'broken');
    assert.equal(badKey.code, EXIT.failed);
    assert.ok(badKey.err.includes(`${unknownKey}:4`), `names file:line of the unknown key: ${badKey.err}`);
    assert.match(badKey.err, /dual_mode/);

    const missing = await run('flags', 'apply', '-f', join(dir, 'does-not-exist.yaml'), '--reason', 'broken');
    assert.equal(missing.code, EXIT.failed);
    assert.match(missing.err, /does-not-exist\.yaml/);

    const noFile = await run('flags', 'apply', '--reason', 'broken');
    assert.equal(noFile.code, EXIT.usage);
    assert.match(noFile.err, /-f <file\.yaml>/);

    assert.equal((await published()).version, 2);
  });

  test('message <id> shows the lifecycle of a message from the ledger', async () => {
    const opened = await openEventStore({ url: redis.url, name: 'cli-test', shardCount: 4 });
    const id = newMessageId();
    const now = Date.now();
    try {
      await opened.store.append({
        envelope: { id, kind: 'message', from: 'alice', to: 'bob', content: 'hello', metadata: {}, sourceProtocol: 'legacy', acceptedAt: now, deadlineAt: now + 60_000 },
      });
    } finally {
      await opened.close();
    }
    const shown = await run('message', id);
    assert.equal(shown.code, EXIT.ok, shown.err);
    assert.match(shown.out, new RegExp(`^id\\s+${id}$`, 'm'));
    assert.match(shown.out, /^state\s+accepted$/m);
    assert.match(shown.out, /^from\s+alice$/m);
    assert.match(shown.out, /^to\s+bob$/m);
    assert.match(shown.out, new RegExp(`^acceptedAt\\s+${new Date(now).toISOString().replace(/\./g, '\\.')}$`, 'm'));
    const json = JSON.parse((await run('message', id, '--json')).out) as { id: string; state: string; to: string };
    assert.deepEqual([json.id, json.state, json.to], [id, 'accepted', 'bob']);

    const unknown = await run('message', newMessageId());
    assert.equal(unknown.code, EXIT.failed);
    assert.match(unknown.err, /no ledger record/);
    const noId = await run('message');
    assert.equal(noId.code, EXIT.usage);
  });

  test('an unknown command is a usage error (exit 2) that prints the usage', async () => {
    for (const argv of [['frobnicate'], ['flags', 'frobnicate'], []]) {
      const result = await run(...argv);
      assert.equal(result.code, EXIT.usage, argv.join(' '));
      assert.match(result.out + result.err, /Usage:\n\s+bridgectl flags show/);
    }
    const help = await run('--help');
    assert.equal(help.code, EXIT.ok);
    assert.match(help.out, /Usage:/);
  });
  test('flags set is refused while a controller owns the snapshot, and goes through with --force', async () => {
    const opened = await openEventStore({ url: redis.url, name: 'lease', shardCount: 4 });
    const lease = await opened.store.acquireControllerLease('ctl-test', 60_000);
    try {
      const refused = await run('flags', 'set', 'elicitation.percentage=7', '--reason', 'manual');
      assert.equal(refused.code, EXIT.failed);
      assert.match(refused.err, /controller ctl-test owns the flag snapshot/);
      assert.notEqual((await run('flags', 'show', '--json')).out.includes('"percentage": 7'), true);
      const forced = await run('flags', 'set', 'elicitation.percentage=7', '--reason', 'controller wedged', '--force');
      assert.equal(forced.code, EXIT.ok, forced.err);
    } finally {
      await opened.store.releaseControllerLease(lease!);
      await opened.close();
    }
  });
  test('reshard: refused with every reason while a router runs; then moves the keys, says so, and the services must use the new count', async () => {
    const reshardEnv = { ...env, KEY_PREFIX: 'reshard', SHARD_COUNT: '4' };
    const runWith = async (environment: NodeJS.ProcessEnv, ...argv: string[]): Promise<Run> => {
      let out = '';
      let err = '';
      const code = await runBridgectl(argv, environment, { out: (text) => (out += text), err: (text) => (err += text) });
      return { code, out, err };
    };
    const opened = await openEventStore({ url: redis.url, name: 'reshard-test', shardCount: 4, keyPrefix: 'reshard' });
    try {
      await opened.store.append({ envelope: { id: newMessageId(), kind: 'message', from: 'ann', to: 'bo', content: 'x', metadata: {}, sourceProtocol: 'legacy', acceptedAt: Date.now(), deadlineAt: Date.now() + 60_000 } });
      await opened.store.heartbeatRouter('router-7', 60_000);
      const refused = await runWith(reshardEnv, 'reshard', '--to', '8');
      assert.equal(refused.code, EXIT.failed);
      assert.match(refused.err, /cannot change the shard count now:\n {2}- router replicas are running \(router-7\)/);
      assert.match(refused.err, /accepted message\(s\) not routed yet/);
      assert.match(refused.err, /Switch read-only mode on, wait for a backlog of 0, stop every service/);
      assert.equal((await runWith(reshardEnv, 'reshard', '--to', 'many')).code, EXIT.usage);
      assert.equal((await runWith(reshardEnv, 'reshard', '--to', '4')).code, EXIT.nothing);

      await opened.redis.del(opened.keys.events(opened.keys.shardOf('bo')), opened.keys.openMessages(opened.keys.shardOf('bo')), opened.keys.routerMembers());
      const done = await runWith(reshardEnv, 'reshard', '--to', '8');
      assert.equal(done.code, EXIT.ok, done.err);
      assert.match(done.out, /moved the keys of \d+ agent\(s\) from 4 to 8 shards/);
      assert.match(done.out, /start every service with SHARD_COUNT=8/);
    } finally {
      await opened.close();
    }
    const stale = await runWith(reshardEnv, 'flags', 'show');
    assert.equal(stale.code, EXIT.failed);
    assert.match(stale.err, /created with SHARD_COUNT=8, but this process has SHARD_COUNT=4/);
    assert.equal((await runWith({ ...reshardEnv, SHARD_COUNT: '8' }, 'flags', 'show')).code, EXIT.ok);
  });
});

describe('bridgectl with Redis unreachable', () => {
  // Run in child processes: a CLI that leaks Redis connections would otherwise keep this test
  // process alive, and only a real process shows whether the command exits on its own.
  const tsNode = [process.execPath, '--conditions=agentbridge-source', '--import', 'tsx'] as const;

  async function spawnBounded(args: string[], env: NodeJS.ProcessEnv, limitMs: number): Promise<{ code: number | null; out: string; err: string; ms: number; hung: boolean }> {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
    delete childEnv.NODE_TEST_CONTEXT;
    const started = performance.now();
    const child = spawn(tsNode[0], [...tsNode.slice(1), ...args], { cwd: REPO_ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, limitMs);
    const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
    clearTimeout(timer);
    return { code, out, err, ms: performance.now() - started, hung };
  }

  let unreachable: NodeJS.ProcessEnv;
  before(async () => {
    unreachable = { REDIS_URL: `redis://127.0.0.1:${await freePort()}`, SHARD_COUNT: '4' };
  });

  test('runBridgectl answers exit 3 (store unreachable) with a message naming REDIS_URL', async () => {
    // A wrapper that reports runBridgectl's return value and then exits whatever is left open.
    const wrapper = [
      "import { runBridgectl } from './tools/bridgectl/src/cli.ts';",
      'const code = await runBridgectl(process.argv.slice(1), process.env, { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) });',
      'process.stdout.write(`exit=${code}\\n`);',
      'process.exit(0);',
    ].join('\n');
    for (const argv of [['flags', 'show'], ['flags', 'set', 'elicitation.percentage=5', '--reason', 'x'], ['history']]) {
      const result = await spawnBounded(['--input-type=module', '-e', wrapper, ...argv], unreachable, 20_000);
      assert.equal(result.hung, false, `runBridgectl ${argv.join(' ')} returned within 20 s`);
      assert.match(result.out, /exit=\d+/, result.err);
      assert.equal(result.out.match(/exit=(\d+)/)?.[1], String(EXIT.unavailable), `bridgectl ${argv.join(' ')} exit code; stderr: ${result.err.trim()}`);
      assert.match(result.err, /cannot reach the event store.*Check REDIS_URL/);
      assert.ok(result.ms < 8_000, `answered after ${result.ms.toFixed(0)} ms`);
    }
  });

  test('the bridgectl process exits on its own within a few seconds (does not hang reconnecting)', async () => {
    const result = await spawnBounded(['tools/bridgectl/src/main.ts', 'flags', 'show'], unreachable, 15_000);
    assert.equal(result.hung, false, `bridgectl flags show was still running after 15 s and was killed; stderr: ${result.err.trim()}`);
    assert.ok(result.ms < 8_000, `exited after ${result.ms.toFixed(0)} ms`);
    assert.equal(result.code, EXIT.unavailable, result.err);
  });
});
