import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { openEventStore, type AdoptionSample, type OpenedEventStore } from '@agent-bridge/event-store';
import { BridgeMetrics, createLogger } from '@agent-bridge/observability';
import { startHttpServer, type HttpServerHandle } from '@agent-bridge/service-kit';
import { startRedis, type RedisServerHandle } from '@agent-bridge/testkit';
import { loadControllerConfig } from '../config.js';
import { adoptionChart } from './chart.js';
import { escapeHtml, html } from './html.js';
import { renderPage } from './page.js';
import { ClientRateLimiter } from './rate-limit.js';
import { CONTENT_SECURITY_POLICY, progressRoutes, type ProgressRoutesOptions } from './routes.js';
import { sampleOf } from './sampler.js';
import { progressPort } from './settings.js';
import type { ProgressInventory, ProgressSource } from './source.js';
import { progressView } from './view.js';

const NO_FEEDBACK = { byScore: { 1: 0, 2: 0, 3: 0, 4: 0, 5: 0 }, total: 0 };
const PAGE_OPTIONS = { lookup: true, feedback: true, commentMaxLength: 50 };

const inventory = (agents: ProgressInventory['agents'], byTeam: ProgressInventory['byTeam'] = []): ProgressInventory => ({ generatedAt: new Date().toISOString(), windowMs: 300_000, agents, byTeam });
const sample = (minute: number, elicitationOnly: number): AdoptionSample => ({ at: new Date(Date.UTC(2026, 11, 3, 12, minute)).toISOString(), active: 4, elicitationOnly, legacyOnly: 4 - elicitationOnly, both: 0 });

