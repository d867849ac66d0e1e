import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { startBridge, type Bridge } from '@agent-bridge/testkit/bridge';

const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw-http', version: '0.0.0' } },
};

/** One raw HTTP request, so that Host can be set (fetch does not let a caller choose it). */
function post(url: string, headers: Record<string, string>, body: unknown): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'content-length': String(Buffer.byteLength(payload)), ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

describe('both MCP endpoints check Origin and Host (DNS rebinding)', () => {
  let bridge: Bridge;
  let redis: Redis;

  before(async () => {
    bridge = await startBridge({
      agents: ['olga', 'oscar'],
      elicitations: 2,
      flags: { 'elicitation.enabled': 'true', 'elicitation.agents': 'oscar' },
      // The endpoints answer to localhost names only; the replicas still reach each other by 127.0.0.1.
      env: { MCP_ALLOWED_HOSTS: 'localhost:*', MCP_ALLOWED_ORIGINS: 'https://console.example.com,http://localhost:*' },
    });
    redis = bridge.redis.client();
  });
  after(async () => {
    redis?.disconnect();
    await bridge?.stop();
  });

  const endpoints = () => [
    { name: 'legacy-poll', url: bridge.legacyUrls[0]! },
    { name: 'elicitation', url: `${bridge.elicitationBaseUrls[0]}/mcp` },
  ];
  const hostOf = (url: string) => `localhost:${new URL(url).port}`;
  /** POST requests the second elicitation replica relayed to a session's owner so far. */
  const relaysOfSecond = async () => Number(/agentbridge_forwarded_requests_total\{[^}]*\} (\d+)/.exec(await (await fetch(`${bridge.elicitationBaseUrls[1]}/metrics`)).text())?.[1] ?? 0);

  test('a foreign Origin gets 403 with a sentence on both endpoints, before the token is even looked at, and nothing is kept', async () => {
    const keysBefore = (await redis.keys('*')).sort();
    for (const { name, url } of endpoints()) {
      for (const authorization of [`Bearer ${bridge.tokens.olga}`, 'Bearer not-a-token']) {
        const answer = await post(url, { host: hostOf(url), origin: 'http://evil.example', authorization }, INITIALIZE);
        assert.equal(answer.status, 403, `${name}: ${answer.text}`);
        assert.match(JSON.parse(answer.text).error, /Origin "http:\/\/evil\.example" is not allowed on this MCP endpoint \(allowed: https:\/\/console\.example\.com, http:\/\/localhost:\*\)/);
        assert.equal(answer.headers['mcp-session-id'], undefined, `${name}: no session`);
      }
    }
    assert.deepEqual((await redis.keys('*')).sort(), keysBefore, 'no session, presence or activity was written');
  });

  test('an allowed Origin, or none, is served', async () => {
    for (const { name, url } of endpoints()) {
      for (const origin of ['https://console.example.com', 'http://localhost:5173', undefined]) {
        const answer = await post(url, { host: hostOf(url), authorization: `Bearer ${bridge.tokens.olga}`, ...(origin ? { origin } : {}) }, INITIALIZE);
        assert.equal(answer.status, 200, `${name} with Origin ${origin}: ${answer.text}`);
        assert.match(answer.text, /"protocolVersion"/);
      }
    }
  });

  test('a Host that is not a name of the endpoint (a rebound DNS name) gets 403', async () => {
    for (const { name, url } of endpoints()) {
      const answer = await post(url, { host: 'rebound.evil.example', authorization: `Bearer ${bridge.tokens.olga}` }, INITIALIZE);
      assert.equal(answer.status, 403, name);
      assert.match(JSON.parse(answer.text).error, /Host "rebound\.evil\.example" is not a name of this MCP endpoint/);
    }
  });

  test('a session id without a dot names no replica: 404, nothing relayed (it once lost its last character and named one)', async () => {
    const second = `${bridge.elicitationBaseUrls[1]}/mcp`;
    const before = await relaysOfSecond();
    // 'elicitation-1x' used to be read as owned by 'elicitation-1', a live replica.
    const answer = await post(second, { host: hostOf(second), authorization: `Bearer ${bridge.tokens.oscar}`, 'mcp-session-id': 'elicitation-1x', 'mcp-protocol-version': '2025-11-25' }, { jsonrpc: '2.0', id: 3, method: 'tools/list' });
    assert.equal(answer.status, 404, answer.text);
    assert.match(answer.text, /Session not found/);
    assert.equal(await relaysOfSecond(), before, 'not relayed');
  });

  test("a request relayed to the session's owner passes there (its Host is the owner's address), and the session works", async () => {
    const [first, second] = bridge.elicitationBaseUrls.map((base) => `${base}/mcp`);
    const opened = await post(first!, { host: hostOf(first!), authorization: `Bearer ${bridge.tokens.oscar}` }, INITIALIZE);
    assert.equal(opened.status, 200, opened.text);
    const session = String(opened.headers['mcp-session-id']);
    const headers = { host: hostOf(second!), authorization: `Bearer ${bridge.tokens.oscar}`, 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' };
    assert.equal((await post(second!, headers, { jsonrpc: '2.0', method: 'notifications/initialized' })).status, 202);
    const listed = await post(second!, headers, { jsonrpc: '2.0', id: 2, method: 'tools/list' });
    assert.equal(listed.status, 200, listed.text);
    assert.match(listed.text, /wait_for_messages/, 'the other replica relayed the call to the owner, which served it');
    const relayed = await relaysOfSecond();
    assert.ok(relayed >= 2, `the second replica counted its relays (${relayed})`);
  });
});
