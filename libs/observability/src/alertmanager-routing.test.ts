/**
 * deploy/alertmanager/alertmanager.yml, the routing example: amtool accepts it, and for every alert of
 * the rules file (with its own labels) amtool's route test names the receivers the docs promise —
 * the controller for every alert, the pager for critical ones, the chat for warnings.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const config = `${repo}deploy/alertmanager/alertmanager.yml`;
const amtool = process.env.AMTOOL ?? 'amtool';

function run(...args: string[]) {
  const result = spawnSync(amtool, args, { encoding: 'utf8' });
  if (result.error) throw new Error(`cannot run ${amtool} (install the Debian "prometheus-alertmanager" package; make test does): ${result.error.message}`);
  return result;
}

const receiversOf = (labels: Record<string, string>) => {
  const result = run('config', 'routes', 'test', `--config.file=${config}`, ...Object.entries(labels).map(([k, v]) => `${k}=${v}`));
  assert.equal(result.status, 0, result.stderr);
  return result.stdout.trim().split(',').sort();
};

test('amtool check-config accepts the routing example', () => {
  const result = run('check-config', config);
  assert.equal(result.status, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /SUCCESS/);
});

test('every alert reaches the controller; critical ones the pager, warnings the chat', () => {
  const rules = parse(readFileSync(`${repo}deploy/prometheus/agent-bridge.rules.yaml`, 'utf8')) as { groups: Array<{ rules: Array<{ alert: string; labels: Record<string, string> }> }> };
  const alerts = rules.groups.flatMap((group) => group.rules);
  assert.ok(alerts.some((a) => a.labels.severity === 'warning') && alerts.some((a) => a.labels.severity === 'critical'));
  for (const alert of alerts) {
    const expected = alert.labels.severity === 'critical' ? ['agent-bridge-controller', 'pager'] : ['agent-bridge-controller', 'chat'];
    assert.deepEqual(receiversOf({ alertname: alert.alert, ...alert.labels }), expected, `${alert.alert} (${alert.labels.severity})`);
  }
  assert.deepEqual(receiversOf({ alertname: 'SomethingElse', severity: 'info' }), ['default'], 'other alerts keep the default route');
});

test('a trend warning is inhibited while the critical alert of its family fires', () => {
  const parsed = parse(readFileSync(config, 'utf8')) as { inhibit_rules: Array<{ source_matchers: string[]; target_matchers: string[] }> };
  const inhibited = (source: string, target: string) => parsed.inhibit_rules.some((rule) => rule.source_matchers.includes(`alertname="${source}"`) && rule.target_matchers.some((m) => m.startsWith('alertname') && m.includes(target)));
  assert.ok(inhibited('ElicitationErrorSpike', 'ElicitationErrorRateIncreasing'));
  assert.ok(inhibited('ElicitationLatencyP99High', 'ElicitationLatencyP95Increasing'));
});

test('docs/deployment.md shows the file as it is', () => {
  const doc = readFileSync(`${repo}docs/deployment.md`, 'utf8');
  assert.ok(doc.includes(`\`\`\`yaml\n${readFileSync(config, 'utf8')}\`\`\``), 'the alertmanager.yml block of docs/deployment.md is deploy/alertmanager/alertmanager.yml');
});