describe('progress page: rendering', () => {
  test('everything taken from the report, the inventory or the visitor is HTML-escaped', () => {
    const hostile = '"><script>alert(1)</script><img src=x onerror=alert(2)>';
    const report = {
      status: {
        phase: hostile,
        stage: 1,
        effectivePercentage: 10,
        history: [{ at: '2026-12-01T10:00:00.000Z', action: 'rollback', actor: 'x', reason: hostile, details: { level: 'partial' } }],
        deprecation: { sunset: hostile, steps: [{ name: hostile, dueAt: hostile, state: 'pending' }] },
      },
    };
    const view = progressView(report, inventory([], [{ team: hostile, legacy: 1, elicitation: 0, both: 0, none: 0, total: 1 }]), [], NO_FEEDBACK, Date.now());
    const page = renderPage(view, PAGE_OPTIONS, { lookup: { agentId: hostile, protocol: 'legacy' }, feedback: { error: hostile } });
    assert.doesNotMatch(page, /<script|<img|onerror=alert\(2\)>/);
    assert.ok(page.includes(escapeHtml(hostile)), 'shown, escaped');
    assert.equal(String(html`<p title="${'a"b'}">${"<'&>"}</p>`), '<p title="a&quot;b">&lt;&#39;&amp;&gt;</p>');
  });

  test('a report without status, plan or adoption renders with "unknown" and "No deadline set."; no style attribute or script anywhere', () => {
    const page = renderPage(progressView({}, inventory([]), [], NO_FEEDBACK, Date.now()), PAGE_OPTIONS);
    assert.match(page, /<dd id="phase">unknown<\/dd>/);
    assert.match(page, /No deadline set\./);
    assert.match(page, /No rollback so far\./);
    assert.match(page, /No active agent uses the legacy endpoint\./);
    assert.doesNotMatch(page, /style=|<script|https?:\/\/(?!www\.w3\.org)/, 'no inline style, script or external URL');
  });

  test('the page shows phase, stage, percentage, the sunset, rollbacks (history and lastRollback, newest first) and teams still on legacy', () => {
    const report = {
      plan: { phase: 'rollout', stages: [{}, {}, {}] },
      status: {
        phase: 'rollout',
        stage: 2,
        effectivePercentage: 50,
        history: [
          { at: '2026-12-01T10:00:00.000Z', action: 'rollback', actor: 'alertmanager', reason: 'HighErrorRate fired', details: { level: 'partial' } },
          { at: '2026-12-01T11:00:00.000Z', action: 'resume', actor: 'ops', reason: 'fixed' },
        ],
        lastRollback: { level: 'full', trigger: 'admin', reason: 'manual emergency', at: '2026-12-02T09:00:00.000Z' },
        deprecation: {
          sunset: '2026-12-24T00:00:00.000Z',
          steps: [
            { name: 'warnings', actions: ['warnings'], dueAt: '2026-12-10T00:00:00.000Z', state: 'done', executedAt: '2026-12-10T00:00:01.000Z' },
            { name: 'final-notice', actions: ['final-notice'], dueAt: '2026-12-16T00:00:00.000Z', state: 'pending' },
          ],
        },
      },
      adoption: { windowMs: 300_000, activeAgents: 4, elicitationOnlyAgents: 2, legacyOnlyAgents: 1, bothAgents: 1, rate: 0.5 },
    };
    const teams = [
      { team: 'search', legacy: 1, elicitation: 2, both: 0, none: 0, total: 3 },
      { team: 'billing', legacy: 0, elicitation: 1, both: 0, none: 0, total: 1 },
      { team: 'ads', legacy: 2, elicitation: 0, both: 1, none: 0, total: 3 },
    ];
    const page = renderPage(progressView(report, inventory([], teams), [sample(0, 1), sample(5, 2)], NO_FEEDBACK, Date.now()), PAGE_OPTIONS);
    assert.match(page, /<dd id="phase">rollout<\/dd>/);
    assert.match(page, /<dd id="stage">2 of 3<\/dd>/);
    assert.match(page, /<dd id="percentage">50 %<\/dd>/);
    assert.match(page, /<dd id="adoption-rate">50\.0 %<\/dd>/);
    assert.match(page, /switched off at <time datetime="2026-12-24T00:00:00.000Z">/);
    assert.match(page, /warnings \(done\)/);
    assert.ok(page.indexOf('manual emergency') < page.indexOf('HighErrorRate fired'), 'newest rollback first');
    assert.match(page, /full rollback \(admin\): manual emergency/);
    assert.ok(page.indexOf('>ads<') < page.indexOf('>search<'), 'most agents on legacy first');
    assert.doesNotMatch(page, />billing</, 'a team with no agent on legacy is not listed');
  });

  test('the adoption chart: a sentence below two samples, else an SVG with a title and a text summary', () => {
    assert.match(String(adoptionChart([sample(0, 1)])), /Not enough samples yet/);
    assert.match(String(adoptionChart([{ ...sample(0, 0), active: 0 }, sample(5, 1)])), /Not enough samples yet/, 'a sample without active agents is not drawn');
    const svg = String(adoptionChart([sample(0, 1), sample(5, 2), sample(10, 4)]));
    assert.match(svg, /<svg class="chart"[^>]*role="img"/);
    assert.match(svg, /<title id="chart-title">/);
    assert.match(svg, /elicitation only 25% → 100% of 4 active agents/);
    assert.equal((svg.match(/<polygon /g) ?? []).length, 3);
  });

  test('a sample is taken from the report adoption figures, and none without them', () => {
    assert.deepEqual(sampleOf({ adoption: { activeAgents: 3, elicitationOnlyAgents: 1, legacyOnlyAgents: 1, bothAgents: 1 } }, Date.UTC(2026, 0, 1)), {
      at: '2026-01-01T00:00:00.000Z',
      active: 3,
      elicitationOnly: 1,
      legacyOnly: 1,
      both: 1,
    });
    assert.equal(sampleOf({}, Date.now()), undefined);
  });
});

describe('progress page: rate limits', () => {
  test('a client gets `perMinute` requests in a burst, then waits; the bucket refills with time', () => {
    let now = 0;
    const limiter = new ClientRateLimiter(2, 100, () => now);
    assert.equal(limiter.take('a'), 0);
    assert.equal(limiter.take('a'), 0);
    assert.equal(limiter.take('a'), 30_000, 'one request every 30 s at 2 a minute');
    assert.equal(limiter.take('b'), 0, 'another client has its own bucket');
    now += 30_000;
    assert.equal(limiter.take('a'), 0);
  });

  test('the map of clients is bounded: the least recently seen is forgotten', () => {
    const limiter = new ClientRateLimiter(1, 3, () => 0);
    for (const client of ['a', 'b', 'c', 'd', 'e']) limiter.take(client);
    assert.equal(limiter.size, 3);
  });
});

