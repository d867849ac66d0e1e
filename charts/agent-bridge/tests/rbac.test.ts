/**
 * The controller's Role is enough, and the controller needs nothing beyond it: the real controller
 * runs with the environment the chart renders for it (SOURCE=kubernetes, its namespace, resource and
 * Lease names) against the Kubernetes API fake (libs/testkit) and a real Redis, reconciles a
 * FeatureFlags resource, takes a rollback through its admin API and shuts down; every request it
 * made must be allowed by the rendered Role under Kubernetes' RBAC rules.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { freePort, startKubeApiFake, startRedis, startService, waitFor, type KubeRequestRecord } from '@agent-bridge/testkit';
import { environmentFile, environmentOf, find, ofKind, render, REPO_ROOT, serviceContainers } from './helm.js';

interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/** What RBAC authorizes a request by: its API group, resource (with subresource), name and verb. */
interface ResourceRequest {
  verb: string;
  apiGroup: string;
  resource: string;
  name?: string;
}

/** `/api/v1/namespaces/ns/events`, `/apis/g/v/namespaces/ns/r/name/sub` → the RBAC attributes. */
function requestAttributes(record: Pick<KubeRequestRecord, 'path' | 'verb'>): ResourceRequest | null {
  const path = record.path.split('?')[0]!;
  const match = /^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)(?:\/namespaces\/[^/]+)?\/([^/]+)(?:\/([^/]+)(?:\/([^/]+))?)?$/.exec(path);
  if (!match) return null; // discovery (/api, /apis, /version): allowed to every authenticated user
  const [, group = '', resource, name, subresource] = match;
  return { verb: record.verb, apiGroup: group, resource: subresource ? `${resource}/${subresource}` : resource!, ...(name ? { name } : {}) };
}

/** Kubernetes' RBAC rule matching (no wildcards in this chart's rules, but honoured). */
function allowedBy(rules: readonly PolicyRule[], request: ResourceRequest): boolean {
  return rules.some(
    (rule) =>
      (rule.apiGroups.includes(request.apiGroup) || rule.apiGroups.includes('*')) &&
      (rule.resources.includes(request.resource) || rule.resources.includes('*')) &&
      (rule.verbs.includes(request.verb) || rule.verbs.includes('*')) &&
      (!rule.resourceNames?.length || (request.name !== undefined && rule.resourceNames.includes(request.name))),
  );
}

test('RBAC matching: resourceNames never match a create or a list, subresources are separate resources', () => {
  const rules: PolicyRule[] = [
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['l'], verbs: ['get', 'create'] },
    { apiGroups: ['agentbridge.io'], resources: ['featureflags'], verbs: ['get'] },
  ];
  assert.equal(allowedBy(rules, { verb: 'get', apiGroup: 'coordination.k8s.io', resource: 'leases', name: 'l' }), true);
  assert.equal(allowedBy(rules, { verb: 'get', apiGroup: 'coordination.k8s.io', resource: 'leases', name: 'other' }), false);
  assert.equal(allowedBy(rules, { verb: 'create', apiGroup: 'coordination.k8s.io', resource: 'leases' }), false);
  assert.equal(allowedBy(rules, { verb: 'get', apiGroup: 'agentbridge.io', resource: 'featureflags/status', name: 'x' }), false);
  assert.deepEqual(requestAttributes({ path: '/apis/agentbridge.io/v1alpha1/namespaces/ns/featureflags/ab/status', verb: 'update' }), {
    verb: 'update',
    apiGroup: 'agentbridge.io',
    resource: 'featureflags/status',
    name: 'ab',
  });
  assert.deepEqual(requestAttributes({ path: '/api/v1/namespaces/ns/events', verb: 'create' }), { verb: 'create', apiGroup: '', resource: 'events' });
  assert.equal(requestAttributes({ path: '/apis', verb: 'discovery' }), null);
});

