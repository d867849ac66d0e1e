/**
 * The notifier as the controller service runs it: channels from the settings, sent by the leader
 * only, resumed by the next leader, visible at GET /admin/notifications and on /metrics.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '@agent-bridge/observability';
import { sleep, startRedis, waitFor, type RedisServerHandle } from '@agent-bridge/testkit';
import { loadControllerConfig } from '../config.js';
import { startControllerService, type ControllerService } from '../service.js';
import { FEATURE_FLAGS_YAML } from '../test-fixtures.js';
import type { OwnerNotice } from './notice.js';
import { startSmtpSink, startWebhookSink, type SmtpSink, type WebhookSink } from './test-sinks.js';

const ADMIN = 'admin-token-for-notify-tests';

describe('owner notifications in the controller service', () => {
  let redis: RedisServerHandle;
  let dir: string;
  let webhook: WebhookSink;
  let smtp: SmtpSink;
  const running: ControllerService[] = [];

  before(async () => {
    redis = await startRedis();
    dir = mkdtempSync(join(tmpdir(), 'notify-service-'));
    writeFileSync(join(dir, 'featureflags.yaml'), FEATURE_FLAGS_YAML);
    writeFileSync(join(dir, 'hook-token'), 'hook-token-from-a-file\n');
    webhook = await startWebhookSink();
    smtp = await startSmtpSink({ user: 'bridge', password: 'smtp-password-from-a-file' });
    writeFileSync(join(dir, 'smtp-password'), 'smtp-password-from-a-file\n');
  });
  after(async () => {
    await Promise.all(running.map((c) => c.close().catch(() => undefined)));
    await webhook.close();
    await smtp.close();
    await redis.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  async function startController(id: string): Promise<ControllerService> {
    const config = loadControllerConfig({
      REDIS_URL: redis.url,
      SHARD_COUNT: '4',
      HOST: '127.0.0.1',
      PORT: '0',
      CONTROLLER_ID: id,
      FEATURE_FLAGS_FILE: join(dir, 'featureflags.yaml'),
      ADMIN_TOKEN: ADMIN,
      WEBHOOK_TOKEN: 'webhook-token-for-notify-tests',
      LEADER_LEASE_TTL_MS: '1000',
      RECONCILE_INTERVAL_MS: '100',
      NOTIFY_WEBHOOK_URL: webhook.url,
      NOTIFY_WEBHOOK_TOKEN_FILE: join(dir, 'hook-token'),
      SMTP_URL: smtp.url,
      SMTP_PASSWORD_FILE: join(dir, 'smtp-password'),
      SMTP_FROM: 'Agent Bridge <bridge@example.com>',
      NOTIFY_BACKOFF_MS: '200',
      NOTIFY_TIMEOUT_MS: '1000',
    });
    const service = await startControllerService(config, createLogger('controller', 'silent'));
    running.push(service);
    return service;
  }

  const leaseValue = async () => (await redis.client().get('ab:{control}:controller:lease'))!;
  const notice = (owner: string, milestone: string): OwnerNotice => ({
    milestone,
    owner: { name: owner, contact: `${owner.toLowerCase()}@example.com` },
    agents: [`${owner.toLowerCase()}-bot`],
    subject: 'Legacy polling ends on 15 January',
    text: 'Move to elicitation.',
  });
  const summary = async (service: ControllerService, milestone: string) => {
    const response = await fetch(`${service.url}/admin/notifications?milestone=${milestone}`, { headers: { authorization: `Bearer ${ADMIN}` } });
    assert.equal(response.status, 200);
    return ((await response.json()) as { milestones: Array<{ channels: Record<string, Record<string, number>> }> }).milestones[0]?.channels ?? {};
  };

  test('the leader sends each notice once on each channel (token and password from files); after the leader stops, the next one finishes what was pending, and nothing is sent twice', async () => {
    const a = await startController('ctl-a');
    const b = await startController('ctl-b');
    await waitFor(() => a.controller.isLeader() || b.controller.isLeader(), { description: 'a leader' });
    const [leader, follower] = a.controller.isLeader() ? [a, b] : [b, a];

    await leader.notifier.enqueue([notice('Ada', 'deprecation:day-1'), notice('Bob', 'deprecation:day-1')], await leaseValue());
    await waitFor(async () => (await summary(follower, 'deprecation:day-1')).webhook?.sent === 2 && (await summary(follower, 'deprecation:day-1')).email?.sent === 2, { description: 'day-1 sent (read through the follower)' });
    assert.equal(webhook.requests.filter((r) => r.body.milestone === 'deprecation:day-1').length, 2);
    assert.ok(webhook.requests.every((r) => r.headers.authorization === 'Bearer hook-token-from-a-file'));
    assert.deepEqual(smtp.mails.map((m) => m.to[0]).sort(), ['ada@example.com', 'bob@example.com'], 'logged in with the password from its file');

    // The webhook refuses for a while: day-3 stays pending (backoff) when the leader stops.
    webhook.failWith = [503, 503, 503];
    await leader.notifier.enqueue([notice('Ada', 'deprecation:day-3')], await leaseValue());
    await waitFor(() => webhook.failWith.length < 3, { description: 'a first failed attempt' });
    await leader.close();
    running.splice(running.indexOf(leader), 1);
    await waitFor(() => follower.controller.isLeader(), { timeoutMs: 5_000, description: 'the follower to lead' });
    // The schedule's step runs again on the new leader: nothing is recorded twice.
    assert.deepEqual(await follower.notifier.enqueue([notice('Ada', 'deprecation:day-3')], await leaseValue()), { queued: 0, already: 2, skipped: 0 });
    await waitFor(async () => (await summary(follower, 'deprecation:day-3')).webhook?.sent === 1, { timeoutMs: 8_000, description: 'day-3 delivered by the new leader' });
    await sleep(300);
    const day3 = webhook.requests.filter((r) => r.body.milestone === 'deprecation:day-3');
    assert.equal(day3.length, 4, 'three refused attempts, then one delivery');
    assert.equal(smtp.mails.filter((m) => /deprecation:day-3/.test(m.raw)).length, 1, 'one email for day-3');
    const metrics = await (await fetch(`${follower.url}/metrics`)).text();
    assert.match(metrics, /^agentbridge_notifications_total\{[^}]*channel="webhook",result="sent"[^}]*\} 1$/m);
  });
});
