/** The elicitation health check against real HTTP servers: ready, not ready, gone, silent. */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { parseFeatureFlags, type HealthCheckStatus } from '@agent-bridge/flags';
import { elicitationInUse, runHealthCheck } from './health-check.js';

const spec = parseFeatureFlags({ apiVersion: 'agentbridge.io/v1alpha1', kind: 'FeatureFlags', metadata: { name: 'agent-bridge' }, spec: { rollback: { healthCheck: { consecutiveFailures: 3, timeout: '300ms' } } } }).spec;

function serve(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/readyz` })));
}

describe('runHealthCheck', () => {
  let ready: { server: Server; url: string };
  let notReady: { server: Server; url: string };
  let silent: { server: Server; url: string };
  let gone: string;
  before(async () => {
    ready = await serve((_req, res) => res.writeHead(200).end('{"status":"ok"}'));
    notReady = await serve((_req, res) => res.writeHead(503).end('{"status":"redis down"}'));
    silent = await serve(() => undefined); // accepts, never answers
    const closed = await serve(() => undefined);
    gone = closed.url;
    await new Promise((resolve) => closed.server.close(resolve));
  });
  after(() => {
    for (const s of [ready, notReady, silent]) s.server.closeAllConnections();
    return Promise.all([ready, notReady, silent].map((s) => new Promise((resolve) => s.server.close(resolve))));
  });

  test('one ready replica is enough: healthy, the failure count resets', async () => {
    const previous: HealthCheckStatus = { consecutiveFailures: 2, lastCheckAt: '2026-01-01T00:00:00Z', lastResult: 'unhealthy', message: '' };
    const run = await runHealthCheck([notReady.url, ready.url], spec, previous, Date.now());
    assert.equal(run.status.lastResult, 'healthy');
    assert.equal(run.status.consecutiveFailures, 0);
    assert.match(run.status.message, /^1 of 2 ready \(.*HTTP 503\)$/);
    assert.equal(run.trip, undefined);
  });

  test('not ready, refused and silent replicas are all unhealthy; the third in a row trips the trigger, once', async () => {
    let previous: HealthCheckStatus | undefined;
    const trips: number[] = [];
    for (let check = 1; check <= 5; check++) {
      const run = await runHealthCheck([notReady.url, gone, silent.url], spec, previous, Date.now());
      assert.equal(run.status.lastResult, 'unhealthy');
      assert.equal(run.status.consecutiveFailures, check);
      if (run.trip) trips.push(check);
      previous = run.status;
    }
    assert.deepEqual(trips, [3], 'the rollback is asked for at the third failure, not before and not again');
    assert.match(previous!.message, /0 of 3 ready/);
    assert.match(previous!.message, /ECONNREFUSED/);
    assert.match(previous!.message, /no answer within 300 ms/);
  });

  test('nobody to ask is unhealthy, never healthy', async () => {
    const run = await runHealthCheck([], spec, undefined, Date.now());
    assert.equal(run.status.lastResult, 'unhealthy');
    assert.match(run.status.message, /no elicitation replica to ask/);
  });

  test('the check matters only while elicitation carries agents', () => {
    assert.equal(elicitationInUse({ elicitation: { enabled: true, percentage: 0, agents: [], excludedAgents: [] } }), false);
    assert.equal(elicitationInUse({ elicitation: { enabled: false, percentage: 50, agents: [], excludedAgents: [] } }), false);
    assert.equal(elicitationInUse({ elicitation: { enabled: true, percentage: 0, agents: ['a'], excludedAgents: [] } }), true);
    assert.equal(elicitationInUse({ elicitation: { enabled: true, percentage: 5, agents: [], excludedAgents: [] } }), true);
  });
});