test("the controller, with the chart's environment, makes only requests its Role allows (reconcile, status, Lease, Events, rollback, shutdown)", async (t) => {
  const objects = render({ valuesFiles: [environmentFile('staging')] });
  const role = ofKind(objects, 'Role')[0]!;
  const rules = role.rules as PolicyRule[];
  const controller = serviceContainers(objects).find(({ service }) => service === 'controller')!;
  const rendered = environmentOf(controller.container);
  const account = find(objects, 'RoleBinding', role.metadata.name).subjects[0];
  const user = `system:serviceaccount:${account.namespace}:${account.name}`;
  const namespace = rendered.KUBE_NAMESPACE!;

  const dir = mkdtempSync(join(tmpdir(), 'agent-bridge-rbac-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // The environment rendered requires appendfsync always (REDIS_REQUIRED_APPENDFSYNC), as its Redis would have.
  const redis = await startRedis({ appendfsync: 'always' });
  t.after(() => redis.cleanup());
  const fake = await startKubeApiFake();
  t.after(() => fake.close());

  // The resource as an operator applies it: the canary sample (stage 1 starts at once).
  const sample = parse(readFileSync(join(REPO_ROOT, 'deploy/samples/featureflags-canary.yaml'), 'utf8'));
  fake.create('featureflags', { ...sample, metadata: { ...sample.metadata, name: rendered.FEATURE_FLAGS_NAME, namespace } });

  writeFileSync(join(dir, 'kubeconfig'), fake.kubeConfigYaml({ user, namespace }));
  writeFileSync(join(dir, 'admin-token'), 'admin-token-for-the-rbac-test');
  writeFileSync(join(dir, 'webhook-token'), 'webhook-token-for-the-rbac-test');
  // The agent registry the chart mounts for the legacy inventory (no agents needed here).
  writeFileSync(join(dir, 'agent-tokens.json'), JSON.stringify({ agents: [] }));
  const port = await freePort();
  const service = await startService({
    name: 'controller',
    entry: 'services/controller/src/main.ts',
    env: {
      ...rendered,
      // What the pod gets from its Secrets, its IP and its mounted service account, here:
      REDIS_URL: redis.url,
      HOST: '127.0.0.1',
      PORT: String(port),
      ADVERTISE_URL: `http://127.0.0.1:${port}`,
      ADMIN_TOKEN_FILE: join(dir, 'admin-token'),
      WEBHOOK_TOKEN_FILE: join(dir, 'webhook-token'),
      AGENT_TOKENS_FILE: join(dir, 'agent-tokens.json'),
      PROGRESS_PORT: '0',
      KUBECONFIG: join(dir, 'kubeconfig'),
      LOG_LEVEL: 'warn',
      OTEL_SDK_DISABLED: 'true', // staging exports traces to a collector that is not here
    },
    readyUrl: `http://127.0.0.1:${port}/readyz`,
    readyTimeoutMs: 30_000,
  });
  t.after(() => service.stop());

  const resource = () => fake.get('featureflags', namespace, rendered.FEATURE_FLAGS_NAME!);
  await waitFor(() => resource()?.status?.conditions?.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True') === true, {
    timeoutMs: 20_000,
    description: 'the controller to reconcile the FeatureFlags resource (Ready=True)',
  });
  const rollback = await fetch(`http://127.0.0.1:${port}/admin/rollback`, {
    method: 'POST',
    headers: { authorization: 'Bearer admin-token-for-the-rbac-test', 'content-type': 'application/json' },
    body: JSON.stringify({ level: 'full', reason: 'RBAC test' }),
  });
  assert.ok(rollback.ok, `admin rollback answered ${rollback.status}: ${await rollback.text()}`);
  await waitFor(() => resource()?.status?.lastRollback?.level === 'full', { timeoutMs: 10_000, description: 'the rollback in the status' });
  await waitFor(() => fake.list('events', namespace).length > 0, { timeoutMs: 10_000, description: 'an Event about the resource' });
  await service.stop();

  const requests = fake.requests({ user });
  const attributes = requests.map((record) => ({ record, request: requestAttributes(record) })).filter((entry) => entry.request !== null);
  const denied = attributes.filter(({ request }) => !allowedBy(rules, request!)).map(({ record }) => `${record.method} ${record.path} (${record.verb})`);
  assert.deepEqual(denied, [], 'requests the Role does not allow');
  // The run exercised every kind of access the Role grants for.
  const used = new Set(attributes.map(({ request }) => `${request!.verb} ${request!.apiGroup}/${request!.resource}`));
  for (const expected of ['list agentbridge.io/featureflags', 'watch agentbridge.io/featureflags', 'update agentbridge.io/featureflags/status', 'get coordination.k8s.io/leases', 'update coordination.k8s.io/leases', 'create /events']) {
    assert.ok(used.has(expected), `the controller did "${expected}" (saw: ${[...used].join(', ')})`);
  }
  assert.ok(used.has('create coordination.k8s.io/leases'), 'the controller created its Lease');
});
