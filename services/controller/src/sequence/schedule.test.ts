/**
 * The deprecation schedule on a running bridge, its days compressed to seconds: a real controller
 * runs each step once on its date — across a restart onto another controller — the legacy endpoint
 * answers with the Deprecation, Sunset and Link headers and the throttle from the day-3 step, and the
 * owners of agents still on legacy get one webhook and one email per milestone (a real HTTP sink, a
 * real SMTP server).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FeatureFlagsStatus } from '@agent-bridge/flags';
import { createLogger } from '@agent-bridge/observability';
import { waitFor, waitForValue, type AgentClient } from '@agent-bridge/testkit';
import { poll, startBridge, type Bridge } from '@agent-bridge/testkit/bridge';
import { loadControllerConfig } from '../config.js';
import { startControllerService, type ControllerService } from '../service.js';
import { startSmtpSink, startWebhookSink, type SmtpSink, type WebhookSink } from '../notify/test-sinks.js';

const SECOND = 1000;
/** A day of the strategy's week 9 lasts this long here. */
const DAY = 1.5 * SECOND;

describe('the deprecation schedule on a compressed clock, across a controller restart', () => {
  let bridge: Bridge;
  let dir: string;
  let webhook: WebhookSink;
  let smtp: SmtpSink;
  let lee: AgentClient;
  let dee: AgentClient;
  let orphan: AgentClient;
  let controller: ControllerService | undefined;
  let start: number;

  const status = async (): Promise<FeatureFlagsStatus> => JSON.parse((await bridge.store.store.readControllerStatusJson()) ?? '{}') as FeatureFlagsStatus;
  const stepDone = (name: string) => waitFor(async () => (await status()).deprecation?.steps.find((s) => s.name === name)?.state === 'done', { timeoutMs: 20 * SECOND, intervalMs: 50, description: `step ${name} to run` });

  const featureFlags = (startAt: number) => `apiVersion: agentbridge.io/v1alpha1
kind: FeatureFlags
metadata:
  name: agent-bridge
spec:
  phase: stabilization
  deprecation:
    start: "${new Date(startAt).toISOString()}"
    sunset: "${new Date(startAt + 14 * DAY).toISOString().replace(/\.\d+Z$/, 'Z')}"
    migrationGuideUrl: https://docs.example.com/agent-bridge/agent-guide
    progressPageUrl: https://agents.example.com/migration/
    throttleMs: 150
    steps:
      - { name: day-1, after: 0s, actions: [warnings] }
      - { name: day-3, after: ${2 * DAY}ms, actions: [headers, throttle] }
      - { name: day-5, after: ${4 * DAY}ms, actions: [notify-owners], message: "Office hours every Tuesday." }
      - { name: day-7, after: ${6 * DAY}ms, actions: [final-notice] }
`;

  async function startController(id: string): Promise<ControllerService> {
    const config = loadControllerConfig({
      ...bridge.env,
      PORT: '0',
      CONTROLLER_ID: id,
      FEATURE_FLAGS_FILE: join(dir, 'featureflags.yaml'),
      ADMIN_TOKEN: 'admin-token-for-the-schedule',
      WEBHOOK_TOKEN: 'webhook-token-for-the-schedule',
      LEADER_LEASE_TTL_MS: '1000',
      RECONCILE_INTERVAL_MS: '100',
      ELICITATION_ENDPOINT_URL: 'https://agents.example.com/mcp',
      NOTIFY_WEBHOOK_URL: webhook.url,
      SMTP_URL: smtp.url,
      SMTP_FROM: 'Agent Bridge <bridge@example.com>',
      NOTIFY_BACKOFF_MS: '50',
    });
    return startControllerService(config, createLogger('controller', 'silent'));
  }

  /** A raw MCP request to the legacy endpoint, for its headers. */
  async function legacyResponse(): Promise<Headers> {
    const response = await fetch(bridge.legacyUrls[0]!, {
      method: 'POST',
      headers: { authorization: `Bearer ${bridge.tokens.lee}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
    });
    await response.text();
    assert.equal(response.status, 200);
    return response.headers;
  }

  async function pollTime(agent: AgentClient): Promise<number> {
    const began = performance.now();
    await poll(agent, { timeout_ms: 0 });
    return performance.now() - began;
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'agent-bridge-schedule-'));
    webhook = await startWebhookSink();
    smtp = await startSmtpSink();
    bridge = await startBridge({
      agents: ['lee', 'dee', 'orphan', 'idle'],
      owners: {
        lee: { name: 'Lee Gacy', contact: 'lee@example.com', team: 'billing' },
        dee: { name: 'Dee Ual', contact: 'https://chat.example.com/c/search', team: 'search' },
        idle: { name: 'Ida Idle', contact: 'ida@example.com', team: 'search' },
      },
      env: { USAGE_FLUSH_INTERVAL_MS: '100' },
    });
    lee = await bridge.connect('lee');
    dee = await bridge.connect('dee');
    orphan = await bridge.connect('orphan');
    // Three agents on legacy before the campaign (the inventory says so); `idle` never calls.
    for (const agent of [lee, dee, orphan]) await poll(agent, { timeout_ms: 0 });
    start = Date.now() + 2 * SECOND;
    writeFileSync(join(dir, 'featureflags.yaml'), featureFlags(start));
    controller = await startController('ctl-a');
  });
  after(async () => {
    await Promise.all([lee, dee, orphan].map((agent) => agent?.close().catch(() => undefined)));
    await controller?.close().catch(() => undefined);
    await bridge?.stop();
    await webhook?.close();
    await smtp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('each step runs once on its date, headers and throttle reach real responses, each owner is told once per milestone', async () => {
    const before = await legacyResponse();
    assert.equal(before.get('deprecation'), null, 'no headers before the headers step');
    await stepDone('day-1');
    const day1 = await status();
    assert.ok(Date.parse(day1.deprecation!.steps[0]!.executedAt!) >= start, 'not before its date');
    const warned = await waitForValue(
      async () => {
        const page = await poll(lee, { timeout_ms: 0 });
        return page.deprecation ? (page.deprecation as { message: string; sunset?: string }) : false;
      },
      { timeoutMs: 5 * SECOND, description: 'the warnings to reach legacy results' },
    );
    assert.match(warned.message, /wait_for_messages on the legacy endpoint is deprecated and will be removed on/);
    assert.equal(warned.sunset, new Date(start + 14 * DAY).toISOString().replace(/\.\d+Z$/, '.000Z'));
    assert.equal((await legacyResponse()).get('deprecation'), null, 'day 1 has no headers yet');

    // A restart between the steps: another controller takes over and runs the rest from the stored status.
    await controller!.close();
    controller = await startController('ctl-b');

    await stepDone('day-3');
    const headers = await waitForValue(async () => ((await legacyResponse()).get('deprecation') ? legacyResponse() : false), { timeoutMs: 5 * SECOND, description: 'the headers on legacy responses' });
    assert.equal(headers.get('deprecation'), `@${Math.floor(start / 1000)}`, 'RFC 9745: @ and Unix seconds of the start');
    assert.equal(headers.get('sunset'), new Date(start + 14 * DAY).toUTCString(), 'RFC 8594: an HTTP-date');
    assert.equal(headers.get('link'), '<https://docs.example.com/agent-bridge/agent-guide>; rel="deprecation"; type="text/html", <https://docs.example.com/agent-bridge/agent-guide>; rel="sunset"; type="text/html"');
    assert.ok((await pollTime(dee)) >= 150, 'the throttle delays a legacy call by throttleMs');

    await stepDone('day-5');
    await waitFor(async () => webhook.requests.length >= 2 && smtp.mails.length >= 1, { timeoutMs: 10 * SECOND, description: 'the day-5 notices' });
    // Another restart after the notices: nothing is sent twice.
    await controller!.close();
    controller = await startController('ctl-c');
    await stepDone('day-7');
    await waitFor(async () => webhook.requests.length >= 4 && smtp.mails.length >= 2, { timeoutMs: 10 * SECOND, description: 'the day-7 notices' });
    await waitFor(async () => (await status()).deprecation?.steps.every((s) => s.notices || !['day-5', 'day-7'].includes(s.name)) === true, { timeoutMs: 5 * SECOND, description: 'the notices recorded in the status' });
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // room for a repeat, if there were one

    const received = webhook.requests.map((r) => `${String(r.body.milestone)} ${(r.body.owner as { name: string }).name}`).sort();
    assert.deepEqual(
      received,
      ['deprecation:day-5 Dee Ual', 'deprecation:day-5 Lee Gacy', 'deprecation:day-7 Dee Ual', 'deprecation:day-7 Lee Gacy'],
      "one webhook per owner of a legacy agent and milestone; the idle agent's owner is not told",
    );
    assert.deepEqual(
      smtp.mails.map((m) => m.to.join(',')),
      ['lee@example.com', 'lee@example.com'],
      'one email per milestone to the owner with an address',
    );
    const day5 = webhook.requests.find((r) => r.body.milestone === 'deprecation:day-5' && (r.body.owner as { name: string }).name === 'Lee Gacy')!;
    assert.deepEqual(day5.body.agents, ['lee']);
    assert.match(String(day5.body.text), /Office hours every Tuesday\./);
    assert.match(String(day5.body.text), /https:\/\/agents\.example\.com\/mcp/);
    const day7 = webhook.requests.find((r) => r.body.milestone === 'deprecation:day-7')!;
    assert.match(String(day7.body.subject), /^Final deadline/);

    const final = await status();
    assert.deepEqual(
      final.deprecation?.steps.map((s) => s.state),
      ['done', 'done', 'done', 'done'],
    );
    assert.equal(final.deprecation?.steps.find((s) => s.name === 'day-5')?.notices?.owners, 2);
    const audit = await bridge.store.store.readAudit(500);
    // A step that changed the flags is in its publication's events; one that did not (day 5) is an entry of its own.
    const steps = audit.flatMap((entry) => {
      const details = entry.details as { step?: string; events?: Array<{ action: string; details?: { step?: string } }> } | undefined;
      if (entry.action === 'controller.deprecation.step') return [details?.step];
      return (details?.events ?? []).filter((e) => e.action === 'deprecation.step').map((e) => e.details?.step);
    });
    assert.deepEqual(steps, ['day-1', 'day-3', 'day-5', 'day-7'], 'each step audited once, in order, across two restarts');
  });
});
