/**
 * The cutover sequence on a running bridge (strategy phase 4): a real controller disables legacy
 * after a system snapshot, watches, and — with a critical alert delivered by a real Alertmanager
 * during the watch — rolls back to the snapshot (legacy serves again); without one, the watch ends
 * clean and legacy removal is scheduled (a minor alert is only reported).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readPublishedFlags, type FeatureFlagsStatus } from '@agent-bridge/flags';
import { freePort, startAlertmanager, startService, waitFor, waitForValue, type AgentClient, type AlertmanagerHandle, type ServiceHandle } from '@agent-bridge/testkit';
import { assertToolError, startBridge, waitForLegacyFlags, type Bridge } from '@agent-bridge/testkit/bridge';

const ADMIN = 'e2e-admin-token-0123456789';
const WEBHOOK = 'e2e-webhook-token-0123456789';

const featureFlags = (legacyDisabled: boolean, watch: string) => `apiVersion: agentbridge.io/v1alpha1
kind: FeatureFlags
metadata:
  name: agent-bridge
spec:
  phase: completion
  flags:
    elicitation:
      enabled: true
      percentage: 100
    legacyDisabled: ${legacyDisabled}
  cutover:
    watch: ${watch}
    force:
      reason: e2e cutover without the 24h readiness window
`;

describe('the cutover sequence: snapshot, legacy disabled under watch, rollback to the snapshot or removal scheduled', () => {
  let dir: string;
  let flagsFile: string;
  let bridge: Bridge;
  let controller: ServiceHandle;
  let controllerUrl: string;
  let alertmanager: AlertmanagerHandle;
  let alice: AgentClient;

  const status = async (): Promise<FeatureFlagsStatus> => JSON.parse((await bridge.store.store.readControllerStatusJson()) ?? '{}') as FeatureFlagsStatus;
  const report = async (): Promise<Record<string, any>> => (await fetch(`${controllerUrl}/health/status`)).json() as Promise<Record<string, any>>;
  const sendFromAlice = (content: string) => alice.callTool('send_message', { to: 'bob', content });

  /** An alert as Prometheus would send it, posted to the real Alertmanager, which routes it to the controller's webhook. */
  async function fire(alertname: string, severity: string): Promise<void> {
    const response = await fetch(`${alertmanager.url}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ labels: { alertname, severity, service: 'router' }, annotations: { summary: `${alertname} in the e2e test` }, startsAt: new Date().toISOString() }]),
    });
    assert.equal(response.status, 200, await response.text());
  }

  async function cutOver(watch: string): Promise<FeatureFlagsStatus> {
    writeFileSync(flagsFile, featureFlags(false, watch));
    await waitFor(async () => (await status()).cutover === undefined && !(await readPublishedFlags(bridge.store.store)).legacyDisabled, { timeoutMs: 10_000, description: 'legacy enabled again' });
    writeFileSync(flagsFile, featureFlags(true, watch));
    const watching = await waitForValue(async () => ((await status()).cutover?.state === 'watching' ? status() : false), { timeoutMs: 10_000, intervalMs: 100, description: 'the cutover to start its watch' });
    const published = await readPublishedFlags(bridge.store.store);
    assert.equal(published.legacyDisabled, true);
    await waitForLegacyFlags(bridge, published.version);
    return watching;
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'agent-bridge-cutover-'));
    bridge = await startBridge({ agents: ['alice', 'bob'], env: { AUDIT_INTERVAL_MS: '500' } });
    const controllerPort = await freePort();
    controllerUrl = `http://127.0.0.1:${controllerPort}`;
    alertmanager = await startAlertmanager({ webhooks: [{ url: `${controllerUrl}/webhook/alertmanager`, bearerToken: WEBHOOK }], groupWaitMs: 100, groupIntervalMs: 1_000 });
    flagsFile = join(dir, 'featureflags.yaml');
    writeFileSync(flagsFile, featureFlags(false, '1h'));
    controller = await startService({
      name: 'controller',
      entry: 'services/controller/src/main.ts',
      env: { ...bridge.env, PORT: String(controllerPort), CONTROLLER_ID: 'ctl-e2e', FEATURE_FLAGS_FILE: flagsFile, ADMIN_TOKEN: ADMIN, WEBHOOK_TOKEN: WEBHOOK, RECONCILE_INTERVAL_MS: '200' },
      readyUrl: `${controllerUrl}/readyz`,
    });
    await waitFor(async () => (await readPublishedFlags(bridge.store.store)).publishedBy === 'ctl-e2e', { timeoutMs: 10_000, description: 'the controller to publish' });
    alice = await bridge.connect('alice');
  });
  after(async () => {
    await alice?.close().catch(() => undefined);
    await alertmanager?.stop();
    await controller?.stop();
    await bridge?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a critical alert during the watch rolls back to the snapshot: legacy serves again with the flags recorded before the cutover', async () => {
    const accepted = await sendFromAlice('sent before the cutover');
    assert.notEqual(accepted.isError, true);
    const watching = await cutOver('1h');
    const snapshotId = watching.cutover!.snapshot!.id;
    assert.match(snapshotId, /^cutover-\d{8}T\d{6}Z-v\d+$/);
    assertToolError(await sendFromAlice('during the cutover'), { code: 'LEGACY_DISABLED', advice: /Connect to the elicitation endpoint/ });

    // The stored snapshot: flags, rollout, backlog (bob's unread message) and the inventory.
    const stored = JSON.parse((await bridge.store.store.readSystemSnapshotJson(snapshotId))!);
    assert.equal(stored.id, snapshotId);
    assert.equal(stored.flags.legacyDisabled, false, 'the flags as published before legacy was disabled');
    assert.equal(stored.rollout.phase, 'completion');
    assert.ok(stored.backlog.poll >= 1, `the backlog counts the message waiting for bob: ${JSON.stringify(stored.backlog)}`);
    assert.ok(Array.isArray(stored.legacyInventory));
    assert.equal((await report()).cutoverSnapshot?.id, snapshotId, 'bridgectl status / the report name the snapshot');
    assert.ok(
      watching.history.some((entry) => entry.action === 'cutover.started' && (entry.details as { snapshotId?: string })?.snapshotId === snapshotId),
      'the snapshot id is in the history',
    );

    await fire('MessageLossDetected', 'critical');
    const rolledBack = await waitForValue(async () => ((await status()).cutover?.state === 'rolled-back' ? status() : false), { timeoutMs: 15_000, intervalMs: 100, description: 'the critical alert to roll the cutover back' });
    assert.match(rolledBack.cutover!.rollbackReason!, /MessageLossDetected/);
    const published = await readPublishedFlags(bridge.store.store);
    assert.equal(published.legacyDisabled, false, 'legacy serves again');
    assert.equal(published.elicitation.percentage, stored.flags.elicitation.percentage);
    await waitForLegacyFlags(bridge, published.version);
    assert.notEqual((await sendFromAlice('after the rollback')).isError, true, 'the legacy endpoint accepts again');
    const audit = await bridge.store.store.readAudit(200);
    assert.ok(
      audit.some((entry) => JSON.stringify(entry).includes('cutover.rolled-back') && JSON.stringify(entry).includes(snapshotId)),
      'the rollback to the snapshot is audited with its id',
    );
  });

  test('a watch without a critical alert keeps legacy disabled, reports a minor alert, and schedules legacy removal', async () => {
    const watching = await cutOver('4s');
    assert.equal(watching.cutover?.state, 'watching');
    await fire('ElicitationLatencyP95Increasing', 'warning');
    const reported = await waitForValue(async () => ((await status()).cutover?.issues?.length ? status() : false), { timeoutMs: 10_000, intervalMs: 100, description: 'the minor alert to be reported' });
    assert.equal(reported.cutover?.issues?.[0]?.alert, 'ElicitationLatencyP95Increasing');
    assert.equal(reported.cutover?.state, 'watching', 'a minor alert does not roll back');
    const done = await waitForValue(async () => ((await status()).cutover?.state === 'removal-scheduled' ? status() : false), { timeoutMs: 15_000, intervalMs: 200, description: 'the watch to end clean' });
    assert.ok(done.history.some((entry) => entry.action === 'cutover.completed'));
    assert.equal((await readPublishedFlags(bridge.store.store)).legacyDisabled, true);
    assertToolError(await sendFromAlice('after the removal is scheduled'), { code: 'LEGACY_DISABLED', advice: /Connect to the elicitation endpoint/ });
  });
});