describe('progress page: HTTP (real Redis store)', () => {
  let redis: RedisServerHandle;
  let opened: OpenedEventStore;
  let server: HttpServerHandle | undefined;
  let metrics: BridgeMetrics;
  const report = { status: { phase: 'canary', stage: 1, effectivePercentage: 5 }, adoption: { windowMs: 300_000, activeAgents: 2, elicitationOnlyAgents: 1, legacyOnlyAgents: 1, bothAgents: 0, rate: 0.5 } };
  const agents = inventory([
    { agentId: 'old-timer', protocol: 'legacy', lastSeenAt: new Date().toISOString() },
    { agentId: 'modern-1', protocol: 'elicitation', lastSeenAt: new Date().toISOString() },
  ]);

  before(async () => {
    redis = await startRedis();
    opened = await openEventStore({ url: redis.url, name: 'progress-http', shardCount: 2 });
  });
  after(async () => {
    await server?.close(100);
    await opened.close();
    await redis.cleanup();
  });
  beforeEach(async () => {
    await server?.close(100);
    server = undefined;
    await redis.client().flushall();
  });

  async function serve(overrides: Partial<ProgressRoutesOptions> = {}): Promise<string> {
    metrics = new BridgeMetrics('controller', { defaultMetrics: false });
    const source: ProgressSource = { report: async () => report, inventory: async () => agents, isLeader: () => true, store: opened.store };
    const options: ProgressRoutesOptions = { basePath: '/migration', lookup: true, feedback: true, commentMaxLength: 50, ratePerMinute: 100, trustedProxyHops: 0, feedbackMaxAgents: 100, chartWindowMs: 86_400_000, ...overrides };
    server = await startHttpServer({ host: '127.0.0.1', port: 0, routes: progressRoutes(source, options, metrics, createLogger('controller', 'silent')) });
    return `${server.url}/migration`;
  }
  const post = (url: string, body: string, headers: Record<string, string> = {}) =>
    fetch(url, { method: 'POST', body, redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(url).origin, ...headers } });

  test('the page is served under the base path with a strict CSP and the security headers; the bare base path redirects to it', async () => {
    const base = await serve();
    const response = await fetch(`${base}/`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-security-policy'), CONTENT_SECURITY_POLICY);
    assert.match(CONTENT_SECURITY_POLICY, /default-src 'none'.*form-action 'self'; frame-ancestors 'none'/);
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(response.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(response.headers.get('cache-control'), 'public, max-age=10');
    const page = await response.text();
    assert.match(page, /<dd id="phase">canary<\/dd>/);
    assert.match(page, /href="style\.css"/, 'relative: works under any prefix');
    assert.match(page, /action="lookup#lookup"/);
    const css = await fetch(`${base}/style.css`);
    assert.equal(css.headers.get('content-type'), 'text/css; charset=utf-8');
    const bare = await fetch(base, { redirect: 'manual' });
    assert.equal(bare.status, 308);
    assert.equal(bare.headers.get('location'), '/migration/');
    assert.equal((await fetch(`${base}/admin/rollback`, { method: 'POST' })).status, 404, 'no admin API on this listener');
  });

  test('lookup: the protocol and next steps of a known agent, "not seen" for an unknown one, a clear 400 for a malformed id', async () => {
    const base = await serve();
    const legacy = await (await fetch(`${base}/lookup?agent=old-timer`)).text();
    assert.match(legacy, /<code>old-timer<\/code> uses the <strong>legacy<\/strong> endpoint/);
    assert.match(legacy, /Point it at the elicitation endpoint/);
    assert.match(await (await fetch(`${base}/lookup?agent=modern-1`)).text(), /is on <strong>elicitation<\/strong>/);
    assert.match(await (await fetch(`${base}/lookup?agent=ghost`)).text(), /<strong>not seen<\/strong>/);
    const bad = await fetch(`${base}/lookup?agent=${encodeURIComponent('../etc<b>')}`);
    assert.equal(bad.status, 400);
    const text = await bad.text();
    assert.match(text, /an agent id is 1 to 128 letters/);
    assert.doesNotMatch(text, /<b>/);
  });

  test('lookups are rate-limited per client (429 with Retry-After); behind trusted proxies the client is the X-Forwarded-For hop', async () => {
    const base = await serve({ ratePerMinute: 2, trustedProxyHops: 1 });
    const as = (ip: string) => fetch(`${base}/lookup?agent=old-timer`, { headers: { 'x-forwarded-for': `203.0.113.9, ${ip}` } });
    assert.equal((await as('198.51.100.1')).status, 200);
    assert.equal((await as('198.51.100.1')).status, 200);
    const third = await as('198.51.100.1');
    assert.equal(third.status, 429);
    assert.equal(third.headers.get('retry-after'), '30');
    assert.match(await third.text(), /too many requests from your address: wait 30 s/);
    assert.equal((await as('198.51.100.2')).status, 200, 'another client');
    assert.match(await metrics.registry.metrics(), /agentbridge_progress_requests_refused_total\{[^}]*reason="rate"[^}]*\} 1/);
  });

  test('feedback from the page is recorded (303 back to the page), counted by score and in the positive ratio', async () => {
    const base = await serve();
    const response = await post(`${base}/feedback`, 'agent=old-timer&score=4&comment=smooth');
    assert.equal(response.status, 303);
    assert.equal(response.headers.get('location'), './?feedback=recorded&agent=old-timer#feedback');
    assert.deepEqual(
      (await opened.store.readOwnerFeedback(10)).map(({ agentId, score, comment }) => ({ agentId, score, comment })),
      [{ agentId: 'old-timer', score: 4, comment: 'smooth' }],
    );
    await post(`${base}/feedback`, 'agent=modern-1&score=2', { 'sec-fetch-site': 'same-origin' });
    const text = await metrics.registry.metrics();
    assert.match(text, /agentbridge_owner_feedback_total\{[^}]*score="4"[^}]*\} 1/);
    assert.match(text, /agentbridge_owner_feedback_positive_ratio\{[^}]*\} 0\.5/);
    assert.match(text, /agentbridge_owner_feedback_agents\{[^}]*\} 2/);
    const thanks = await (await fetch(`${base}/?feedback=recorded&agent=old-timer`)).text();
    assert.match(thanks, /your answer for <code>old-timer<\/code> is recorded/);
    assert.match(thanks, /2 answers, 50\.0 % positive/);
  });

  test('feedback refused: another site or no Origin (403), a bad score, an unknown agent, a long comment (400), a large body (413), wrong type (415); nothing stored', async () => {
    const base = await serve();
    assert.equal((await post(`${base}/feedback`, 'agent=old-timer&score=5', { origin: 'https://evil.example' })).status, 403);
    assert.equal((await post(`${base}/feedback`, 'agent=old-timer&score=5', { 'sec-fetch-site': 'cross-site' })).status, 403);
    assert.equal((await fetch(`${base}/feedback`, { method: 'POST', body: 'agent=old-timer&score=5', headers: { 'content-type': 'application/x-www-form-urlencoded' } })).status, 403, 'no Origin');
    const score = await post(`${base}/feedback`, 'agent=old-timer&score=7');
    assert.equal(score.status, 400);
    assert.match(await score.text(), /choose a satisfaction score from 1 to 5/);
    const unknown = await post(`${base}/feedback`, 'agent=ghost&score=5');
    assert.equal(unknown.status, 400);
    assert.match(await unknown.text(), /no agent ghost is known here/);
    const long = await post(`${base}/feedback`, `agent=old-timer&score=5&comment=${'x'.repeat(51)}`);
    assert.equal(long.status, 400);
    assert.match(await long.text(), /longer than 50 characters/);
    const control = await post(`${base}/feedback`, `agent=old-timer&score=5&comment=${encodeURIComponent('bell\u0007')}`);
    assert.equal(control.status, 400);
    assert.match(await control.text(), /control characters/);
    assert.equal((await post(`${base}/feedback`, `agent=old-timer&score=5&comment=${'x'.repeat(10_000)}`)).status, 413);
    assert.equal((await post(`${base}/feedback`, '{}', { 'content-type': 'application/json' })).status, 415);
    assert.equal((await fetch(`${base}/feedback`)).status, 405);
    assert.equal((await opened.store.ownerFeedbackSummary()).total, 0);
  });

  test('a store that does not answer: 503 with a sentence and Retry-After, not a stack trace', async () => {
    metrics = new BridgeMetrics('controller', { defaultMetrics: false });
    const failing: ProgressSource = { report: async () => report, inventory: async () => agents, isLeader: () => true, store: { ...opened.store, readAdoptionSamples: async () => Promise.reject(new Error('STORE_UNAVAILABLE')) } };
    server = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      routes: progressRoutes(
        failing,
        { basePath: '', lookup: true, feedback: true, commentMaxLength: 50, ratePerMinute: 100, trustedProxyHops: 0, feedbackMaxAgents: 100, chartWindowMs: 1000 },
        metrics,
        createLogger('controller', 'silent'),
      ),
    });
    const response = await fetch(`${server.url}/`);
    assert.equal(response.status, 503);
    assert.equal(response.headers.get('retry-after'), '30');
    assert.match(await response.text(), /cannot be read right now/);
  });

  test('with a token, every address needs it (Basic password or Bearer); lookup and feedback can be turned off', async () => {
    const base = await serve({ token: 'progress-token-0123456789', lookup: false, feedback: false });
    const anonymous = await fetch(`${base}/`);
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Basic realm="migration progress"/);
    assert.equal((await fetch(`${base}/style.css`)).status, 401);
    const basic = await fetch(`${base}/`, { headers: { authorization: `Basic ${Buffer.from('owner:progress-token-0123456789').toString('base64')}` } });
    assert.equal(basic.status, 200);
    assert.equal(basic.headers.get('cache-control'), 'private, max-age=10');
    const page = await basic.text();
    assert.doesNotMatch(page, /Look up your agent|How did the migration go/);
    const bearer = { authorization: 'Bearer progress-token-0123456789' };
    assert.equal((await fetch(`${base}/lookup?agent=old-timer`, { headers: bearer })).status, 404);
    assert.equal((await post(`${base}/feedback`, 'agent=old-timer&score=5', bearer)).status, 404);
  });
});

