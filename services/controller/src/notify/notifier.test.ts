import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { openEventStore, type ControllerLease, type OpenedEventStore } from '@agent-bridge/event-store';
import { BridgeMetrics, createLogger } from '@agent-bridge/observability';
import { startHttpServer } from '@agent-bridge/service-kit';
import { freePort, sleep, startRedis, waitFor, type RedisServerHandle } from '@agent-bridge/testkit';
import type { NotificationChannel } from './channels.js';
import { EmailChannel } from './email.js';
import { notificationRoutes } from './http-route.js';
import type { OwnerNotice } from './notice.js';
import { Notifier, type NotifierDeps } from './notifier.js';
import { startSilentServer, startSmtpSink, startWebhookSink, type SmtpSink, type WebhookSink } from './test-sinks.js';
import { WebhookChannel } from './webhook.js';

const logger = createLogger('controller', 'silent');
const FAST = { baseDelayMs: 50, maxDelayMs: 400, timeoutMs: 1_000, maxAttempts: 4, concurrency: 4 };

function notices(milestone: string): OwnerNotice[] {
  return [
    {
      milestone,
      owner: { name: 'Ada Team', contact: 'ada@example.com', team: 'payments' },
      agents: ['pay-bot', 'refund-bot'],
      subject: 'Legacy polling ends soon',
      text: 'Please move to elicitation.',
      deadline: '2027-01-15T00:00:00Z',
      links: { guide: 'https://bridge.example.com/docs/agent-guide' },
    },
    { milestone, owner: { name: 'Bob', contact: 'mailto:bob@example.com' }, agents: ['search-bot'], subject: 'Legacy polling ends soon', text: 'Please move to elicitation.' },
    { milestone, owner: { name: 'Carol', contact: '@carol on chat' }, agents: ['ops-bot'], subject: 'Legacy polling ends soon', text: 'Please move to elicitation.' },
  ];
}

