/**
 * The public progress page of a running bridge, in real headless Chromium (Debian's chromium,
 * driven by playwright-core; nothing is downloaded): it shows the live phase, stage and
 * percentage and the agent still on legacy; the lookup tells each agent's protocol; the feedback
 * form is recorded and moves the metric; the CSP header is there and the page makes no request
 * to another origin. PROGRESS_SCREENSHOT=1 also saves docs/images/progress-page.png (the
 * screenshot in docs/operations.md): `PROGRESS_SCREENSHOT=1 make test-e2e E2E_TESTS=e2e/progress-page.test.ts`.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { freePort, startService, waitFor, waitForValue, type AgentClient, type ServiceHandle } from '@agent-bridge/testkit';
import { poll, sleep, startBridge, waitForPushReady, type Bridge, type ModernAgent } from '@agent-bridge/testkit/bridge';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ADMIN = 'e2e-admin-token-0123456789';
const featureFlags = `apiVersion: agentbridge.io/v1alpha1
kind: FeatureFlags
metadata:
  name: agent-bridge
spec:
  phase: canary
  flags:
    elicitation:
      enabled: true
      agents: [modern-agent]
  rollout:
    stages:
      - { percentage: 10, hold: 1h }
      - { percentage: 50, hold: 1h }
  deprecation:
    start: "2026-01-05T09:00:00Z"
    sunset: "2099-01-19T09:00:00Z"
    steps:
      - { name: day-1, after: 0s, actions: [warnings] }
      - { name: day-7, after: 144h, actions: [final-notice] }
`;

describe('the progress page of a running bridge, in headless Chromium', () => {
  let dir: string;
  let bridge: Bridge;
  let controller: ServiceHandle;
  let controllerUrl: string;
  let pageUrl: string;
  let legacy: AgentClient;
  let modern: ModernAgent;
  let browser: BrowserContext;
  let page: Page;
  const requests: string[] = [];
  const consoleErrors: string[] = [];
  let stopPolling = false;
  let polling: Promise<void> | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'agent-bridge-progress-'));
    bridge = await startBridge({
      agents: ['legacy-agent', 'modern-agent'],
      elicitations: 1,
      env: { USAGE_FLUSH_INTERVAL_MS: '200' },
      owners: { 'legacy-agent': { name: 'Lee Gacy', contact: 'lee@example.com', team: 'billing' }, 'modern-agent': { name: 'Search team', team: 'search' } },
    });
    const [port, progressPort] = [await freePort(), await freePort()];
    controllerUrl = `http://127.0.0.1:${port}`;
    pageUrl = `http://127.0.0.1:${progressPort}/migration/`;
    writeFileSync(join(dir, 'featureflags.yaml'), featureFlags);
    controller = await startService({
      name: 'controller',
      entry: 'services/controller/src/main.ts',
      env: {
        ...bridge.env,
        PORT: String(port),
        PROGRESS_PORT: String(progressPort),
        PROGRESS_SAMPLE_INTERVAL_MS: '1000',
        CONTROLLER_ID: 'ctl-progress',
        FEATURE_FLAGS_FILE: join(dir, 'featureflags.yaml'),
        ADMIN_TOKEN: ADMIN,
        WEBHOOK_TOKEN: 'e2e-webhook-token-0123456789',
        RECONCILE_INTERVAL_MS: '100',
      },
      readyUrl: `${controllerUrl}/readyz`,
    });
    // A legacy agent polling the legacy endpoint, and a modern one holding an elicitation session.
    legacy = await bridge.connect('legacy-agent');
    polling = (async () => {
      while (!stopPolling) await poll(legacy, { timeout_ms: 1_000 }).catch(() => undefined);
    })();
    modern = await bridge.connectModern('modern-agent', { answer: () => ({ action: 'accept', content: { response: 'ok' } }) });
    await waitForPushReady(bridge, 'modern-agent');
    await waitFor(
      async () => {
        const { adoption } = (await (await fetch(`${controllerUrl}/health/status`)).json()) as { adoption: { legacyOnlyAgents: number; elicitationOnlyAgents: number } };
        return adoption.legacyOnlyAgents === 1 && adoption.elicitationOnlyAgents === 1;
      },
      { timeoutMs: 15_000, description: 'the report to count one agent on legacy only and one on elicitation only' },
    );
    await waitFor(
      async () => {
        const inventory = (await (await fetch(`${controllerUrl}/admin/agents`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as { agents: Array<{ agentId: string; protocol: string }> };
        const protocol = (id: string) => inventory.agents.find((agent) => agent.agentId === id)?.protocol;
        return protocol('legacy-agent') === 'legacy' && protocol('modern-agent') === 'elicitation';
      },
      { timeoutMs: 15_000, description: 'the legacy inventory to see the legacy agent on legacy and the modern one on elicitation' },
    );
    // An empty profile of its own (playwright passes it as --user-data-dir).
    browser = await chromium.launchPersistentContext(mkdtempSync(join(dir, 'chromium-')), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1100, height: 900 },
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.on('request', (request) => requests.push(request.url()));
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
  });
  after(async () => {
    stopPolling = true;
    await polling;
    await browser?.close().catch(() => undefined);
    await Promise.all([legacy?.close(), modern?.close()].map((p) => p?.catch(() => undefined)));
    await controller?.stop();
    await bridge?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the page renders the live phase, stage and percentage, and the agent still on legacy; strict CSP, nothing external', async () => {
    const response = await page.goto(pageUrl);
    assert.equal(response?.status(), 200);
    const csp = response!.headers()['content-security-policy'] ?? '';
    assert.match(csp, /^default-src 'none';.*form-action 'self'; frame-ancestors 'none'/);
    assert.equal(response!.headers()['x-content-type-options'], 'nosniff');
    assert.equal(await page.textContent('#phase'), 'canary');
    assert.equal(await page.textContent('#stage'), '1 of 2');
    assert.equal(await page.textContent('#percentage'), '10 %');
    assert.equal(await page.textContent('#adoption-rate'), '50.0 %');
    const rows = page.locator('section[aria-labelledby="teams"] tbody tr');
    assert.equal(await rows.count(), 1);
    const cells = (await rows.first().locator('th, td').allTextContents()).map((cell) => cell.trim());
    assert.deepEqual(cells, ['billing', '1', '0', '1'], "the legacy agent's team, from the agent registry (search has none left on legacy)");
    const text = (await page.textContent('body')) ?? '';
    assert.ok(!text.includes('Lee Gacy') && !text.includes('lee@example.com'), 'owner names and contacts are never shown');
    assert.match((await page.textContent('#sunset')) ?? '', /switched off at 2099-01-19T09:00:00Z/, "the deprecation schedule's sunset");
    assert.deepEqual(
      (await page.locator('ol.steps li').allTextContents()).map((item) => item.trim()),
      ['2026-01-05T09:00:00.000Z — day-1 (done)', '2026-01-11T09:00:00.000Z — day-7 (done)'],
      'the steps of the schedule, as the controller ran them',
    );
    // The stylesheet applied (same origin, allowed by the CSP): the figures are laid out as a grid.
    assert.equal(await page.locator('.figures').evaluate((element) => getComputedStyle(element).display), 'grid');
    const origin = new URL(pageUrl).origin;
    assert.deepEqual(
      requests.filter((url) => !url.startsWith(`${origin}/`)),
      [],
      'no request leaves the page origin',
    );
    assert.deepEqual(consoleErrors, [], 'no CSP violation or other error in the console');
  });

  test('lookup: the legacy agent is told it is on legacy and how to migrate; the modern one that it is on elicitation', async () => {
    await page.goto(pageUrl);
    await page.getByLabel('Agent id', { exact: true }).first().fill('legacy-agent');
    await page.getByRole('button', { name: 'Look up' }).click();
    await page.waitForSelector('#lookup-result');
    assert.match((await page.textContent('#lookup-result')) ?? '', /legacy-agent uses the legacy endpoint/);
    assert.match((await page.textContent('#lookup-result')) ?? '', /Point it at the elicitation endpoint/);
    assert.ok(page.url().startsWith(`${pageUrl}lookup?agent=legacy-agent`), page.url());
    await page.locator('#lookup-agent').fill('modern-agent');
    await page.getByRole('button', { name: 'Look up' }).click();
    await page.waitForSelector('#lookup-result');
    assert.match((await page.textContent('#lookup-result')) ?? '', /modern-agent is on elicitation/);
  });

  test('feedback: the form is recorded, the page thanks the owner, and the metric counts it', async () => {
    const metric = async () => {
      const text = await (await fetch(`${controllerUrl}/metrics`)).text();
      return {
        five: Number(/^agentbridge_owner_feedback_total\{[^}]*score="5"[^}]*\} (\S+)$/m.exec(text)?.[1] ?? 0),
        ratio: /^agentbridge_owner_feedback_positive_ratio\{[^}]*\} (\S+)$/m.exec(text)?.[1],
      };
    };
    assert.deepEqual(await metric(), { five: 0, ratio: '0' }, 'no answer yet (agentbridge_owner_feedback_agents is 0)');
    await page.goto(pageUrl);
    await page.locator('#feedback-agent').fill('legacy-agent');
    await page.getByRole('radio', { name: '5' }).check();
    await page.getByLabel(/Comment/).fill('The guide was clear; switching took an hour.');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.waitForSelector('#feedback-result');
    assert.match((await page.textContent('#feedback-result')) ?? '', /your answer for legacy-agent is recorded/);
    assert.match((await page.textContent('#feedback-summary')) ?? '', /1 answer, 100\.0 % positive/);
    assert.deepEqual(await metric(), { five: 1, ratio: '1' });
    const origin = new URL(pageUrl).origin;
    assert.deepEqual(
      requests.filter((url) => !url.startsWith(`${origin}/`)),
      [],
    );
  });

  test('the adoption chart is drawn from the samples the leader records; screenshot for the docs on request', async () => {
    await waitForValue(
      async () => {
        // A new address each time: the page may be cached for 10 s (Cache-Control), and the chart grows.
        await page.goto(`${pageUrl}?at=${Date.now()}`);
        return (await page.locator('svg.chart polygon').count()) === 3;
      },
      { timeoutMs: 15_000, intervalMs: 1_000, description: 'two adoption samples, drawn' },
    );
    assert.match((await page.locator('svg.chart desc').textContent()) ?? '', / → 50% of 2 active agents; legacy only 50%, both 0% now\./);
    if (process.env.PROGRESS_SCREENSHOT === '1') {
      // A few more samples, so the chart in the docs has a line to read.
      await sleep(8_000);
      await page.goto(`${pageUrl}?at=${Date.now()}`);
      mkdirSync('docs/images', { recursive: true });
      await page.screenshot({ path: 'docs/images/progress-page.png', fullPage: true });
    }
  });
});
