import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { freePort, startService } from './service-process.js';
import type { ServiceHandle } from './service-process.js';
import { isProcessAlive } from './reaper.js';

const HTTP_FIXTURE = 'libs/testkit/src/fixtures/http-ready.ts';
const EXIT_FIXTURE = 'libs/testkit/src/fixtures/exit-early.ts';

const started: ServiceHandle[] = [];
after(async () => {
  await Promise.all(started.map((s) => s.kill9()));
});

async function start(...args: Parameters<typeof startService>): Promise<ServiceHandle> {
  const s = await startService(...args);
  started.push(s);
  return s;
}

describe('startService', () => {
  test('freePort returns a bindable loopback port', async () => {
    const [a, b] = await Promise.all([freePort(), freePort()]);
    assert.ok(a > 0 && a < 65536);
    assert.ok(b > 0 && b < 65536);
  });

  test('becomes ready via readyLogLine', async () => {
    const port = await freePort();
    const svc = await start({
      name: 'fixture-log',
      entry: HTTP_FIXTURE,
      env: { PORT: String(port), READY_DELAY_MS: '200' },
      readyLogLine: /ready on \d+/,
    });
    assert.ok(isProcessAlive(svc.pid));
    assert.ok(svc.running);
    assert.ok(svc.logs().includes(`ready on ${port}`), svc.logs().join('\n'));
    assert.ok(svc.logs().includes('fixture stderr line'), 'stderr is captured');
    const res = await fetch(`http://127.0.0.1:${port}/health`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'ok');
  });

  test('becomes ready via readyUrl', async () => {
    const port = await freePort();
    const t0 = Date.now();
    const svc = await start({
      name: 'fixture-url',
      entry: HTTP_FIXTURE,
      env: { PORT: String(port), READY_DELAY_MS: '500' },
      readyUrl: `http://127.0.0.1:${port}/health`,
    });
    assert.ok(Date.now() - t0 >= 500, 'waited for the delayed listener');
    // Once readyUrl answered, the listener is up: the ready line has been printed.
    assert.equal(await svc.waitForLog(/ready on/, 2000), `ready on ${port}`);
    assert.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200);
  });

  test('readyUrl that never answers 200 rejects with the log tail and kills the process', async () => {
    const port = await freePort();
    const err = await startService({
      name: 'fixture-503',
      entry: HTTP_FIXTURE,
      env: { PORT: String(port), HEALTH_STATUS: '503' },
      readyUrl: `http://127.0.0.1:${port}/health`,
      readyTimeoutMs: 2500,
    }).then(
      () => assert.fail('expected startService to reject'),
      (e: unknown) => e as Error,
    );
    assert.match(err.message, /failed to become ready/);
    assert.match(err.message, /HTTP 503/);
    assert.match(err.message, /ready on \d+/, 'log lines are included');
    // The process was killed: its port is free again.
    await assert.rejects(fetch(`http://127.0.0.1:${port}/health`));
  });

  test('kill9 ends it with signal SIGKILL', async () => {
    const svc = await start({
      name: 'fixture-kill9',
      entry: HTTP_FIXTURE,
      env: { PORT: '0' },
      readyLogLine: /ready on \d+/,
    });
    const exit = await svc.kill9();
    assert.deepEqual(exit, { code: null, signal: 'SIGKILL' });
    assert.deepEqual(await svc.exited, exit);
    assert.equal(svc.running, false);
    assert.equal(isProcessAlive(svc.pid), false);
    assert.ok(!svc.logs().some((l) => l.includes('got SIGTERM')), 'no graceful shutdown ran');
  });

  test('stop sends SIGTERM and lets the service shut down gracefully', async () => {
    const svc = await start({
      name: 'fixture-stop',
      entry: HTTP_FIXTURE,
      env: { PORT: '0' },
      readyLogLine: /ready on \d+/,
    });
    const exit = await svc.stop();
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.ok(svc.logs().includes('got SIGTERM, closing'), svc.logs().join('\n'));
  });

  test('a script that exits early makes startService reject with its log lines', async () => {
    await assert.rejects(startService({ name: 'exit-early', entry: EXIT_FIXTURE, readyLogLine: /never printed/ }), (err: Error) => {
      assert.match(err.message, /service exit-early/);
      assert.match(err.message, /exit code 3/);
      assert.match(err.message, /booting exit-early fixture/);
      assert.match(err.message, /FATAL: config value MISSING_THING is required/);
      return true;
    });
    await assert.rejects(startService({ name: 'exit-early-url', entry: EXIT_FIXTURE, readyUrl: 'http://127.0.0.1:1/never' }), /exit code 3[\s\S]*MISSING_THING/);
  });

  test('waitForLog finds earlier and later lines, and rejects on timeout', async () => {
    const svc = await start({
      name: 'fixture-wait',
      entry: HTTP_FIXTURE,
      env: { PORT: '0' },
      readyLogLine: /ready on \d+/,
    });
    assert.equal(await svc.waitForLog(/fixture starting/g, 1000), 'fixture starting');
    const later = svc.waitForLog(/got SIGTERM/, 5000, { includeExisting: false });
    void svc.stop();
    assert.equal(await later, 'got SIGTERM, closing');
    await assert.rejects(svc.waitForLog(/nothing like this/, 200), /exited|timed out/);
  });
});
