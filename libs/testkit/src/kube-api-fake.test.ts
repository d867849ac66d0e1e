/**
 * kube-api-fake against the real @kubernetes/client-node 1.4 client: the contract a controller
 * relies on (resourceVersion/409, generation, status subresource, watch/410, informers, leases,
 * per-token attribution).
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { ApiException, CoordinationV1Api, CoreV1Api, CustomObjectsApi, EventsV1Api, KubeConfig, PatchStrategy, V1MicroTime, Watch, makeInformer, setHeaderOptions, type KubernetesObject, type V1Lease } from '@kubernetes/client-node';
import { startKubeApiFake, type KubeApiFake, type KubeObject, type KubeStatus, type StartKubeApiFakeOptions } from './kube-api-fake.js';
import { waitFor } from './wait.js';

const FF = { group: 'agentbridge.io', version: 'v1alpha1', plural: 'featureflags' } as const;
const FF_API_VERSION = 'agentbridge.io/v1alpha1';
const NS = 'agents';
const FF_PATH = `/apis/agentbridge.io/v1alpha1/namespaces/${NS}/featureflags`;
const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

async function startFake(t: TestContext, options?: StartKubeApiFakeOptions): Promise<KubeApiFake> {
  const fake = await startKubeApiFake(options);
  t.after(() => fake.close());
  return fake;
}

/** The KubeConfig a controller would use: client-node pointed at the fake, authenticated as `user`. */
function kubeConfigFor(fake: KubeApiFake, user = 'admin'): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions(fake.kubeConfig({ user, namespace: NS }));
  return kc;
}

function flag(name: string, spec: Record<string, unknown> = { phase: 'preparation' }, extra: Record<string, unknown> = {}): KubeObject {
  return { apiVersion: FF_API_VERSION, kind: 'FeatureFlags', metadata: { name }, spec, ...extra };
}

/** Await a rejected client call; returns the Status the server sent (client-node keeps it as text in `body`). */
async function apiError(promise: Promise<unknown>, code: number): Promise<KubeStatus> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ApiException, `expected an ApiException, got ${String(err)}`);
    assert.equal(err.code, code, `HTTP code (body: ${String(err.body)})`);
    return (typeof err.body === 'string' ? JSON.parse(err.body) : err.body) as KubeStatus;
  }
  assert.fail(`expected HTTP ${code}, but the call succeeded`);
}

interface Recorded {
  type: string;
  object: any;
}

/** A client-node Watch collecting events; `done` resolves with what the done callback received. */
async function watchEvents(kc: KubeConfig, path: string, query: Record<string, string | number | boolean | undefined> = {}) {
  const events: Recorded[] = [];
  let resolveDone!: (err: unknown) => void;
  const done = new Promise<unknown>((resolve) => (resolveDone = resolve));
  const controller = await new Watch(kc).watch(
    path,
    query,
    (type, object) => events.push({ type, object }),
    (err) => resolveDone(err),
  );
  return { events, done, abort: () => controller.abort() };
}

const names = (events: Recorded[]) => events.map((e) => `${e.type} ${e.object?.metadata?.name ?? ''}`.trim());

