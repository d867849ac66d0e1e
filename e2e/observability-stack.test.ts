import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readPublishedFlags } from '@agent-bridge/flags';
import { ToolCallError, freePort, startAlertmanager, startPrometheus, startService, waitFor, type AlertmanagerHandle, type PrometheusHandle, type PrometheusSample, type ServiceHandle } from '@agent-bridge/testkit';
import { dashboardQueries, loadDashboards, poll, receive, resolveVariables, RULES_FILE, startBridge, vectorSelectors, waitForLedger, waitForPushReady, type Bridge } from '@agent-bridge/testkit/bridge';

const ALERTS = [
  'ElicitationErrorSpike',
  'MessageLossDetected',
  'ProtocolAdapterFailure',
  'ElicitationLatencyP99High',
  'ElicitationLatencyDegraded',
  'HighLegacyUsage',
  'ElicitationErrorRateIncreasing',
  'ElicitationLatencyP95Increasing',
  'RollbackDrillFailed',
  'RollbackDrillOverdue',
  'EnvelopeChecksumMismatch',
  'LoadShedding',
];
const ADMIN = 'e2e-admin-token-0123456789';
const WEBHOOK = 'e2e-webhook-token-0123456789';

/**
 * The controller's plan: the flags the bridge starts with, a rollout of three stages (0, 5 and 9 %:
 * alice, bob and sleepy hash above 9, so they stay on legacy) that a partial rollback (4 points)
 * takes from stage 3 back to stage 2, an A/B test and a scorecard evaluated
 * every 10 s from this Prometheus, the default health check, and a drill agent (its first scheduled
 * drill runs at once). The A/B window began 45 s before the controller started and needs one sample
 * per group, so the verdicts come from the test's traffic; cost is compared over one-minute steps
 * from the window's start, the first of which ends soon after the first exchange.
 */
const featureFlags = (prometheusUrl: string) => `apiVersion: agentbridge.io/v1alpha1
kind: FeatureFlags
metadata:
  name: agent-bridge
spec:
  phase: rollout
  flags:
    elicitation:
      enabled: true
      agents: [modern, silent, drill]
    compatibility:
      autoFallback: true
      elicitationTimeoutMs: 1000
  rollout:
    stages:
      - { percentage: 0, hold: 1h }
      - { percentage: 5, hold: 1h }
      - { percentage: 9, hold: 1h }
  analysis:
    prometheusUrl: ${prometheusUrl}
  rollback:
    partialStep: 4
    alerts:
      - { alertName: ElicitationErrorSpike, level: partial }
    drill: { agent: drill, interval: 1h }
  abTest:
    startAt: ${new Date(Date.now() - 45_000).toISOString().replace(/\.\d+Z$/, 'Z')}
    duration: 1h
    interval: 10s
    minSamples: 1
  scorecard:
    interval: 10s
`;

/** A sample with a number (histogram_quantile over no observations gives NaN: not data). */
const hasData = (samples: PrometheusSample[]) => samples.some((s) => !Number.isNaN(Number(s.value[1])));

/**
 * The dashboards and alert rules against a real Prometheus scraping a running bridge (one router,
 * one legacy-poll, one elicitation replica, the controller) after traffic that gives every series a
 * reason to exist: legacy and modern agents exchanging messages, a push that times out, a message
 * that cannot be rendered as an elicitation, a message nobody reads (the loss auditor counts it, so
 * MessageLossDetected fires), a Redis outage (legacy errors, reconnections), and the controller
 * running its plan: a scheduled drill, a stage promoted, an alert notification that rolls back (its
 * effect measured), the A/B test (exchanges go on until it has measured cost, about a minute) and
 * the scorecard evaluated.
 */
