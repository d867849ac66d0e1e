/**
 * A Kubernetes API that holds a few Secrets and answers discovery: just enough for
 * `helm template --dry-run=server`, so the chart's `lookup` of the Secrets it generates sees a
 * previous release's values (what `helm upgrade` sees). Writes (helm's server-side dry run) are
 * echoed back; every other object is absent.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { helmPath, parseManifests, REPO_ROOT, templateArgs, type KubeObject, type RenderOptions } from './helm.js';

export interface SecretsApi {
  /** `helm template --dry-run=server` against this API (lookup sees its Secrets). */
  render(options?: RenderOptions): Promise<KubeObject[]>;
  close(): Promise<void>;
}

/** A Secret the API holds, as a release of `release` left it (Helm refuses to adopt others). */
export interface StoredSecret {
  name: string;
  namespace?: string;
  release?: string;
  /** Plain values; stored base64-encoded, as the API serves them. */
  data: Record<string, string>;
}

/** The kinds the chart renders, so helm can map each object to a resource. */
const RESOURCES: ReadonlyArray<{ groupVersion: string; kind: string; namespaced: boolean }> = [
  ...['Secret', 'ServiceAccount', 'ConfigMap', 'Service'].map((kind) => ({ groupVersion: 'v1', kind, namespaced: true })),
  ...['Deployment', 'StatefulSet'].map((kind) => ({ groupVersion: 'apps/v1', kind, namespaced: true })),
  ...['Role', 'RoleBinding'].map((kind) => ({ groupVersion: 'rbac.authorization.k8s.io/v1', kind, namespaced: true })),
  ...['Ingress', 'NetworkPolicy'].map((kind) => ({ groupVersion: 'networking.k8s.io/v1', kind, namespaced: true })),
  { groupVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', namespaced: true },
  { groupVersion: 'policy/v1', kind: 'PodDisruptionBudget', namespaced: true },
  { groupVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', namespaced: true },
  ...['PrometheusRule', 'ServiceMonitor'].map((kind) => ({ groupVersion: 'monitoring.coreos.com/v1', kind, namespaced: true })),
  { groupVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', namespaced: false },
];

const plural = (kind: string): string => {
  const lower = kind.toLowerCase();
  return lower.endsWith('y') ? `${lower.slice(0, -1)}ies` : lower.endsWith('s') ? `${lower}es` : `${lower}s`;
};

function resourceList(groupVersion: string) {
  const resources = RESOURCES.filter((resource) => resource.groupVersion === groupVersion).map(({ kind, namespaced }) => ({
    name: plural(kind),
    singularName: kind.toLowerCase(),
    namespaced,
    kind,
    verbs: ['get', 'list', 'create', 'update', 'patch'],
  }));
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion, resources };
}

export async function startSecretsApi(secrets: readonly StoredSecret[]): Promise<SecretsApi> {
  const stored = new Map(
    secrets.map(({ name, namespace = 'agent-bridge', release = 'agent-bridge', data }) => [
      `/api/v1/namespaces/${namespace}/secrets/${name}`,
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'Helm' }, annotations: { 'meta.helm.sh/release-name': release, 'meta.helm.sh/release-namespace': namespace } },
        type: 'Opaque',
        data: Object.fromEntries(Object.entries(data).map(([key, value]) => [key, Buffer.from(value).toString('base64')])),
      },
    ]),
  );
  const groupVersions = [...new Set(RESOURCES.map((resource) => resource.groupVersion).filter((groupVersion) => groupVersion !== 'v1'))];
  const answer = (request: IncomingMessage): { code: number; body: unknown } | Promise<{ code: number; body: unknown }> => {
    const path = (request.url ?? '/').split('?')[0]!;
    if (request.method !== 'GET') {
      return new Promise((resolve) => {
        let body = '';
        request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
        request.on('end', () => resolve({ code: 201, body: body ? JSON.parse(body) : {} }));
      });
    }
    if (path === '/version') return { code: 200, body: { major: '1', minor: '31', gitVersion: 'v1.31.0' } };
    if (path === '/api') return { code: 200, body: { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] } };
    if (path === '/api/v1') return { code: 200, body: resourceList('v1') };
    if (path === '/apis') {
      const groups = groupVersions.map((groupVersion) => {
        const [name, version] = groupVersion.split('/');
        return { name, versions: [{ groupVersion, version }], preferredVersion: { groupVersion, version } };
      });
      return { code: 200, body: { kind: 'APIGroupList', apiVersion: 'v1', groups } };
    }
    const groupVersion = /^\/apis\/([^/]+\/[^/]+)$/.exec(path)?.[1];
    if (groupVersion && groupVersions.includes(groupVersion)) return { code: 200, body: resourceList(groupVersion) };
    const secret = stored.get(path);
    if (secret) return { code: 200, body: secret };
    return { code: 404, body: { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: `${path} not found` } };
  };
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    void Promise.resolve(answer(request)).then(({ code, body }) => {
      response.writeHead(code, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const dir = mkdtempSync(join(tmpdir(), 'agent-bridge-secrets-api-'));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fake', cluster: { server: `http://127.0.0.1:${port}` } }],
      users: [{ name: 'fake', user: { token: 'fake' } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake' } }],
      'current-context': 'fake',
    }),
  );

  return {
    // Asynchronous (the API answers from this process); no OpenAPI here, the offline schemas check the objects.
    async render(options: RenderOptions = {}) {
      const args = [...templateArgs(options), '--dry-run=server', '--disable-openapi-validation'];
      const { stdout } = await promisify(execFile)(helmPath(), args, { cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, KUBECONFIG: kubeconfig, HELM_NAMESPACE: '' } });
      return parseManifests(stdout);
    },
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
