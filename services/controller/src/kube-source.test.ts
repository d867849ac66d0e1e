/**
 * SOURCE=kubernetes against the in-process Kubernetes API fake (with the FeatureFlags CRD schema
 * plugged in as its validation) and a real Redis: controllers run in-process, each authenticated
 * as its own user, so the fake's write log says exactly who wrote what.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { KubeConfig, V1MicroTime, Watch } from '@kubernetes/client-node';
import { openEventStore, type OpenedEventStore } from '@agent-bridge/event-store';
import { readPublishedFlags, type FeatureFlagsStatus } from '@agent-bridge/flags';
import { validateAgainstCrd } from '@agent-bridge/flags/crd';
import { createLogger } from '@agent-bridge/observability';
import { startKubeApiFake, startRedis, waitFor, type KubeApiFake, type KubeObject, type KubeWriteRecord, type RedisServerHandle } from '@agent-bridge/testkit';
import { loadControllerConfig } from './config.js';
import { kubernetesParts, type KubernetesPartsOptions } from './kube.js';
import { startControllerService, type ControllerService } from './service.js';
import { NotLeaderError } from './leader.js';
import { CONTROLLER_LEASE_NAME, KubernetesLeaseGate } from './sources/kube-lease.js';
import { KubernetesResourceSource } from './sources/kube-source.js';
import { initialStatus } from './status.js';

const ADMIN = 'admin-token-0123456789';
const WEBHOOK = 'webhook-token-0123456789';
const INTER_REPLICA_KEY = 'inter-replica-key-for-the-tests-0123456789';
const NS = 'agents';
const NAME = 'agent-bridge';
const STATUS_PATH = `/apis/agentbridge.io/v1alpha1/namespaces/${NS}/featureflags/${NAME}/status`;
const silent = createLogger('controller', (process.env.TEST_LOG_LEVEL ?? 'silent') as 'silent');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function spec(overrides: Record<string, unknown> = {}): Record<string, any> {
  return {
    phase: 'rollout',
    flags: { elicitation: { enabled: true, agents: ['test_agent_alpha'] } },
    rollout: {
      stages: [
        { percentage: 10, hold: '1h' },
        { percentage: 50, hold: '1h' },
      ],
    },
    rollback: { alerts: [{ alertName: 'ElicitationErrorSpike', level: 'partial' }] },
    ...overrides,
  };
}

function resource(specFields: Record<string, unknown> = spec()): KubeObject {
  return { apiVersion: 'agentbridge.io/v1alpha1', kind: 'FeatureFlags', metadata: { name: NAME, namespace: NS }, spec: specFields };
}

/** client-node's Watch that can be made to go silent: the stream stays open, nothing arrives, done never fires. */
class StallableWatch extends Watch {
  stalled = false;
  override watch(path: string, query: Record<string, string | number | boolean | undefined>, callback: (phase: string, apiObj: any, watchObj?: any) => void, done: (err: any) => void) {
    return super.watch(
      path,
      query,
      (phase, object, raw) => {
        if (!this.stalled) callback(phase, object, raw);
      },
      (error) => {
        if (!this.stalled) done(error);
      },
    );
  }
}

