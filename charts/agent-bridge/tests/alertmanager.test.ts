import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { startAlertmanager, waitFor, type AlertmanagerHandle } from '@agent-bridge/testkit';
import { REPO_ROOT } from './helm.js';

const CONFIG_FILE = join(REPO_ROOT, 'deploy/alertmanager/alertmanager.yml');
const amtool = process.env.AMTOOL ?? 'amtool';

interface Rule {
  alert: string;
  labels: { severity: string; rollback: string };
}
const rules: Rule[] = parse(readFileSync(join(REPO_ROOT, 'deploy/prometheus/agent-bridge.rules.yaml'), 'utf8')).groups.flatMap((group: { rules: Rule[] }) => group.rules);

function runAmtool(...args: string[]) {
  const result = spawnSync(amtool, args, { encoding: 'utf8' });
  if (result.error) throw new Error(`cannot run ${amtool} (install the Debian "prometheus-alertmanager" package; make test does): ${result.error.message}`);
  return result;
}

/** The receivers `amtool config routes test` picks for an alert with these labels. */
function receiversFor(labels: Record<string, string>): string[] {
  const result = runAmtool('config', 'routes', 'test', `--config.file=${CONFIG_FILE}`, ...Object.entries(labels).map(([name, value]) => `${name}=${value}`));
  assert.equal(result.status, 0, result.stdout + result.stderr);
  return result.stdout.trim().split(',').sort();
}

describe('deploy/alertmanager/alertmanager.yml: the routing of the alerts', () => {
  test('amtool check-config accepts it: the routes, 2 inhibit rules and 4 receivers', () => {
    const result = runAmtool('check-config', CONFIG_FILE);
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /SUCCESS/);
    assert.match(result.stdout, /2 inhibit rules/);
    assert.match(result.stdout, /4 receivers/);
  });

  test('every warning of the rule file goes to the team chat and the controller, every critical alert to the pager and the controller (amtool config routes test)', () => {
    assert.ok(rules.length >= 10, `the rule file's alerts: ${rules.map((r) => r.alert).join(', ')}`);
    for (const { alert, labels } of rules) {
      const expected = { warning: ['agent-bridge-controller', 'team-chat'], critical: ['agent-bridge-controller', 'pager'] }[labels.severity];
      assert.ok(expected, `${alert}: severity ${labels.severity}`);
      assert.deepEqual(receiversFor({ alertname: alert, ...labels }), expected, alert);
    }
  });

  test('an alert that is not agent-bridge’s (no rollback label) goes to your default receiver only, whatever its severity', () => {
    assert.deepEqual(receiversFor({ alertname: 'NodeDown', severity: 'critical' }), ['default']);
    assert.deepEqual(receiversFor({ alertname: 'DiskFilling', severity: 'warning' }), ['default']);
  });

  test('docs/deployment.md shows this file verbatim', () => {
    const doc = readFileSync(join(REPO_ROOT, 'docs/deployment.md'), 'utf8');
    const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1]!);
    assert.ok(blocks.includes(readFileSync(CONFIG_FILE, 'utf8')), 'a yaml block of docs/deployment.md equals deploy/alertmanager/alertmanager.yml');
  });
});

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