describe('kube-api-fake: custom resource CRUD (featureflags.agentbridge.io)', () => {
  test('create/get/list/replace/patch/delete with resourceVersion, uid and generation', async (t) => {
    const fake = await startFake(t);
    const api = kubeConfigFor(fake).makeApiClient(CustomObjectsApi);

    const created = await api.createNamespacedCustomObject({ ...FF, namespace: NS, body: flag('rollout', { phase: 'preparation' }, { status: { ignored: true } }) });
    assert.equal(created.apiVersion, FF_API_VERSION);
    assert.equal(created.kind, 'FeatureFlags');
    assert.equal(created.metadata.namespace, NS);
    assert.equal(created.metadata.generation, 1);
    assert.match(created.metadata.uid, /^[0-9a-f-]{36}$/);
    assert.match(created.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.match(created.metadata.resourceVersion, /^\d+$/);
    assert.equal(created.status, undefined, 'create drops .status when the status subresource is enabled');

    const conflict = await apiError(api.createNamespacedCustomObject({ ...FF, namespace: NS, body: flag('rollout') }), 409);
    assert.equal(conflict.reason, 'AlreadyExists');
    assert.equal(conflict.message, 'featureflags.agentbridge.io "rollout" already exists');

    const got = await api.getNamespacedCustomObject({ ...FF, namespace: NS, name: 'rollout' });
    assert.deepEqual(got, created);
    const missing = await apiError(api.getNamespacedCustomObject({ ...FF, namespace: NS, name: 'nope' }), 404);
    assert.deepEqual(
      { kind: missing.kind, apiVersion: missing.apiVersion, status: missing.status, reason: missing.reason, code: missing.code, message: missing.message },
      { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: 'featureflags.agentbridge.io "nope" not found' },
    );

    await api.createNamespacedCustomObject({ ...FF, namespace: 'other', body: flag('elsewhere') });
    const list = await api.listNamespacedCustomObject({ ...FF, namespace: NS });
    assert.equal(list.kind, 'FeatureFlagsList');
    assert.equal(list.apiVersion, FF_API_VERSION);
    assert.equal(list.metadata.resourceVersion, fake.resourceVersion);
    assert.deepEqual(
      list.items.map((i: KubeObject) => i.metadata?.name),
      ['rollout'],
    );
    const all = await api.listClusterCustomObject(FF);
    assert.deepEqual(
      all.items.map((i: KubeObject) => `${i.metadata?.namespace}/${i.metadata?.name}`),
      ['agents/rollout', 'other/elsewhere'],
    );

    // Labels only: resourceVersion moves, generation does not.
    const labelled = await api.replaceNamespacedCustomObject({
      ...FF,
      namespace: NS,
      name: 'rollout',
      body: { ...created, metadata: { ...created.metadata, labels: { team: 'a' } } },
    });
    assert.equal(labelled.metadata.generation, 1);
    assert.ok(Number(labelled.metadata.resourceVersion) > Number(created.metadata.resourceVersion));
    assert.equal(labelled.metadata.uid, created.metadata.uid);

    // A no-op update keeps the resourceVersion (and emits no watch event).
    const same = await api.replaceNamespacedCustomObject({ ...FF, namespace: NS, name: 'rollout', body: labelled });
    assert.equal(same.metadata.resourceVersion, labelled.metadata.resourceVersion);

    // Spec change: generation + 1.
    const replaced = await api.replaceNamespacedCustomObject({ ...FF, namespace: NS, name: 'rollout', body: { ...labelled, spec: { phase: 'rollout' } } });
    assert.equal(replaced.metadata.generation, 2);
    assert.deepEqual(replaced.spec, { phase: 'rollout' });
    assert.deepEqual(replaced.metadata.labels, { team: 'a' });

    // JSON patch is client-node's default Content-Type for patch calls.
    const jsonPatched = await api.patchNamespacedCustomObject({ ...FF, namespace: NS, name: 'rollout', body: [{ op: 'add', path: '/spec/paused', value: true }] });
    assert.deepEqual(jsonPatched.spec, { phase: 'rollout', paused: true });
    assert.equal(jsonPatched.metadata.generation, 3);
    const failedTest = await apiError(api.patchNamespacedCustomObject({ ...FF, namespace: NS, name: 'rollout', body: [{ op: 'test', path: '/spec/phase', value: 'preparation' }] }), 422);
    assert.match(failedTest.message ?? '', /test failed/);

    const merged = await api.patchNamespacedCustomObject({ ...FF, namespace: NS, name: 'rollout', body: { spec: { paused: null, phase: 'stabilization' } } }, MERGE_PATCH);
    assert.deepEqual(merged.spec, { phase: 'stabilization' });
    assert.equal(merged.metadata.generation, 4);
    const annotated = await api.patchNamespacedCustomObject({ ...FF, namespace: NS, name: 'rollout', body: { metadata: { annotations: { note: 'x' } } } }, MERGE_PATCH);
    assert.equal(annotated.metadata.generation, 4, 'metadata-only patch keeps generation');

    // Like kube-apiserver, custom resources do not accept strategic merge patch.
    const smp = await apiError(api.patchNamespacedCustomObject({ ...FF, namespace: NS, name: 'rollout', body: { spec: { paused: true } } }, setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch)), 415);
    assert.equal(smp.reason, 'UnsupportedMediaType');

    const deleted = await api.deleteNamespacedCustomObject({ ...FF, namespace: NS, name: 'rollout' });
    assert.equal(deleted.status, 'Success');
    await apiError(api.getNamespacedCustomObject({ ...FF, namespace: NS, name: 'rollout' }), 404);
    assert.equal(fake.get('featureflags', NS, 'rollout'), undefined);
  });

  test('status subresource: /status writes change only .status, main writes never change .status', async (t) => {
    const fake = await startFake(t);
    const api = kubeConfigFor(fake).makeApiClient(CustomObjectsApi);
    const created = await api.createNamespacedCustomObject({ ...FF, namespace: NS, body: flag('f', { phase: 'preparation' }) });

    const statusWritten = await api.replaceNamespacedCustomObjectStatus({
      ...FF,
      namespace: NS,
      name: 'f',
      body: { ...created, metadata: { ...created.metadata, labels: { sneaky: 'yes' } }, spec: { phase: 'rollout' }, status: { observedGeneration: 1, stage: 0 } },
    });
    assert.deepEqual(statusWritten.status, { observedGeneration: 1, stage: 0 });
    assert.deepEqual(statusWritten.spec, { phase: 'preparation' }, 'spec in a /status body is ignored');
    assert.equal(statusWritten.metadata.labels, undefined, 'metadata in a /status body is ignored');
    assert.equal(statusWritten.metadata.generation, 1, 'status writes never bump generation');

    const mainWritten = await api.replaceNamespacedCustomObject({ ...FF, namespace: NS, name: 'f', body: { ...statusWritten, spec: { phase: 'rollout' }, status: { stage: 99 } } });
    assert.deepEqual(mainWritten.status, { observedGeneration: 1, stage: 0 }, 'status in a main-resource body is ignored');
    assert.deepEqual(mainWritten.spec, { phase: 'rollout' });
    assert.equal(mainWritten.metadata.generation, 2);

    const patchedStatus = await api.patchNamespacedCustomObjectStatus({ ...FF, namespace: NS, name: 'f', body: { spec: { phase: 'x' }, status: { stage: 1 } } }, MERGE_PATCH);
    assert.deepEqual(patchedStatus.status, { observedGeneration: 1, stage: 1 });
    assert.deepEqual(patchedStatus.spec, { phase: 'rollout' });
    assert.equal(patchedStatus.metadata.generation, 2);

    const patchedMain = await api.patchNamespacedCustomObject({ ...FF, namespace: NS, name: 'f', body: { status: { stage: 7 } } }, MERGE_PATCH);
    assert.deepEqual(patchedMain.status, { observedGeneration: 1, stage: 1 });
    assert.equal(patchedMain.metadata.resourceVersion, patchedStatus.metadata.resourceVersion, 'a main patch that only touches status is a no-op');

    // 409 rules apply on /status as well.
    const stale = await apiError(api.replaceNamespacedCustomObjectStatus({ ...FF, namespace: NS, name: 'f', body: { ...statusWritten, status: { stage: 2 } } }), 409);
    assert.equal(stale.reason, 'Conflict');
  });

  test('a stale resourceVersion is a 409 Conflict (PUT, PATCH, /status); a missing one is 422', async (t) => {
    const fake = await startFake(t);
    const api = kubeConfigFor(fake).makeApiClient(CustomObjectsApi);
    const v1 = await api.createNamespacedCustomObject({ ...FF, namespace: NS, body: flag('x') });
    await api.replaceNamespacedCustomObject({ ...FF, namespace: NS, name: 'x', body: { ...v1, spec: { phase: 'rollout' } } });

    const status = await apiError(api.replaceNamespacedCustomObject({ ...FF, namespace: NS, name: 'x', body: { ...v1, spec: { phase: 'rollback' } } }), 409);
    assert.equal(status.reason, 'Conflict');
    assert.equal(status.message, 'Operation cannot be fulfilled on featureflags.agentbridge.io "x": the object has been modified; please apply your changes to the latest version and try again');
    assert.deepEqual(status.details, { name: 'x', group: 'agentbridge.io', kind: 'featureflags' });

    await apiError(api.patchNamespacedCustomObject({ ...FF, namespace: NS, name: 'x', body: { metadata: { resourceVersion: v1.metadata.resourceVersion }, spec: { phase: 'rollback' } } }, MERGE_PATCH), 409);
    await apiError(
      api.patchNamespacedCustomObject({
        ...FF,
        namespace: NS,
        name: 'x',
        body: [
          { op: 'replace', path: '/metadata/resourceVersion', value: v1.metadata.resourceVersion },
          { op: 'replace', path: '/spec/phase', value: 'rollback' },
        ],
      }),
      409,
    );
    const { resourceVersion: _rv, ...metaWithoutRv } = v1.metadata;
    const unconditional = await apiError(api.replaceNamespacedCustomObject({ ...FF, namespace: NS, name: 'x', body: { ...v1, metadata: metaWithoutRv } }), 422);
    assert.equal(unconditional.reason, 'Invalid');
    assert.equal(unconditional.details?.causes?.[0]?.field, 'metadata.resourceVersion');
    assert.equal(fake.get('featureflags', NS, 'x')?.spec.phase, 'rollout', 'no rejected write got through');
  });

  test('finalizers: delete marks deletionTimestamp, removing the last finalizer deletes', async (t) => {
    const fake = await startFake(t);
    const kc = kubeConfigFor(fake);
    const api = kc.makeApiClient(CustomObjectsApi);
    await api.createNamespacedCustomObject({ ...FF, namespace: NS, body: { ...flag('fin'), metadata: { name: 'fin', finalizers: ['agentbridge.io/cleanup'] } } });
    const watch = await watchEvents(kc, FF_PATH, { resourceVersion: fake.resourceVersion });
    t.after(() => watch.abort());

    const marked = await api.deleteNamespacedCustomObject({ ...FF, namespace: NS, name: 'fin' });
    assert.ok(marked.metadata.deletionTimestamp, 'deletion pending on the finalizer');
    assert.equal(marked.metadata.generation, 2);
    const adding = await apiError(api.patchNamespacedCustomObject({ ...FF, namespace: NS, name: 'fin', body: { metadata: { finalizers: ['agentbridge.io/cleanup', 'other'] } } }, MERGE_PATCH), 422);
    assert.match(adding.message ?? '', /no new finalizers can be added/);
    await api.patchNamespacedCustomObject({ ...FF, namespace: NS, name: 'fin', body: { metadata: { finalizers: null } } }, MERGE_PATCH);
    await apiError(api.getNamespacedCustomObject({ ...FF, namespace: NS, name: 'fin' }), 404);
    await waitFor(() => watch.events.length === 2, { description: 'MODIFIED then DELETED', timeoutMs: 3000 });
    assert.deepEqual(names(watch.events), ['MODIFIED fin', 'DELETED fin']);
  });

  test('list: field/label selectors, Exact resourceVersion snapshots, limit/continue', async (t) => {
    const fake = await startFake(t);
    const api = kubeConfigFor(fake).makeApiClient(CustomObjectsApi);
    for (const [name, team] of [
      ['a', 'x'],
      ['b', 'y'],
      ['c', 'x'],
    ] as const) {
      await api.createNamespacedCustomObject({ ...FF, namespace: NS, body: { ...flag(name), metadata: { name, labels: { team } } } });
    }
    const before = fake.resourceVersion;
    await api.deleteNamespacedCustomObject({ ...FF, namespace: NS, name: 'a' });

    const byName = await api.listNamespacedCustomObject({ ...FF, namespace: NS, fieldSelector: 'metadata.name=b' });
    assert.deepEqual(
      byName.items.map((i: KubeObject) => i.metadata?.name),
      ['b'],
    );
    const byLabel = await api.listNamespacedCustomObject({ ...FF, namespace: NS, labelSelector: 'team in (x)' });
    assert.deepEqual(
      byLabel.items.map((i: KubeObject) => i.metadata?.name),
      ['c'],
    );
    const badField = await apiError(api.listNamespacedCustomObject({ ...FF, namespace: NS, fieldSelector: 'spec.phase=x' }), 400);
    assert.equal(badField.message, 'field label not supported: spec.phase');

    const snapshot = await api.listNamespacedCustomObject({ ...FF, namespace: NS, resourceVersion: before, resourceVersionMatch: 'Exact' });
    assert.deepEqual(
      snapshot.items.map((i: KubeObject) => i.metadata?.name),
      ['a', 'b', 'c'],
    );
    assert.equal(snapshot.metadata.resourceVersion, before);

    const page1 = await api.listNamespacedCustomObject({ ...FF, namespace: NS, limit: 1 });
    assert.deepEqual(
      page1.items.map((i: KubeObject) => i.metadata?.name),
      ['b'],
    );
    assert.equal(page1.metadata.remainingItemCount, 1);
    const page2 = await api.listNamespacedCustomObject({ ...FF, namespace: NS, limit: 1, _continue: page1.metadata.continue });
    assert.deepEqual(
      page2.items.map((i: KubeObject) => i.metadata?.name),
      ['c'],
    );
    assert.equal(page2.metadata.continue, undefined);

    fake.compact();
    const expired = await apiError(api.listNamespacedCustomObject({ ...FF, namespace: NS, resourceVersion: before, resourceVersionMatch: 'Exact' }), 410);
    assert.equal(expired.reason, 'Expired');
    const latest = await api.listNamespacedCustomObject({ ...FF, namespace: NS, resourceVersion: before });
    assert.equal(latest.items.length, 2, 'NotOlderThan (the default) serves the current state');

    // dryRun=All validates but stores nothing; deletecollection honours selectors.
    const rv = fake.resourceVersion;
    await api.createNamespacedCustomObject({ ...FF, namespace: NS, body: flag('dry'), dryRun: 'All' });
    assert.equal(fake.get('featureflags', NS, 'dry'), undefined);
    assert.equal(fake.resourceVersion, rv);
    await api.deleteCollectionNamespacedCustomObject({ ...FF, namespace: NS, labelSelector: 'team=y' });
    assert.deepEqual(
      fake.list('featureflags', NS).map((o) => o.metadata?.name),
      ['c'],
    );
  });

  test('the validate hook (for the CRD schema) turns messages into 422 Invalid with causes', async (t) => {
    const fake = await startFake(t, {
      validate: (kind, object) => (kind === 'FeatureFlags' && object.spec?.phase === 'bogus' ? ['spec.phase: Unsupported value: "bogus": supported values: "preparation", "rollout"'] : []),
    });
    const api = kubeConfigFor(fake).makeApiClient(CustomObjectsApi);
    const status = await apiError(api.createNamespacedCustomObject({ ...FF, namespace: NS, body: flag('v', { phase: 'bogus' }) }), 422);
    assert.equal(status.reason, 'Invalid');
    assert.equal(status.message, 'FeatureFlags.agentbridge.io "v" is invalid: spec.phase: Unsupported value: "bogus": supported values: "preparation", "rollout"');
    assert.deepEqual(status.details?.causes, [{ reason: 'FieldValueInvalid', message: 'Unsupported value: "bogus": supported values: "preparation", "rollout"', field: 'spec.phase' }]);
    const bad = await apiError(api.createNamespacedCustomObject({ ...FF, namespace: NS, body: flag('Not_A_DNS_Name') }), 422);
    assert.equal(bad.details?.causes?.[0]?.field, 'metadata.name');
    await api.createNamespacedCustomObject({ ...FF, namespace: NS, body: flag('v', { phase: 'rollout' }) });
  });
});

