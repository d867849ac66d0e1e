/**
 * Exposure of the agent endpoints: Gateway API HTTPRoutes (the default, staging and production) and
 * Ingress objects with a preset per controller. The real helm lints and renders every environment in
 * both modes; every HTTPRoute is validated against the upstream Gateway API CRDs vendored with their
 * version (schema and CEL, gateway-api.ts); then: each route's timeouts outlast the holds the rendered
 * services are configured with, no nginx annotation appears unless the nginx preset is chosen, and the
 * Origin/Host allow-list follows the route hostnames.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { loadElicitationConfig } from '@agent-bridge/elicitation';
import { POLL_TIMEOUT_MAX_MS } from '@agent-bridge/protocol';
import { OriginPolicy } from '@agent-bridge/service-kit';
import { celRulesOf, gatewayApiCrd, gatewayDurationMs, GATEWAY_API_VERSION, validateGatewayApi } from './gateway-api.js';
import { CHART_DIR, ENVIRONMENTS, environmentFile, environmentOf, find, ofKind, render, renderError, REPO_ROOT, runHelm, serviceContainers, type Environment, type KubeObject, type RenderOptions } from './helm.js';
import { validateObject } from './kube-schema.js';

const RELEASE = 'agent-bridge';
const MODES = ['gateway', 'ingress'] as const;
type Mode = (typeof MODES)[number];

/** An environment's values, exposed one way or the other (its own choice first). */
const optionsOf = (environment: Environment, mode: Mode | 'both', set: Record<string, unknown> = {}): RenderOptions => ({ valuesFiles: [environmentFile(environment)], set: { exposure: mode, ...set } });
const renders = new Map<string, KubeObject[]>();
const renderOf = (environment: Environment, mode: Mode): KubeObject[] => {
  const key = `${environment}/${mode}`;
  if (!renders.has(key)) renders.set(key, render(optionsOf(environment, mode)));
  return renders.get(key)!;
};
const routes = (objects: readonly KubeObject[]) => ofKind(objects, 'HTTPRoute');
const route = (objects: readonly KubeObject[], component: string) => find(objects, 'HTTPRoute', `${RELEASE}-${component}`);

/** The holds of the rendered services, read from their own configuration as they would load it. */
function holdsOf(objects: readonly KubeObject[]): { legacy: number; elicitation: number; keepAliveMs: number } {
  const elicitation = serviceContainers(objects).find(({ service }) => service === 'elicitation')!;
  const config = loadElicitationConfig(environmentOf(elicitation.container));
  return { legacy: POLL_TIMEOUT_MAX_MS, elicitation: Math.max(POLL_TIMEOUT_MAX_MS, config.ELICIT_TIMEOUT_MAX_MS), keepAliveMs: config.KEEPALIVE_MS };
}

