/**
 * Redis is not a token vault: the addresses replicas relay requests to come from Redis (the replica
 * registry, the controller lease), so a rogue entry there must not collect the callers' tokens.
 * Relays carry a signed inter-replica assertion instead of the caller's Authorization, and go only
 * to addresses that pass RELAY_ALLOWED_TARGETS (docs/decisions/0011-inter-replica-credential.md).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { freePort, startService, waitFor, type AgentClient, type ServiceHandle } from '@agent-bridge/testkit';
import { FEATURE_FLAGS_YAML } from '../services/controller/src/test-fixtures.js';
import { connectModernAgent, receive, startBridge, startNginx, type Bridge, type ModernAgent, type NginxHandle } from '@agent-bridge/testkit/bridge';

/** What a sink standing in for a replica received. */
interface Captured {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A loopback HTTP server that records every request; it answers like a replica would (JSON). */
async function startSink(host: string, answer: unknown): Promise<{ url: string; received: Captured[]; close(): Promise<void> }> {
  const received: Captured[] = [];
  const server: Server = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      received.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body });
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    url: `http://${host}:${(server.address() as AddressInfo).port}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Every header value and the body of what a sink received, as one string to search for secrets. */
const everything = (captured: Captured[]): string => captured.map((c) => `${JSON.stringify(c.headers)}\n${c.body}`).join('\n');

const TOOL_CALL = { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'send_message', arguments: { to: 'legacy', content: 'through a rogue replica?' } } };

async function post(url: string, headers: Record<string, string>, body: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25', ...headers },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // an SSE answer: kept as text
  }
  return { status: response.status, body: parsed };
}

async function metric(baseUrl: string, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  return [...text.matchAll(new RegExp(pattern.source, 'gm'))].reduce((sum, match) => sum + Number(match[1]), 0);
}

describe('relays between replicas carry a signed assertion, never the caller token, and only to allowed addresses', () => {
  let bridge: Bridge;
  let redis: Redis;
  let nginx: NginxHandle;
  let legacy: AgentClient;
  const modern: ModernAgent[] = [];
  /** Inside the replicas' allow rule (127.0.0.1), and outside it (127.0.0.2). */
  let allowedSink: Awaited<ReturnType<typeof startSink>>;
  let outsideSink: Awaited<ReturnType<typeof startSink>>;
  const controllers: ServiceHandle[] = [];
  let dir: string;

  before(async () => {
    bridge = await startBridge({
      agents: ['legacy', 'm1', 'm2'],
      elicitations: 2,
      flags: { 'elicitation.enabled': 'true', 'elicitation.agents': 'm1,m2', elicitationTimeoutMs: '20000' },
      // The replicas advertise http://127.0.0.1:<port>: that address only.
      env: { RELAY_ALLOWED_TARGETS: '127.0.0.1', PRESENCE_TTL_MS: '3000', PUSH_LEASE_TTL_MS: '1500' },
    });
    redis = bridge.redis.client();
    nginx = await startNginx(bridge.elicitationBaseUrls);
    legacy = await bridge.connect('legacy');
    allowedSink = await startSink('127.0.0.1', { jsonrpc: '2.0', id: 7, result: { content: [{ type: 'text', text: 'sink' }] } });
    outsideSink = await startSink('127.0.0.2', { jsonrpc: '2.0', id: 7, result: {} });
    dir = mkdtempSync(join(tmpdir(), 'relay-credential-'));
  });
  after(async () => {
    await Promise.all(modern.map((agent) => agent.close().catch(() => undefined)));
    await Promise.all(controllers.filter((c) => c.running).map((c) => c.stop()));
    await legacy?.close();
    await nginx?.stop();
    await allowedSink?.close();
    await outsideSink?.close();
    redis?.disconnect();
    await bridge?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Writes a replica record into the registry, as a heartbeat would: `<service>/<id>` at `url`. */
  const registerRogue = (service: string, id: string, url: string) => redis.hset(bridge.store.keys.replicas(service), id, JSON.stringify({ url, expiresAt: Date.now() + 600_000 }));

  test('an agent whose requests land on the other replica keeps its session (two real replicas, round robin)', async () => {
    for (const agent of ['m1', 'm2']) modern.push(await connectModernAgent(`${nginx.url}/mcp`, bridge.tokens[agent]!, agent, { answer: async () => ({ action: 'accept', content: { response: 'ack' } }) }));
    const forwardedBefore = (await Promise.all(bridge.elicitationBaseUrls.map((base) => metric(base, /^agentbridge_forwarded_requests_total\{[^}]*\} (\d+)/)))).reduce((a, b) => a + b, 0);
    for (const [index, agent] of modern.entries()) for (let i = 0; i < 4; i++) await agent.callToolJson('send_message', { to: 'legacy', content: `m${index + 1} says ${i}` });
    const { messages } = await receive(legacy, 8, 30_000);
    assert.equal(messages.filter((m) => /says/.test(m.content)).length, 8, 'every call of both sessions was served');
    const forwarded = (await Promise.all(bridge.elicitationBaseUrls.map((base) => metric(base, /^agentbridge_forwarded_requests_total\{[^}]*\} (\d+)/)))).reduce((a, b) => a + b, 0);
    assert.ok(forwarded - forwardedBefore >= 2, `requests were relayed to the owning replica (${forwarded - forwardedBefore})`);
    const refused = (await Promise.all(bridge.elicitationBaseUrls.map((base) => metric(base, /^agentbridge_relays_refused_total\{direction="inbound"[^}]*\} (\d+)/)))).reduce((a, b) => a + b, 0);
    assert.equal(refused, 0, 'every relay between the real replicas verified');
  });

  test('a rogue registry entry inside the allow rule receives an assertion, never the bearer token or cookies, and what it captured is worth nothing elsewhere', async () => {
    await registerRogue('elicitation', 'rogue', allowedSink.url);
    const token = bridge.tokens.m1!;
    const answer = await post(`${bridge.elicitationBaseUrls[0]}/mcp`, { authorization: `Bearer ${token}`, cookie: 'session=cookie-secret', 'mcp-session-id': `rogue.${randomUUID()}` }, TOOL_CALL);
    assert.equal(answer.status, 200, 'the sink answered (the relay went there: its address passes the rule)');
    assert.equal(allowedSink.received.length, 1);
    const [captured] = allowedSink.received;
    assert.equal(captured!.headers.authorization, undefined, 'no Authorization header reached the sink');
    assert.equal(captured!.headers.cookie, undefined, 'no cookie reached the sink');
    assert.doesNotMatch(everything(allowedSink.received), new RegExp(token), 'the token appears nowhere in what the sink got');
    assert.doesNotMatch(everything(allowedSink.received), /cookie-secret/);
    const assertion = captured!.headers['x-agentbridge-relay-assertion'] as string;
    assert.match(assertion, /^abr1\./, 'the sink got the signed assertion instead');
    const claims = JSON.parse(Buffer.from(assertion.split('.')[2]!, 'base64url').toString('utf8'));
    assert.equal(claims.sub, 'm1');
    assert.equal(claims.aud, 'elicitation/rogue', 'bound to the replica it was sent to');
    assert.ok(claims.exp - claims.iat <= 5_000, 'valid for a few seconds');

    // Replayed at once to a real replica, with the body it was signed for: refused there.
    for (const base of bridge.elicitationBaseUrls) {
      const replay = await post(`${base}/mcp`, { 'x-agentbridge-relay-assertion': assertion, 'x-agentbridge-forwarded-by': 'elicitation-1', 'mcp-session-id': modern[0]!.sessionId! }, TOOL_CALL);
      assert.equal(replay.status, 401, JSON.stringify(replay.body));
      assert.match(replay.body.error.message, /is for elicitation\/rogue, not for this replica/);
    }
  });

  test('a rogue registry entry outside the allow rule is never contacted: a clear error, a metric and a log line naming the address', async () => {
    const before = await metric(bridge.elicitationBaseUrls[0]!, /^agentbridge_relays_refused_total\{direction="outbound",reason="target_not_allowed"[^}]*\} (\d+)/);
    for (const address of [outsideSink.url, 'http://169.254.169.254/latest/meta-data', `http://m1:${bridge.tokens.m1}@127.0.0.1:1/`]) {
      await registerRogue('elicitation', 'outsider', address);
      const answer = await post(`${bridge.elicitationBaseUrls[0]}/mcp`, { authorization: `Bearer ${bridge.tokens.m1}`, 'mcp-session-id': `outsider.${randomUUID()}` }, TOOL_CALL);
      assert.equal(answer.status, 502, address);
      assert.match(answer.body.error.message, /replica outsider, which owns this session, is registered at an address this replica may not relay to \(RELAY_ALLOWED_TARGETS\), so the request was not forwarded/);
    }
    assert.deepEqual(outsideSink.received, [], 'the sink outside the rule got nothing');
    const after = await metric(bridge.elicitationBaseUrls[0]!, /^agentbridge_relays_refused_total\{direction="outbound",reason="target_not_allowed"[^}]*\} (\d+)/);
    assert.equal(after - before, 3);
    const line = await bridge.elicitations[0]!.waitForLog(/relay target refused/, 5_000);
    assert.match(line, new RegExp(outsideSink.url.replace(/\./g, '\\.')), 'the log line names the rejected address');
  });

  test('a relay header sent from outside is refused, even with a valid token for a real session', async () => {
    const session = modern[0]!.sessionId!;
    const owner = session.split('.')[0];
    const other = bridge.elicitationBaseUrls[owner === 'elicitation-1' ? 0 : 1]!;
    for (const headers of [{ 'x-agentbridge-forwarded-by': 'elicitation-2' }, { 'x-agentbridge-relay-assertion': 'abr1.AAAAAAAA.e30.AAAA' }] as Array<Record<string, string>>) {
      const answer = await post(`${other}/mcp`, { authorization: `Bearer ${bridge.tokens.m1}`, 'mcp-session-id': session, ...headers }, TOOL_CALL);
      assert.equal(answer.status, 401, JSON.stringify(answer.body));
      assert.match(answer.body.error.message, /claims to be relayed by another replica but is refused/);
    }
  });

  test("the controller's relay to a rogue leader address carries an assertion for admin, never the admin token; outside the rule it is not contacted; the relay to the real leader works", async () => {
    const ADMIN = `admin-${randomUUID()}`;
    const flagsFile = join(dir, 'featureflags.yaml');
    writeFileSync(flagsFile, FEATURE_FLAGS_YAML);
    // A leader that is not a controller: the lease and the registry say so.
    await redis.set(bridge.store.keys.controllerLease(), 'rogue-leader|1', 'PX', 600_000);
    await registerRogue('controller', 'rogue-leader', allowedSink.url);
    const startController = async (id: string) => {
      const port = await freePort();
      const handle = await startService({
        name: id,
        entry: 'services/controller/src/main.ts',
        env: { ...bridge.env, PORT: String(port), CONTROLLER_ID: id, FEATURE_FLAGS_FILE: flagsFile, ADMIN_TOKEN: ADMIN, WEBHOOK_TOKEN: `webhook-${randomUUID()}`, LEADER_LEASE_TTL_MS: '1500', RECONCILE_INTERVAL_MS: '200' },
        readyUrl: `http://127.0.0.1:${port}/readyz`,
      });
      controllers.push(handle);
      return `http://127.0.0.1:${port}`;
    };
    const first = await startController('ctl-1');
    const pause = (base: string) => post(`${base}/admin/pause`, { authorization: `Bearer ${ADMIN}` }, { reason: 'relay test' });

    allowedSink.received.length = 0;
    const relayed = await pause(first);
    assert.equal(relayed.status, 200, 'the sink answered');
    assert.equal(allowedSink.received.length, 1);
    const [captured] = allowedSink.received;
    assert.equal(captured!.url, '/admin/pause');
    assert.equal(captured!.headers.authorization, undefined, 'no Authorization header reached the sink');
    assert.doesNotMatch(everything(allowedSink.received), new RegExp(ADMIN), 'the admin token appears nowhere in what the sink got');
    const claims = JSON.parse(Buffer.from((captured!.headers['x-agentbridge-relay-assertion'] as string).split('.')[2]!, 'base64url').toString('utf8'));
    assert.deepEqual([claims.sub, claims.aud, claims.p], ['admin', 'controller/rogue-leader', '/admin/pause']);

    await registerRogue('controller', 'rogue-leader', outsideSink.url);
    const refused = await pause(first);
    assert.equal(refused.status, 502);
    assert.equal(refused.body.error.code, 'RELAY_TARGET_REFUSED');
    assert.match(refused.body.error.message, /registered at an address this controller may not relay to \(RELAY_ALLOWED_TARGETS\)/);
    assert.deepEqual(outsideSink.received, [], 'the sink outside the rule got nothing');

    // The rogue lease goes; ctl-1 leads, ctl-2 follows and relays to it.
    await redis.del(bridge.store.keys.controllerLease());
    await waitFor(async () => (await redis.get(bridge.store.keys.controllerLease()))?.startsWith('ctl-1|') === true, { timeoutMs: 15_000, description: 'ctl-1 to take the lease' });
    const second = await startController('ctl-2');
    const viaFollower = await pause(second);
    assert.equal(viaFollower.status, 200, JSON.stringify(viaFollower.body));
    assert.equal(viaFollower.body.applied, true, 'the real leader applied the relayed pause');
  });
});
