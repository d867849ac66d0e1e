/**
 * Redis is not a token vault (docs/decisions/0011-inter-replica-credential.md), as the chart renders
 * it: elicitation replicas and controllers read one inter-replica key from a Secret (generated once
 * and kept across upgrades, or the operator's), advertise names that resolve only to the release's
 * own pods and relay only to such names; the in-chart Redis requires a generated password that the
 * services' REDIS_URL carries, with protected mode on.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadControllerConfig } from '@agent-bridge/controller';
import { loadElicitationConfig } from '@agent-bridge/elicitation';
import { RelayTargetPolicy } from '@agent-bridge/service-kit';
import { environmentFile, environmentOf, envEntriesOf, find, ofKind, render, renderError, serviceContainers, type KubeObject } from './helm.js';
import { validateObject } from './kube-schema.js';
import { startSecretsApi, type SecretsApi } from './secrets-api.js';

const RELEASE = 'agent-bridge';
const KEY_SECRET = `${RELEASE}-inter-replica`;
const REDIS_SECRET = `${RELEASE}-redis-auth`;
const decoded = (secret: KubeObject, key: string): string => Buffer.from(secret.data[key], 'base64').toString('utf8');
const relaying = (objects: KubeObject[]) => serviceContainers(objects).filter(({ service }) => service === 'elicitation' || service === 'controller');
const loaders = { elicitation: loadElicitationConfig, controller: loadControllerConfig } as const;

describe('the inter-replica key: one for every elicitation replica and controller, from a Secret', () => {
  test('with no existingSecret (default values, dev, the controller as its own Deployment) both read it from the Secret the chart generates, a random key of 32+ characters', () => {
    for (const objects of [render(), render({ valuesFiles: [environmentFile('dev')] }), render({ set: { 'controller.mode': 'deployment' } })]) {
      const containers = relaying(objects);
      assert.deepEqual([...new Set(containers.map(({ service }) => service))].sort(), ['controller', 'elicitation']);
      for (const { where, container } of containers) {
        const env = envEntriesOf(container);
        assert.equal(env.INTER_REPLICA_KEY!.value, undefined, `${where}: never a literal value`);
        assert.deepEqual(env.INTER_REPLICA_KEY!.valueFrom, { secretKeyRef: { name: KEY_SECRET, key: 'inter-replica-key' } }, where);
        assert.deepEqual(env.INTER_REPLICA_PREVIOUS_KEY!.valueFrom, { secretKeyRef: { name: KEY_SECRET, key: 'inter-replica-previous-key', optional: true } }, where);
      }
      const secret = find(objects, 'Secret', KEY_SECRET);
      assert.deepEqual(Object.keys(secret.data), ['inter-replica-key'], 'no previous key until a rotation puts one there');
      assert.match(decoded(secret, 'inter-replica-key'), /^[A-Za-z0-9]{32,}$/);
      assert.deepEqual(validateObject(secret), []);
    }
    assert.notEqual(decoded(find(render(), 'Secret', KEY_SECRET), 'inter-replica-key'), decoded(find(render(), 'Secret', KEY_SECRET), 'inter-replica-key'), 'random per installation');
  });

  test('the config loaders of both services accept the generated key', () => {
    const objects = render();
    const key = decoded(find(objects, 'Secret', KEY_SECRET), 'inter-replica-key');
    for (const { service, container } of relaying(objects)) {
      const config = loaders[service as keyof typeof loaders]({ ...environmentOf(container), INTER_REPLICA_KEY: key, INTER_REPLICA_PREVIOUS_KEY: '' });
      assert.equal(config.INTER_REPLICA_KEY, key, service);
      assert.equal(config.INTER_REPLICA_PREVIOUS_KEY, undefined);
    }
  });

  test('with relay.credential.existingSecret both read that Secret and the chart writes none; the router and legacy-poll get no key', () => {
    const objects = render({ set: { 'relay.credential': { existingSecret: 'relay-key', existingSecretKey: 'current', previousKeySecretKey: 'old' } } });
    for (const { where, container } of relaying(objects)) {
      assert.deepEqual(envEntriesOf(container).INTER_REPLICA_KEY!.valueFrom, { secretKeyRef: { name: 'relay-key', key: 'current' } }, where);
      assert.deepEqual(envEntriesOf(container).INTER_REPLICA_PREVIOUS_KEY!.valueFrom, { secretKeyRef: { name: 'relay-key', key: 'old', optional: true } }, where);
    }
    assert.equal(
      ofKind(objects, 'Secret').some((secret) => secret.metadata.name === KEY_SECRET),
      false,
    );
    const production = render({ valuesFiles: [environmentFile('production')] });
    for (const { where, container } of relaying(production)) assert.deepEqual(envEntriesOf(container).INTER_REPLICA_KEY!.valueFrom, { secretKeyRef: { name: 'agent-bridge-inter-replica', key: 'inter-replica-key' } }, `production ${where}`);
    assert.equal(
      ofKind(production, 'Secret').some((secret) => secret.metadata.name === KEY_SECRET),
      false,
      'production brings its own',
    );
    for (const { service, container } of serviceContainers(objects).filter(({ service }) => service === 'router' || service === 'legacy-poll')) {
      assert.equal(envEntriesOf(container).INTER_REPLICA_KEY, undefined, service);
    }
    assert.match(renderError({ set: { 'relay.credential.previousKeySecretKey': 'inter-replica-key' } }), /existingSecretKey and previousKeySecretKey name the same Secret key/);
  });
});

describe('where relays may go (RELAY_ALLOWED_TARGETS)', () => {
  test("with addressing dns each component's advertised address passes its own rule; a pod IP, another component's or another namespace's name does not", () => {
    for (const name of ['default', 'production'] as const) {
      const objects = name === 'default' ? render() : render({ valuesFiles: [environmentFile('production')] });
      for (const { service, container } of relaying(objects)) {
        const config = loaders[service as keyof typeof loaders](environmentOf(container)) as { ADVERTISE_URL: string; RELAY_ALLOWED_TARGETS: string[] };
        const policy = RelayTargetPolicy.fromSettings(config);
        assert.equal(policy.check(config.ADVERTISE_URL).allowed, true, `${name} ${service}: ${config.ADVERTISE_URL}`);
        const other = service === 'elicitation' ? 'controller' : 'elicitation';
        for (const address of ['http://10.1.2.3:8702', `http://10-1-2-3.${RELEASE}-${other}-replicas.agent-bridge.svc:8702`, `http://10-1-2-3.${RELEASE}-${service}-replicas.other-namespace.svc:8702`, 'http://127.0.0.1:8702']) {
          assert.equal(policy.check(address).allowed, false, `${name} ${service}: ${address}`);
        }
      }
    }
  });

  test('the headless Services select the pods that advertise their names, ready or not, and are not scraped twice', () => {
    for (const mode of ['sidecar', 'deployment'] as const) {
      const objects = render({ set: { 'controller.mode': mode } });
      for (const [component, workload] of [
        ['elicitation', 'elicitation'],
        ['controller', mode === 'sidecar' ? 'router' : 'controller'],
      ] as const) {
        const headless = find(objects, 'Service', `${RELEASE}-${component}-replicas`);
        assert.equal(headless.spec.clusterIP, 'None');
        assert.equal(headless.spec.publishNotReadyAddresses, true, 'a draining replica still serves its sessions');
        assert.deepEqual(headless.spec.selector, find(objects, 'Deployment', `${RELEASE}-${workload}`).spec.selector.matchLabels, `${mode}: ${component}`);
        assert.equal(headless.metadata.labels!['agentbridge.io/relay-names'], 'true');
        assert.deepEqual(validateObject(headless), []);
      }
    }
  });

  test('relay.allowedTargets adds entries; addressing podIP advertises the pod IP and needs allowedTargets', () => {
    const extra = render({ set: { 'relay.allowedTargets': ['10.244.0.0/16'] } });
    for (const { container } of relaying(extra)) assert.match(environmentOf(container).RELAY_ALLOWED_TARGETS!, /^\*\.agent-bridge-(elicitation|controller)-replicas\.agent-bridge\.svc,10\.244\.0\.0\/16$/);
    const podIp = render({ set: { 'relay.addressing': 'podIP', 'relay.allowedTargets': ['10.1.0.0/16'] } });
    for (const { service, container } of relaying(podIp)) {
      const config = loaders[service as keyof typeof loaders](environmentOf(container)) as { ADVERTISE_URL: string; RELAY_ALLOWED_TARGETS: string[] };
      assert.match(config.ADVERTISE_URL, /^http:\/\/10\.1\.2\.3:\d+$/);
      assert.deepEqual(config.RELAY_ALLOWED_TARGETS, ['10.1.0.0/16']);
      assert.equal(RelayTargetPolicy.fromSettings(config).check(config.ADVERTISE_URL).allowed, true);
    }
    assert.equal(
      ofKind(podIp, 'Service').some((s) => s.metadata.name.endsWith('-replicas')),
      false,
    );
    assert.match(renderError({ set: { 'relay.addressing': 'podIP' } }), /relay\.addressing=podIP needs relay\.allowedTargets/);
    assert.match(renderError({ set: { 'relay.addressing': 'pod' } }), /addressing/);
  });
});

describe('the in-chart Redis requires a password', () => {
  test('dev: Redis reads the generated password (requirepass from a file, protected mode on) and every service connects with it', () => {
    const objects = render({ valuesFiles: [environmentFile('dev')] });
    const secret = find(objects, 'Secret', REDIS_SECRET);
    const password = decoded(secret, 'redis-password');
    assert.match(password, /^[A-Za-z0-9]{32,}$/);
    const redis = find(objects, 'StatefulSet', `${RELEASE}-redis`).spec.template.spec.containers[0];
    const args: string[] = redis.args;
    assert.equal(args[args.indexOf('--protected-mode') + 1], 'yes');
    assert.ok(!args.some((arg) => /requirepass/.test(arg)), 'the password is not on the command line');
    assert.match(redis.command.join(' '), /requirepass .*\$REDISCLI_AUTH.*exec redis-server \/tmp\/redis-auth\.conf "\$@"/);
    assert.deepEqual(envEntriesOf(redis).REDISCLI_AUTH!.valueFrom, { secretKeyRef: { name: REDIS_SECRET, key: 'redis-password' } }, 'the probes (redis-cli) authenticate too');
    for (const { where, container } of serviceContainers(objects)) {
      assert.deepEqual(envEntriesOf(container).REDIS_PASSWORD!.valueFrom, { secretKeyRef: { name: REDIS_SECRET, key: 'redis-password' } }, where);
      const env = { ...environmentOf(container), REDIS_PASSWORD: password };
      const url = envEntriesOf(container).REDIS_URL!.value!.replace('$(REDIS_PASSWORD)', env.REDIS_PASSWORD);
      assert.equal(url, `redis://:${password}@${RELEASE}-redis:6379`, where);
    }
    assert.equal(
      ofKind(objects, 'Secret').some((s) => s.metadata.name === `${RELEASE}-redis-url`),
      false,
    );
  });

  test('with redis.internal.auth.existingSecret Redis and the services read that Secret, and the chart writes none', () => {
    const objects = render({ valuesFiles: [environmentFile('dev')], set: { 'redis.internal.auth': { existingSecret: 'my-redis', existingSecretKey: 'pw' } } });
    assert.equal(
      ofKind(objects, 'Secret').some((s) => s.metadata.name === REDIS_SECRET),
      false,
    );
    const redis = find(objects, 'StatefulSet', `${RELEASE}-redis`).spec.template.spec.containers[0];
    assert.deepEqual(envEntriesOf(redis).REDISCLI_AUTH!.valueFrom, { secretKeyRef: { name: 'my-redis', key: 'pw' } });
    for (const { container } of serviceContainers(objects)) assert.deepEqual(envEntriesOf(container).REDIS_PASSWORD!.valueFrom, { secretKeyRef: { name: 'my-redis', key: 'pw' } });
  });

  test('staging and production (an external Redis) get no Redis password Secret', () => {
    for (const environment of ['staging', 'production'] as const) {
      const objects = render({ valuesFiles: [environmentFile(environment)] });
      assert.equal(
        ofKind(objects, 'Secret').some((s) => s.metadata.name === REDIS_SECRET),
        false,
        environment,
      );
      for (const { container } of serviceContainers(objects)) assert.equal(envEntriesOf(container).REDIS_PASSWORD, undefined);
    }
  });
});

describe('generated relay key and Redis password across upgrades (lookup, helm template --dry-run=server)', () => {
  const current = 'c'.repeat(48);
  const previous = 'p'.repeat(48);
  const password = 'r'.repeat(40);
  let api: SecretsApi;
  before(async () => {
    api = await startSecretsApi([
      { name: KEY_SECRET, data: { 'inter-replica-key': current, 'inter-replica-previous-key': previous } },
      { name: REDIS_SECRET, data: { 'redis-password': password } },
    ]);
  });
  after(() => api.close());

  test('an upgrade keeps the key, a previous key added for a rotation, and the Redis password', async () => {
    const objects = await api.render({ valuesFiles: [environmentFile('dev')] });
    const secret = find(objects, 'Secret', KEY_SECRET);
    assert.equal(decoded(secret, 'inter-replica-key'), current);
    assert.equal(decoded(secret, 'inter-replica-previous-key'), previous);
    assert.equal(decoded(find(objects, 'Secret', REDIS_SECRET), 'redis-password'), password);
  });

  test('another release (no Secrets yet) gets a new random key and password', async () => {
    const objects = await api.render({ release: 'other', valuesFiles: [environmentFile('dev')] });
    const key = decoded(find(objects, 'Secret', 'other-agent-bridge-inter-replica'), 'inter-replica-key');
    assert.notEqual(key, current);
    assert.ok(key.length >= 32);
    assert.notEqual(decoded(find(objects, 'Secret', 'other-agent-bridge-redis-auth'), 'redis-password'), password);
  });
});
