import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readPublishedFlags } from '@agent-bridge/flags';
import { freePort, startAlertmanager, startPrometheus, startService, waitFor, waitForValue, type AgentClient, type AlertmanagerHandle, type PrometheusHandle, type ServiceHandle } from '@agent-bridge/testkit';
import { receive, RULES_FILE, startBridge, vectorSelectors, waitForPushReady, type Bridge, type ModernAgent } from '@agent-bridge/testkit/bridge';

const ADMIN = 'e2e-admin-token-0123456789';
const WEBHOOK = 'e2e-webhook-token-0123456789';

/**
 * The project's alert rules with their time windows compressed (5-minute rates → 20 s, `for: 5m` →
 * 2 s) so the error-spike alert can fire within a test; expressions, labels and annotations are the
 * file's own.
 */
function compressedRules(dir: string): string {
  const rules = readFileSync(RULES_FILE, 'utf8')
    .replaceAll('[5m]', '[20s]')
    .replace(/for: \d+[mh]/g, 'for: 2s');
  const file = join(dir, 'rules-compressed.yaml');
  writeFileSync(file, rules);
  return file;
}

const featureFlags = (prometheusUrl: string) => `apiVersion: agentbridge.io/v1alpha1
kind: FeatureFlags
metadata:
  name: agent-bridge
spec:
  phase: canary
  flags:
    elicitation:
      enabled: true
      agents: [modern, flaky]
    compatibility:
      autoFallback: true
      elicitationTimeoutMs: 1000
  analysis:
    prometheusUrl: ${prometheusUrl}
  rollback:
    alerts:
      - { alertName: ElicitationErrorSpike, level: full }
`;