describe('kube-api-fake: authentication and attribution', () => {
  test('401 without a known bearer token; writes are attributed to the token that made them', async (t) => {
    const fake = await startFake(t);
    const noToken = await fetch(`${fake.url}${FF_PATH}`);
    assert.equal(noToken.status, 401);
    assert.deepEqual(await noToken.json(), { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
    const wrong = new KubeConfig();
    const options = fake.kubeConfig({ user: 'a' });
    options.users[0]!.token = 'not-a-token';
    wrong.loadFromOptions(options);
    await apiError(wrong.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({ ...FF, namespace: NS }), 401);

    const a = kubeConfigFor(fake, 'controller-a').makeApiClient(CustomObjectsApi);
    const b = kubeConfigFor(fake, 'controller-b').makeApiClient(CustomObjectsApi);
    const created = await a.createNamespacedCustomObject({ ...FF, namespace: NS, body: flag('shared') });
    await a.patchNamespacedCustomObjectStatus({ ...FF, namespace: NS, name: 'shared', body: { status: { owner: 'a' } } }, MERGE_PATCH);
    await apiError(b.replaceNamespacedCustomObject({ ...FF, namespace: NS, name: 'shared', body: created }), 409);
    await b.getNamespacedCustomObject({ ...FF, namespace: NS, name: 'shared' });

    assert.deepEqual(
      fake.writes({ user: 'controller-a' }).map((w) => [w.verb, w.subresource, w.code]),
      [
        ['create', undefined, 201],
        ['patch', 'status', 200],
      ],
    );
    assert.equal(fake.writes({ user: 'controller-b', ok: true }).length, 0, 'controller-b changed nothing');
    const [rejected] = fake.writes({ user: 'controller-b' });
    assert.equal(rejected?.code, 409);
    assert.equal(rejected?.token, fake.tokenFor('controller-b'));
    assert.equal(fake.writes({ token: fake.tokenFor('controller-a')! }).length, 2);
    assert.equal(fake.requests({ user: 'controller-b', verb: 'get' }).length, 1);
    assert.equal(fake.writes({ resource: 'featureflags', ok: true }).at(-1)?.resourceVersion, fake.resourceVersion);
  });

  test('kubeConfigYaml() loads with loadFromString', async (t) => {
    const fake = await startFake(t);
    const kc = new KubeConfig();
    kc.loadFromString(fake.kubeConfigYaml({ user: 'yaml-user', namespace: NS }));
    assert.equal(kc.getCurrentCluster()?.server, fake.url);
    await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({ ...FF, namespace: NS, body: flag('y') });
    assert.equal(fake.writes({ user: 'yaml-user', ok: true }).length, 1);
  });

  test('failNext injects an error for the next matching request only', async (t) => {
    const fake = await startFake(t);
    const kc = kubeConfigFor(fake);
    const api = kc.makeApiClient(CustomObjectsApi);
    fake.failNext('/featureflags', 503, { method: 'GET' });
    const status = await apiError(api.listNamespacedCustomObject({ ...FF, namespace: NS }), 503);
    assert.equal(status.reason, 'ServiceUnavailable');
    await api.listNamespacedCustomObject({ ...FF, namespace: NS });

    fake.failNext(/watch=true/, 500);
    const watch = await watchEvents(kc, FF_PATH);
    const err = (await watch.done) as { statusCode?: number };
    assert.equal(err.statusCode, 500, 'client-node reports a non-200 watch answer as an error with statusCode');

    fake.failNext('/featureflags', 409, { method: 'POST' });
    await apiError(api.createNamespacedCustomObject({ ...FF, namespace: NS, body: flag('z') }), 409);
    assert.equal(fake.writes({ verb: 'create' })[0]?.injected, true);
    await api.createNamespacedCustomObject({ ...FF, namespace: NS, body: flag('z') });
  });
});

describe('kube-api-fake: watch', () => {
  test('from a resourceVersion only later changes are streamed; without one, current objects come first', async (t) => {
    const fake = await startFake(t);
    const kc = kubeConfigFor(fake);
    const api = kc.makeApiClient(CustomObjectsApi);
    await api.createNamespacedCustomObject({ ...FF, namespace: NS, body: flag('a') });
    const b = await api.createNamespacedCustomObject({ ...FF, namespace: NS, body: flag('b') });
    const from = fake.resourceVersion;
    await api.replaceNamespacedCustomObject({ ...FF, namespace: NS, name: 'b', body: { ...b, spec: { phase: 'rollout' } } });
    await api.createNamespacedCustomObject({ ...FF, namespace: NS, body: flag('c') });
    await api.deleteNamespacedCustomObject({ ...FF, namespace: NS, name: 'a' });
    await api.createNamespacedCustomObject({ ...FF, namespace: 'other', body: flag('elsewhere') });

    const replay = await watchEvents(kc, FF_PATH, { resourceVersion: from });
    const fresh = await watchEvents(kc, FF_PATH);
    const named = await watchEvents(kc, FF_PATH, { fieldSelector: 'metadata.name=c', resourceVersion: from });
    t.after(() => [replay, fresh, named].forEach((w) => w.abort()));
    await waitFor(() => replay.events.length === 3 && fresh.events.length === 2 && named.events.length === 1, { description: 'watch events', timeoutMs: 3000 });
    assert.deepEqual(names(replay.events), ['MODIFIED b', 'ADDED c', 'DELETED a']);
    assert.ok(replay.events.every((e) => Number(e.object.metadata.resourceVersion) > Number(from)));
    assert.equal(replay.events[2]!.object.kind, 'FeatureFlags');
    assert.deepEqual(names(fresh.events), ['ADDED b', 'ADDED c']);
    assert.deepEqual(names(named.events), ['ADDED c']);

    await api.patchNamespacedCustomObject({ ...FF, namespace: NS, name: 'c', body: { spec: { paused: true } } }, MERGE_PATCH);
    await waitFor(() => replay.events.length === 4 && fresh.events.length === 3 && named.events.length === 2, { description: 'live event', timeoutMs: 3000 });
    assert.deepEqual(names([replay.events[3]!, fresh.events[2]!, named.events[1]!]), ['MODIFIED c', 'MODIFIED c', 'MODIFIED c']);
  });

  test('a compacted resourceVersion yields an ERROR event with a 410 Expired Status, then the stream ends', async (t) => {
    const fake = await startFake(t);
    const kc = kubeConfigFor(fake);
    const api = kc.makeApiClient(CustomObjectsApi);
    await api.createNamespacedCustomObject({ ...FF, namespace: NS, body: flag('a') });
    const old = fake.resourceVersion;
    await api.createNamespacedCustomObject({ ...FF, namespace: NS, body: flag('b') });
    const horizon = fake.compact();

    const watch = await watchEvents(kc, FF_PATH, { resourceVersion: old });
    assert.equal(await watch.done, null, 'client-node calls done(null): the 410 arrives as an event, not as an error');
    assert.equal(watch.events.length, 1);
    const [event] = watch.events;
    assert.equal(event!.type, 'ERROR');
    assert.deepEqual(event!.object, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: `too old resource version: ${old} (${horizon})`,
      reason: 'Expired',
      code: 410,
    });

    const current = await watchEvents(kc, FF_PATH, { resourceVersion: horizon });
    t.after(() => current.abort());
    await api.createNamespacedCustomObject({ ...FF, namespace: NS, body: flag('c') });
    await waitFor(() => current.events.length === 1, { description: 'watch from the horizon works', timeoutMs: 3000 });
    assert.deepEqual(names(current.events), ['ADDED c']);
  });

  test('timeoutSeconds ends the stream; allowWatchBookmarks sends BOOKMARK events', async (t) => {
    const fake = await startFake(t, { bookmarkIntervalMs: 100 });
    const kc = kubeConfigFor(fake);
    const watch = await watchEvents(kc, FF_PATH, { resourceVersion: fake.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: 1 });
    assert.equal(await watch.done, null);
    assert.ok(watch.events.length >= 3, `bookmarks: ${watch.events.length}`);
    assert.ok(watch.events.every((e) => e.type === 'BOOKMARK' && e.object.kind === 'FeatureFlags' && e.object.metadata.resourceVersion === fake.resourceVersion));
    assert.equal(fake.openWatches(), 0);
  });

  test('dropWatches() ends client watches: cleanly (done(null)) or abruptly (done(error))', async (t) => {
    const fake = await startFake(t);
    const kc = kubeConfigFor(fake);
    const clean = await watchEvents(kc, FF_PATH);
    const leases = await watchEvents(kc, `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`);
    await waitFor(() => fake.openWatches() === 2, { description: 'two open watches' });
    assert.equal(fake.dropWatches({ resource: 'featureflags' }), 1);
    assert.equal(await clean.done, null);
    assert.equal(fake.openWatches('leases'), 1);

    assert.equal(fake.dropWatches({ abrupt: true }), 1);
    const err = (await leases.done) as NodeJS.ErrnoException;
    assert.ok(err instanceof Error);
    assert.equal(err.code, 'ERR_STREAM_PREMATURE_CLOSE');
    assert.equal(fake.openWatches(), 0);
  });
});

describe('kube-api-fake: informers (makeInformer)', () => {
  function flagInformer(kc: KubeConfig) {
    const api = kc.makeApiClient(CustomObjectsApi);
    return makeInformer<KubernetesObject>(kc, FF_PATH, () => api.listNamespacedCustomObject({ ...FF, namespace: NS }));
  }
  const cached = (informer: { list(ns?: string): readonly KubernetesObject[] }) =>
    informer
      .list(NS)
      .map((o) => o.metadata?.name)
      .sort();

  test('a clean drop reconnects by itself; a 410 on reconnect is handled by relisting', async (t) => {
    const fake = await startFake(t);
    const kc = kubeConfigFor(fake);
    const api = kc.makeApiClient(CustomObjectsApi);
    await api.createNamespacedCustomObject({ ...FF, namespace: NS, body: flag('a') });
    const informer = flagInformer(kc);
    const seen = { connect: 0, error: 0, add: [] as string[], delete: [] as string[] };
    informer.on('connect', () => seen.connect++);
    informer.on('error', () => seen.error++);
    informer.on('add', (o) => seen.add.push(o.metadata!.name!));
    informer.on('delete', (o) => seen.delete.push(o.metadata!.name!));
    await informer.start();
    t.after(() => informer.stop());
    await waitFor(() => fake.openWatches() === 1 && cached(informer).length === 1, { description: 'informer synced' });

    // A clean server-side close (as at a watch timeout): the informer re-watches from its last resourceVersion.
    fake.dropWatches();
    await api.createNamespacedCustomObject({ ...FF, namespace: NS, body: flag('b') });
    await waitFor(() => cached(informer).join() === 'a,b', { description: 'b via the re-established watch', timeoutMs: 3000 });
    assert.equal(seen.connect, 2);

    // Make the informer's resourceVersion stale: writes it does not watch, then compaction, then a drop.
    // Its re-watch gets ERROR 410; client-node then clears its resourceVersion and relists.
    const leases = kc.makeApiClient(CoordinationV1Api);
    await leases.createNamespacedLease({ namespace: NS, body: { metadata: { name: 'unrelated' }, spec: { holderIdentity: 'x' } } });
    fake.remove('featureflags', NS, 'a');
    await waitFor(() => cached(informer).join() === 'b', { description: 'delete of a seen live', timeoutMs: 3000 });
    await leases.deleteNamespacedLease({ namespace: NS, name: 'unrelated' });
    fake.compact();
    const listsBefore = fake.requests({ verb: 'list' }).length;
    fake.dropWatches();
    await waitFor(() => fake.requests({ verb: 'list' }).length === listsBefore + 1 && fake.openWatches() === 1, { description: 'relist after 410', timeoutMs: 3000 });
    assert.equal(seen.error, 0, 'no error surfaced: 410 is handled inside ListWatch');
    assert.deepEqual(cached(informer), ['b']);
    assert.deepEqual(seen.add, ['a', 'b']);
    assert.deepEqual(seen.delete, ['a']);
  });

  test("an abrupt drop stops the informer with an error; start() again (on 'error') recovers via 410 + relist", async (t) => {
    const fake = await startFake(t);
    const kc = kubeConfigFor(fake);
    const api = kc.makeApiClient(CustomObjectsApi);
    await api.createNamespacedCustomObject({ ...FF, namespace: NS, body: flag('a') });
    const informer = flagInformer(kc);
    const errors: unknown[] = [];
    const deleted: string[] = [];
    informer.on('delete', (o) => deleted.push(o.metadata!.name!));
    // The recovery pattern a controller should use with client-node 1.4: restart on 'error'.
    // (informer.stop() itself also emits 'error' with an AbortError: do not restart after stopping.)
    let stopping = false;
    let restart!: () => void;
    const gate = new Promise<void>((resolve) => (restart = resolve));
    informer.on('error', (err) => {
      errors.push(err);
      if (stopping) return;
      void gate.then(() => informer.start());
    });
    await informer.start();
    t.after(async () => {
      stopping = true;
      await informer.stop();
    });
    await waitFor(() => cached(informer).join() === 'a' && fake.openWatches() === 1, { description: 'informer synced' });

    fake.dropWatches({ abrupt: true });
    await waitFor(() => errors.length === 1, { description: "the informer's error", timeoutMs: 3000 });
    assert.equal((errors[0] as NodeJS.ErrnoException).code, 'ERR_STREAM_PREMATURE_CLOSE');
    assert.equal(fake.openWatches(), 0, 'the informer does not reconnect by itself after an error');

    // Changes while it is down, and history compacted: its resourceVersion is now too old.
    fake.remove('featureflags', NS, 'a');
    fake.create('featureflags', flag('c', { phase: 'rollout' }, { metadata: { name: 'c', namespace: NS } }));
    fake.compact();
    restart();
    await waitFor(() => cached(informer).join() === 'c' && fake.openWatches() === 1, { description: 'informer resynced by relist', timeoutMs: 3000 });
    assert.deepEqual(deleted, ['a'], 'the relist reported the deletion that happened while it was down');
    assert.equal(errors.length, 1);
    await api.createNamespacedCustomObject({ ...FF, namespace: NS, body: flag('d') });
    await waitFor(() => cached(informer).join() === 'c,d', { description: 'live again', timeoutMs: 3000 });
  });
});

describe('kube-api-fake: coordination.k8s.io/v1 Leases', () => {
  test('two candidates: one wins the update, the other gets 409; PUT without resourceVersion is 422', async (t) => {
    const fake = await startFake(t);
    const a = kubeConfigFor(fake, 'candidate-a').makeApiClient(CoordinationV1Api);
    const b = kubeConfigFor(fake, 'candidate-b').makeApiClient(CoordinationV1Api);
    const lease = (holder: string): V1Lease => ({
      metadata: { name: 'agent-bridge-controller', namespace: NS },
      spec: { holderIdentity: holder, leaseDurationSeconds: 15, acquireTime: new V1MicroTime(), renewTime: new V1MicroTime(), leaseTransitions: 0 },
    });

    const created = await a.createNamespacedLease({ namespace: NS, body: lease('a') });
    assert.equal(created.kind, 'Lease');
    assert.equal(created.apiVersion, 'coordination.k8s.io/v1');
    assert.equal(created.metadata?.generation, undefined, 'Leases have no generation');
    assert.match(String(created.spec?.renewTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/, 'MicroTime comes back as a string with 6 digits');
    const exists = await apiError(b.createNamespacedLease({ namespace: NS, body: lease('b') }), 409);
    assert.equal(exists.reason, 'AlreadyExists');

    // Both read the same version; both try to take over.
    const seenByA = await a.readNamespacedLease({ namespace: NS, name: 'agent-bridge-controller' });
    const seenByB = await b.readNamespacedLease({ namespace: NS, name: 'agent-bridge-controller' });
    const renewed = await a.replaceNamespacedLease({
      namespace: NS,
      name: 'agent-bridge-controller',
      body: { ...seenByA, spec: { ...seenByA.spec, renewTime: new V1MicroTime() } },
    });
    const lost = await apiError(
      b.replaceNamespacedLease({
        namespace: NS,
        name: 'agent-bridge-controller',
        body: { ...seenByB, spec: { ...seenByB.spec, holderIdentity: 'b', leaseTransitions: 1 } },
      }),
      409,
    );
    assert.equal(lost.reason, 'Conflict');
    assert.match(lost.message ?? '', /^Operation cannot be fulfilled on leases\.coordination\.k8s\.io "agent-bridge-controller": the object has been modified/);
    assert.equal(fake.get('leases', NS, 'agent-bridge-controller')?.spec.holderIdentity, 'a');
    assert.equal(fake.get('leases', NS, 'agent-bridge-controller')?.metadata?.resourceVersion, renewed.metadata?.resourceVersion);

    const { resourceVersion: _rv, ...meta } = renewed.metadata!;
    const unconditional = await apiError(b.replaceNamespacedLease({ namespace: NS, name: 'agent-bridge-controller', body: { ...renewed, metadata: meta } }), 422);
    assert.match(unconditional.message ?? '', /metadata\.resourceVersion: Invalid value: 0x0: must be specified for an update/);

    // A plain Date serialises with 3 fractional digits; kube-apiserver's MicroTime decoder rejects it.
    const plainDate = await apiError(b.createNamespacedLease({ namespace: NS, body: { metadata: { name: 'other' }, spec: { holderIdentity: 'b', renewTime: new Date() as V1MicroTime } } }), 400);
    assert.match(plainDate.message ?? '', /^Lease in version "v1" cannot be handled as a Lease: parsing time ".*" as "2006-01-02T15:04:05.000000Z07:00"/);
    const badDuration = await apiError(b.createNamespacedLease({ namespace: NS, body: { metadata: { name: 'other' }, spec: { leaseDurationSeconds: 0 } } }), 422);
    assert.equal(badDuration.details?.causes?.[0]?.field, 'spec.leaseDurationSeconds');

    assert.deepEqual(
      fake.writes({ resource: 'leases' }).map((w) => `${w.user} ${w.verb} ${w.code}`),
      ['candidate-a create 201', 'candidate-b create 409', 'candidate-a update 200', 'candidate-b update 409', 'candidate-b update 422', 'candidate-b create 400', 'candidate-b create 422'],
    );
    assert.equal(fake.writes({ user: 'candidate-b', ok: true }).length, 0);

    // Merge patch with a stale resourceVersion is a conflict too; a fresh one goes through.
    await apiError(b.patchNamespacedLease({ namespace: NS, name: 'agent-bridge-controller', body: { metadata: { resourceVersion: seenByB.metadata!.resourceVersion }, spec: { holderIdentity: 'b' } } }, MERGE_PATCH), 409);
    const taken = await b.patchNamespacedLease({ namespace: NS, name: 'agent-bridge-controller', body: { metadata: { resourceVersion: renewed.metadata!.resourceVersion }, spec: { holderIdentity: 'b', leaseTransitions: 1 } } }, MERGE_PATCH);
    assert.equal(taken.spec?.holderIdentity, 'b');
  });
});

describe('kube-api-fake: Events (core/v1 and events.k8s.io/v1)', () => {
  test('both APIs create and list the same events, converted field by field', async (t) => {
    const fake = await startFake(t);
    const kc = kubeConfigFor(fake, 'controller');
    const core = kc.makeApiClient(CoreV1Api);
    const events = kc.makeApiClient(EventsV1Api);
    const regarding = { apiVersion: FF_API_VERSION, kind: 'FeatureFlags', name: 'rollout', namespace: NS };

    const legacy = await core.createNamespacedEvent({
      namespace: NS,
      body: { metadata: { generateName: 'rollout.' }, involvedObject: regarding, reason: 'StageStarted', message: 'stage 1 started', type: 'Normal', count: 1 },
    });
    assert.match(legacy.metadata?.name ?? '', /^rollout\.[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    const modern = await events.createNamespacedEvent({
      namespace: NS,
      body: {
        metadata: { name: 'rollout.2' },
        eventTime: new V1MicroTime(),
        reportingController: 'agentbridge.io/controller',
        reportingInstance: 'controller-0',
        action: 'Advance',
        reason: 'StageCompleted',
        note: 'stage 1 done',
        type: 'Normal',
        regarding,
      },
    });
    assert.equal(modern.apiVersion, 'events.k8s.io/v1');

    const viaCore = await core.listNamespacedEvent({ namespace: NS });
    assert.deepEqual(
      viaCore.items.map((e) => [e.metadata?.name, e.reason, e.message, e.involvedObject?.name, e.reportingComponent]).sort((x, y) => String(x[1]).localeCompare(String(y[1]))),
      [
        ['rollout.2', 'StageCompleted', 'stage 1 done', 'rollout', 'agentbridge.io/controller'],
        [legacy.metadata?.name, 'StageStarted', 'stage 1 started', 'rollout', ''],
      ],
    );
    const viaEvents = await events.listNamespacedEvent({ namespace: NS, fieldSelector: 'reason=StageStarted' });
    assert.deepEqual(
      viaEvents.items.map((e) => [e.reason, e.note, e.regarding?.kind, e.deprecatedCount]),
      [['StageStarted', 'stage 1 started', 'FeatureFlags', 1]],
    );

    const missing = await apiError(events.createNamespacedEvent({ namespace: NS, body: { metadata: { name: 'bad' }, reason: 'X', regarding } as never }), 422);
    assert.deepEqual(
      missing.details?.causes?.map((c) => c.field),
      ['eventTime', 'type'],
    );
    assert.equal(fake.writes({ user: 'controller', ok: true }).length, 2);
  });
});