describe('progress page: settings', () => {
  const base = { FEATURE_FLAGS_FILE: '/tmp/featureflags.yaml', ADMIN_TOKEN: 'admin-token-0123456789', WEBHOOK_TOKEN: 'webhook-token-0123456789' };

  test('defaults: on, port 8705 (any free port when PORT is 0), under /migration; "/" is the root and a trailing slash is dropped', () => {
    const config = loadControllerConfig({ ...base, PORT: '8704' });
    assert.equal(config.PROGRESS_ENABLED, true);
    assert.equal(progressPort(config), 8705);
    assert.equal(config.PROGRESS_BASE_PATH, '/migration');
    assert.equal(progressPort(loadControllerConfig({ ...base, PORT: '0' })), 0);
    assert.equal(loadControllerConfig({ ...base, PROGRESS_BASE_PATH: '/' }).PROGRESS_BASE_PATH, '');
    assert.equal(loadControllerConfig({ ...base, PROGRESS_BASE_PATH: '/status/migration/' }).PROGRESS_BASE_PATH, '/status/migration');
  });

  test('a bad path, the admin port, a short token or a non-http guide URL stop the controller with a sentence naming the setting', () => {
    assert.throws(() => loadControllerConfig({ ...base, PROGRESS_BASE_PATH: 'migration' }), /PROGRESS_BASE_PATH must be "\/" or a path such as \/migration/);
    assert.throws(() => loadControllerConfig({ ...base, PORT: '8704', PROGRESS_PORT: '8704' }), /PROGRESS_PORT must differ from the controller's admin port \(8704\): the public page has a listener of its own/);
    assert.throws(() => loadControllerConfig({ ...base, PORT: '8705' }), /PROGRESS_PORT must differ from the controller's admin port \(8705\)/, 'the default page port is taken by PORT');
    assert.doesNotThrow(() => loadControllerConfig({ ...base, PORT: '8705', PROGRESS_ENABLED: 'false' }));
    assert.throws(() => loadControllerConfig({ ...base, PROGRESS_TOKEN: 'short' }), /PROGRESS_TOKEN must be at least 16 characters \(got 5 characters, value hidden\)/);
    assert.throws(() => loadControllerConfig({ ...base, PROGRESS_MIGRATION_GUIDE_URL: 'javascript:alert(1)' }), /PROGRESS_MIGRATION_GUIDE_URL must be an http\(s\) url/);
  });
});
