/**
 * The key signing MCP 2026-07-28 requestState (REQUEST_STATE_KEY): every elicitation replica must
 * read the same one, from a Secret — one the operator brings (elicitation.requestState.existingSecret)
 * or one the chart generates once and keeps across upgrades — and the previous key of a rotation
 * (REQUEST_STATE_PREVIOUS_KEY) only while that Secret holds it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadElicitationConfig } from '@agent-bridge/elicitation';
import { environmentFile, environmentOf, envEntriesOf, find, ofKind, render, renderError, serviceContainers, type KubeObject } from './helm.js';
import { validateObject } from './kube-schema.js';
import { startSecretsApi, type SecretsApi } from './secrets-api.js';

const RELEASE = 'agent-bridge';
const GENERATED = `${RELEASE}-request-state`;

const elicitationContainers = (objects: KubeObject[]) => serviceContainers(objects).filter(({ service }) => service === 'elicitation');
const decoded = (secret: KubeObject, key: string): string => Buffer.from(secret.data[key], 'base64').toString('utf8');

/** Where a container's REQUEST_STATE_KEY and REQUEST_STATE_PREVIOUS_KEY come from. */
function keySources(objects: KubeObject[]) {
  const containers = elicitationContainers(objects);
  assert.ok(containers.length > 0, 'an elicitation container is rendered');
  return containers.map(({ where, container }) => {
    const env = envEntriesOf(container);
    return { where, current: env.REQUEST_STATE_KEY?.valueFrom, previous: env.REQUEST_STATE_PREVIOUS_KEY?.valueFrom, value: env.REQUEST_STATE_KEY?.value };
  });
}

describe('REQUEST_STATE_KEY: one key for every elicitation replica, from a Secret', () => {
  test('with no existingSecret (default values, dev) every elicitation container reads it from the Secret the chart generates, a random key of 32+ characters', () => {
    for (const objects of [render(), render({ valuesFiles: [environmentFile('dev')] }), render({ set: { 'elicitation.replicas': 5 } })]) {
      for (const { where, current, previous, value } of keySources(objects)) {
        assert.equal(value, undefined, `${where}: never a literal value`);
        assert.deepEqual(current, { secretKeyRef: { name: GENERATED, key: 'request-state-key' } }, where);
        assert.deepEqual(previous, { secretKeyRef: { name: GENERATED, key: 'request-state-previous-key', optional: true } }, where);
      }
      const secret = find(objects, 'Secret', GENERATED);
      assert.deepEqual(Object.keys(secret.data), ['request-state-key'], 'no previous key until a rotation puts one there');
      const key = decoded(secret, 'request-state-key');
      assert.ok(key.length >= 32, `generated key of ${key.length} characters`);
      assert.match(key, /^[A-Za-z0-9]+$/);
      assert.deepEqual(validateObject(secret), []);
    }
    const first = decoded(find(render(), 'Secret', GENERATED), 'request-state-key');
    const second = decoded(find(render(), 'Secret', GENERATED), 'request-state-key');
    assert.notEqual(first, second, 'random per installation, not a fixed default');
  });

  test('the elicitation config loader accepts the generated key and uses it as REQUEST_STATE_KEY', () => {
    const objects = render();
    const key = decoded(find(objects, 'Secret', GENERATED), 'request-state-key');
    for (const { container } of elicitationContainers(objects)) {
      const config = loadElicitationConfig({ ...environmentOf(container), REQUEST_STATE_KEY: key, REQUEST_STATE_PREVIOUS_KEY: '' });
      assert.equal(config.REQUEST_STATE_KEY, key);
      assert.equal(config.REQUEST_STATE_PREVIOUS_KEY, undefined, 'an absent previous key is no previous key');
    }
  });

  test('with existingSecret (staging, production) every elicitation container reads it from that Secret, and the chart writes none', () => {
    for (const environment of ['staging', 'production'] as const) {
      const objects = render({ valuesFiles: [environmentFile(environment)] });
      for (const { where, current, previous } of keySources(objects)) {
        assert.deepEqual(current, { secretKeyRef: { name: 'agent-bridge-request-state', key: 'request-state-key' } }, `${environment}: ${where}`);
        assert.deepEqual(previous, { secretKeyRef: { name: 'agent-bridge-request-state', key: 'request-state-previous-key', optional: true } }, `${environment}: ${where}`);
      }
      assert.deepEqual(
        ofKind(objects, 'Secret')
          .map((secret) => secret.metadata.name)
          .filter((name) => name.includes('request-state')),
        [],
        `${environment}: the Secret is the operator's`,
      );
    }
    const custom = render({ set: { 'elicitation.requestState': { existingSecret: 'mcp-state', existingSecretKey: 'current', previousKeySecretKey: 'old' } } });
    for (const { where, current, previous } of keySources(custom)) {
      assert.deepEqual(current, { secretKeyRef: { name: 'mcp-state', key: 'current' } }, where);
      assert.deepEqual(previous, { secretKeyRef: { name: 'mcp-state', key: 'old', optional: true } }, where);
    }
    assert.equal(
      ofKind(custom, 'Secret').some((secret) => secret.metadata.name === GENERATED),
      false,
    );
  });

  test('only the elicitation containers get the key; without elicitation there is no requestState Secret', () => {
    for (const { service, container } of serviceContainers(render()).filter(({ service }) => service !== 'elicitation')) {
      const env = envEntriesOf(container);
      assert.equal(env.REQUEST_STATE_KEY ?? env.REQUEST_STATE_PREVIOUS_KEY, undefined, service);
    }
    assert.equal(
      ofKind(render({ set: { 'elicitation.enabled': false } }), 'Secret').some((secret) => secret.metadata.name === GENERATED),
      false,
    );
  });

  test('the current and the previous key need different Secret keys, and Secret key names are checked', () => {
    assert.match(renderError({ set: { 'elicitation.requestState.previousKeySecretKey': 'request-state-key' } }), /existingSecretKey and previousKeySecretKey name the same Secret key/);
    assert.match(renderError({ set: { 'elicitation.requestState.existingSecretKey': 'not a key!' } }), /existingSecretKey/);
    assert.match(renderError({ set: { 'elicitation.requestState.existingSecretKey': '' } }), /existingSecretKey/);
  });
});

describe('a generated requestState key across upgrades (lookup, helm template --dry-run=server)', () => {
  const current = 'c'.repeat(48);
  const previous = 'p'.repeat(48);
  let api: SecretsApi;
  before(async () => {
    api = await startSecretsApi([{ name: GENERATED, data: { 'request-state-key': current, 'request-state-previous-key': previous } }]);
  });
  after(() => api.close());

  test('an upgrade keeps the key the Secret holds, and a previous key added there for a rotation', async () => {
    const objects = await api.render();
    const secret = find(objects, 'Secret', GENERATED);
    assert.equal(decoded(secret, 'request-state-key'), current);
    assert.equal(decoded(secret, 'request-state-previous-key'), previous);
    for (const { where, current: source } of keySources(objects)) assert.deepEqual(source, { secretKeyRef: { name: GENERATED, key: 'request-state-key' } }, where);
  });

  test('another release (no Secret yet) gets a new random key', async () => {
    const objects = await api.render({ release: 'other' });
    const secret = find(objects, 'Secret', 'other-agent-bridge-request-state');
    assert.deepEqual(Object.keys(secret.data), ['request-state-key']);
    assert.notEqual(decoded(secret, 'request-state-key'), current);
    assert.ok(decoded(secret, 'request-state-key').length >= 32);
  });
});