describe('automated rollback: elicitation failures → Prometheus alert → Alertmanager → controller webhook → rollback', () => {
  let dir: string;
  let bridge: Bridge;
  let controller: ServiceHandle;
  let controllerUrl: string;
  let alertmanager: AlertmanagerHandle;
  let prometheus: PrometheusHandle;
  let alice: AgentClient;
  let modern: ModernAgent;
  let flaky: ModernAgent;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'agent-bridge-rollback-'));
    bridge = await startBridge({ agents: ['alice', 'modern', 'flaky'], elicitations: 1, env: { AUDIT_INTERVAL_MS: '500' } });
    const controllerPort = await freePort();
    controllerUrl = `http://127.0.0.1:${controllerPort}`;
    alertmanager = await startAlertmanager({ webhooks: [{ url: `${controllerUrl}/webhook/alertmanager`, bearerToken: WEBHOOK }], groupWaitMs: 100, groupIntervalMs: 1_000 });
    const prometheusPort = await freePort();
    const flagsFile = join(dir, 'featureflags.yaml');
    writeFileSync(flagsFile, featureFlags(`http://127.0.0.1:${prometheusPort}`));
    controller = await startService({
      name: 'controller',
      entry: 'services/controller/src/main.ts',
      env: { ...bridge.env, PORT: String(controllerPort), CONTROLLER_ID: 'ctl-e2e', FEATURE_FLAGS_FILE: flagsFile, ADMIN_TOKEN: ADMIN, WEBHOOK_TOKEN: WEBHOOK, RECONCILE_INTERVAL_MS: '200' },
      readyUrl: `${controllerUrl}/readyz`,
    });
    prometheus = await startPrometheus({
      port: prometheusPort,
      targets: {
        router: bridge.routerUrls,
        'legacy-poll': bridge.legacyUrls.map((url) => new URL(url).origin),
        elicitation: bridge.elicitationBaseUrls,
        controller: [controllerUrl],
      },
      ruleFiles: [compressedRules(dir)],
      alertmanagerUrl: alertmanager.url,
      scrapeIntervalMs: 1_000,
      evaluationIntervalMs: 1_000,
    });
    await waitFor(async () => (await readPublishedFlags(bridge.store.store)).publishedBy === 'ctl-e2e', { timeoutMs: 10_000, description: 'the controller to publish the canary flags' });
    alice = await bridge.connect('alice');
    modern = await bridge.connectModern('modern', { answer: () => ({ action: 'accept', content: { response: 'ok' } }) });
    flaky = await bridge.connectModern('flaky', { answer: () => new Promise(() => undefined) });
    await waitForPushReady(bridge, 'modern');
    await waitForPushReady(bridge, 'flaky');
    await waitFor(async () => (await prometheus.query('up == 1')).length === 4, { timeoutMs: 20_000, intervalMs: 250, description: 'Prometheus to scrape all four services' });
  });
  after(async () => {
    await Promise.all([alice?.close(), modern?.close(), flaky?.close()].map((p) => p?.catch(() => undefined)));
    await prometheus?.stop();
    await alertmanager?.stop();
    await controller?.stop();
    await bridge?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the error spike alert rolls elicitation back in full, agents keep talking on the legacy protocol, and nothing is lost', async () => {
    const sent: Array<{ id: string; to: string }> = [];
    const send = async (to: string, content: string) => {
      const { message_id } = await alice.callToolJson<{ message_id: string }>('send_message', { to, content });
      sent.push({ id: message_id, to });
    };
    // Healthy pushes to `modern`, and pushes `flaky` never answers (each times out after 1 s: an
    // elicitation error, then the message falls back to its poll lane).
    for (let round = 0; round < 3; round++) {
      await send('modern', `question ${round}`);
      await send('flaky', `question ${round}`);
      await new Promise((resolve) => setTimeout(resolve, 700));
    }

    const rolledBackAt = await waitForValue(
      async () => {
        const snapshot = await readPublishedFlags(bridge.store.store);
        return snapshot.rollout.lastRollback?.trigger === 'alert' ? snapshot : false;
      },
      { timeoutMs: 60_000, intervalMs: 200, description: 'the alert to fire and the controller to roll back' },
    );
    assert.equal(rolledBackAt.elicitation.enabled, false, 'full rollback: elicitation off');
    assert.equal(rolledBackAt.rollout.lastRollback?.level, 'full');
    assert.match(rolledBackAt.rollout.lastRollback!.reason, /ElicitationErrorSpike/);

    const effect = await waitForValue(async () => (await bridge.store.store.readAudit(50)).find((entry) => entry.action === 'rollback.effective') ?? false, {
      timeoutMs: 10_000,
      description: 'the measured effect in the audit trail',
    });
    const effectMs = effect.details?.effectMs as number;
    process.stdout.write(`# rollback trigger → effect (routing applied and push lanes drained): ${effectMs} ms\n`);
    assert.equal(typeof effectMs, 'number', effect.reason);
    assert.ok(effectMs < 1_000, `the rollback took effect within 1 s of the trigger (took ${effectMs} ms)`);
    const publication = (await bridge.store.store.readAudit(50)).find((entry) => entry.action === 'flags.publish' && entry.trigger === 'alert')!;
    assert.equal(publication.actor, 'alertmanager');
    const alertDetails = (publication.details?.events as Array<{ details?: { alert?: { name: string } } }>).find((e) => e.details?.alert)?.details?.alert;
    assert.equal(alertDetails?.name, 'ElicitationErrorSpike', 'the audit entry names the alert behind the rollback');

    // After the rollback every agent is served by the legacy protocol: modern agents poll too.
    await send('modern', 'after the rollback');
    await modern.callToolJson('send_message', { to: 'alice', content: 'modern, now on legacy, says hi' });
    const aliceGot = await receive(alice, 1, 15_000);
    assert.ok(aliceGot.messages.some((m) => m.content === 'modern, now on legacy, says hi'));
    const { messages: forModern } = await receive(modern, 1, 15_000);
    assert.ok(
      forModern.some((m) => m.content === 'after the rollback'),
      'the modern agent receives on its poll lane',
    );
    const { messages: forFlaky } = await receive(flaky, 3, 15_000);
    assert.ok(forFlaky.length >= 3, 'the messages flaky never answered fell back to its poll lane');
    await modern.callToolJson('ack_messages', { cursor: (await modern.callToolJson<{ cursor: string }>('wait_for_messages', { timeout_ms: 0 })).cursor });
    await flaky.callToolJson('ack_messages', { cursor: (await flaky.callToolJson<{ cursor: string }>('wait_for_messages', { timeout_ms: 0 })).cursor });

    // Nothing lost: every message alice sent reached a terminal state.
    for (const message of sent) {
      const record = await waitForValue(
        async () => {
          const ledger = await bridge.store.store.getMessage(message.id, message.to);
          return ledger && ['delivered', 'answered', 'declined', 'cancelled'].includes(ledger.state) ? ledger : false;
        },
        { timeoutMs: 15_000, description: `message ${message.id} to ${message.to} to reach a terminal state` },
      );
      assert.ok(record.state);
    }
    const unaccounted = await prometheus.query('sum(agentbridge_messages_unaccounted)');
    assert.equal(Number(unaccounted[0]?.value[1] ?? 0), 0);
  });

  test('the drill alerts read what the real controller exports (each selector returns data), and stay silent with no drill scheduled', async () => {
    const { groups } = await prometheus.api<{ groups: Array<{ rules: Array<{ name: string; query: string }> }> }>('rules');
    const drillRules = groups.flatMap((g) => g.rules).filter((rule) => rule.name.startsWith('RollbackDrill'));
    assert.deepEqual(drillRules.map((rule) => rule.name).sort(), ['RollbackDrillFailed', 'RollbackDrillOverdue']);
    const selectors = drillRules.flatMap((rule) => vectorSelectors(rule.query));
    assert.ok(selectors.includes('process_start_time_seconds{service="controller"}'), selectors.join(', '));
    for (const selector of selectors) assert.ok((await prometheus.query(selector)).length > 0, `${selector} returns data`);
    for (const rule of drillRules) assert.deepEqual(await prometheus.query(rule.query), [], `${rule.name} is silent: ${rule.query}`);
  });
});