/** A Prometheus answering every instant query with 0.001; hold() keeps the answers back until released. */
async function startPrometheusStub() {
  let gate: Promise<void> | undefined;
  let waiting = 0;
  const server = http.createServer(async (_request, response) => {
    if (gate) {
      waiting += 1;
      await gate;
      waiting -= 1;
    }
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [Date.now() / 1000, '0.001'] }] } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    waiting: () => waiting,
    hold(): () => void {
      let release!: () => void;
      gate = new Promise((resolve) => (release = resolve));
      return () => {
        gate = undefined;
        release();
      };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe('controller service in Kubernetes mode (FeatureFlags from the API, status subresource, Lease, Events)', () => {
  let redis: RedisServerHandle;
  let fake: KubeApiFake;
  let store: OpenedEventStore;
  const running: ControllerService[] = [];

  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis.cleanup();
  });
  beforeEach(async () => {
    await redis.client().flushall();
    store = await openEventStore({ url: redis.url, name: 'assert', shardCount: 4 });
    fake = await startKubeApiFake({
      // What the API server checks with the CRD installed: spec and status must fit its schema.
      validate: (kind, object) => {
        if (kind !== 'FeatureFlags') return [];
        const result = validateAgainstCrd(object);
        return result.valid ? [] : result.errors;
      },
      // Bookmarks would keep a watch's resourceVersion fresh; without them a compaction is a 410.
      bookmarkIntervalMs: 60_000,
    });
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((c) => c.close().catch(() => undefined)));
    await fake.close();
    await store.close();
  });

  function kubeConfigFor(user: string): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions(fake.kubeConfig({ user, namespace: NS }));
    return kc;
  }

  async function startController(id: string, options: KubernetesPartsOptions = {}, env: Record<string, string> = {}): Promise<ControllerService> {
    const config = loadControllerConfig({
      REDIS_URL: redis.url,
      SHARD_COUNT: '4',
      HOST: '127.0.0.1',
      PORT: '0',
      CONTROLLER_ID: id,
      SOURCE: 'kubernetes',
      KUBE_NAMESPACE: NS,
      ADMIN_TOKEN: ADMIN,
      // Shared by the controllers, as the chart's Secret gives it: the relay to the leader is signed with it.
      INTER_REPLICA_KEY: INTER_REPLICA_KEY,
      WEBHOOK_TOKEN: WEBHOOK,
      LEADER_LEASE_TTL_MS: '1500',
      RECONCILE_INTERVAL_MS: '100',
      EFFECT_TIMEOUT_MS: '2000',
      ...env,
    });
    const service = await startControllerService(config, silent, kubernetesParts(config, silent, { kubeConfig: kubeConfigFor(id), backoffInitialMs: 50, backoffMaxMs: 1_000, ...options }));
    running.push(service);
    return service;
  }

  const object = (): KubeObject => {
    const found = fake.get('featureflags', NS, NAME);
    assert.ok(found, 'the FeatureFlags object exists');
    return found;
  };
  const status = (): FeatureFlagsStatus | undefined => object().status as FeatureFlagsStatus | undefined;
  const published = async () => (await readPublishedFlags(store.store)).elicitation.percentage;

  /** kubectl edit / kubectl replace: the whole object back with a changed spec (generation + 1). */
  function editSpec(change: (spec: Record<string, any>) => void): KubeObject {
    const current = object();
    const next = structuredClone(current);
    change(next.spec);
    return fake.replace('featureflags', next, { user: 'operator' });
  }

  /** Successful writes of the FeatureFlags status or of Events by `user` (after write number `afterSeq`). */
  function controllerWrites(user: string, afterSeq = 0): KubeWriteRecord[] {
    return fake.writes({ user, ok: true }).filter((w) => w.seq > afterSeq && ((w.resource === 'featureflags.agentbridge.io' && w.subresource === 'status') || w.resource === 'events' || w.resource === 'events.events.k8s.io'));
  }

  async function post(service: ControllerService, path: string, body: unknown) {
    const response = await fetch(`${service.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  }

  test('the controller reads the resource from the API, publishes the first stage, and writes status through the status subresource (spec untouched, generation unchanged, observedGeneration = generation, printer columns filled)', async () => {
    const created = fake.create('featureflags', resource(), { user: 'operator' });
    const a = await startController('ctl-a');
    await waitFor(async () => (await published()) === 10, { timeoutMs: 5_000, description: 'the first stage to be published' });
    await waitFor(() => status()?.stage === 1, { timeoutMs: 5_000, description: 'the status of stage 1' });
    const snapshot = await readPublishedFlags(store.store);
    assert.deepEqual({ phase: snapshot.rollout.phase, stage: snapshot.rollout.stage }, { phase: 'rollout', stage: 1 });

    const stored = object();
    assert.deepEqual(stored.spec, created.spec, 'the spec is not written by the controller');
    assert.equal(stored.metadata?.generation, 1, 'status writes do not bump the generation');
    const s = stored.status as FeatureFlagsStatus;
    assert.equal(s.observedGeneration, 1);
    // The printer columns (kubectl get featureflags): Phase, Stage, Percentage, Paused.
    assert.deepEqual({ phase: s.phase, stage: s.stage, effectivePercentage: s.effectivePercentage, paused: s.paused }, { phase: 'rollout', stage: 1, effectivePercentage: 10, paused: false });
    assert.equal(s.snapshotVersion, snapshot.version);
    const ready = s.conditions.find((c) => c.type === 'Ready');
    assert.deepEqual([ready?.status, ready?.reason, ready?.observedGeneration], ['True', 'Reconciled', 1]);

    const writes = fake.writes({ user: 'ctl-a', resource: 'featureflags', ok: true });
    assert.ok(writes.length >= 1, 'the status was written');
    assert.deepEqual([...new Set(writes.map((w) => `${w.verb} ${w.subresource}`))], ['update status'], 'only the status subresource is written');
    const report = await a.controller.report();
    assert.deepEqual((report.controller as Record<string, unknown>).source, 'kubernetes');
    assert.deepEqual(report.resource, { state: 'ok', name: NAME, namespace: NS, generation: 1 });
  });

  test('without the resource the controller says how to create it, and picks it up once it is applied', async () => {
    const a = await startController('ctl-a');
    const view = (await a.controller.report()).resource as { state: string; message: string };
    assert.equal(view.state, 'missing');
    assert.match(view.message, /FeatureFlags agents\/agent-bridge does not exist; create it: kubectl apply -n agents -f deploy\/samples\/featureflags-preparation\.yaml/);
    fake.create('featureflags', resource(), { user: 'operator' });
    await waitFor(async () => (await published()) === 10 && status()?.stage === 1, { timeoutMs: 5_000, description: 'the applied resource to be reconciled' });
  });

  test('a spec edit (kubectl-style replace bumping generation) is picked up and reconciled', async () => {
    fake.create('featureflags', resource(), { user: 'operator' });
    await startController('ctl-a');
    await waitFor(() => status()?.stage === 1, { timeoutMs: 5_000, description: 'stage 1' });
    const edited = editSpec((s) => {
      s.rollout.stages[0].percentage = 20;
    });
    assert.equal(edited.metadata?.generation, 2);
    await waitFor(async () => (await published()) === 20 && status()?.observedGeneration === 2, { timeoutMs: 5_000, description: 'generation 2 reconciled' });
    const s = status()!;
    assert.equal(s.effectivePercentage, 20);
    assert.equal(s.stage, 1, 'progress is kept across the edit');
    assert.equal(s.conditions.find((c) => c.type === 'Ready')?.observedGeneration, 2);
    assert.equal(object().metadata?.generation, 2);
    assert.ok(s.history.some((h) => h.action === 'spec.changed' && h.reason === 'generation 2 applied'));
  });

  test('after the watch is dropped (cleanly and abruptly) and after compaction (410 Gone), the controller still sees later edits', async () => {
    fake.create('featureflags', resource(), { user: 'operator' });
    await startController('ctl-a');
    await waitFor(() => status()?.stage === 1 && fake.openWatches('featureflags') === 1, { timeoutMs: 5_000, description: 'stage 1, watching' });
    const lists = () => fake.requests({ user: 'ctl-a', verb: 'list' }).length;

    // A clean close (as at a server-side watch timeout): re-watched from the last resourceVersion.
    assert.equal(fake.dropWatches({ resource: 'featureflags' }), 1);
    editSpec((s) => {
      s.rollout.stages[0].percentage = 20;
    });
    await waitFor(async () => (await published()) === 20, { timeoutMs: 5_000, description: 'the edit after a clean drop' });

    // An abrupt drop (connection reset): an error, a backoff, a fresh list, a new watch.
    await waitFor(() => fake.openWatches('featureflags') === 1, { timeoutMs: 3_000, description: 'watching again' });
    const listsBeforeReset = lists();
    fake.dropWatches({ resource: 'featureflags', abrupt: true });
    editSpec((s) => {
      s.rollout.stages[0].percentage = 30;
    });
    await waitFor(async () => (await published()) === 30, { timeoutMs: 5_000, description: 'the edit after a connection reset' });
    assert.ok(lists() > listsBeforeReset, 'relisted after the error');

    // Compaction: the resourceVersion the controller would re-watch from is gone (ERROR 410), so it lists.
    await waitFor(() => fake.openWatches('featureflags') === 1 && status()?.effectivePercentage === 30, { timeoutMs: 3_000, description: 'watching, status settled' });
    const settledAt = Number(fake.resourceVersion);
    await waitFor(() => Number(fake.resourceVersion) > settledAt, { timeoutMs: 3_000, description: 'other writes (Lease renewals) moving the resourceVersion on' });
    const listsBeforeCompaction = lists();
    fake.compact();
    fake.dropWatches({ resource: 'featureflags' });
    await waitFor(() => lists() > listsBeforeCompaction && fake.openWatches('featureflags') === 1, { timeoutMs: 3_000, description: 'a relist after 410 Gone, and a new watch' });
    editSpec((s) => {
      s.rollout.stages[0].percentage = 40;
    });
    await waitFor(async () => (await published()) === 40 && status()?.effectivePercentage === 40, { timeoutMs: 5_000, description: 'the edit after compaction' });
  });

  test('a silently stalled watch cannot freeze the controller: the periodic relist picks up edits', async () => {
    fake.create('featureflags', resource(), { user: 'operator' });
    const watch = new StallableWatch(kubeConfigFor('ctl-a'));
    await startController('ctl-a', { watch, relistIntervalMs: 1_000 });
    await waitFor(() => status()?.stage === 1, { timeoutMs: 5_000, description: 'stage 1' });
    watch.stalled = true; // the connection stays open, but no event arrives any more (and no error either)
    const editedAt = Date.now();
    editSpec((s) => {
      s.rollout.stages[0].percentage = 20;
    });
    await waitFor(async () => (await published()) === 20 && status()?.observedGeneration === 2, { timeoutMs: 4_000, description: 'the edit, found by the periodic relist' });
    assert.ok(Date.now() - editedAt < 3_000, 'within about one relist interval');
  });

  test('a status write that meets 409 Conflict is retried with the latest resourceVersion and lands', async () => {
    fake.create('featureflags', resource(), { user: 'operator' });
    const watch = new StallableWatch(kubeConfigFor('ctl-a'));
    const a = await startController('ctl-a', { watch });
    await waitFor(() => status()?.stage === 1, { timeoutMs: 5_000, description: 'stage 1' });
    await sleep(300);

    // An injected 409 on the status subresource.
    const mark = fake.writes().at(-1)?.seq ?? 0;
    fake.failNext(STATUS_PATH, 409, { method: 'PUT' });
    const paused = await post(a, '/admin/pause', { reason: 'conflict drill' });
    assert.equal(paused.status, 200, JSON.stringify(paused.body));
    assert.equal(status()?.paused, true, 'the status write landed');
    const attempts = fake.writes({ user: 'ctl-a', resource: 'featureflags' }).filter((w) => w.seq > mark);
    assert.deepEqual(
      attempts.map((w) => [w.subresource, w.code, w.injected]),
      [
        ['status', 409, true],
        ['status', 200, false],
      ],
    );

    // A real conflict: the object changed (a label) while the controller's view is stale (its watch stalled).
    await sleep(300);
    watch.stalled = true;
    const current = object();
    fake.replace('featureflags', { ...current, metadata: { ...current.metadata, labels: { team: 'platform' } } }, { user: 'operator' });
    const mark2 = fake.writes().at(-1)!.seq;
    const resumed = await post(a, '/admin/resume', { reason: 'conflict drill over' });
    assert.equal(resumed.status, 200, JSON.stringify(resumed.body));
    assert.equal(status()?.paused, false, 'the retried write landed');
    const retried = fake.writes({ user: 'ctl-a', resource: 'featureflags' }).filter((w) => w.seq > mark2);
    assert.deepEqual(
      retried.map((w) => [w.subresource, w.code, w.injected]),
      [
        ['status', 409, false],
        ['status', 200, false],
      ],
    );
    assert.deepEqual(object().metadata?.labels, { team: 'platform' }, 'the label edit is kept');
    assert.equal(object().metadata?.generation, 1);
  });

  test('leader election: one controller holds the Lease and reconciles while the other writes nothing; a leader that loses the Lease mid-reconcile writes nothing afterwards and the other takes over', async () => {
    const prometheus = await startPrometheusStub();
    try {
      fake.create('featureflags', resource(spec({ analysis: { prometheusUrl: prometheus.url, interval: '1s', metrics: [{ name: 'error-rate', query: 'agentbridge_error_rate', max: 0.05 }] } })), { user: 'operator' });
      const a = await startController('ctl-a');
      await waitFor(() => a.controller.isLeader(), { timeoutMs: 5_000, description: 'ctl-a to lead' });
      const b = await startController('ctl-b');
      await waitFor(() => status()?.stage === 1 && status()?.lastAnalysisAt !== undefined, { timeoutMs: 5_000, description: 'stage 1 analysed' });
      await sleep(800); // ctl-b goes through a few election rounds as a follower
      assert.equal(b.controller.isLeader(), false);
      const lease = fake.get('leases', NS, CONTROLLER_LEASE_NAME)!;
      assert.equal(lease.spec.holderIdentity, 'ctl-a');
      assert.equal(lease.spec.leaseDurationSeconds, 2, 'LEADER_LEASE_TTL_MS 1500 rounded up to whole seconds');
      assert.deepEqual(controllerWrites('ctl-b'), [], 'the follower writes no status and no Events');
      assert.deepEqual(fake.writes({ user: 'ctl-b', resource: 'leases', ok: true }), [], 'nor the Lease');
      assert.ok(controllerWrites('ctl-a').length > 0);

      // ctl-a's next analysis query hangs: it is in the middle of a reconcile pass when the Lease is taken.
      const release = prometheus.hold();
      await waitFor(() => prometheus.waiting() > 0, { timeoutMs: 3_000, description: "ctl-a's analysis query, held" });
      const current = fake.get('leases', NS, CONTROLLER_LEASE_NAME)!;
      const takeover = fake.replace(
        'leases',
        { ...current, spec: { ...current.spec, holderIdentity: 'ctl-b', acquireTime: new V1MicroTime().toISOString(), renewTime: new V1MicroTime().toISOString(), leaseTransitions: (current.spec.leaseTransitions ?? 0) + 1 } },
        { user: 'admin' },
      );
      const mark = fake.writes().at(-1)!.seq;
      await waitFor(() => !a.controller.isLeader(), { timeoutMs: 2_000, description: 'ctl-a to notice the Lease is gone' });
      release(); // ctl-a's pass resumes: its writes must be refused before they reach the API
      await waitFor(() => b.controller.isLeader(), { timeoutMs: 5_000, description: 'ctl-b to take over' });
      await waitFor(() => controllerWrites('ctl-b', mark).length > 0, { timeoutMs: 5_000, description: 'ctl-b to reconcile (write the status)' });
      await sleep(500);

      assert.deepEqual(controllerWrites('ctl-a', mark), [], 'ctl-a wrote no status and no Event after the takeover');
      assert.deepEqual(
        fake.writes({ user: 'ctl-a', resource: 'leases', ok: true }).filter((w) => w.seq > mark),
        [],
        'nor the Lease',
      );
      const leaseNow = fake.get('leases', NS, CONTROLLER_LEASE_NAME)!;
      assert.equal(leaseNow.spec.holderIdentity, 'ctl-b');
      assert.equal(leaseNow.spec.leaseTransitions, takeover.spec.leaseTransitions);
      assert.ok(Number(leaseNow.metadata?.resourceVersion) > Number(takeover.metadata?.resourceVersion), 'ctl-b renews it');
      assert.equal(status()?.stage, 1, 'the new leader resumed from the stored status');
      assert.equal(a.controller.isLeader(), false);
    } finally {
      await prometheus.close();
    }
  });

  test('Kubernetes Events are created for stage transitions and rollbacks, with the right reason and type', async () => {
    fake.create(
      'featureflags',
      resource(
        spec({
          rollout: {
            stages: [
              { percentage: 10, hold: '1s' },
              { percentage: 50, hold: '1h' },
            ],
          },
        }),
      ),
      { user: 'operator' },
    );
    const a = await startController('ctl-a');
    await waitFor(() => status()?.stage === 2, { timeoutMs: 6_000, description: 'the promotion to stage 2' });
    const rollback = await post(a, '/admin/rollback', { level: 'partial', reason: 'error budget drill', actor: 'ops@example' });
    assert.equal(rollback.body.applied, true, JSON.stringify(rollback.body));
    await waitFor(() => fake.list('events', NS).some((e) => e.reason === 'RollbackPartial'), { timeoutMs: 3_000, description: 'the rollback Event' });

    const events = fake.list('events', NS).sort((x, y) => Number(x.metadata?.resourceVersion) - Number(y.metadata?.resourceVersion));
    assert.deepEqual(
      events.map((e) => [e.reason, e.type, e.message]),
      [
        ['StageStarted', 'Normal', 'rollout plan started'],
        ['StagePromoted', 'Normal', 'stage 1 held 1s with passing checks'],
        ['RollbackPartial', 'Warning', 'error budget drill'],
      ],
    );
    const uid = object().metadata?.uid;
    for (const event of events) {
      assert.deepEqual({ ...event.involvedObject, resourceVersion: undefined }, { apiVersion: 'agentbridge.io/v1alpha1', kind: 'FeatureFlags', name: NAME, namespace: NS, uid, resourceVersion: undefined });
      assert.match(String(event.involvedObject.resourceVersion), /^\d+$/);
      assert.equal(event.source?.component, 'agent-bridge-controller');
      assert.equal(event.reportingComponent, 'agent-bridge-controller');
      assert.equal(event.reportingInstance, 'ctl-a');
      assert.equal(event.count, 1);
      assert.ok(event.firstTimestamp && event.lastTimestamp && event.eventTime);
    }
    assert.deepEqual([...new Set(fake.writes({ resource: 'events' }).map((w) => `${w.user} ${w.verb} ${w.code}`))], ['ctl-a create 201']);
  });

  test('the source calls guard() right before each HTTP write: a deposed leader sends neither the retry after a 409 nor an Event', async () => {
    fake.create('featureflags', resource(), { user: 'operator' });
    const source = new KubernetesResourceSource({ kubeConfig: kubeConfigFor('ctl-a'), namespace: NS, name: NAME, controllerId: 'ctl-a', logger: silent });
    await source.start(() => undefined);
    try {
      assert.equal(await source.readStatus(), null, 'no status yet');
      const leading = () => undefined;
      await source.writeStatus({ ...initialStatus(), observedGeneration: 1, stage: 1, effectivePercentage: 10 }, leading);
      assert.deepEqual(await source.readStatus(), { ...initialStatus(), observedGeneration: 1, stage: 1, effectivePercentage: 10 });

      // The write meets a 409; by the time of the retry this process is no longer the leader.
      const mark = fake.writes().at(-1)!.seq;
      fake.failNext(STATUS_PATH, 409, { method: 'PUT' });
      let checks = 0;
      const deposedAfterFirstCheck = () => {
        checks += 1;
        if (checks > 1) throw new NotLeaderError('ctl-a is not the leader');
      };
      await assert.rejects(source.writeStatus({ ...initialStatus(), observedGeneration: 1, stage: 2, effectivePercentage: 50 }, deposedAfterFirstCheck), NotLeaderError);
      assert.equal(checks, 2);
      assert.deepEqual(
        fake
          .writes({ resource: 'featureflags' })
          .filter((w) => w.seq > mark)
          .map((w) => [w.code, w.injected]),
        [[409, true]],
        'the retry was not sent',
      );
      assert.equal(status()?.stage, 1);

      const event = { action: 'stage.promoted', actor: 'ctl-a', trigger: 'controller', reason: 'stage 1 held', severity: 'Normal' } as const;
      await assert.rejects(
        source.recordEvent(event, () => {
          throw new NotLeaderError('ctl-a is not the leader');
        }),
        NotLeaderError,
      );
      assert.deepEqual(fake.list('events', NS), []);
      await source.recordEvent(event, leading);
      assert.deepEqual(
        fake.list('events', NS).map((e) => [e.reason, e.type, e.message]),
        [['StagePromoted', 'Normal', 'stage 1 held']],
      );
    } finally {
      await source.stop();
    }
  });

  test('the Lease gate: takes a free or expired Lease, renews it, and reports not-held after a failed renewal or a takeover', async () => {
    const gate = (user: string) => new KubernetesLeaseGate({ kubeConfig: kubeConfigFor(user), namespace: NS, identity: user, leaseDurationMs: 1_500, logger: silent });
    const a = gate('ctl-a');
    const b = gate('ctl-b');
    const lost: string[] = [];
    await a.start(() => lost.push('ctl-a'));
    await b.start(() => lost.push('ctl-b'));
    const lease = () => fake.get('leases', NS, CONTROLLER_LEASE_NAME)!;

    assert.equal(await a.tryHold(), true, 'creates the Lease');
    assert.deepEqual([lease().spec.holderIdentity, lease().spec.leaseDurationSeconds, lease().spec.leaseTransitions], ['ctl-a', 2, 0]);
    assert.equal(await b.tryHold(), false, 'held by ctl-a');
    const renewedBefore = lease().spec.renewTime;
    await sleep(20);
    assert.equal(await a.tryHold(), true, 'renews');
    assert.ok(lease().spec.renewTime > renewedBefore);

    fake.failNext(`/namespaces/${NS}/leases/${CONTROLLER_LEASE_NAME}`, 500, { method: 'PUT' });
    assert.equal(await a.tryHold(), false, 'a failed renewal is not holding');
    assert.deepEqual(lost, ['ctl-a']);
    assert.equal(await a.tryHold(), true, 'still the holder: renews again');

    // Someone else takes it (its renewTime is fresh): ctl-a does not hold it any more.
    const current = lease();
    fake.replace('leases', { ...current, spec: { ...current.spec, holderIdentity: 'intruder', renewTime: new V1MicroTime().toISOString() } });
    assert.equal(await a.tryHold(), false);
    assert.deepEqual(lost, ['ctl-a', 'ctl-a']);
    // …and lets it expire: the first of the two candidates to update it wins, the other gets 409.
    const stale = lease();
    fake.replace('leases', { ...stale, spec: { ...stale.spec, renewTime: new V1MicroTime(Date.now() - 10_000).toISOString() } });
    const [heldA, heldB] = await Promise.all([a.tryHold(), b.tryHold()]);
    assert.equal(Number(heldA) + Number(heldB), 1, 'exactly one takes the expired Lease');
    const [winner, loser] = heldA ? [a, b] : [b, a];
    assert.equal(lease().spec.holderIdentity, heldA ? 'ctl-a' : 'ctl-b');
    assert.equal(lease().spec.leaseTransitions, 1, 'a takeover counts as a transition');
    assert.equal(await loser.tryHold(), false);

    await winner.release();
    assert.equal(lease().spec.holderIdentity, undefined, 'released: no holder');
    assert.equal(await loser.tryHold(), true, 'a released Lease is taken at once');
    assert.equal(lease().spec.leaseTransitions, 2);
  });
});
