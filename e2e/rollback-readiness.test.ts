/**
 * Rollback readiness against a running bridge: a drill started with bridgectl sends its agent to
 * legacy and back and records the measured effect time; the health-check trigger rolls back after
 * N failed checks of the elicitation path once every elicitation replica is gone — not before —
 * and the audit trail names it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { evaluateProtocol, readPublishedFlags, type FeatureFlagsStatus } from '@agent-bridge/flags';
import { freePort, runProgram, startService, waitFor, waitForValue, type ServiceHandle } from '@agent-bridge/testkit';
import { startBridge, waitForPushReady, type Bridge, type ModernAgent } from '@agent-bridge/testkit/bridge';

const ADMIN = 'e2e-admin-token-0123456789';
const CHECK_INTERVAL_MS = 1_000;
const FAILURES = 3;

const featureFlags = `apiVersion: agentbridge.io/v1alpha1
kind: FeatureFlags
metadata:
  name: agent-bridge
spec:
  phase: canary
  flags:
    elicitation:
      enabled: true
      agents: [drill-agent, modern]
  rollback:
    healthCheck:
      interval: ${CHECK_INTERVAL_MS}ms
      consecutiveFailures: ${FAILURES}
      timeout: 300ms
    drill:
      agent: drill-agent
      timeout: 10s
`;

interface Report {
  status: FeatureFlagsStatus | null;
  healthCheck: { consecutiveFailures: number; lastResult: string; lastCheckAt: string; message: string } | null;
}

const bridgectl = (args: string[], env: NodeJS.ProcessEnv) => runProgram('tools/bridgectl/src/main.ts', args, env);

describe('rollback readiness: drills and the health-check trigger on a running bridge', () => {
  let dir: string;
  let bridge: Bridge;
  let controller: ServiceHandle;
  let controllerUrl: string;
  let drillAgent: ModernAgent;
  let modern: ModernAgent;
  const report = async (): Promise<Report> => (await (await fetch(`${controllerUrl}/health/status`)).json()) as Report;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'agent-bridge-readiness-'));
    bridge = await startBridge({ agents: ['alice', 'drill-agent', 'modern'], elicitations: 2 });
    const port = await freePort();
    controllerUrl = `http://127.0.0.1:${port}`;
    const flagsFile = join(dir, 'featureflags.yaml');
    writeFileSync(flagsFile, featureFlags);
    controller = await startService({
      name: 'controller',
      entry: 'services/controller/src/main.ts',
      env: { ...bridge.env, PORT: String(port), CONTROLLER_ID: 'ctl-readiness', FEATURE_FLAGS_FILE: flagsFile, ADMIN_TOKEN: ADMIN, WEBHOOK_TOKEN: 'e2e-webhook-token-0123456789', RECONCILE_INTERVAL_MS: '100' },
      readyUrl: `${controllerUrl}/readyz`,
    });
    await waitFor(async () => (await readPublishedFlags(bridge.store.store)).publishedBy === 'ctl-readiness', { timeoutMs: 10_000, description: 'the controller to publish the canary flags' });
    drillAgent = await bridge.connectModern('drill-agent', { answer: () => ({ action: 'accept', content: { response: 'ok' } }) });
    modern = await bridge.connectModern('modern', { answer: () => ({ action: 'accept', content: { response: 'ok' } }) });
    await waitForPushReady(bridge, 'drill-agent');
    await waitForPushReady(bridge, 'modern');
  });
  after(async () => {
    await Promise.all([drillAgent?.close(), modern?.close()].map((p) => p?.catch(() => undefined)));
    await controller?.stop();
    await bridge?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the health check sees both replicas ready while the bridge is up', async () => {
    const health = await waitForValue(
      async () => {
        const { healthCheck } = await report();
        return healthCheck?.lastResult === 'healthy' ? healthCheck : false;
      },
      { timeoutMs: 10_000, description: 'a healthy check' },
    );
    assert.equal(health.consecutiveFailures, 0);
    assert.match(health.message, /^2 of 2 ready$/);
  });

  test('bridgectl drill: the drill agent goes to legacy and back, the measured effect time is recorded, the rollout is not touched', async (t) => {
    const before = await readPublishedFlags(bridge.store.store);
    const env = { BRIDGECTL_CONTROLLER_URL: controllerUrl, BRIDGECTL_ADMIN_TOKEN: ADMIN, BRIDGECTL_ACTOR: 'ops-jane', REDIS_URL: bridge.env.REDIS_URL!, SHARD_COUNT: bridge.env.SHARD_COUNT! };
    const run = await bridgectl(['drill', '--json'], env);
    assert.equal(run.code, 0, `${run.out}\n${run.err}`);
    const result = JSON.parse(run.out.slice(run.out.indexOf('{'))) as NonNullable<FeatureFlagsStatus['lastDrill']>;
    assert.equal(result.result, 'passed', result.message);
    assert.equal(result.agent, 'drill-agent');
    assert.equal(result.actor, 'ops-jane');
    assert.ok(typeof result.effectMs === 'number' && result.effectMs >= 0 && result.effectMs < 10_000, `effect ${result.effectMs} ms`);
    assert.ok(typeof result.restoreMs === 'number' && result.restoreMs >= 0 && result.restoreMs < 10_000, `restore ${result.restoreMs} ms`);

    t.diagnostic(`drill effect ${result.effectMs} ms, restore ${result.restoreMs} ms`);
    const status = (await report()).status!;
    assert.deepEqual(status.lastDrill, result, 'status.lastDrill is "last rollback tested"');
    assert.equal(status.drill, undefined);
    assert.equal(status.rollback, undefined, 'a drill holds nothing');
    const after = await readPublishedFlags(bridge.store.store);
    assert.equal(evaluateProtocol(after, 'drill-agent').protocol, 'elicitation', 'the drill agent is back on elicitation');
    assert.ok(after.version >= before.version + 2, 'the drill published its rollback and its restore');
    assert.deepEqual(after.rollout.rollbacks, before.rollout.rollbacks, 'a drill is not counted as a rollback');
    // The audit trail has both publications and the result.
    const audit = await bridge.store.store.readAudit(50);
    assert.ok(audit.some((entry) => JSON.stringify(entry).includes('drill.started')) && audit.some((entry) => JSON.stringify(entry).includes('drill.finished')), `audit: ${audit.map((entry) => entry.action).join(', ')}`);
    // The metrics the readiness panel reads.
    const metrics = await (await fetch(`${controllerUrl}/metrics`)).text();
    assert.match(metrics, /^agentbridge_drill_last_success\{[^}]*\} 1$/m);
    assert.match(metrics, /^agentbridge_drills_total\{[^}]*result="passed"[^}]*\} 1$/m);
    const effect = /^agentbridge_drill_last_effect_seconds\{[^}]*\} (\S+)$/m.exec(metrics);
    assert.ok(effect && Math.abs(Number(effect[1]) - result.effectMs! / 1000) < 1e-9, `effect gauge ${effect?.[1]}`);
  });

  test(`every elicitation replica killed: the health check rolls back after ${FAILURES} failed checks, not before, audited as health-check`, async (t) => {
    const startedAt = Date.now();
    await Promise.all(bridge.elicitations.map((replica) => replica.kill9()));
    const failures: number[] = [];
    const rolledBack = await waitForValue(
      async () => {
        const { status, healthCheck } = await report();
        if (status?.rollback) return { status, healthCheck };
        if (healthCheck?.lastResult === 'unhealthy') failures.push(healthCheck.consecutiveFailures);
        return false;
      },
      { timeoutMs: 20_000, intervalMs: 100, description: 'the health-check rollback' },
    );
    const elapsed = Date.now() - startedAt;
    t.diagnostic(`health-check rollback ${elapsed} ms after every elicitation replica was killed (interval ${CHECK_INTERVAL_MS} ms, ${FAILURES} failures)`);
    assert.equal(rolledBack.status.rollback!.trigger, 'health-check');
    assert.equal(rolledBack.status.rollback!.level, 'full');
    assert.match(rolledBack.status.rollback!.reason, new RegExp(`unhealthy for ${FAILURES} checks in a row`));
    assert.ok(failures.length > 0 && Math.max(...failures) < FAILURES + 1, `failed checks seen before the rollback: ${failures.join(',')}`);
    assert.ok(failures.includes(FAILURES - 1), `the checks before the limit did not roll back (seen: ${[...new Set(failures)].join(',')})`);
    const entry = rolledBack.status.history.filter((e) => e.action === 'rollback').at(-1);
    assert.equal((entry?.details as { consecutiveFailures?: number } | undefined)?.consecutiveFailures, FAILURES, 'the rollback came at the limit');
    assert.ok(elapsed >= (FAILURES - 1) * CHECK_INTERVAL_MS, `rolled back ${elapsed} ms after the kill: at least ${FAILURES - 1} intervals after the first failed check`);
    const snapshot = await readPublishedFlags(bridge.store.store);
    assert.equal(snapshot.elicitation.enabled, false, 'elicitation is off for every agent');
    assert.equal(snapshot.rollout.lastRollback?.trigger, 'health-check');
    const history = rolledBack.status.history.filter((entry) => entry.action === 'rollback');
    assert.equal(history.at(-1)?.actor, 'health-check');
    const metrics = await (await fetch(`${controllerUrl}/metrics`)).text();
    assert.match(metrics, /^agentbridge_rollbacks_total\{[^}]*level="full"[^}]*trigger="health-check"[^}]*\} 1$/m);
  });
});