describe('the notifier, with a real Redis, a real SMTP server and a real webhook sink', () => {
  let redis: RedisServerHandle;
  let opened: OpenedEventStore;
  let lease: ControllerLease;
  let webhook: WebhookSink;
  let smtp: SmtpSink;
  const running: Notifier[] = [];

  before(async () => {
    redis = await startRedis();
    opened = await openEventStore({ url: redis.url, name: 'notifier-test', shardCount: 2 });
    lease = (await opened.store.acquireControllerLease('ctl-a', 120_000))!;
    webhook = await startWebhookSink();
    smtp = await startSmtpSink();
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((n) => n.stop()));
  });
  after(async () => {
    await opened.close();
    await webhook.close();
    await smtp.close();
    await redis.cleanup();
  });

  const email = (port = smtp.port, options: Partial<ConstructorParameters<typeof EmailChannel>[0]> = {}) =>
    new EmailChannel({ host: '127.0.0.1', port, secure: false, from: 'Agent Bridge <bridge@example.com>', html: true, timeoutMs: FAST.timeoutMs, ...options });
  const hook = (format: 'json' | 'chat' = 'json') => new WebhookChannel({ url: webhook.url, format, timeoutMs: FAST.timeoutMs, token: () => 'hook-token-1234567890' });

  function notifier(channels: NotificationChannel[], overrides: Partial<NotifierDeps> = {}): { notifier: Notifier; metrics: BridgeMetrics } {
    const metrics = new BridgeMetrics('controller', { defaultMetrics: false });
    const n = new Notifier({ store: opened.store, keys: opened.keys, logger, metrics, channels, leaseValue: () => lease.value, retry: FAST, idleMs: 50, ...overrides });
    running.push(n);
    return { notifier: n, metrics };
  }

  const counts = async (n: Notifier, milestone: string) => (await n.summary(milestone)).milestones[0]?.channels ?? {};
  const metric = async (metrics: BridgeMetrics, channel: string, result: string) =>
    Number(new RegExp(`^agentbridge_notifications_total\\{[^}]*channel="${channel}",result="${result}"[^}]*\\} (\\d+)$`, 'm').exec((await metrics.render()).body)?.[1] ?? NaN);

  test('every owner gets exactly one email and one webhook per milestone, however often the milestone is enqueued, and across a restart', async () => {
    const before = { hooks: webhook.requests.length, mails: smtp.mails.length };
    const first = notifier([hook(), email()]);
    first.notifier.start();
    assert.deepEqual(await first.notifier.enqueue(notices('deprecation:day-5'), lease.value), { queued: 5, already: 0, skipped: 1 }, '3 webhooks and 2 emails queued; Carol has no email address');
    assert.deepEqual(await first.notifier.enqueue(notices('deprecation:day-5'), lease.value), { queued: 0, already: 6, skipped: 0 }, 'enqueued again: nothing new');
    await waitFor(async () => (await counts(first.notifier, 'deprecation:day-5')).email?.sent === 2 && (await counts(first.notifier, 'deprecation:day-5')).webhook?.sent === 3, { description: 'all sent' });
    await first.notifier.stop();

    // A restart: a new Notifier on the same Redis, and the schedule's step runs again.
    const second = notifier([hook(), email()]);
    second.notifier.start();
    assert.deepEqual(await second.notifier.enqueue(notices('deprecation:day-5'), lease.value), { queued: 0, already: 6, skipped: 0 });
    await sleep(400);

    const hooks = webhook.requests.slice(before.hooks);
    const mails = smtp.mails.slice(before.mails);
    assert.deepEqual(hooks.map((r) => (r.body.owner as { name: string }).name).sort(), ['Ada Team', 'Bob', 'Carol'], 'one webhook per owner');
    assert.deepEqual(mails.map((m) => m.to.join(',')).sort(), ['ada@example.com', 'bob@example.com'], 'one email per owner with an address');
    const ada = hooks.find((r) => (r.body.owner as { name: string }).name === 'Ada Team')!;
    assert.equal(ada.headers['content-type'], 'application/json');
    assert.equal(ada.headers.authorization, 'Bearer hook-token-1234567890');
    assert.match(String(ada.headers['idempotency-key']), /^notice-[0-9a-f]{32}$/);
    assert.deepEqual(
      { ...ada.body, idempotencyKey: undefined },
      {
        milestone: 'deprecation:day-5',
        owner: { name: 'Ada Team', contact: 'ada@example.com', team: 'payments' },
        agents: ['pay-bot', 'refund-bot'],
        subject: 'Legacy polling ends soon',
        text: 'Please move to elicitation.',
        deadline: '2027-01-15T00:00:00Z',
        links: { guide: 'https://bridge.example.com/docs/agent-guide' },
        idempotencyKey: undefined,
      },
    );
    assert.equal(ada.body.idempotencyKey, ada.headers['idempotency-key']);
    const adaMail = mails.find((m) => m.to[0] === 'ada@example.com')!;
    assert.equal(adaMail.from, 'bridge@example.com');
    assert.match(adaMail.raw, /^Message-ID: <notice-[0-9a-f]{32}@example\.com>\r?$/im);
    assert.match(adaMail.raw, /^Subject: Legacy polling ends soon\r?$/m);
    assert.match(adaMail.raw, /Agents still on legacy \(2\): pay-bot, refund-bot/);
    assert.match(adaMail.raw, /Content-Type: text\/html/, 'the HTML part is there when configured');

    const summary = (await second.notifier.summary('deprecation:day-5')).milestones[0]!;
    assert.equal(summary.owners, 3);
    assert.deepEqual(summary.channels.email, { pending: 0, sending: 0, sent: 2, skipped: 1, failed: 0 });
    assert.deepEqual(summary.channels.webhook, { pending: 0, sending: 0, sent: 3, skipped: 0, failed: 0 });
    const carol = summary.notices!.find((n) => n.owner === 'Carol')!;
    assert.equal(carol.channels.email!.state, 'skipped');
    assert.match(carol.channels.email!.detail!, /no email contact \("@carol on chat" is not an address\)/);
    assert.equal(await metric(first.metrics, 'email', 'sent'), 2);
    assert.equal(await metric(first.metrics, 'email', 'skipped'), 1);
    const audit = await opened.store.readAudit(50);
    assert.ok(
      audit.some((e) => e.action === 'controller.notification.sent' && (e.details as { channel?: string }).channel === 'email' && (e.details as { sent?: number }).sent === 2),
      'the milestone summary is audited per channel',
    );
  });

  test('a new leader resumes a pending notice and an expired claim of the old one; the old lease can neither record nor claim', async () => {
    const before = webhook.requests.length;
    const old = notifier([hook()]); // never started: it records, and dies before sending
    const milestone = 'deprecation:day-7';
    await old.notifier.enqueue([notices(milestone)[0]!, notices(milestone)[1]!], lease.value);
    await waitFor(async () => /^agentbridge_notifications_pending\{[^}]*channel="webhook"[^}]*\} 2$/m.test((await old.metrics.render()).body), { description: 'the pending gauge at 2' });
    // The old leader had claimed Bob's notice and was sending it when it died.
    const claimed = await opened.store.claimDueNotices('webhook', { now: Date.now(), claimUntil: Date.now() + 300, token: 'old-claim', maxAttempts: 4, limit: 1 }, lease.value);
    assert.equal(claimed.length, 1);

    await redis.client().del(opened.keys.controllerLease());
    const oldLease = lease;
    lease = (await opened.store.acquireControllerLease('ctl-b', 120_000))!;
    assert.notEqual(lease.value, oldLease.value);
    await assert.rejects(old.notifier.enqueue(notices('deprecation:day-8'), oldLease.value), { code: 'LEASE_LOST' });
    await assert.rejects(opened.store.claimDueNotices('webhook', { now: Date.now(), claimUntil: Date.now() + 300, token: 'x', maxAttempts: 4, limit: 5 }, oldLease.value), { code: 'LEASE_LOST' });

    const successor = notifier([hook()]);
    successor.notifier.start();
    await waitFor(async () => (await counts(successor.notifier, milestone)).webhook?.sent === 2, { description: 'both sent by the new leader' });
    const sent = webhook.requests.slice(before);
    assert.equal(sent.length, 2, 'each notice sent once');
    // The old claim's late report is refused: the newer claim decided.
    const late = await opened.store.settleNotice({ milestone, owner: claimed[0]!.owner, channel: 'webhook', token: 'old-claim' }, { result: 'failed' }, 'late', Date.now(), 3600);
    assert.deepEqual(late, { status: 'stale' });
  });

  test('a webhook that answers 500 twice and then 200 is retried with a growing backoff and delivered once', async (t) => {
    const before = webhook.requests.length;
    webhook.failWith = [500, 500];
    const { notifier: n, metrics } = notifier([hook('chat')], { retry: { ...FAST, baseDelayMs: 100, maxDelayMs: 1_000 } });
    n.start();
    const milestone = 'deprecation:day-1';
    await n.enqueue([notices(milestone)[0]!], lease.value);
    await waitFor(async () => (await counts(n, milestone)).webhook?.sent === 1, { description: 'delivered' });
    const requests = webhook.requests.slice(before);
    assert.equal(requests.length, 3);
    assert.equal(new Set(requests.map((r) => r.headers['idempotency-key'])).size, 1, 'every attempt carries the same Idempotency-Key');
    const gaps = [requests[1]!.at - requests[0]!.at, requests[2]!.at - requests[1]!.at];
    t.diagnostic(`retries after ${gaps[0]} ms and ${gaps[1]} ms`);
    // Backoff 100 ms doubling, each delay 50–100 % of it: 50–100 ms, then 100–200 ms.
    assert.ok(gaps[0]! >= 48 && gaps[0]! < 1_000, `first retry after 50–100 ms (got ${gaps[0]})`);
    assert.ok(gaps[1]! >= 98 && gaps[1]! < 1_500, `second retry after 100–200 ms (got ${gaps[1]})`);
    assert.match(
      String(requests[0]!.body.text),
      /^\*Legacy polling ends soon\*\nPlease move to elicitation\.\n\nOwner: Ada Team \(team payments\)\nAgents still on legacy \(2\): pay-bot, refund-bot/,
      'chat format: owner and agents in the text',
    );
    assert.deepEqual(Object.keys(requests[0]!.body), ['text']);
    const view = (await n.summary(milestone)).milestones[0]!.notices![0]!.channels.webhook!;
    assert.equal(view.attempts, 3);
    assert.equal(view.lastError, 'webhook answered 500: sink says no');
    assert.equal(await metric(metrics, 'webhook', 'retried'), 2);
    assert.equal(await metric(metrics, 'webhook', 'sent'), 1);
  });

  test('an SMTP server that is down or hangs: retried, recorded failed after the last attempt, while enqueue and the webhook are not delayed', async (t) => {
    const silent = await startSilentServer();
    const down = await freePort();
    try {
      for (const [name, port] of [
        ['hangs', silent.port],
        ['down', down],
      ] as const) {
        const before = webhook.requests.length;
        const milestone = `smtp-${name}`;
        const { notifier: n, metrics } = notifier([email(port), hook()], { retry: { ...FAST, timeoutMs: 1_000, maxAttempts: 3 } });
        n.start();
        const started = Date.now();
        await n.enqueue([notices(milestone)[0]!], lease.value);
        const enqueueMs = Date.now() - started;
        assert.ok(enqueueMs < 300, `enqueue returns at once (${enqueueMs} ms)`);
        await waitFor(() => webhook.requests.length > before, { description: 'the webhook' });
        const webhookMs = webhook.requests[before]!.at - started;
        t.diagnostic(`SMTP ${name}: enqueue ${enqueueMs} ms, webhook received ${webhookMs} ms after enqueue began (email deadline 1 s)`);
        assert.ok(webhookMs < 700, `the webhook went out in ${webhookMs} ms, not after the email's 1 s deadline`);
        await waitFor(async () => (await counts(n, milestone)).email?.failed === 1, { timeoutMs: 8_000, description: 'email recorded failed' });
        const view = (await n.summary(milestone)).milestones[0]!.notices![0]!.channels.email!;
        assert.equal(view.attempts, 3);
        assert.match(view.lastError!, name === 'hangs' ? /did not complete the send within the deadline|no answer within 1000 ms|timeout/i : /ECONNREFUSED/);
        assert.equal(await metric(metrics, 'email', 'retried'), 2);
        assert.equal(await metric(metrics, 'email', 'failed'), 1);
        await waitFor(async () => (await opened.store.readAudit(100)).some((e) => e.action === 'controller.notification.failed' && (e.details as { milestone?: string }).milestone === milestone), { description: 'the failure audited' });
        await n.stop();
      }
      assert.ok(silent.connections >= 3, 'the hanging server was tried 3 times');
    } finally {
      await silent.close();
    }
  });

  test('a refusal for good (webhook 404, SMTP 550 no such mailbox) is recorded failed after one attempt, not retried', async () => {
    const before = webhook.requests.length;
    webhook.failWith = [404];
    const { notifier: n, metrics } = notifier([hook(), email()]);
    n.start();
    const milestone = 'refused';
    await n.enqueue([{ ...notices(milestone)[0]!, owner: { name: 'Nobody', contact: 'nobody@example.com' } }], lease.value);
    await waitFor(async () => (await counts(n, milestone)).webhook?.failed === 1 && (await counts(n, milestone)).email?.failed === 1, { description: 'both failed' });
    const view = (await n.summary(milestone)).milestones[0]!.notices![0]!.channels;
    assert.equal(view.webhook!.attempts, 1);
    assert.equal(view.webhook!.lastError, 'webhook answered 404: sink says no');
    assert.equal(view.email!.attempts, 1);
    assert.match(view.email!.lastError!, /550.*no such mailbox/);
    assert.equal(webhook.requests.length - before, 1);
    assert.equal(await metric(metrics, 'webhook', 'retried'), 0);
    assert.equal(await metric(metrics, 'email', 'failed'), 1);
  });

  test('with no channel configured, notices are recorded as skipped on "none", visibly', async () => {
    const { notifier: n, metrics } = notifier([]);
    assert.deepEqual(await n.enqueue(notices('no-channel'), lease.value), { queued: 0, already: 0, skipped: 3 });
    const summary = (await n.summary('no-channel')).milestones[0]!;
    assert.deepEqual(summary.channels.none, { pending: 0, sending: 0, sent: 0, skipped: 3, failed: 0 });
    assert.match(summary.notices![0]!.channels.none!.detail!, /no notification channel is configured \(set NOTIFY_WEBHOOK_URL or SMTP_URL\)/);
    assert.equal(await metric(metrics, 'none', 'skipped'), 3);
  });

  test('the ledger is bounded: owners per milestone are capped with a clear error, and the oldest milestones are forgotten', async () => {
    const { notifier: n } = notifier([], { limits: { maxOwners: 2, maxMilestones: 2 } });
    await assert.rejects(n.enqueue(notices('too-many'), lease.value), { name: 'NoticeInputError', message: /milestone too-many has 3 owners to notify, more than the limit of 2 \(NOTIFY_MAX_OWNERS\)/ });
    await n.enqueue(notices('capped').slice(0, 2), lease.value);
    await assert.rejects(n.enqueue(notices('capped').slice(2), lease.value), { message: /milestone capped would notify 3 owners, more than the limit of 2/ });
    await n.enqueue(notices('latest').slice(0, 1), lease.value);
    const kept = (await n.summary()).milestones.map((m) => m.milestone);
    assert.deepEqual(kept, ['capped', 'latest'], 'only the 2 newest milestones are kept');
    assert.equal(await redis.client().exists(opened.keys.notices('no-channel'), opened.keys.noticeCounts('no-channel')), 0, 'a forgotten milestone leaves no keys');
    await assert.rejects(n.enqueue([{ ...notices('x')[0]!, milestone: 'bad milestone' }], lease.value), { message: /notice 0 \(milestone bad milestone, owner Ada Team\): milestone must be 1 to 100 letters/ });
    await assert.rejects(n.enqueue([notices('x')[0]!, notices('x')[0]!], lease.value), { message: /owner "Ada Team" appears twice for milestone x/ });
  });

  test('GET /admin/notifications answers the summary with the admin token only, for every milestone or one', async () => {
    const { notifier: n } = notifier([]);
    const http = await startHttpServer({ host: '127.0.0.1', port: 0, routes: notificationRoutes({ notifier: n, adminToken: 'admin-token-0123456789' }) });
    try {
      const get = (path: string, token?: string) => fetch(`${http.url}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
      assert.equal((await get('/admin/notifications')).status, 401);
      assert.equal((await get('/admin/notifications', 'wrong-token-0123456789')).status, 401);
      const all = (await (await get('/admin/notifications', 'admin-token-0123456789')).json()) as { channels: string[]; milestones: Array<{ milestone: string; notices?: unknown }> };
      assert.deepEqual(all.channels, []);
      assert.ok(all.milestones.length > 0 && all.milestones.every((m) => m.notices === undefined), 'counts only');
      const one = (await (await get(`/admin/notifications?milestone=${encodeURIComponent(all.milestones[0]!.milestone)}`, 'admin-token-0123456789')).json()) as { milestones: Array<{ notices?: unknown[] }> };
      assert.equal(one.milestones.length, 1);
      assert.ok(one.milestones[0]!.notices!.length > 0, 'each owner');
      const bad = await get('/admin/notifications?milestone=no%20spaces', 'admin-token-0123456789');
      assert.equal(bad.status, 400);
      assert.match(((await bad.json()) as { error: { message: string } }).error.message, /milestone must be 1 to 100 letters/);
    } finally {
      await http.close(100);
    }
  });
});
