import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { startRedis } from './redis-server.js';
import type { RedisServerHandle } from './redis-server.js';
import { waitFor } from './wait.js';
import { isProcessAlive } from './reaper.js';

const started: RedisServerHandle[] = [];
after(async () => {
  await Promise.all(started.map((r) => r.cleanup()));
});

async function start(...args: Parameters<typeof startRedis>): Promise<RedisServerHandle> {
  const r = await startRedis(...args);
  started.push(r);
  return r;
}

/** Concatenated contents of the AOF files (Redis 7 multi-part AOF lives in appendonlydir/). */
async function readAof(dataDir: string): Promise<string> {
  const dir = path.join(dataDir, 'appendonlydir');
  const files = await readdir(dir);
  const parts = await Promise.all(files.filter((f) => f.endsWith('.aof')).map((f) => readFile(path.join(dir, f), 'utf8')));
  return parts.join('');
}

describe('startRedis', () => {
  test('redis started on its own port answers PING and writes AOF to its own data dir', async () => {
    const r = await start();
    assert.notEqual(r.port, 6379);
    assert.equal(r.url, `redis://127.0.0.1:${r.port}`);
    assert.ok(r.dataDir.startsWith(path.join(os.tmpdir(), 'agent-bridge-redis-')), r.dataDir);
    assert.ok(r.pid !== undefined && isProcessAlive(r.pid));

    const client = r.client();
    assert.equal(await client.ping(), 'PONG');
    const dir = (await client.config('GET', 'dir')) as string[];
    assert.equal(await realpath(dir[1] ?? ''), await realpath(r.dataDir));
    assert.deepEqual(await client.config('GET', 'appendonly'), ['appendonly', 'yes']);
    assert.deepEqual(await client.config('GET', 'maxmemory-policy'), ['maxmemory-policy', 'noeviction']);

    await client.set('testkit:aof-probe', 'hello-aof');
    await waitFor(async () => (await readAof(r.dataDir)).includes('testkit:aof-probe'), {
      timeoutMs: 3000,
      description: 'the write to reach the AOF',
    });
    assert.ok((await stat(path.join(r.dataDir, 'redis.log'))).size > 0, 'redis.log written in data dir');
  });

  test('a key written with appendfsync always survives kill() + restart()', async () => {
    const r = await start({ appendfsync: 'always' });
    const client = r.client();
    assert.deepEqual(await client.config('GET', 'appendfsync'), ['appendfsync', 'always']);
    await client.set('durable-key', 'v1');
    await client.xadd('durable-stream', '*', 'field', 'value');

    const oldPid = r.pid;
    assert.ok(oldPid !== undefined);
    await r.kill();
    assert.equal(isProcessAlive(oldPid), false, 'old redis-server is gone after kill()');
    assert.equal(r.running, false);
    assert.equal(r.pid, undefined);

    await r.restart();
    assert.equal(r.running, true);
    assert.notEqual(r.pid, oldPid);
    const fresh = r.client();
    assert.equal(await fresh.get('durable-key'), 'v1');
    assert.equal(await fresh.xlen('durable-stream'), 1);
    assert.match(await fresh.info('persistence'), /^loading:0\r?$/m);
  });

  test('stop() is graceful: everysec writes survive stop() + restart()', async () => {
    const r = await start();
    const client = r.client();
    await client.set('graceful-key', 'v2');
    await r.stop();
    assert.equal(r.running, false);
    await r.restart();
    assert.equal(await r.client().get('graceful-key'), 'v2');
    assert.ok((await r.logTail()).length > 0);
  });

  test('two startRedis calls get different ports and dirs', async () => {
    const [a, b] = await Promise.all([start(), start()]);
    assert.ok(a && b);
    assert.notEqual(a.port, b.port);
    assert.notEqual(a.dataDir, b.dataDir);
    const ca = a.client();
    const cb = b.client();
    await ca.set('isolation', 'a');
    assert.equal(await cb.get('isolation'), null, 'servers do not share data');
  });

  test('cleanup() stops the server and removes its data dir', async () => {
    const r = await startRedis();
    const pid = r.pid;
    assert.ok(pid !== undefined);
    r.client();
    await r.cleanup();
    assert.equal(isProcessAlive(pid), false);
    assert.equal(existsSync(r.dataDir), false);
    await r.cleanup(); // idempotent
  });

  test('a port answered by another server is not mistaken for ours', async () => {
    const other = await start();
    await assert.rejects(startRedis({ port: other.port }), new RegExp(`could not bind port ${other.port}`));
  });

  test('startup failure reports the redis output', async () => {
    await assert.rejects(startRedis({ extraArgs: ['--no-such-option', 'x'] }), /exited during startup[\s\S]*no-such-option/i);
  });
});

async function realpath(p: string): Promise<string> {
  const { realpath: rp } = await import('node:fs/promises');
  return rp(p);
}