describe('the observability stack: dashboards and alert rules against a real Prometheus', () => {
  let bridge: Bridge;
  let alertmanager: AlertmanagerHandle;
  let prometheus: PrometheusHandle;
  let controller: ServiceHandle | undefined;
  let controllerUrl: string;
  let dir: string;
  const clients: Array<{ close(): Promise<void> }> = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'agent-bridge-stack-'));
    const alertmanagerStarting = startAlertmanager({ groupWaitMs: 200 });
    bridge = await startBridge({
      agents: ['alice', 'bob', 'sleepy', 'modern', 'silent'],
      routers: 1,
      legacyPolls: 1,
      elicitations: 1,
      // Audit (unaccounted, active agents, backlog) twice a second; a message unread for 2 s counts as unaccounted.
      // The inventory's counts (its panels) are written every USAGE_FLUSH_INTERVAL_MS: 5 minutes by default.
      env: { AUDIT_INTERVAL_MS: '500', MESSAGE_DEADLINE_MS: '2000', USAGE_FLUSH_INTERVAL_MS: '500' },
      flags: { 'elicitation.enabled': 'true', 'elicitation.agents': 'modern,silent,drill', elicitationTimeoutMs: '1000', autoFallback: 'true' },
    });
    alertmanager = await alertmanagerStarting;
    // The controller starts once Redis is back from the outage below; Prometheus scrapes it from the start.
    controllerUrl = `http://127.0.0.1:${await freePort()}`;
    prometheus = await startPrometheus({
      targets: {
        router: bridge.routerUrls,
        'legacy-poll': bridge.legacyUrls.map((url) => new URL(url).origin),
        elicitation: bridge.elicitationBaseUrls,
        controller: [controllerUrl],
      },
      ruleFiles: [RULES_FILE],
      alertmanagerUrl: alertmanager.url,
      scrapeIntervalMs: 1_000,
      evaluationIntervalMs: 1_000,
    });
    await generateTraffic();
  });
  after(async () => {
    for (const client of clients) await client.close().catch(() => undefined);
    await controller?.stop();
    await prometheus?.stop();
    await alertmanager?.stop();
    await bridge?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The controller, running the plan of `featureFlags` with this Prometheus. */
  async function startController(): Promise<void> {
    const flagsFile = join(dir, 'featureflags.yaml');
    writeFileSync(flagsFile, featureFlags(prometheus.url));
    controller = await startService({
      name: 'controller',
      entry: 'services/controller/src/main.ts',
      env: { ...bridge.env, PORT: new URL(controllerUrl).port, CONTROLLER_ID: 'ctl-stack', FEATURE_FLAGS_FILE: flagsFile, ADMIN_TOKEN: ADMIN, WEBHOOK_TOKEN: WEBHOOK, RECONCILE_INTERVAL_MS: '200' },
      readyUrl: `${controllerUrl}/readyz`,
    });
  }

  async function postToController(path: string, token: string, body: unknown): Promise<Record<string, unknown>> {
    const response = await fetch(`${controllerUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const answer = (await response.json()) as Record<string, unknown>;
    assert.equal(response.status, 200, `${path}: ${JSON.stringify(answer)}`);
    return answer;
  }

  async function generateTraffic(): Promise<void> {
    const alice = await bridge.connect('alice');
    const bob = await bridge.connect('bob');
    clients.push(alice, bob);

    // Redis goes away for a moment: a legacy call fails with UNAVAILABLE (a legacy error), every
    // service reconnects (connection events).
    await bridge.redis.stop();
    await assert.rejects(alice.callToolJson('send_message', { to: 'bob', content: 'while Redis is down' }), (error: unknown) => error instanceof ToolCallError && error.code === 'UNAVAILABLE');
    await bridge.redis.restart();
    await waitFor(
      async () => {
        await poll(alice, { timeout_ms: 0 });
        return true;
      },
      { timeoutMs: 20_000, intervalMs: 200, description: 'legacy-poll to serve again after the Redis restart' },
    );
    // The controller leads from here on: it publishes the plan's flags, the rollout phase and its first stage.
    await startController();
    await waitFor(async () => (await readPublishedFlags(bridge.store.store)).rollout.stage === 1, { timeoutMs: 20_000, intervalMs: 200, description: 'the controller to start the first rollout stage' });

    const modern = await bridge.connectModern('modern', { answer: (request) => ({ action: 'accept', content: { response: `re: ${request.message.split('\n').at(-1)}` } }) });
    const silent = await bridge.connectModern('silent', { answer: () => new Promise(() => undefined) });
    clients.push(modern, silent);
    await waitForPushReady(bridge, 'modern');
    await waitForPushReady(bridge, 'silent');
    // Prometheus applies its targets a few seconds after it starts; traffic it has not seen the start
    // of shows as no increase (rates of 0, latency quantiles of NaN).
    await waitFor(async () => (await prometheus.query('up == 1')).length === 4, { timeoutMs: 20_000, intervalMs: 250, description: 'Prometheus to scrape all four services' });

    // Two rounds of legacy ↔ legacy, legacy → modern (answered by elicitation; the answers come back
    // to alice) and modern → legacy. Labelled series appear with their first observation, so a rate
    // needs a round before the scrape that first sees them and one after.
    const exchange = async (round: number) => {
      for (let i = 0; i < 2; i++) await alice.callToolJson('send_message', { to: 'bob', content: `hello bob ${round}.${i}` });
      for (let i = 0; i < 2; i++) await alice.callToolJson('send_message', { to: 'modern', content: `hello modern ${round}.${i}` });
      await modern.callToolJson('send_message', { to: 'alice', content: `hello from modern ${round}` });
      const toBob = await receive(bob, 2, 20_000);
      assert.equal(toBob.messages.length, 2, 'bob got the legacy messages');
      await bob.callToolJson('ack_messages', { cursor: toBob.cursor! });
      await bob.callToolJson('send_message', { to: 'alice', content: `hello alice ${round}` });
      const toAlice = await receive(alice, 4, 20_000);
      assert.equal(toAlice.messages.length, 4, `alice got modern's two answers, its message and bob's (got ${JSON.stringify(toAlice.messages.map((m) => m.content))})`);
      await alice.callToolJson('ack_messages', { cursor: toAlice.cursor! });
    };
    await exchange(1);
    await waitFor(async () => (await prometheus.query('agentbridge_delivery_latency_seconds_count')).length === 2, {
      timeoutMs: 10_000,
      intervalMs: 250,
      description: 'Prometheus to see the delivery latency of both protocols',
    });
    await exchange(2);
    // Cost per message is compared over one-minute intervals and needs two with deliveries in each
    // group (legacy and elicitation): the exchanges go on until the A/B test has measured it.
    const costMeasured = async () => {
      const report = (await (await fetch(`${controllerUrl}/health/status`)).json()) as { status: { abTest?: { metrics: Array<{ name: string; pValue: number | null }> } } | null };
      return report.status?.abTest?.metrics.some((m) => m.name === 'cost' && m.pValue !== null) ?? false;
    };
    const costDeadline = Date.now() + 180_000;
    for (let round = 3; !(await costMeasured()); round++) {
      assert.ok(Date.now() < costDeadline, 'the A/B test measured cost within 3 minutes of exchanges');
      await exchange(round);
      await new Promise((resolve) => setTimeout(resolve, 1_000)); // a round a second: well under the senders' rate limit
    }

    // A push nobody answers: after elicitationTimeoutMs it fails (an elicitation error) and falls back to the poll lane.
    const unanswered = await alice.callToolJson<{ message_id: string }>('send_message', { to: 'silent', content: 'are you there?' });
    // An empty message cannot be shown as an elicitation: an adapter error, delivered on the poll lane instead.
    const empty = await alice.callToolJson<{ message_id: string }>('send_message', { to: 'modern', content: '' });
    // A message nobody reads: past MESSAGE_DEADLINE_MS the auditor counts it and MessageLossDetected fires.
    await alice.callToolJson('send_message', { to: 'sleepy', content: 'nobody reads me' });
    await waitForLedger(bridge, unanswered.message_id, 'silent', (r) => r.lane === 'poll', 'the unanswered push to fall back to the poll lane');
    await waitForLedger(bridge, empty.message_id, 'modern', (r) => r.lane === 'poll', 'the empty message to be routed to the poll lane');

    // The rollout is promoted to stage 3; then Alertmanager's notification of ElicitationErrorSpike rolls it back (partial: 9 → 5 %, stage 2).
    for (const stage of [2, 3]) assert.equal((await postToController('/admin/promote', ADMIN, { reason: `e2e: stage ${stage}` })).applied, true);
    const alert = { status: 'firing', labels: { alertname: 'ElicitationErrorSpike', rollback: 'partial' }, annotations: { summary: 'e2e' }, startsAt: new Date().toISOString() };
    const { results } = await postToController('/webhook/alertmanager', WEBHOOK, { version: '4', status: 'firing', alerts: [alert] });
    assert.deepEqual(
      (results as Array<{ applied: boolean }>).map((r) => r.applied),
      [true],
      'the alert rolled back',
    );
  }

  /** The queries (with where they come from) that return no data or fail; [] when all return data. */
  async function queriesWithoutData(queries: Array<{ label: string; expr: string }>): Promise<string[]> {
    const empty: string[] = [];
    for (const { label, expr } of queries) {
      try {
        const samples = await prometheus.query(expr);
        if (!hasData(samples)) empty.push(`${label}: ${expr} → ${samples.length === 0 ? 'no samples' : JSON.stringify(samples.map((s) => s.value[1]))}`);
      } catch (error) {
        empty.push(`${label}: ${expr} → the query failed: ${(error as Error).message.split('\n')[0]}`);
      }
    }
    return empty;
  }

  /** Waits (up to a deadline) until every query returns data; fails listing those that never did. */
  async function assertAllReturnData(queries: Array<{ label: string; expr: string }>, timeoutMs = 20_000): Promise<void> {
    let empty: string[] = [];
    try {
      await waitFor(async () => (empty = await queriesWithoutData(queries)).length === 0, { timeoutMs, intervalMs: 1_000, description: 'every query to return data' });
    } catch (error) {
      assert.fail(`${(error as Error).message}; ${empty.length} of ${queries.length} queries returned no data:\n  ${empty.join('\n  ')}`);
    }
  }

  interface RuleGroups {
    groups: Array<{ file: string; rules: Array<{ name: string; type: string; query: string; health: string; lastError?: string }> }>;
  }

  test("Prometheus loads the project's rule file in place, with all twelve alerts, and evaluates each without error", async () => {
    const { groups } = await prometheus.api<RuleGroups>('rules');
    assert.deepEqual(
      groups.map((g) => g.file),
      [RULES_FILE],
      'the rules file itself, not a copy',
    );
    const rules = groups.flatMap((g) => g.rules);
    assert.deepEqual(rules.map((r) => r.name).sort(), [...ALERTS].sort());
    assert.ok(rules.every((r) => r.type === 'alerting'));
    let unhealthy: string[] = [];
    await waitFor(
      async () => {
        const current = (await prometheus.api<RuleGroups>('rules')).groups.flatMap((g) => g.rules);
        unhealthy = current.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`);
        return unhealthy.length === 0;
      },
      { timeoutMs: 10_000, intervalMs: 500, description: 'every rule to be evaluated without error (health ok)' },
    ).catch((error: Error) => assert.fail(`${error.message}: ${unhealthy.join('; ')}`));
  });

  test('every vector selector of every alert expression returns data, and every alert expression evaluates', async () => {
    const { groups } = await prometheus.api<RuleGroups>('rules');
    const rules = groups.flatMap((g) => g.rules);
    const selectors = rules.flatMap((rule) => vectorSelectors(rule.query).map((selector) => ({ label: `alert ${rule.name}, selector`, expr: selector })));
    assert.ok(selectors.length >= ALERTS.length, `found the selectors: ${JSON.stringify(selectors)}`);
    await assertAllReturnData(selectors);
    // Evaluating the whole expression must succeed; it is empty unless the alert condition holds.
    for (const rule of rules) await assert.doesNotReject(prometheus.query(rule.query), `alert ${rule.name}: ${rule.query}`);
  });

  test("every dashboard panel's query and every annotation query returns data from a real Prometheus scraping the running stack", async () => {
    const queries = dashboardQueries(loadDashboards()).map((q) => ({ label: `dashboard ${q.dashboard}, ${q.where}`, expr: resolveVariables(q.expr) }));
    assert.ok(queries.length > 40, `found the dashboards' queries (${queries.length})`);
    await assertAllReturnData(queries);
  });

  test('the phase, stage and rollback recorded in the flag snapshot are what Prometheus sees', async () => {
    const expected: Array<[string, Array<[Record<string, string>, string]>]> = [
      ['max by (phase) (agentbridge_migration_phase) == 1', [[{ phase: 'rollout' }, '1']]],
      ['max(agentbridge_rollout_stage)', [[{}, '2']]],
      ['max by (level, trigger) (agentbridge_rollbacks_total)', [[{ level: 'partial', trigger: 'alert' }, '1']]],
    ];
    let seen: unknown[] = [];
    await waitFor(
      async () => {
        seen = await Promise.all(expected.map(async ([expr]) => (await prometheus.query(expr)).map((s) => [s.metric, s.value[1]])));
        return expected.every(([, want], i) => JSON.stringify(seen[i]) === JSON.stringify(want));
      },
      { timeoutMs: 10_000, intervalMs: 250, description: 'Prometheus to see the published rollout state' },
    ).catch((error: Error) => assert.fail(`${error.message}; saw ${JSON.stringify(seen)}, expected ${JSON.stringify(expected.map(([, want]) => want))}`));
  });

  test('an alert that fires (MessageLossDetected: a message nobody read) reaches the local Alertmanager with its rollback level', async () => {
    let names: string[] = [];
    await waitFor(async () => (names = (await alertmanager.alerts()).map((a) => `${a.labels.alertname}/${a.labels.rollback}`)).includes('MessageLossDetected/full'), {
      timeoutMs: 20_000,
      intervalMs: 500,
      description: 'Alertmanager to hold MessageLossDetected',
    }).catch((error: Error) => assert.fail(`${error.message}; Alertmanager holds ${JSON.stringify(names)}`));
  });
});
