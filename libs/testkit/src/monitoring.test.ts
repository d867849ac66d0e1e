import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startAlertmanager, startPrometheus, type AlertmanagerHandle, type PrometheusHandle } from './monitoring.js';
import { waitFor } from './wait.js';

/** A loopback HTTP server; `handle` answers every request. */
async function listen(handle: (path: string, headers: IncomingHttpHeaders, body: string) => { status: number; body: string }): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    request.on('end', () => {
      const answer = handle(request.url ?? '/', request.headers, body);
      response.writeHead(answer.status, { 'content-type': 'text/plain; version=0.0.4' }).end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('monitoring: a real Prometheus and Alertmanager', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'agent-bridge-monitoring-test-'));
  const notifications: Array<{ authorization: string | undefined; alerts: Array<{ labels: Record<string, string>; status: string }> }> = [];
  let target: { server: Server; url: string };
  let webhook: { server: Server; url: string };
  let alertmanager: AlertmanagerHandle;
  let prometheus: PrometheusHandle;

  before(async () => {
    target = await listen((url) => (url === '/metrics' ? { status: 200, body: '# TYPE demo_queue_depth gauge\ndemo_queue_depth{queue="a"} 7\n' } : { status: 404, body: 'not found' }));
    webhook = await listen((_url, headers, body) => {
      notifications.push({ authorization: headers.authorization, ...(JSON.parse(body) as { alerts: Array<{ labels: Record<string, string>; status: string }> }) });
      return { status: 200, body: 'ok' };
    });
    const rules = path.join(dir, 'demo.rules.yaml');
    writeFileSync(rules, ['groups:', '  - name: demo', '    rules:', '      - alert: DemoQueueDeep', '        expr: demo_queue_depth > 5', '        labels:', '          rollback: partial', ''].join('\n'));
    alertmanager = await startAlertmanager({ webhooks: [{ url: `${webhook.url}/webhook/alertmanager`, bearerToken: 'test-token' }], groupWaitMs: 100 });
    prometheus = await startPrometheus({
      targets: { demo: [target.url] },
      ruleFiles: [rules],
      alertmanagerUrl: alertmanager.url,
      scrapeIntervalMs: 500,
      evaluationIntervalMs: 500,
    });
  });
  after(async () => {
    await prometheus?.stop();
    await alertmanager?.stop();
    target?.server.close();
    webhook?.server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("Prometheus scrapes the given targets at /metrics: `up` and the target's series are queryable", async () => {
    await waitFor(async () => (await prometheus.query('up{job="demo"} == 1')).length === 1, { timeoutMs: 10_000, intervalMs: 200, description: 'the demo target to be up' });
    const [sample] = await prometheus.query('demo_queue_depth');
    assert.deepEqual(sample?.metric, { __name__: 'demo_queue_depth', instance: new URL(target.url).host, job: 'demo', queue: 'a' });
    assert.equal(sample?.value[1], '7');
    assert.deepEqual(await prometheus.query('scalar(demo_queue_depth) * 2').then((s) => s.map((x) => x.value[1])), ['14'], 'a scalar result is one sample');
  });

  test("a failing query rejects with Prometheus's error and the query", async () => {
    await assert.rejects(prometheus.query('sum(rate(demo_queue_depth))'), (error: Error) => /bad_data/.test(error.message) && error.message.includes('sum(rate(demo_queue_depth))'));
  });

  test('the rule file is loaded in place, and a firing alert reaches the webhook through Alertmanager with the bearer token', async () => {
    const { groups } = await prometheus.api<{ groups: Array<{ file: string; rules: Array<{ name: string }> }> }>('rules');
    assert.deepEqual(
      groups.map((g) => [g.file, g.rules.map((r) => r.name)]),
      [[path.join(dir, 'demo.rules.yaml'), ['DemoQueueDeep']]],
    );
    await waitFor(() => notifications.length > 0, { timeoutMs: 15_000, intervalMs: 100, description: 'Alertmanager to notify the webhook' });
    assert.equal(notifications[0]!.authorization, 'Bearer test-token');
    assert.deepEqual(
      notifications[0]!.alerts.map((a) => [a.labels.alertname, a.labels.rollback, a.status]),
      [['DemoQueueDeep', 'partial', 'firing']],
    );
    assert.ok(
      (await alertmanager.alerts()).some((a) => a.labels.alertname === 'DemoQueueDeep'),
      'Alertmanager lists the alert',
    );
  });

  test('stop() ends the process and removes a temporary data dir', async () => {
    const extra = await startPrometheus({ targets: {} });
    assert.ok(existsSync(extra.configFile));
    assert.equal((await fetch(`${extra.url}/-/ready`)).status, 200, 'ready before stop');
    await extra.stop();
    assert.ok((await extra.exited).signal !== null || (await extra.exited).code !== null, 'the process exited');
    assert.equal(existsSync(extra.dataDir), false, 'temp data dir removed');
    await assert.rejects(fetch(`${extra.url}/-/ready`), 'nothing listens any more');
  });

  test('a missing binary fails with the package to install', async () => {
    const saved = { PATH: process.env.PATH, PROMETHEUS_BIN: process.env.PROMETHEUS_BIN, ALERTMANAGER_BIN: process.env.ALERTMANAGER_BIN };
    process.env.PATH = path.join(dir, 'no-such-dir');
    delete process.env.PROMETHEUS_BIN;
    delete process.env.ALERTMANAGER_BIN;
    try {
      await assert.rejects(startPrometheus({ targets: {} }), /Prometheus is not installed.*Debian package "prometheus".*make test and make up do/);
      await assert.rejects(startAlertmanager(), /Alertmanager is not installed.*"prometheus-alertmanager" or "alertmanager".*Debian package "prometheus-alertmanager"/);
    } finally {
      for (const [key, value] of Object.entries(saved))
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
    }
  });
});