/** A loopback HTTP server that records every POST and answers `status`. */
async function recorder(status: number): Promise<{ server: Server; url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    request.on('end', () => {
      received.push({ path: request.url ?? '/', headers: request.headers, body: JSON.parse(body) });
      response.writeHead(status, { 'content-type': 'application/json' }).end('{"status":"success"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

interface SlackMessage {
  attachments: Array<{ title: string; text: string }>;
}
interface PagerDutyEvent {
  routing_key: string;
  event_action: string;
  payload: { summary: string; severity: string };
}
interface WebhookMessage {
  alerts: Array<{ labels: Record<string, string>; status: string }>;
}

describe('deploy/alertmanager/alertmanager.yml in a real Alertmanager: warnings reach the chat, critical alerts the pager and the controller', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agent-bridge-am-routing-'));
  let chat: Awaited<ReturnType<typeof recorder>>;
  let pager: Awaited<ReturnType<typeof recorder>>;
  let controller: Awaited<ReturnType<typeof recorder>>;
  let alertmanager: AlertmanagerHandle;

  /**
   * The file's routes, inhibit rules and receivers with only the endpoints and secret files changed
   * (local servers, temp files), and the group waits cut to 0 s so a test need not wait 30 s.
   */
  function localConfig(): string {
    const config = parse(readFileSync(CONFIG_FILE, 'utf8'));
    for (const route of config.route.routes) route.group_wait = '0s';
    const secret = (name: string, value: string) => {
      const file = join(dir, name);
      writeFileSync(file, value);
      return file;
    };
    const receiver = (name: string) => config.receivers.find((r: { name: string }) => r.name === name);
    const webhook = receiver('agent-bridge-controller').webhook_configs[0];
    webhook.url = `${controller.url}/webhook/alertmanager`;
    webhook.http_config.authorization.credentials_file = secret('webhook-token', 'test-webhook-token');
    const pagerduty = receiver('pager').pagerduty_configs[0];
    pagerduty.routing_key_file = secret('routing-key', 'test-routing-key');
    pagerduty.url = `${pager.url}/v2/enqueue`;
    receiver('team-chat').slack_configs[0].api_url_file = secret('webhook-url', `${chat.url}/services/T000/B000/XXXX`);
    return stringify(config);
  }

  async function fire(alertname: string): Promise<void> {
    const rule = rules.find((r) => r.alert === alertname);
    assert.ok(rule, `${alertname} is in the rule file`);
    const response = await fetch(`${alertmanager.url}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ labels: { alertname, ...rule.labels }, annotations: { summary: `${alertname} summary`, description: `${alertname} description` } }]),
    });
    assert.equal(response.status, 200, await response.text());
  }

  const chatTitles = () => chat.received.map((r) => (r.body as SlackMessage).attachments[0]!.title);
  const pages = () => pager.received.map((r) => (r.body as PagerDutyEvent).payload.summary);
  const controllerAlerts = () => controller.received.flatMap((r) => (r.body as WebhookMessage).alerts.map((a) => a.labels.alertname));

  before(async () => {
    [chat, pager, controller] = await Promise.all([recorder(200), recorder(202), recorder(200)]);
    alertmanager = await startAlertmanager({ config: localConfig() });
  });
  after(async () => {
    await alertmanager?.stop();
    for (const server of [chat, pager, controller]) server?.server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a warning (RollbackDrillFailed) reaches the team chat and the controller (with the bearer token), and pages no one', async () => {
    await fire('RollbackDrillFailed');
    await waitFor(() => chatTitles().length > 0 && controllerAlerts().includes('RollbackDrillFailed'), { timeoutMs: 15_000, intervalMs: 100, description: 'the chat and the controller to be notified' });
    assert.deepEqual(chatTitles(), ['[FIRING] RollbackDrillFailed']);
    assert.equal((chat.received[0]!.body as SlackMessage).attachments[0]!.text, 'RollbackDrillFailed summary. RollbackDrillFailed description\n');
    assert.equal(chat.received[0]!.path, '/services/T000/B000/XXXX');
    assert.equal(controller.received[0]!.path, '/webhook/alertmanager');
    assert.equal(controller.received[0]!.headers.authorization, 'Bearer test-webhook-token');
    assert.deepEqual(pages(), []);
  });

  test('a critical alert (MessageLossDetected) pages (routing key from its file) and reaches the controller, not the chat', async () => {
    await fire('MessageLossDetected');
    await waitFor(() => pages().length > 0 && controllerAlerts().includes('MessageLossDetected'), { timeoutMs: 15_000, intervalMs: 100, description: 'the pager and the controller to be notified' });
    const [page] = pager.received;
    assert.equal(page!.path, '/v2/enqueue');
    assert.deepEqual((({ routing_key, event_action }) => ({ routing_key, event_action }))(page!.body as PagerDutyEvent), { routing_key: 'test-routing-key', event_action: 'trigger' });
    assert.deepEqual(pages(), ['MessageLossDetected: MessageLossDetected summary']);
    assert.equal((page!.body as PagerDutyEvent).payload.severity, 'critical');
    assert.deepEqual(chatTitles(), ['[FIRING] RollbackDrillFailed'], 'no new chat message');
  });

  test('while ElicitationErrorSpike fires, its trend warning (ElicitationErrorRateIncreasing) reaches no one', async () => {
    await fire('ElicitationErrorSpike');
    await waitFor(() => pages().length === 2 && controllerAlerts().includes('ElicitationErrorSpike'), { timeoutMs: 15_000, intervalMs: 100, description: 'the spike to page' });
    await fire('ElicitationErrorRateIncreasing');
    // The warning would be sent within a second (group_wait 0 s, as the first test shows).
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    assert.deepEqual(chatTitles(), ['[FIRING] RollbackDrillFailed']);
    assert.ok(!controllerAlerts().includes('ElicitationErrorRateIncreasing'), controllerAlerts().join(', '));
    const listed = (await alertmanager.alerts()).find((a) => a.labels.alertname === 'ElicitationErrorRateIncreasing');
    assert.equal(listed?.status.state, 'suppressed', 'Alertmanager holds the warning as suppressed (inhibited)');
  });
});
