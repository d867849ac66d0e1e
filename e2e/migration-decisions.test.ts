/**
 * Migration decisions on evidence, against a real Prometheus and a real controller: the A/B test
 * over six hours of history (backfilled with promtool: a population with elicitation twice as fast
 * as legacy, and one where both are the same), and the scorecard from a real run of the bridge,
 * whose values must be what Prometheus itself answers.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { AbTestStatus, FeatureFlagsStatus, ScorecardStatus } from '@agent-bridge/flags';
import { freePort, runProgram, startPrometheus, startService, waitFor, waitForValue, type PrometheusHandle, type ServiceHandle } from '@agent-bridge/testkit';
import { receive, startBridge, waitForPushReady, type Bridge, type ModernAgent } from '@agent-bridge/testkit/bridge';
import { backfillPopulations, type GroupTotals } from './ab-backfill.js';

const ADMIN = 'e2e-admin-token-0123456789';
const HOURS = 6;

const abResource = (prometheusUrl: string, name: string, population: string, startAt: string) => `apiVersion: agentbridge.io/v1alpha1
kind: FeatureFlags
metadata:
  name: agent-bridge
spec:
  analysis:
    prometheusUrl: ${prometheusUrl}
  abTest:
    name: ${name}
    startAt: "${startAt}"
    duration: ${HOURS}h
    confidence: 0.95
    minimumImprovement: 0.10
    matchers: population="${population}"
  scorecard:
    interval: 1h
`;

async function statusOf(controllerUrl: string): Promise<FeatureFlagsStatus | null> {
  return ((await (await fetch(`${controllerUrl}/health/status`)).json()) as { status: FeatureFlagsStatus | null }).status;
}

describe('the A/B test from a real Prometheus (six hours of backfilled history)', () => {
  let dir: string;
  let prometheus: PrometheusHandle;
  let bridge: Bridge;
  let controller: ServiceHandle;
  let controllerUrl: string;
  let flagsFile: string;
  let totals: Record<string, Record<'legacy' | 'elicitation', GroupTotals>>;
  let startAt: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'agent-bridge-ab-'));
    const endMs = Date.now() - 120_000;
    startAt = new Date(endMs - HOURS * 3_600_000).toISOString();
    totals = backfillPopulations(
      join(dir, 'prometheus', 'data'),
      [
        { name: 'faster', legacy: { medianSeconds: 0.12, errorRate: 0.002, cpuPerMessage: 0.002 }, elicitation: { medianSeconds: 0.06, errorRate: 0.002, cpuPerMessage: 0.002 } },
        { name: 'same', legacy: { medianSeconds: 0.12, errorRate: 0.002, cpuPerMessage: 0.002 }, elicitation: { medianSeconds: 0.12, errorRate: 0.002, cpuPerMessage: 0.002 } },
      ],
      { endMs, hours: HOURS, stepSeconds: 30, perStep: 10, seed: 20261203 },
    );
    prometheus = await startPrometheus({ targets: {}, dataDir: join(dir, 'prometheus') });
    // The controller needs a store; the bridge's Redis is one (no agents take part here).
    bridge = await startBridge({ agents: ['alice'], elicitations: 0 });
    const port = await freePort();
    controllerUrl = `http://127.0.0.1:${port}`;
    flagsFile = join(dir, 'featureflags.yaml');
    writeFileSync(flagsFile, abResource(prometheus.url, 'faster', 'faster', startAt));
    controller = await startService({
      name: 'controller',
      entry: 'services/controller/src/main.ts',
      env: { ...bridge.env, PORT: String(port), CONTROLLER_ID: 'ctl-ab', FEATURE_FLAGS_FILE: flagsFile, ADMIN_TOKEN: ADMIN, WEBHOOK_TOKEN: 'e2e-webhook-token-0123456789', RECONCILE_INTERVAL_MS: '200' },
      readyUrl: `${controllerUrl}/readyz`,
    });
  });
  after(async () => {
    await controller?.stop();
    await bridge?.stop();
    await prometheus?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const evaluated = (name: string) =>
    waitForValue(
      async () => {
        const ab = (await statusOf(controllerUrl))?.abTest;
        return ab?.name === name && ab.state === 'complete' ? ab : false;
      },
      { timeoutMs: 30_000, description: `the A/B test ${name} evaluated` },
    );

  test('elicitation twice as fast: latency improved, with the built-in improvement inside the interval; the others not worse', async (t) => {
    const ab: AbTestStatus = await evaluated('faster');
    const latency = ab.metrics.find((m) => m.name === 'latency')!;
    for (const m of ab.metrics) t.diagnostic(`${m.name}: improvement ${m.improvement?.toFixed(4)} CI ${m.interval?.map((x) => x.toFixed(4)).join('..')} p ${m.pValue} ${m.verdict}`);
    const truth = totals.faster!;
    const trueImprovement = 1 - truth.elicitation.sum / truth.elicitation.count / (truth.legacy.sum / truth.legacy.count);
    assert.equal(latency.verdict, 'improved', latency.note);
    assert.ok(Math.abs(latency.control.estimate! - truth.legacy.sum / truth.legacy.count) < 0.002, `legacy mean ${latency.control.estimate} vs ${truth.legacy.sum / truth.legacy.count}`);
    assert.ok(Math.abs(latency.improvement! - trueImprovement) < 0.01, `estimate ${latency.improvement} vs built-in ${trueImprovement}`);
    assert.ok(latency.interval![0] <= trueImprovement && trueImprovement <= latency.interval![1], `interval ${latency.interval} holds ${trueImprovement}`);
    assert.ok(latency.interval![0] > 0.4 && latency.interval![1] < 0.6, `the interval is tight around one half: ${latency.interval}`);
    assert.ok(latency.pValue !== null && latency.pValue < 0.05);
    assert.ok(Math.abs(latency.control.n - truth.legacy.count) <= 2, `n ${latency.control.n} vs ${truth.legacy.count}`);
    for (const name of ['success-rate', 'cost'] as const) {
      const metric = ab.metrics.find((m) => m.name === name)!;
      assert.notEqual(metric.verdict, 'worse', `${name}: ${metric.note}`);
      assert.notEqual(metric.verdict, 'not-enough-data', `${name}: ${metric.note}`);
    }
    assert.equal(ab.verdict, 'improved', ab.note);
    assert.equal(ab.windowSeconds, HOURS * 3600);
    const metrics = await (await fetch(`${controllerUrl}/metrics`)).text();
    assert.match(metrics, /^agentbridge_ab_verdict\{[^}]*metric="overall"[^}]*verdict="improved"[^}]*\} 1$/m);
    const lower = /^agentbridge_ab_improvement_ratio\{[^}]*metric="latency"[^}]*bound="lower"[^}]*\} (\S+)$/m.exec(metrics);
    assert.equal(Number(lower?.[1]), latency.interval![0]);
  });

  test('the same distributions on both sides: not significant, the interval around zero', async () => {
    writeFileSync(flagsFile, abResource(prometheus.url, 'same', 'same', startAt));
    const ab = await evaluated('same');
    const latency = ab.metrics.find((m) => m.name === 'latency')!;
    assert.equal(latency.verdict, 'not-significant', latency.note);
    assert.ok(latency.interval![0] < 0 && latency.interval![1] > 0, `interval ${latency.interval} holds 0`);
    assert.ok(latency.pValue! > 0.05);
    assert.equal(ab.verdict, 'not-significant', ab.note);
  });

  test('bridgectl ab prints the table and the same document as JSON', async () => {
    const env = { BRIDGECTL_CONTROLLER_URL: controllerUrl };
    const table = await runProgram('tools/bridgectl/src/main.ts', ['ab'], env);
    assert.equal(table.code, 0, table.err);
    assert.match(table.out, /verdict\s+NOT-SIGNIFICANT/);
    assert.match(table.out, /latency\s+improve ≥ 10%/);
    const json = await runProgram('tools/bridgectl/src/main.ts', ['ab', '--json'], env);
    assert.deepEqual(JSON.parse(json.out), (await statusOf(controllerUrl))?.abTest);
  });
});

describe('the scorecard from a real run: its values are what Prometheus answers', () => {
  let dir: string;
  let bridge: Bridge;
  let prometheus: PrometheusHandle;
  let controller: ServiceHandle;
  let controllerUrl: string;
  let modern: ModernAgent;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'agent-bridge-scorecard-'));
    bridge = await startBridge({ agents: ['alice', 'modern'], elicitations: 1 });
    const port = await freePort();
    controllerUrl = `http://127.0.0.1:${port}`;
    const prometheusPort = await freePort();
    const flagsFile = join(dir, 'featureflags.yaml');
    writeFileSync(
      flagsFile,
      `apiVersion: agentbridge.io/v1alpha1
kind: FeatureFlags
metadata:
  name: agent-bridge
spec:
  phase: canary
  flags:
    elicitation:
      enabled: true
      agents: [modern]
  analysis:
    prometheusUrl: http://127.0.0.1:${prometheusPort}
  scorecard:
    interval: 10s
  attestations:
    - criterion: staging-tests
      by: alice@example.com
      at: "2026-11-13T16:00:00Z"
      evidence: https://ci.example.com/agent-bridge/staging/412
`,
    );
    controller = await startService({
      name: 'controller',
      entry: 'services/controller/src/main.ts',
      env: {
        ...bridge.env,
        PORT: String(port),
        CONTROLLER_ID: 'ctl-scorecard',
        FEATURE_FLAGS_FILE: flagsFile,
        ADMIN_TOKEN: ADMIN,
        WEBHOOK_TOKEN: 'e2e-webhook-token-0123456789',
        RECONCILE_INTERVAL_MS: '200',
        ACTIVE_AGENT_WINDOW_MS: '60000',
      },
      readyUrl: `${controllerUrl}/readyz`,
    });
    prometheus = await startPrometheus({
      port: prometheusPort,
      targets: { router: bridge.routerUrls, 'legacy-poll': bridge.legacyUrls.map((url) => new URL(url).origin), elicitation: bridge.elicitationBaseUrls, controller: [controllerUrl] },
      scrapeIntervalMs: 1_000,
    });
    modern = await bridge.connectModern('modern', { answer: () => ({ action: 'accept', content: { response: 'ok' } }) });
    await waitForPushReady(bridge, 'modern');
    // Scraped before the traffic, so increase() sees it.
    await waitFor(async () => (await prometheus.query('up == 1')).length === 4, { timeoutMs: 20_000, intervalMs: 250, description: 'Prometheus to scrape all four services' });
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  });
  after(async () => {
    await modern?.close().catch(() => undefined);
    await controller?.stop();
    await prometheus?.stop();
    await bridge?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('after legacy and elicitation traffic, each measured criterion equals the same query run on Prometheus at the same time', async () => {
    const alice = await bridge.connect('alice');
    for (let i = 0; i < 10; i++) {
      await alice.callToolJson('send_message', { to: 'modern', content: `push ${i}` });
      await alice.callToolJson('send_message', { to: 'alice', content: `poll ${i}` });
    }
    // Its own ten, and modern's ten answers.
    assert.equal((await receive(alice, 20, 15_000)).messages.length, 20);
    // Two scrapes after the traffic, then a scorecard evaluated after them.
    const since = Date.now() + 3_000;
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const card: ScorecardStatus = await waitForValue(
      async () => {
        const c = (await statusOf(controllerUrl))?.scorecard;
        return c && Date.parse(c.evaluatedAt) >= since ? c : false;
      },
      { timeoutMs: 30_000, description: 'a scorecard evaluated after the traffic' },
    );
    await alice.close();
    const at = String(Date.parse(card.evaluatedAt) / 1000);
    const ask = async (expr: string) => {
      const data = await prometheus.api<{ result: Array<{ value: [number, string] }> }>('query', { query: expr, time: at });
      return data.result[0] ? Number(data.result[0].value[1]) : null;
    };
    const value = (id: string) => card.criteria.find((c) => c.id === id)!;
    // The same quantities, written out here independently of the controller's code.
    const delivered = await ask('sum(increase(agentbridge_messages_delivered_total[24h])) / sum(increase(agentbridge_messages_sent_total[24h]))');
    assert.ok(delivered !== null && delivered > 0.9, `delivery ratio ${delivered}`);
    assert.equal(value('week4-delivery').value, delivered);
    assert.equal(value('week4-delivery').result, delivered > 0.999 ? 'pass' : 'fail');
    const errorRate = await ask(
      'sum(increase(agentbridge_errors_total{protocol="elicitation"}[24h])) / (sum(increase(agentbridge_messages_delivered_total{protocol="elicitation"}[24h])) + sum(increase(agentbridge_errors_total{protocol="elicitation"}[24h])))',
    );
    assert.equal(value('week4-error-rate').value, errorRate);
    assert.equal(value('canary-zero-loss').value, await ask('sum(max_over_time(agentbridge_messages_unaccounted[24h]))'));
    assert.equal(value('canary-zero-loss').value, 0);
    assert.equal(value('canary-zero-loss').result, 'pass');
    const legacyNow = await ask('sum(agentbridge_active_agents_by_protocol{protocol="legacy"})');
    assert.equal(value('all-agents-on-elicitation').value, legacyNow);
    assert.equal(value('all-agents-on-elicitation').result, legacyNow === 0 ? 'pass' : 'fail');
    const p99 = await ask('histogram_quantile(0.99, sum by (le) (increase(agentbridge_delivery_latency_seconds_bucket{protocol="elicitation"}[24h])))');
    assert.equal(value('week4-latency-p99').value, p99);
    assert.equal(value('staging-tests').result, 'pass');
    assert.equal(value('staging-tests').attestation?.evidence, 'https://ci.example.com/agent-bridge/staging/412');
    assert.equal(value('final-readiness-review').result, 'pending');
    assert.equal(value('ab-improvement').result, 'pending', 'no A/B test described');
    assert.deepEqual(card.summary, { pass: card.criteria.filter((c) => c.result === 'pass').length, fail: card.criteria.filter((c) => c.result === 'fail').length, pending: card.criteria.filter((c) => c.result === 'pending').length });
    // The dashboard's series.
    const metrics = await (await fetch(`${controllerUrl}/metrics`)).text();
    assert.match(metrics, /^agentbridge_scorecard_result\{[^}]*criterion="staging-tests"[^}]*\} 1$/m);
    assert.match(metrics, /^agentbridge_scorecard_result\{[^}]*criterion="final-readiness-review"[^}]*\} 0$/m);
  });
});
