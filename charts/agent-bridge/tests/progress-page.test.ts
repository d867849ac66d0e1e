/**
 * The chart's progress page: the controller serves it on a port of its own, the Ingress routes a
 * path of the agents' host to that port only (never the admin API), the NetworkPolicy admits the
 * ingress controller to that port only, and it can be turned off or given a token.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadControllerConfig } from '@agent-bridge/controller';
import { environmentFile, environmentOf, find, ofKind, render, renderError, serviceContainers, type KubeObject } from './helm.js';

const RELEASE = 'agent-bridge';
const controllerOf = (objects: KubeObject[]) => serviceContainers(objects).find(({ service }) => service === 'controller')!.container;

describe('the progress page in the chart', () => {
  const objects = render({ valuesFiles: [environmentFile('production')] });

  test("an Ingress routes /migration on the agents' host to the controller Service's progress port, not its admin port", () => {
    const ingress = find(objects, 'Ingress', `${RELEASE}-progress`);
    const elicitation = find(objects, 'Ingress', `${RELEASE}-elicitation`);
    const rule = ingress.spec.rules[0];
    assert.equal(rule.host, elicitation.spec.rules[0].host);
    assert.deepEqual(rule.http.paths, [{ path: '/migration', pathType: 'Prefix', backend: { service: { name: `${RELEASE}-controller`, port: { name: 'progress' } } } }]);
    assert.equal(ingress.spec.tls[0].secretName, elicitation.spec.tls[0].secretName);
    assert.equal(ingress.metadata.annotations?.['nginx.ingress.kubernetes.io/rewrite-target'], undefined, 'served under its path as is');
    const service = find(objects, 'Service', `${RELEASE}-controller`);
    assert.deepEqual(
      service.spec.ports.map((port: { name: string; port: number; targetPort: string }) => [port.name, port.port, port.targetPort]),
      [
        ['http', 8704, 'http-ctl'],
        ['progress', 8705, 'progress'],
      ],
    );
    for (const other of ofKind(objects, 'Ingress')) {
      for (const path of other.spec.rules[0].http.paths) assert.notEqual(path.backend.service.port.name === 'http' && path.backend.service.name, `${RELEASE}-controller`, `${other.metadata.name} never routes to the admin API`);
    }
  });

  test('the controller serves the page on that port under that path, trusting the Ingress as one X-Forwarded-For hop', () => {
    const container = controllerOf(objects);
    assert.ok(container.ports?.some((port) => port.name === 'progress' && port.containerPort === 8705));
    const config = loadControllerConfig(environmentOf(container));
    assert.equal(config.PROGRESS_ENABLED, true);
    assert.equal(config.PROGRESS_PORT, 8705);
    assert.equal(config.PROGRESS_BASE_PATH, '/migration');
    assert.equal(config.PROGRESS_TRUSTED_PROXY_HOPS, 1);
    assert.equal(config.PROGRESS_TOKEN_FILE, undefined, 'public by default');
  });

  test('the NetworkPolicy admits only the ingress controller to the progress port, and the ingress controller only there', () => {
    const ingress = find(objects, 'NetworkPolicy', `${RELEASE}-router`).spec.ingress as Array<{ from: Array<{ namespaceSelector?: { matchLabels: Record<string, string> } }>; ports: unknown[] }>;
    const fromIngress = ingress.filter((rule) => rule.from.some((peer) => peer.namespaceSelector?.matchLabels['kubernetes.io/metadata.name'] === 'ingress-nginx'));
    assert.deepEqual(
      fromIngress.map((rule) => rule.ports),
      [[{ protocol: 'TCP', port: 8705 }]],
    );
    const deployment = render({ valuesFiles: [environmentFile('production')], set: { 'controller.mode': 'deployment' } });
    assert.ok(find(deployment, 'NetworkPolicy', `${RELEASE}-controller`).spec.ingress.some((rule: { ports: Array<{ port: number }> }) => rule.ports[0]!.port === 8705));
  });

  test('progressPage.enabled=false: no Ingress, no Service port, no listener (PROGRESS_ENABLED=false)', () => {
    const off = render({ valuesFiles: [environmentFile('production')], set: { 'progressPage.enabled': false } });
    assert.equal(
      ofKind(off, 'Ingress').find((object) => object.metadata.name === `${RELEASE}-progress`),
      undefined,
    );
    assert.ok(!find(off, 'Service', `${RELEASE}-controller`).spec.ports.some((port: { name: string }) => port.name === 'progress'));
    assert.equal(loadControllerConfig(environmentOf(controllerOf(off))).PROGRESS_ENABLED, false);
  });

  test('a token Secret is mounted and named in PROGRESS_TOKEN_FILE; another path and host are routed as given; a path overlapping /mcp is refused', () => {
    const withToken = render({ valuesFiles: [environmentFile('production')], set: { 'progressPage.token.existingSecret': 'agent-bridge-progress', 'progressPage.path': '/status/migration', 'progressPage.host': 'status.example.com' } });
    const container = controllerOf(withToken);
    assert.equal(environmentOf(container).PROGRESS_TOKEN_FILE, '/etc/agent-bridge/progress-token/progress-token');
    assert.ok(container.volumeMounts?.some((mount) => mount.name === 'progress-token'));
    const rule = find(withToken, 'Ingress', `${RELEASE}-progress`).spec.rules[0];
    assert.equal(rule.host, 'status.example.com');
    assert.equal(rule.http.paths[0].path, '/status/migration');
    assert.equal(environmentOf(container).PROGRESS_BASE_PATH, '/status/migration');
    assert.match(renderError({ valuesFiles: [environmentFile('production')], set: { 'progressPage.path': '/mcp' } }), /progressPage\.path \(\/mcp\) overlaps ingress\.elicitation\.path/);
  });
});
