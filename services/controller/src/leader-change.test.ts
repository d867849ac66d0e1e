import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openEventStore, type OpenedEventStore } from '@agent-bridge/event-store';
import { readPublishedFlags, type FeatureFlagsStatus } from '@agent-bridge/flags';
import { BridgeMetrics, createLogger } from '@agent-bridge/observability';
import { startRedis, waitFor, type RedisServerHandle } from '@agent-bridge/testkit';
import { decideAlerts } from './alerts.js';
import { Controller } from './controller.js';
import { StoreLeaderElector } from './leader.js';
import { FileResourceSource } from './sources/file-source.js';
import { FEATURE_FLAGS_YAML } from './test-fixtures.js';

const ALERT = { status: 'firing' as const, labels: { alertname: 'ElicitationErrorSpike', severity: 'critical' }, annotations: { summary: 'errors' }, startsAt: '2026-11-26T04:00:00Z', fingerprint: 'f00d' };
const LEASE_TTL_MS = 900;

/**
 * The file source, with a status write that can be held up once (as when the process stalls right
 * after publishing). `resourceStatus`: keep the status beside the resource, as the Kubernetes
 * status subresource does, instead of in the store.
 */
class StallingSource extends FileResourceSource {
  stallNextRollbackWrite: (() => Promise<void>) | undefined;

  constructor(
    private readonly resourceStatus: { json?: string } | undefined,
    ...args: ConstructorParameters<typeof FileResourceSource>
  ) {
    super(...args);
  }

  override async readStatus(): Promise<FeatureFlagsStatus | null> {
    if (!this.resourceStatus) return super.readStatus();
    return this.resourceStatus.json ? (JSON.parse(this.resourceStatus.json) as FeatureFlagsStatus) : null;
  }

  override async writeStatus(status: FeatureFlagsStatus, guard: () => void): Promise<void> {
    const stall = status.rollback ? this.stallNextRollbackWrite : undefined;
    this.stallNextRollbackWrite = undefined;
    await stall?.();
    if (!this.resourceStatus) return super.writeStatus(status, guard);
    guard();
    this.resourceStatus.json = JSON.stringify(status);
  }
}

const MODES = { local: 'status in the store (local mode)', kubernetes: 'status beside the resource (Kubernetes mode)' } as const;

for (const mode of ['local', 'kubernetes'] as const) {
  describe(`the Alertmanager de-duplication across a change of leader, ${MODES[mode]}`, () => {
    let redis: RedisServerHandle;
    let dir: string;
    const opened: OpenedEventStore[] = [];
    const controllers: Controller[] = [];
    const resourceStatus = mode === 'kubernetes' ? {} : undefined;

    before(async () => {
      redis = await startRedis();
      dir = mkdtempSync(join(tmpdir(), 'leader-change-'));
      writeFileSync(join(dir, 'featureflags.yaml'), FEATURE_FLAGS_YAML);
    });
    after(async () => {
      await Promise.all(controllers.map((c) => c.stop().catch(() => undefined)));
      await Promise.all(opened.map((o) => o.close()));
      await redis.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    const snapshot = () => readPublishedFlags(opened[0]!.store);

    async function startController(id: string): Promise<{ controller: Controller; source: StallingSource }> {
      const store = await openEventStore({ url: redis.url, name: id, shardCount: 2 });
      opened.push(store);
      const logger = createLogger('controller', 'silent');
      let elector: StoreLeaderElector | undefined;
      const source = new StallingSource(resourceStatus, join(dir, 'featureflags.yaml'), store.store, () => elector?.lease(), logger);
      elector = new StoreLeaderElector(store.store, id, LEASE_TTL_MS, logger);
      const controller = new Controller(
        { store: store.store, keys: store.keys, source, elector, metrics: new BridgeMetrics('controller', { defaultMetrics: false }), logger, prometheus: () => assert.fail('no analysis in this test') },
        { controllerId: id, reconcileIntervalMs: 50, effectTimeoutMs: 500, activeAgentWindowMs: 60_000 },
      );
      await controller.start();
      controllers.push(controller);
      return { controller, source };
    }

    test('the leader loses its lease between publishing a rollback and writing the status: the new leader keeps that rollback and does not roll back again for the retried alert', async () => {
      const raw = redis.client();
      const a = await startController('ctl-a');
      await waitFor(async () => (await snapshot()).elicitation.percentage === 10, {
        timeoutMs: 5_000,
        description: 'ctl-a to lead and publish stage 1',
      });
      const b = await startController('ctl-b');
      // Right after the rollback is published, ctl-a stalls past its lease (a GC pause): the lease
      // runs out and ctl-b takes it before ctl-a gets to write the status.
      a.source.stallNextRollbackWrite = async () => {
        await raw.del('ab:{control}:controller:lease');
        await waitFor(async () => b.controller.isLeader(), { timeoutMs: 5_000, description: 'ctl-b to take the lease over' });
      };
      const spec = a.controller.currentSpec()!;
      const [decision] = decideAlerts({ alerts: [ALERT] }, spec);
      assert.equal(decision?.outcome, 'rollback');
      if (decision?.outcome !== 'rollback') return;
      // Published means applied (the status went with it), so the caller is told so; were it told
      // otherwise, its retry (an admin call, or Alertmanager's next notification) would act twice.
      const first = await a.controller.submit(decision.action);
      assert.equal(first.applied, true, first.message);
      assert.equal(typeof first.snapshotVersion, 'number');
      const audit = await opened[0]!.store.readAudit(20);
      assert.ok(
        audit.some((entry) => entry.action === 'flags.publish' && entry.trigger === 'alert' && entry.actor === 'alertmanager'),
        'ctl-a published the rollback before it lost the lease',
      );

      // Alertmanager sends the notification again anyway (to the new leader).
      const retry = await b.controller.submit(decision.action);
      assert.equal(retry.applied, false, retry.message);
      assert.match(retry.message, /already acted on/);
      await new Promise((resolve) => setTimeout(resolve, 300)); // a few passes of the new leader
      const current = await snapshot();
      assert.deepEqual(current.rollout.rollbacks, [{ level: 'partial', trigger: 'alert', count: 1 }], 'one rollback for the alert');
      assert.equal(current.elicitation.percentage, 0, 'the new leader keeps the rollback in force (it does not publish stage 1 again)');
      const status = (await b.source.readStatus())!;
      assert.equal(status.rollback?.level, 'partial');
      assert.deepEqual(status.handledAlerts, [{ fingerprint: 'f00d', startsAt: ALERT.startsAt }]);
      assert.equal(status.snapshotVersion, current.version);

      // A restart of both (the status is all there is) does not roll back again either.
      await Promise.all([a.controller.stop(), b.controller.stop()]);
      const c = await startController('ctl-c');
      await waitFor(async () => c.controller.isLeader(), { timeoutMs: 5_000, description: 'ctl-c to lead' });
      assert.equal((await c.controller.submit(decision.action)).applied, false);
      assert.deepEqual((await snapshot()).rollout.rollbacks, [{ level: 'partial', trigger: 'alert', count: 1 }]);
    });
  });
}
