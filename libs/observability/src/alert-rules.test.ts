import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BridgeMetrics } from './metrics.js';

const rulesDir = fileURLToPath(new URL('../../../deploy/prometheus/', import.meta.url));
const promtool = process.env.PROMTOOL ?? 'promtool';

function run(...args: string[]) {
  const result = spawnSync(promtool, args, { cwd: rulesDir, encoding: 'utf8' });
  if (result.error) throw new Error(`cannot run ${promtool} (install the Debian "prometheus" package; make test does): ${result.error.message}`);
  return result;
}

test('the alert rule file passes promtool check rules', () => {
  const result = run('check', 'rules', 'agent-bridge.rules.yaml');
  assert.equal(result.status, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /SUCCESS: 12 rules found/);
});

test('every alert fires when it should and stays silent when it should not (promtool test rules)', () => {
  const result = run('test', 'rules', 'agent-bridge.rules.test.yaml');
  assert.equal(result.status, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /SUCCESS/);
});

test('every alert has a unit test in which it fires and one in which it stays silent', () => {
  const rules = readFileSync(`${rulesDir}/agent-bridge.rules.yaml`, 'utf8');
  const tests = readFileSync(`${rulesDir}/agent-bridge.rules.test.yaml`, 'utf8');
  // A check is `alertname: X` followed by `exp_alerts: []` (silent) or by a list of alerts (fires).
  const checks = [...tests.matchAll(/alertname: (\w+)\n\s+exp_alerts:( \[\])?/g)].map(([, alert, silent]) => ({ alert, fires: silent === undefined }));
  for (const [, alert] of rules.matchAll(/- alert: (\w+)/g)) {
    assert.ok(
      checks.some((c) => c.alert === alert && c.fires),
      `${alert} fires in some test`,
    );
    assert.ok(
      checks.some((c) => c.alert === alert && !c.fires),
      `${alert} stays silent in some test`,
    );
  }
});

test('every alert carries a rollback level and a severity', () => {
  const rules = readFileSync(`${rulesDir}/agent-bridge.rules.yaml`, 'utf8');
  const alerts = [...rules.matchAll(/- alert: (\w+)/g)].map((m) => m[1]);
  const levels = [...rules.matchAll(/rollback: (\w+)/g)].map((m) => m[1]);
  const severities = [...rules.matchAll(/severity: (\w+)/g)].map((m) => m[1]);
  assert.equal(levels.length, alerts.length);
  assert.equal(severities.length, alerts.length);
  for (const level of levels) assert.ok(['full', 'partial', 'canary', 'none'].includes(level!), level);
  for (const severity of severities) assert.ok(['critical', 'warning'].includes(severity!), severity);
});

test('every metric the alert rules use is exported by the code (process_start_time_seconds: the default metrics)', async () => {
  const rules = readFileSync(`${rulesDir}/agent-bridge.rules.yaml`, 'utf8');
  const used = new Set([...rules.matchAll(/\b(agentbridge|process)_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, '')));
  assert.ok(used.has('process_start_time_seconds'), [...used].join(', '));
  const exported = new Set((await new BridgeMetrics('test').registry.getMetricsAsJSON()).map((m) => m.name));
  assert.deepEqual(
    [...used].filter((name) => !exported.has(name)),
    [],
  );
});
