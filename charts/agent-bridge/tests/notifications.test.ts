/**
 * controller.notifications: the owner notification channels rendered by the real helm — the env the
 * controller's own config loader accepts, the secrets as files, and NetworkPolicy egress to each
 * channel's port only when it is configured.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadControllerConfig } from '@agent-bridge/controller';
import { environmentFile, environmentOf, find, render, renderError, serviceContainers, type KubeObject } from './helm.js';

const RELEASE = 'agent-bridge';
const CONFIGURED = {
  'controller.notifications': {
    webhook: { url: 'https://hooks.example.com/agent-bridge', format: 'chat', existingSecret: 'notify-hook', tokenKey: 'bearer' },
    smtp: { url: 'smtp://bridge@mail.example.com:2525', from: 'Agent Bridge <bridge@example.com>', existingSecret: 'notify-smtp', passwordKey: 'pw', html: true, cidrs: ['10.9.0.0/16'] },
  },
};

type Rule = { ports?: Array<{ port: number }>; to?: unknown[] };
const controllerOf = (objects: KubeObject[]) => serviceContainers(objects).find(({ service }) => service === 'controller')!;
const egressTo = (objects: KubeObject[], port: number): Rule | undefined => find(objects, 'NetworkPolicy', `${RELEASE}-router`).spec.egress.find((rule: Rule) => rule.ports?.length === 1 && rule.ports[0]!.port === port);

describe('owner notification channels in the chart', () => {
  test('none configured by default: no channel setting, no egress for one (notices are recorded as "no channel configured")', () => {
    const objects = render({ valuesFiles: [environmentFile('production')] });
    const { container, pod } = controllerOf(objects);
    const env = environmentOf(container);
    for (const key of ['NOTIFY_WEBHOOK_URL', 'SMTP_URL', 'SMTP_FROM', 'NOTIFY_WEBHOOK_TOKEN_FILE', 'SMTP_PASSWORD_FILE']) assert.equal(env[key], undefined, key);
    assert.equal(
      pod.volumes.some((v: { name: string }) => v.name.startsWith('notify-')),
      false,
    );
    assert.equal(egressTo(objects, 587), undefined);
  });

  test('both configured: the controller accepts the env, reads the token and password as files from the named Secrets, and may reach each port', () => {
    const objects = render({ valuesFiles: [environmentFile('production')], set: CONFIGURED });
    const { container, pod } = controllerOf(objects);
    const config = loadControllerConfig(environmentOf(container));
    assert.equal(config.NOTIFY_WEBHOOK_URL, 'https://hooks.example.com/agent-bridge');
    assert.equal(config.NOTIFY_WEBHOOK_FORMAT, 'chat');
    assert.equal(config.NOTIFY_WEBHOOK_TOKEN_FILE, '/etc/agent-bridge/notify-webhook/token');
    assert.equal(config.SMTP_URL, 'smtp://bridge@mail.example.com:2525');
    assert.equal(config.SMTP_FROM, 'Agent Bridge <bridge@example.com>');
    assert.equal(config.SMTP_PASSWORD_FILE, '/etc/agent-bridge/notify-smtp/password');
    assert.equal(config.NOTIFY_EMAIL_HTML, true);
    // defaultMode 0440 in the manifest: octal to Kubernetes, 440 to this YAML 1.2 parser.
    const volume = (name: string) => pod.volumes.find((v: { name: string }) => v.name === name);
    assert.deepEqual(volume('notify-webhook').secret, { secretName: 'notify-hook', defaultMode: 440, items: [{ key: 'bearer', path: 'token' }] });
    assert.deepEqual(volume('notify-smtp').secret, { secretName: 'notify-smtp', defaultMode: 440, items: [{ key: 'pw', path: 'password' }] });
    assert.ok((container.volumeMounts as Array<{ name: string; mountPath: string; readOnly?: boolean }>).some((m) => m.name === 'notify-smtp' && m.mountPath === '/etc/agent-bridge/notify-smtp' && m.readOnly));
    assert.deepEqual(egressTo(objects, 443), { ports: [{ protocol: 'TCP', port: 443 }] }, 'the webhook (https: 443) at any address');
    assert.deepEqual(egressTo(objects, 2525), { ports: [{ protocol: 'TCP', port: 2525 }], to: [{ ipBlock: { cidr: '10.9.0.0/16' } }] }, 'SMTP on its port, at the cidrs given');
    const smtps = render({ valuesFiles: [environmentFile('production')], set: { 'controller.notifications.smtp': { url: 'smtps://mail.example.com', from: 'b@example.com' } } });
    assert.ok(egressTo(smtps, 465), 'smtps without a port: 465');
  });

  test('bad values are refused with a sentence: SMTP without a From, a password in the URL, a webhook that is not http(s)', () => {
    assert.match(renderError({ set: { 'controller.notifications.smtp.url': 'smtp://mail.example.com:587' } }), /controller\.notifications\.smtp\.from must be set with smtp\.url/);
    assert.match(renderError({ set: { 'controller.notifications.smtp.url': 'smtp://bridge:secret@mail.example.com', 'controller.notifications.smtp.from': 'b@example.com' } }), /smtp.*url/i);
    assert.match(renderError({ set: { 'controller.notifications.webhook.url': 'ftp://hooks.example.com' } }), /webhook.*url/i);
  });
});
