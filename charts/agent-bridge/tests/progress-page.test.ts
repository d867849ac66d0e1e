/**
 * The chart's progress page: the controller serves it on a port of its own, an HTTPRoute (or, through
 * Ingress, an Ingress) routes a path of the agents' host to that port only (never the admin API), the
 * NetworkPolicy admits the Gateway's data plane (or the ingress controller) to that port only, and it
 * can be turned off or given a token.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadControllerConfig } from '@agent-bridge/controller';
import { environmentFile, environmentOf, find, ofKind, PRODUCTION_VIA_INGRESS, render, renderError, serviceContainers, type KubeObject } from './helm.js';

const RELEASE = 'agent-bridge';
const controllerOf = (objects: KubeObject[]) => serviceContainers(objects).find(({ service }) => service === 'controller')!.container;

describe('the progress page in the chart', () => {
  const objects = render({ valuesFiles: [environmentFile('production')] });
  const viaIngress = render(PRODUCTION_VIA_INGRESS);

  test("an HTTPRoute routes /migration on the agents' hostnames to the controller Service's progress port, not its admin port", () => {
    const route = find(objects, 'HTTPRoute', `${RELEASE}-progress`);
    const elicitation = find(objects, 'HTTPRoute', `${RELEASE}-elicitation`);
    assert.deepEqual(route.spec.hostnames, elicitation.spec.hostnames);
    assert.deepEqual(route.spec.parentRefs, elicitation.spec.parentRefs);
    assert.deepEqual(route.spec.rules.length, 1);
    const [rule] = route.spec.rules;
    assert.deepEqual(rule.matches, [{ path: { type: 'PathPrefix', value: '/migration' } }]);
    assert.deepEqual(rule.backendRefs, [{ name: `${RELEASE}-controller`, port: 8705 }]);
    assert.equal(rule.filters, undefined, 'served under its path as is');
    for (const other of ofKind(objects, 'HTTPRoute')) {
      for (const r of other.spec.rules) assert.ok(!r.backendRefs.some((ref: { name: string; port: number }) => ref.name === `${RELEASE}-controller` && ref.port === 8704), `${other.metadata.name} never routes to the admin API`);
    }
  });

  test("through Ingress, an Ingress routes /migration on the agents' host to the controller Service's progress port, not its admin port", () => {
    const objects = viaIngress;
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

  test("the NetworkPolicy admits only the Gateway's data plane (through Ingress: the ingress controller) to the progress port, and it only there", () => {
    for (const [rendered, namespace] of [
      [objects, 'envoy-gateway-system'],
      [viaIngress, 'ingress-nginx'],
    ] as const) {
      const ingress = find(rendered, 'NetworkPolicy', `${RELEASE}-router`).spec.ingress as Array<{ from: Array<{ namespaceSelector?: { matchLabels: Record<string, string> } }>; ports: unknown[] }>;
      const fromFront = ingress.filter((rule) => rule.from.some((peer) => peer.namespaceSelector?.matchLabels['kubernetes.io/metadata.name'] === namespace));
      assert.deepEqual(
        fromFront.map((rule) => rule.ports),
        [[{ protocol: 'TCP', port: 8705 }]],
        namespace,
      );
    }
    const deployment = render({ valuesFiles: [environmentFile('production')], set: { 'controller.mode': 'deployment' } });
    assert.ok(find(deployment, 'NetworkPolicy', `${RELEASE}-controller`).spec.ingress.some((rule: { ports: Array<{ port: number }> }) => rule.ports[0]!.port === 8705));
  });

  test('progressPage.enabled=false: no route or Ingress, no Service port, no listener (PROGRESS_ENABLED=false)', () => {
    const off = render({ valuesFiles: [environmentFile('production')], set: { 'progressPage.enabled': false } });
    assert.equal(
      ofKind(off, 'HTTPRoute').find((object) => object.metadata.name === `${RELEASE}-progress`),
      undefined,
    );
    const offViaIngress = render({ ...PRODUCTION_VIA_INGRESS, set: { ...PRODUCTION_VIA_INGRESS.set, 'progressPage.enabled': false } });
    assert.equal(
      ofKind(offViaIngress, 'Ingress').find((object) => object.metadata.name === `${RELEASE}-progress`),
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
    const route = find(withToken, 'HTTPRoute', `${RELEASE}-progress`).spec;
    assert.deepEqual(route.hostnames, ['status.example.com']);
    assert.equal(route.rules[0].matches[0].path.value, '/status/migration');
    assert.equal(environmentOf(container).PROGRESS_BASE_PATH, '/status/migration');
    assert.match(renderError({ valuesFiles: [environmentFile('production')], set: { 'progressPage.path': '/mcp' } }), /progressPage\.path \(\/mcp\) overlaps gateway\.elicitation\.path/);
    const viaIngressToken = render({ ...PRODUCTION_VIA_INGRESS, set: { ...PRODUCTION_VIA_INGRESS.set, 'progressPage.path': '/status/migration', 'progressPage.host': 'status.example.com' } });
    const rule = find(viaIngressToken, 'Ingress', `${RELEASE}-progress`).spec.rules[0];
    assert.equal(rule.host, 'status.example.com');
    assert.equal(rule.http.paths[0].path, '/status/migration');
    assert.match(renderError({ ...PRODUCTION_VIA_INGRESS, set: { ...PRODUCTION_VIA_INGRESS.set, 'progressPage.path': '/mcp' } }), /progressPage\.path \(\/mcp\) overlaps ingress\.elicitation\.path/);
  });
});
