import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { BridgeMetrics } from '@agent-bridge/observability';
import { allPanels, dashboardQueries, loadDashboards, metricNames, resolveVariables, RULES_FILE, vectorSelectors } from '@agent-bridge/testkit/bridge';

/** Static checks of deploy/grafana/dashboards; e2e/observability-stack.test.ts runs every query against a real Prometheus. */
describe('Grafana dashboards (static)', () => {
  const dashboards = loadDashboards();
  const queries = dashboardQueries(dashboards);
  const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

  test('each dashboard is ready for file provisioning and the sidecar: a stable agent-bridge uid, no numeric id, schemaVersion 39, a prometheus `datasource` variable', () => {
    const uids = dashboards.map((d) => d.json.uid);
    assert.equal(new Set(uids).size, uids.length, `uids are unique: ${uids.join(', ')}`);
    for (const { file, json } of dashboards) {
      assert.match(json.uid, /^agent-bridge-[a-z-]+$/, `${file}: uid`);
      assert.ok(json.uid.length <= 40, `${file}: Grafana uids are at most 40 characters`);
      assert.equal(json.id, null, `${file}: id must be null (Grafana assigns it)`);
      assert.equal(json.schemaVersion, 39, `${file}: schemaVersion`);
      assert.match(json.title, /^agent-bridge \/ /, `${file}: title`);
      const variable = json.templating.list.find((v) => v.name === 'datasource');
      assert.deepEqual({ type: variable?.type, query: variable?.query }, { type: 'datasource', query: 'prometheus' }, `${file}: the datasource variable`);
    }
  });

  test('every panel and every query uses the ${datasource} variable, and panel ids are unique per dashboard', () => {
    for (const { file, json } of dashboards) {
      const panels = allPanels(json);
      const ids = panels.map((p) => p.id);
      assert.equal(new Set(ids).size, ids.length, `${file}: panel ids are unique`);
      for (const panel of panels.filter((p) => p.type !== 'row')) {
        assert.ok(panel.title, `${file}: panel ${panel.id} has a title`);
        assert.ok(panel.gridPos, `${file}: panel "${panel.title}" has a gridPos`);
        assert.deepEqual(panel.datasource, DATASOURCE, `${file}: panel "${panel.title}" datasource`);
        assert.ok((panel.targets ?? []).length > 0, `${file}: panel "${panel.title}" has a query`);
        for (const target of panel.targets ?? []) {
          assert.deepEqual(target.datasource, DATASOURCE, `${file}: panel "${panel.title}" target ${target.refId} datasource`);
          assert.ok(target.expr?.trim(), `${file}: panel "${panel.title}" target ${target.refId} has an expr`);
        }
      }
      for (const annotation of json.annotations.list.filter((a) => !a.builtIn)) {
        assert.deepEqual(annotation.datasource, DATASOURCE, `${file}: annotation "${annotation.name}" datasource`);
        assert.ok(annotation.expr?.trim(), `${file}: annotation "${annotation.name}" has an expr`);
      }
    }
  });

  test('every query uses only variables the tests can resolve ($__rate_interval, $__interval, $__range…)', () => {
    for (const query of queries) assert.doesNotThrow(() => resolveVariables(query.expr), `${query.dashboard} ${query.where}: ${query.expr}`);
  });

  test('every metric name the dashboards use is exported by the code (BridgeMetrics, with default process metrics), or is ALERTS or up', async () => {
    const exported = new Set((await new BridgeMetrics('x').registry.getMetricsAsJSON()).map((m) => m.name));
    const known = (name: string) => exported.has(name) || exported.has(name.replace(/_(bucket|sum|count)$/, '')) || name === 'ALERTS' || name === 'up';
    const unknown = queries.flatMap((q) =>
      metricNames(q.expr)
        .filter((name) => !known(name))
        .map((name) => `${q.dashboard} ${q.where}: ${name} in ${q.expr}`),
    );
    assert.deepEqual(unknown, []);
    assert.ok(
      queries.every((q) => metricNames(q.expr).length > 0),
      'every query selects at least one metric',
    );
  });

  test('the rollback-trigger panels list exactly the alerts of agent-bridge.rules.yaml', () => {
    const alerts = [...readFileSync(RULES_FILE, 'utf8').matchAll(/- alert: (\w+)/g)].map((m) => m[1]!).sort();
    const alertsQueries = queries.filter((q) => metricNames(q.expr).includes('ALERTS'));
    assert.ok(alertsQueries.length > 0, 'some panel shows the rollback triggers');
    for (const query of alertsQueries) {
      const regex = /alertname=~"([^"]+)"/.exec(query.expr)?.[1];
      assert.deepEqual(regex?.split('|').sort(), alerts, `${query.dashboard} ${query.where}: ${query.expr}`);
    }
  });

  test('vectorSelectors finds the selectors of an expression and nothing else', () => {
    assert.deepEqual(vectorSelectors('histogram_quantile(0.99, sum by (le) (rate(agentbridge_delivery_latency_seconds_bucket{protocol="elicitation"}[5m]))) > 1.5 * time()'), [
      'agentbridge_delivery_latency_seconds_bucket{protocol="elicitation"}',
    ]);
    assert.deepEqual(vectorSelectors('(sum(a_total) / clamp_min(sum(b), 1e-9) > 0.3) and on() (max(c{phase=~"x|y"}) == 1) or vector(0)'), ['a_total', 'b', 'c{phase=~"x|y"}']);
  });
});