/** Every annotation key of every rendered object. */
const annotationKeys = (objects: readonly KubeObject[]) => objects.flatMap((object) => Object.keys(object.metadata.annotations ?? {}).map((key) => `${object.kind}/${object.metadata.name}: ${key}`));
const nginxAnnotations = (objects: readonly KubeObject[]) => annotationKeys(objects).filter((entry) => /: nginx\.(ingress\.kubernetes\.io|org)\//.test(entry));

// ------------------------------------------------------------------------------ helm lint, template

describe('helm lint and template: every environment, both exposure modes', () => {
  for (const environment of ENVIRONMENTS) {
    for (const mode of MODES) {
      test(`${environment} via ${mode}: helm lint --strict passes and the objects render`, () => {
        const result = runHelm(['lint', '--strict', CHART_DIR, '--values', environmentFile(environment), '--set', `exposure=${mode}`]);
        assert.equal(result.status, 0, result.stdout + result.stderr);
        assert.doesNotMatch(result.stdout, /\[(WARNING|ERROR)\]/);
        const objects = renderOf(environment, mode);
        assert.equal(routes(objects).length, mode === 'gateway' ? 3 : 0, 'HTTPRoutes: legacy-poll, elicitation, progress');
        assert.equal(ofKind(objects, 'Ingress').length, mode === 'ingress' ? 3 : 0, 'Ingresses: legacy-poll, elicitation, progress');
        assert.deepEqual(objects.flatMap(validateObject), []);
      });
    }
  }

  test('each environment exposes itself as documented: staging and production through the Gateway API, dev through ingress-nginx', () => {
    const own = (environment: Environment) => render({ valuesFiles: [environmentFile(environment)] });
    for (const environment of ['staging', 'production'] as const) {
      const objects = own(environment);
      assert.equal(routes(objects).length, 3, environment);
      assert.equal(ofKind(objects, 'Ingress').length, 0, environment);
      assert.deepEqual(route(objects, 'elicitation').spec.parentRefs, [{ name: 'agents', namespace: 'gateway-infra', sectionName: 'https' }], environment);
    }
    const dev = own('dev');
    assert.equal(routes(dev).length, 0);
    assert.equal(ofKind(dev, 'Ingress').length, 3);
    const defaults = render();
    assert.equal(routes(defaults).length, 3, 'the chart defaults to the Gateway API');
  });

  test('exposure none renders neither routes nor Ingresses, and the services hear of no public host', () => {
    const objects = render({ set: { exposure: 'none' } });
    assert.equal(routes(objects).length + ofKind(objects, 'Ingress').length, 0);
    const legacy = serviceContainers(objects).find(({ service }) => service === 'legacy-poll')!;
    assert.equal(environmentOf(legacy.container).ELICITATION_ENDPOINT_URL, `http://${RELEASE}-elicitation:8702/mcp`);
  });

  test('exposure both (the move from Ingress to the Gateway API): routes and Ingresses side by side, both hosts allowed, both proxies admitted', () => {
    const objects = render(
      optionsOf('production', 'both', { 'ingress.legacy.host': 'legacy.old.example.com', 'ingress.elicitation.host': 'old.example.com', 'ingress.elicitation.tlsSecretName': 'old-tls', 'ingress.legacy.tlsSecretName': 'old-tls' }),
    );
    assert.equal(routes(objects).length, 3);
    assert.equal(ofKind(objects, 'Ingress').length, 3);
    assert.deepEqual(objects.flatMap(validateObject), []);
    const elicitation = serviceContainers(objects).find(({ service }) => service === 'elicitation')!;
    assert.deepEqual(environmentOf(elicitation.container).MCP_ALLOWED_ORIGINS!.split(','), ['https://legacy.agents.example.com', 'https://legacy.old.example.com', 'https://agents.example.com', 'https://old.example.com']);
    const legacy = serviceContainers(objects).find(({ service }) => service === 'legacy-poll')!;
    assert.equal(environmentOf(legacy.container).ELICITATION_ENDPOINT_URL, 'https://agents.example.com/mcp', 'notices point at the route, where agents are going');
    const from = find(objects, 'NetworkPolicy', `${RELEASE}-elicitation`).spec.ingress[0].from.map(
      (peer: { namespaceSelector?: { matchLabels: Record<string, string> } }) => peer.namespaceSelector?.matchLabels['kubernetes.io/metadata.name'],
    );
    assert.ok(from.includes('envoy-gateway-system') && from.includes('ingress-nginx'), from.join(', '));
  });

  test('the removed keys and bad choices are refused with a sentence saying what to set', () => {
    assert.match(renderError({ set: { 'ingress.enabled': true } }), /ingress\.enabled is gone: set exposure to gateway \(HTTPRoutes, the default\), ingress, both \(while moving\) or none/);
    assert.match(renderError({ set: { exposure: 'ingress', 'ingress.nginx': true } }), /ingress\.nginx is gone: set ingress\.preset to nginx/);
    assert.match(renderError({ set: { exposure: 'gateway', 'gateway.parentRefs': [] } }), /exposure gateway needs gateway\.parentRefs/);
    assert.match(renderError({ set: { 'gateway.elicitation.hostnames': ['Agents.Example.com'] } }), /hostnames/);
    assert.match(renderError({ set: { exposure: 'loadbalancer' } }), /exposure/);
  });
});

// ------------------------------------------------------------------------------------ CRD schemas

describe(`HTTPRoutes against the Gateway API ${GATEWAY_API_VERSION} CRDs (vendored, schema and CEL)`, () => {
  test('the vendored CRDs are the release and channels they claim, and every CEL rule in them compiles', () => {
    for (const channel of ['standard', 'experimental'] as const) {
      const crd = gatewayApiCrd('HTTPRoute', channel);
      assert.ok(crd.spec.versions.some((version) => version.name === 'v1' && version.served && version.storage));
      assert.ok(celRulesOf('HTTPRoute', channel).length > 40, `${channel}: ${celRulesOf('HTTPRoute', channel).length} CEL rules`);
    }
    assert.ok(celRulesOf('HTTPRoute', 'experimental').length > celRulesOf('HTTPRoute', 'standard').length);
  });

  test('the validator rejects what the API server rejects: CEL (backendRequest above request, a Service without a port), patterns, unknown fields', () => {
    const legacy = structuredClone(route(renderOf('production', 'gateway'), 'legacy-poll'));
    legacy.spec.rules[0].timeouts = { request: '60s', backendRequest: '90s' };
    delete legacy.spec.rules[0].backendRefs[0].port;
    legacy.spec.rules[0].timeout = '60s';
    legacy.spec.hostnames = ['Legacy_Agents'];
    const errors = validateGatewayApi(legacy).valid ? [] : (validateGatewayApi(legacy) as { errors: string[] }).errors;
    assert.ok(errors.includes('spec.rules[0].timeouts: Invalid value: "object": backendRequest timeout cannot be longer than request timeout'), errors.join('\n'));
    assert.ok(errors.includes('spec.rules[0].backendRefs[0]: Invalid value: "object": Must have port for Service reference'), errors.join('\n'));
    assert.ok(errors.includes('spec.rules[0].timeout: unknown field "spec.rules[0].timeout"'), errors.join('\n'));
    assert.ok(
      errors.some((error) => error.startsWith('spec.hostnames[0]: Invalid value: "Legacy_Agents"')),
      errors.join('\n'),
    );
    // The rewrite's CEL rule: ReplacePrefixMatch needs exactly one PathPrefix match.
    const rewritten = structuredClone(route(render(optionsOf('production', 'gateway', { 'gateway.legacy.path': '/legacy/mcp' })), 'legacy-poll'));
    assert.equal(validateGatewayApi(rewritten).valid, true);
    rewritten.spec.rules[0].matches.push({ path: { type: 'Exact', value: '/legacy' } });
    assert.match(JSON.stringify(validateGatewayApi(rewritten)), /When using URLRewrite filter with path\.replacePrefixMatch, exactly one PathPrefix match must be specified/);
  });

  test('session persistence renders only with the experimental channel: valid there, an unknown field to the standard CRDs', () => {
    const cookie = render(optionsOf('production', 'gateway', { 'gateway.elicitation.sessionPersistence': { type: 'Cookie', sessionName: 'agentbridge-replica', cookieLifetime: 'Session', absoluteTimeout: '24h' } }));
    const elicitation = route(cookie, 'elicitation');
    assert.deepEqual(validateGatewayApi(elicitation, 'experimental'), { valid: true });
    const standard = validateGatewayApi(elicitation, 'standard');
    assert.equal(standard.valid, false);
    assert.match((standard as { errors: string[] }).errors.join('\n'), /spec\.rules\[0\]\.sessionPersistence: unknown field/);
    assert.deepEqual(validateGatewayApi(route(cookie, 'legacy-poll'), 'standard'), { valid: true }, 'legacy is never pinned');
    // The CEL rule a Permanent cookie breaks without an absolute timeout, caught by the chart first.
    assert.match(renderError(optionsOf('production', 'gateway', { 'gateway.elicitation.sessionPersistence': { type: 'Cookie', sessionName: 'x', cookieLifetime: 'Permanent' } })), /cookieLifetime Permanent needs absoluteTimeout/);
    const permanent = structuredClone(elicitation);
    permanent.spec.rules[0].sessionPersistence.cookieConfig = { lifetimeType: 'Permanent' };
    delete permanent.spec.rules[0].sessionPersistence.absoluteTimeout;
    assert.match(JSON.stringify(validateGatewayApi(permanent, 'experimental')), /AbsoluteTimeout must be specified when cookie lifetimeType is Permanent/);
  });

  test('the GatewayClass and Gateway of docs/deployment.md are valid against the same release’s CRDs', () => {
    const text = readFileSync(join(REPO_ROOT, 'docs/deployment.md'), 'utf8');
    const blocks = [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1]!);
    const objects = blocks.flatMap((block) => parseAllDocuments(block).map((document) => document.toJS() as KubeObject | null)).filter((object): object is KubeObject => object?.apiVersion === 'gateway.networking.k8s.io/v1');
    assert.deepEqual(
      objects.map((object) => object.kind),
      ['GatewayClass', 'Gateway'],
      'docs/deployment.md shows a GatewayClass and a Gateway',
    );
    for (const object of objects) assert.deepEqual(validateGatewayApi(object), { valid: true }, `${object.kind}/${object.metadata.name}`);
  });
});

