import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { openEventStore, type OpenedEventStore } from '@agent-bridge/event-store';
import { readPublishedFlags, type FeatureFlagsStatus } from '@agent-bridge/flags';
import { createLogger } from '@agent-bridge/observability';
import { startRedis, waitFor, type RedisServerHandle } from '@agent-bridge/testkit';
import { loadControllerConfig } from './config.js';
import { startControllerService, type ControllerService } from './service.js';
import { FEATURE_FLAGS_YAML } from './test-fixtures.js';

const ADMIN = 'admin-token-0123456789';
const WEBHOOK = 'webhook-token-0123456789';
const INTER_REPLICA_KEY = 'inter-replica-key-for-the-tests-0123456789';

describe('controller service (local mode: file source, status and lease in the store)', () => {
  let redis: RedisServerHandle;
  let dir: string;
  let file: string;
  let store: OpenedEventStore;
  const running: ControllerService[] = [];

  before(async () => {
    redis = await startRedis();
    dir = mkdtempSync(join(tmpdir(), 'controller-test-'));
    file = join(dir, 'featureflags.yaml');
  });
  after(async () => {
    await Promise.all(running.map((c) => c.close().catch(() => undefined)));
    await store?.close();
    await redis.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    await Promise.all(running.splice(0).map((c) => c.close().catch(() => undefined)));
    await store?.close();
    await redis.client().flushall();
    writeFileSync(file, FEATURE_FLAGS_YAML);
    store = await openEventStore({ url: redis.url, name: 'assert', shardCount: 4 });
  });

  async function startController(id: string): Promise<ControllerService> {
    const config = loadControllerConfig({
      REDIS_URL: redis.url,
      SHARD_COUNT: '4',
      HOST: '127.0.0.1',
      PORT: '0',
      CONTROLLER_ID: id,
      FEATURE_FLAGS_FILE: file,
      ADMIN_TOKEN: ADMIN,
      // Shared by the controllers, as the chart's Secret gives it: the relay to the leader is signed with it.
      INTER_REPLICA_KEY: INTER_REPLICA_KEY,
      WEBHOOK_TOKEN: WEBHOOK,
      LEADER_LEASE_TTL_MS: '1500',
      RECONCILE_INTERVAL_MS: '100',
      EFFECT_TIMEOUT_MS: '2000',
    });
    const service = await startControllerService(config, createLogger('controller', 'silent'));
    running.push(service);
    return service;
  }

  async function storedStatus(): Promise<FeatureFlagsStatus> {
    const json = await store.store.readControllerStatusJson();
    assert.ok(json, 'a status is stored');
    return JSON.parse(json) as FeatureFlagsStatus;
  }

  async function post(service: ControllerService, path: string, body: unknown, token = ADMIN) {
    const response = await fetch(`${service.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  }

  test('with two controllers running exactly one leads; it publishes the first stage and keeps status in the store', async () => {
    const a = await startController('ctl-a');
    const b = await startController('ctl-b');
    await waitFor(async () => (await readPublishedFlags(store.store)).elicitation.percentage === 10, { timeoutMs: 5_000, description: 'the first stage to be published' });
    assert.equal([a, b].filter((c) => c.controller.isLeader()).length, 1);
    const snapshot = await readPublishedFlags(store.store);
    assert.deepEqual({ phase: snapshot.rollout.phase, stage: snapshot.rollout.stage }, { phase: 'rollout', stage: 1 });
    const status = await storedStatus();
    assert.equal(status.stage, 1);
    assert.equal(status.snapshotVersion, snapshot.version);
    assert.equal(status.conditions.find((c) => c.type === 'Ready')?.status, 'True');
    const audit = await store.store.readAudit(10);
    assert.ok(audit.some((entry) => entry.action === 'flags.publish' && entry.reason === 'rollout plan started'));
  });

  test('the follower takes over when the leader stops, and resumes the hold from the stored status', async () => {
    const a = await startController('ctl-a');
    await waitFor(async () => a.controller.isLeader(), { timeoutMs: 5_000, description: 'ctl-a to lead' });
    await waitFor(async () => (await store.store.readControllerStatusJson()) !== null, { timeoutMs: 5_000, description: 'a status' });
    const before = await storedStatus();
    const b = await startController('ctl-b');
    await a.close();
    running.splice(running.indexOf(a), 1);
    await waitFor(async () => b.controller.isLeader(), { timeoutMs: 5_000, description: 'ctl-b to take over' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const after = await storedStatus();
    assert.equal(after.stage, 1);
    assert.equal(after.stageStartedAt, before.stageStartedAt, 'the hold is not restarted by the new leader');
  });

  test('a deposed leader writes nothing: its lease taken away, its publications are refused in Redis', async () => {
    const a = await startController('ctl-a');
    await waitFor(async () => (await readPublishedFlags(store.store)).version > 0, { timeoutMs: 5_000, description: 'a first publication' });
    const versionBefore = (await readPublishedFlags(store.store)).version;
    // Another controller seizes the lease (as after a long GC pause of ctl-a): ctl-a's next writes must fail.
    const raw = redis.client();
    await raw.set('ab:{control}:controller:lease', 'intruder|999', 'PX', 60_000);
    const statusBefore = await raw.get('ab:{control}:controller:status');
    writeFileSync(file, FEATURE_FLAGS_YAML.replace('phase: rollout', 'phase: rollout\n  paused: true'));
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    assert.equal(a.controller.isLeader(), false, 'ctl-a noticed it lost the lease');
    assert.equal((await readPublishedFlags(store.store)).version, versionBefore, 'no snapshot published after losing the lease');
    assert.equal(await raw.get('ab:{control}:controller:status'), statusBefore, 'no status written after losing the lease');
  });

  test('admin API: bearer token required, a rollback takes effect and is audited, a request that does nothing says so', async () => {
    const a = await startController('ctl-a');
    await waitFor(async () => (await readPublishedFlags(store.store)).elicitation.percentage === 10, { timeoutMs: 5_000, description: 'stage 1' });
    assert.equal((await post(a, '/admin/rollback', { level: 'full', reason: 'x' }, 'wrong-token-wrong-token')).status, 401);
    const bad = await post(a, '/admin/rollback', { level: 'everything', reason: 'x' });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /level must be full, partial or canary/);
    assert.match((await post(a, '/admin/rollback', { level: 'full' })).body.error.message, /reason is required/);

    const done = await post(a, '/admin/rollback', { level: 'full', reason: 'drill', actor: 'ops@example' });
    assert.equal(done.status, 200);
    assert.equal(done.body.applied, true);
    const snapshot = await readPublishedFlags(store.store);
    assert.equal(snapshot.version, done.body.snapshot_version);
    assert.equal(snapshot.elicitation.enabled, false);
    assert.equal(snapshot.rollout.lastRollback?.level, 'full');
    const again = await post(a, '/admin/rollback', { level: 'full', reason: 'drill again' });
    assert.equal(again.body.applied, false);
    assert.match(again.body.message, /already off/);
    await waitFor(async () => (await store.store.readAudit(20)).some((e) => e.action === 'rollback.effective'), { timeoutMs: 5_000, description: 'the effect measurement in the audit trail' });
    const effect = (await store.store.readAudit(20)).find((e) => e.action === 'rollback.effective')!;
    assert.equal(typeof effect.details?.effectMs, 'number', `effect measured: ${effect.reason}`);
    const publication = (await store.store.readAudit(20)).find((e) => e.action === 'flags.publish' && e.trigger === 'admin')!;
    assert.equal(publication.actor, 'ops@example');
    assert.equal(publication.reason, 'drill');

    const resumed = await post(a, '/admin/resume', { reason: 'fixed' });
    assert.equal(resumed.body.applied, true);
    assert.equal((await readPublishedFlags(store.store)).elicitation.enabled, true);
  });

  test('a controller that does not lead relays admin requests to the leader', async () => {
    const a = await startController('ctl-a');
    await waitFor(async () => a.controller.isLeader(), { timeoutMs: 5_000, description: 'ctl-a to lead' });
    const b = await startController('ctl-b');
    const paused = await post(b, '/admin/pause', { reason: 'via the follower' });
    assert.equal(paused.status, 200, JSON.stringify(paused.body));
    assert.equal(paused.body.applied, true);
    await waitFor(async () => (await storedStatus()).paused, { timeoutMs: 3_000, description: 'the pause in the status' });
  });

  test('a request that claims to be relayed without a valid assertion is refused, even with the admin token', async () => {
    const a = await startController('ctl-a');
    // Leading, and its first pass stored a status (the one "nothing was done" is checked against).
    await waitFor(async () => a.controller.isLeader() && (await store.store.readControllerStatusJson()) !== null, { timeoutMs: 5_000, description: 'ctl-a to lead and store a status' });
    const forged = async (headers: Record<string, string>) => {
      const response = await fetch(`${a.url}/admin/pause`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json', ...headers }, body: JSON.stringify({ reason: 'forged' }) });
      return { status: response.status, body: (await response.json()) as Record<string, any> };
    };
    for (const headers of [{ 'x-agentbridge-forwarded-by': 'ctl-b' }, { 'x-agentbridge-relay-assertion': 'abr1.abcdefgh.e30.AAAA' }] as Array<Record<string, string>>) {
      const answer = await forged(headers);
      assert.equal(answer.status, 401, JSON.stringify(answer.body));
      assert.equal(answer.body.error.code, 'RELAY_REFUSED');
      assert.match(answer.body.error.message, /claims to be relayed by another controller but is refused/);
    }
    assert.equal((await storedStatus()).paused, false, 'nothing was done');
  });

  test('an admin action with an Idempotency-Key applies once: retries (on the leader or through a follower) get the first answer', async () => {
    const a = await startController('ctl-a');
    await waitFor(async () => (await readPublishedFlags(store.store)).elicitation.percentage === 10, { timeoutMs: 5_000, description: 'ctl-a to lead and publish stage 1' });
    const b = await startController('ctl-b');
    const keyed = async (service: ControllerService, key: string, body: unknown) => {
      const response = await fetch(`${service.url}/admin/rollback`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify(body) });
      return { status: response.status, replay: response.headers.get('idempotent-replay'), body: (await response.json()) as Record<string, any> };
    };
    const request = { level: 'partial', reason: 'canary errors', actor: 'ops@example' };
    const first = await keyed(a, 'rollback-1', request);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.applied, true);
    const lowered = (await readPublishedFlags(store.store)).elicitation.percentage;
    for (const service of [a, b]) {
      const retry = await keyed(service, 'rollback-1', request);
      assert.equal(retry.status, 200);
      assert.equal(retry.replay, 'true');
      assert.deepEqual(retry.body, first.body, 'the first answer, not a second rollback');
    }
    const snapshot = await readPublishedFlags(store.store);
    assert.equal(snapshot.elicitation.percentage, lowered, 'the percentage was lowered once');
    assert.deepEqual(snapshot.rollout.rollbacks, [{ level: 'partial', trigger: 'admin', count: 1 }]);
    const conflict = await keyed(a, 'rollback-1', { ...request, level: 'full' });
    assert.equal(conflict.status, 409);
    assert.equal(conflict.body.error.code, 'IDEMPOTENCY_CONFLICT');
    assert.equal((await readPublishedFlags(store.store)).elicitation.enabled, true, 'nothing done');
    const invalid = await keyed(a, 'no spaces allowed', request);
    assert.equal(invalid.status, 400);
    assert.equal(invalid.body.error.code, 'INVALID_IDEMPOTENCY_KEY');
  });

  test('the Alertmanager webhook rolls back once per alert, maps the level from the resource and ignores resolved alerts', async () => {
    const a = await startController('ctl-a');
    await waitFor(async () => (await readPublishedFlags(store.store)).elicitation.percentage === 10, { timeoutMs: 5_000, description: 'stage 1' });
    const alert = { status: 'firing', labels: { alertname: 'ElicitationErrorSpike', severity: 'critical', rollback: 'full' }, annotations: { summary: 'errors' }, startsAt: '2026-11-26T04:00:00Z', fingerprint: 'abc' };
    assert.equal((await post(a, '/webhook/alertmanager', { alerts: [alert] }, ADMIN)).status, 401, 'the admin token is not the webhook token');
    const first = await post(a, '/webhook/alertmanager', { version: '4', status: 'firing', alerts: [alert] }, WEBHOOK);
    assert.equal(first.status, 200);
    assert.deepEqual(
      first.body.results.map((r: any) => [r.level, r.applied]),
      [['partial', true]],
      'the resource maps the alert to partial (its label says full)',
    );
    const repeat = await post(a, '/webhook/alertmanager', { version: '4', status: 'firing', alerts: [alert] }, WEBHOOK);
    assert.equal(repeat.body.results[0].applied, false);
    const resolved = await post(a, '/webhook/alertmanager', { alerts: [{ ...alert, status: 'resolved' }] }, WEBHOOK);
    assert.equal(resolved.body.results[0].applied, false);
    const snapshot = await readPublishedFlags(store.store);
    assert.deepEqual(snapshot.rollout.rollbacks, [{ level: 'partial', trigger: 'alert', count: 1 }]);
    assert.equal(snapshot.elicitation.percentage, 0);
  });

  test('alert names from the webhook make at most 64 series: later new names count as other', async () => {
    const a = await startController('ctl-a');
    await waitFor(async () => (await readPublishedFlags(store.store)).elicitation.percentage === 10, { timeoutMs: 5_000, description: 'ctl-a to lead and publish stage 1' });
    const alerts = Array.from({ length: 100 }, (_, i) => ({ status: 'firing', labels: { alertname: `Junk${i}` }, annotations: {}, startsAt: '2026-11-26T04:00:00Z', fingerprint: `f${i}` }));
    const answer = await post(a, '/webhook/alertmanager', { version: '4', status: 'firing', alerts }, WEBHOOK);
    assert.equal(answer.status, 200);
    assert.equal(answer.body.results.length, 100, 'every alert is answered (ignored: no rollback level)');
    const text = await (await fetch(`${a.url}/metrics`)).text();
    const series = text.split('\n').filter((line) => line.startsWith('agentbridge_alert_notifications_total{'));
    const names = new Set(series.map((line) => /alertname="([^"]*)"/.exec(line)?.[1]));
    assert.equal(names.size, 65, `64 names and other (${names.size})`);
    assert.ok(names.has('other') && names.has('Junk0') && !names.has('Junk99'));
    const other = series.find((line) => line.includes('alertname="other"'))!;
    assert.equal(Number(other.slice(other.lastIndexOf(' ') + 1)), 36, 'the 36 later names are counted under other');
  });

  test('GET /health/status reports adoption by protocol and by MCP generation over every shard, within the activity window', async () => {
    const a = await startController('ctl-a');
    const now = Date.now();
    await store.store.recordActivity('alice', 'legacy', now, '2025-11-25');
    await store.store.recordActivity('bob', 'elicitation', now, '2026-07-28');
    await store.store.recordActivity('bob', 'legacy', now, '2025-11-25');
    await store.store.recordActivity('carol', 'other', now, '2026-07-28');
    await store.store.recordActivity('dave', 'legacy', now);
    await store.store.recordActivity('old', 'legacy', now - 10 * 60 * 1000, '2026-07-28');
    const response = await fetch(`${a.url}/health/status`);
    assert.equal(response.status, 200);
    const { adoption } = (await response.json()) as { adoption: Record<string, unknown> };
    assert.deepEqual(adoption, {
      windowMs: 5 * 60 * 1000,
      activeAgents: 4,
      elicitationAgents: 1,
      legacyAgents: 3,
      // They add up: alice and dave on legacy only, bob on both, carol on neither.
      legacyOnlyAgents: 2,
      elicitationOnlyAgents: 0,
      bothAgents: 1,
      otherAgents: 1,
      agentsByGeneration: { '2025-11-25': 2, '2026-07-28': 2 },
      rate: 0,
      legacyShare: 0.75,
    });
  });

  test('an invalid edit of the resource is not applied: Ready turns False naming the field, the flags stay as they were', async () => {
    await startController('ctl-a');
    await waitFor(async () => (await readPublishedFlags(store.store)).elicitation.percentage === 10, { timeoutMs: 5_000, description: 'stage 1' });
    const version = (await readPublishedFlags(store.store)).version;
    writeFileSync(file, FEATURE_FLAGS_YAML.replace('percentage: 50', 'percentage: 5'));
    await waitFor(async () => (await storedStatus()).conditions.find((c) => c.type === 'Ready')?.status === 'False', { timeoutMs: 5_000, description: 'Ready=False' });
    const ready = (await storedStatus()).conditions.find((c) => c.type === 'Ready')!;
    assert.equal(ready.reason, 'InvalidSpec');
    assert.match(ready.message, /spec\.rollout\.stages\[1\]\.percentage: stage percentages must be strictly ascending/);
    assert.equal((await readPublishedFlags(store.store)).version, version);
    writeFileSync(file, FEATURE_FLAGS_YAML);
    await waitFor(async () => (await storedStatus()).conditions.find((c) => c.type === 'Ready')?.status === 'True', { timeoutMs: 5_000, description: 'Ready=True again after the fix' });
  });
});