// ---------------------------------------------------------------------------------------- routes

describe('the routes', () => {
  const production = renderOf('production', 'gateway');

  test('one route per endpoint on its hostnames, attached to the Gateway of the values, to its Service port; legacy-poll one rule, elicitation a GET stream rule before the rest', () => {
    const legacy = route(production, 'legacy-poll').spec;
    assert.deepEqual(legacy.hostnames, ['legacy.agents.example.com']);
    assert.deepEqual(legacy.rules.length, 1);
    assert.deepEqual(legacy.rules[0].matches, [{ path: { type: 'PathPrefix', value: '/mcp' } }]);
    assert.deepEqual(legacy.rules[0].backendRefs, [{ name: `${RELEASE}-legacy-poll`, port: 8701 }]);
    const elicitation = route(production, 'elicitation').spec;
    assert.deepEqual(elicitation.hostnames, ['agents.example.com']);
    assert.deepEqual(
      elicitation.rules.map((rule: { matches: unknown[] }) => rule.matches),
      [[{ path: { type: 'PathPrefix', value: '/mcp' }, method: 'GET' }], [{ path: { type: 'PathPrefix', value: '/mcp' } }]],
    );
    for (const rule of elicitation.rules) assert.deepEqual(rule.backendRefs, [{ name: `${RELEASE}-elicitation`, port: 8702 }]);
    const service = find(production, 'Service', `${RELEASE}-elicitation`);
    assert.ok(
      service.spec.ports.some((port: { port: number }) => port.port === 8702),
      'the backend port is the Service port',
    );
  });

  for (const environment of ENVIRONMENTS) {
    test(`${environment}: every route's timeouts outlast the holds its services are configured with (0s: none)`, () => {
      const objects = renderOf(environment, 'gateway');
      const holds = holdsOf(objects);
      const outlasts = (duration: string, hold: number) => gatewayDurationMs(duration) === 0 || gatewayDurationMs(duration) > hold;
      for (const rule of route(objects, 'legacy-poll').spec.rules) {
        for (const field of ['request', 'backendRequest']) assert.ok(outlasts(rule.timeouts[field], holds.legacy), `legacy ${field} ${rule.timeouts[field]} > ${holds.legacy} ms`);
      }
      const [stream, calls] = route(objects, 'elicitation').spec.rules;
      for (const field of ['request', 'backendRequest']) {
        assert.ok(outlasts(calls.timeouts[field], holds.elicitation), `elicitation ${field} ${calls.timeouts[field]} > ${holds.elicitation} ms`);
        assert.ok(gatewayDurationMs(stream.timeouts[field]) === 0 || gatewayDurationMs(stream.timeouts[field]) > 2 * holds.keepAliveMs, `the GET stream outlasts two keep-alives`);
      }
      assert.equal(stream.timeouts.request, '0s', 'the GET stream is never cut by default');
    });
  }

  test('a longer elicit hold needs longer timeouts: the chart refuses the defaults with a sentence, and the assertion holds with longer ones', () => {
    const longer = { 'elicitation.settings': { ELICIT_TIMEOUT_MAX_MS: 300_000 } };
    assert.match(
      renderError(optionsOf('production', 'gateway', longer)),
      /gateway\.elicitation\.timeouts\.request \(120s\) must exceed the longest poll or elicit \(POLL_TIMEOUT_MAX_MS 55000 ms, ELICIT_TIMEOUT_MAX_MS 300000 ms\) by at least 10 s/,
    );
    const objects = render(optionsOf('production', 'gateway', { ...longer, 'gateway.elicitation.timeouts': { request: '6m', backendRequest: '5m30s' } }));
    assert.equal(holdsOf(objects).elicitation, 300_000);
    const calls = route(objects, 'elicitation').spec.rules[1];
    assert.ok(gatewayDurationMs(calls.timeouts.backendRequest) > 300_000 && gatewayDurationMs(calls.timeouts.request) >= gatewayDurationMs(calls.timeouts.backendRequest));
    assert.match(
      renderError(optionsOf('production', 'gateway', { 'gateway.legacy.timeouts': { request: '60s', backendRequest: '60s' } })),
      /gateway\.legacy\.timeouts\.request \(60s\) must exceed the longest poll \(POLL_TIMEOUT_MAX_MS 55000 ms\) by at least 10 s/,
    );
    assert.match(renderError(optionsOf('production', 'gateway', { 'gateway.elicitation.streamTimeouts': { request: '20s', backendRequest: '20s' } })), /streamTimeouts\.request \(20s\) must exceed/);
    assert.match(renderError(optionsOf('production', 'gateway', { 'gateway.legacy.timeouts': { request: '2m', backendRequest: '3m' } })), /backendRequest \(3m\) is longer than request \(2m\)/);
  });

  test('session persistence: none by default (replica forwarding); Cookie on both elicitation rules and never on legacy; Header only as Mcp-Session-Id', () => {
    for (const object of routes(production)) for (const rule of object.spec.rules) assert.equal(rule.sessionPersistence, undefined, object.metadata.name);
    const cookie = render(optionsOf('production', 'gateway', { 'gateway.elicitation.sessionPersistence': { type: 'Cookie', sessionName: 'agentbridge-replica', cookieLifetime: 'Session' } }));
    for (const rule of route(cookie, 'elicitation').spec.rules) assert.deepEqual(rule.sessionPersistence, { type: 'Cookie', sessionName: 'agentbridge-replica', cookieConfig: { lifetimeType: 'Session' } });
    for (const rule of route(cookie, 'legacy-poll').spec.rules) assert.equal(rule.sessionPersistence, undefined);
    assert.match(renderError(optionsOf('production', 'gateway', { 'gateway.elicitation.sessionPersistence': { type: 'Header', sessionName: 'agentbridge-replica' } })), /type Header needs sessionName Mcp-Session-Id/);
    const header = render(optionsOf('production', 'gateway', { 'gateway.elicitation.sessionPersistence': { type: 'Header', sessionName: 'Mcp-Session-Id' } }));
    assert.deepEqual(route(header, 'elicitation').spec.rules[0].sessionPersistence, { type: 'Header', sessionName: 'Mcp-Session-Id' });
    assert.deepEqual(validateGatewayApi(route(header, 'elicitation'), 'experimental'), { valid: true });
  });

  test('another path is rewritten to /mcp (URLRewrite, ReplacePrefixMatch); the same hostname and path for both endpoints is refused', () => {
    const objects = render(optionsOf('production', 'gateway', { 'gateway.legacy.hostnames': ['agents.example.com'], 'gateway.legacy.path': '/legacy/mcp' }));
    const legacy = route(objects, 'legacy-poll').spec.rules[0];
    assert.deepEqual(legacy.matches, [{ path: { type: 'PathPrefix', value: '/legacy/mcp' } }]);
    assert.deepEqual(legacy.filters, [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/mcp' } } }]);
    assert.equal(route(objects, 'elicitation').spec.rules[0].filters, undefined);
    assert.deepEqual(objects.flatMap(validateObject), []);
    assert.match(renderError(optionsOf('production', 'gateway', { 'gateway.legacy.hostnames': ['agents.example.com'] })), /gateway\.legacy and gateway\.elicitation both route agents\.example\.com\/mcp/);
  });

  test("the NetworkPolicies admit the Gateway's data plane, not the ingress controller, to the agent and progress ports", () => {
    const peers = (component: string) =>
      find(production, 'NetworkPolicy', `${RELEASE}-${component}`)
        .spec.ingress.flatMap((rule: { from: Array<{ namespaceSelector?: { matchLabels: Record<string, string> } }> }) => rule.from)
        .map((peer: { namespaceSelector?: { matchLabels: Record<string, string> } }) => peer.namespaceSelector?.matchLabels['kubernetes.io/metadata.name']);
    for (const component of ['legacy-poll', 'elicitation', 'router']) {
      assert.ok(peers(component).includes('envoy-gateway-system'), component);
      assert.ok(!peers(component).includes('ingress-nginx'), component);
    }
  });
});

// --------------------------------------------------------------------------- nginx annotations, presets

describe('Ingress presets: nginx annotations only with the nginx preset', () => {
  test('no rendered object of any environment, in either mode, carries an nginx annotation unless the nginx preset is in effect', () => {
    for (const environment of ENVIRONMENTS) {
      assert.deepEqual(nginxAnnotations(renderOf(environment, 'gateway')), [], `${environment} via gateway`);
      const viaIngress = renderOf(environment, 'ingress');
      const className = ofKind(viaIngress, 'Ingress')[0]!.spec.ingressClassName;
      if (className === 'nginx') assert.ok(nginxAnnotations(viaIngress).length > 0, `${environment} via ingress, class nginx: preset auto → nginx`);
      else assert.deepEqual(nginxAnnotations(viaIngress), [], `${environment} via ingress, class ${className ?? '(default)'}`);
    }
  });

  test('preset auto follows the class; an explicit preset wins over it; generic sets no controller annotation and keeps the operator’s own', () => {
    const cases: Array<{ set: Record<string, unknown>; nginx: boolean }> = [
      { set: { 'ingress.className': 'nginx' }, nginx: true },
      { set: { 'ingress.className': 'traefik' }, nginx: false },
      { set: { 'ingress.className': '' }, nginx: false },
      { set: { 'ingress.className': 'nginx', 'ingress.preset': 'generic' }, nginx: false },
      { set: { 'ingress.className': 'nginx-internal', 'ingress.preset': 'nginx' }, nginx: true },
    ];
    for (const { set, nginx } of cases) {
      const objects = render({ set: { exposure: 'ingress', ...set } });
      assert.equal(nginxAnnotations(objects).length > 0, nginx, JSON.stringify(set));
      assert.deepEqual(objects.flatMap(validateObject), [], JSON.stringify(set));
    }
    const own = render({ set: { exposure: 'ingress', 'ingress.className': 'traefik', 'ingress.annotations': { 'traefik.ingress.kubernetes.io/router.entrypoints': 'websecure' } } });
    for (const ingress of ofKind(own, 'Ingress')) assert.deepEqual(Object.keys(ingress.metadata.annotations ?? {}), ['traefik.ingress.kubernetes.io/router.entrypoints'], ingress.metadata.name);
    assert.match(renderError({ set: { exposure: 'ingress', 'ingress.className': 'traefik', 'ingress.legacy.path': '/legacy/mcp', 'ingress.legacy.host': 'agents.example.com' } }), /the generic preset cannot rewrite it to \/mcp/);
  });

  test('the nginx preset keeps the timeouts above the holds, unbuffered SSE and cookie affinity for elicitation', () => {
    const objects = render({ set: { exposure: 'ingress', 'ingress.className': 'nginx' } });
    const holds = holdsOf(objects);
    const annotations = (component: string) => find(objects, 'Ingress', `${RELEASE}-${component}`).metadata.annotations!;
    assert.ok(Number(annotations('legacy-poll')['nginx.ingress.kubernetes.io/proxy-read-timeout']) * 1000 > holds.legacy);
    assert.ok(Number(annotations('elicitation')['nginx.ingress.kubernetes.io/proxy-read-timeout']) * 1000 > holds.elicitation);
    assert.equal(annotations('elicitation')['nginx.ingress.kubernetes.io/proxy-buffering'], 'off');
    assert.equal(annotations('elicitation')['nginx.ingress.kubernetes.io/affinity'], 'cookie');
  });
});

// ------------------------------------------------------------------------------ Origin and Host checks

describe('the Origin/Host allow-list follows the route hostnames', () => {
  test("every hostname of both routes is an allowed origin (the Gateway's scheme) and an allowed Host; nothing else is", () => {
    const objects = render(
      optionsOf('production', 'gateway', {
        'gateway.legacy.hostnames': ['legacy.agents.test'],
        'gateway.elicitation.hostnames': ['agents.test', 'agents.eu.test'],
        'mcpAccess.allowedOrigins': ['https://console.agents.test'],
      }),
    );
    for (const { service, container } of serviceContainers(objects).filter(({ service }) => service === 'legacy-poll' || service === 'elicitation')) {
      const env = environmentOf(container);
      assert.deepEqual(env.MCP_ALLOWED_ORIGINS!.split(','), ['https://legacy.agents.test', 'https://agents.test', 'https://agents.eu.test', 'https://console.agents.test'], service);
      const policy = OriginPolicy.fromSettings((loadElicitationConfig as (env: Record<string, string>) => never)(env));
      for (const host of ['agents.eu.test', 'legacy.agents.test:443']) assert.equal(policy.refusal({ headers: { host, origin: `https://${host.split(':')[0]}` } } as never), undefined, `${service}: ${host}`);
      assert.ok(policy.refusal({ headers: { host: 'agents.test', origin: 'http://agents.test' } } as never), `${service}: the plain-http origin of an https Gateway`);
      assert.ok(policy.refusal({ headers: { host: 'rebound.evil.example' } } as never), `${service}: a foreign Host`);
    }
    const legacy = serviceContainers(objects).find(({ service }) => service === 'legacy-poll')!;
    assert.equal(environmentOf(legacy.container).ELICITATION_ENDPOINT_URL, 'https://agents.test/mcp', 'the first elicitation hostname');
    const plain = render(optionsOf('dev', 'gateway', { 'gateway.scheme': 'http', 'gateway.elicitation.hostnames': ['agents.localtest.me'] }));
    const elicitation = serviceContainers(plain).find(({ service }) => service === 'elicitation')!;
    assert.ok(environmentOf(elicitation.container).MCP_ALLOWED_ORIGINS!.split(',').includes('http://agents.localtest.me'));
  });
});
