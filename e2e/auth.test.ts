import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { connectAgent, type AgentClient } from '@agent-bridge/testkit';
import { SdkHttpError } from '@modelcontextprotocol/client';
import { assertStoresNothing, legacyBaseUrls, startBridge, type Bridge } from '@agent-bridge/testkit/bridge';

const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw-http', version: '0.0.0' } },
};

describe('the legacy endpoint authenticates every MCP request and exposes probes', () => {
  let bridge: Bridge;
  let redis: Redis;
  let base: string;
  let mcpUrl: string;

  before(async () => {
    bridge = await startBridge({ agents: ['alice', 'bob'] });
    redis = bridge.redis.client();
    base = legacyBaseUrls(bridge)[0]!;
    mcpUrl = bridge.legacyUrls[0]!;
  });
  after(async () => {
    await bridge?.stop();
  });

  function postMcp(body: unknown, authorization?: string): Promise<Response> {
    return fetch(mcpUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...(authorization === undefined ? {} : { authorization }),
      },
      body: JSON.stringify(body),
    });
  }

  async function assertUnauthorized(response: Response): Promise<void> {
    assert.equal(response.status, 401);
    assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer\b/, 'www-authenticate names the Bearer scheme');
    const body = (await response.json()) as { jsonrpc?: string; error?: { code?: number; message?: string } };
    assert.equal(body.jsonrpc, '2.0');
    assert.match(body.error?.message ?? '', /Authorization: Bearer/, 'the error says how to authenticate');
  }

  test('an initialize with a valid bearer token is accepted (control for the 401 cases)', async () => {
    const response = await postMcp(INITIALIZE, `Bearer ${bridge.tokens.alice}`);
    assert.equal(response.status, 200);
    await response.body?.cancel();
  });

  test('POST /mcp without Authorization is 401 with www-authenticate', async () => {
    await assertUnauthorized(await postMcp(INITIALIZE));
  });

  test('POST /mcp with a wrong token is 401 with www-authenticate', async () => {
    await assertUnauthorized(await postMcp(INITIALIZE, 'Bearer not-a-real-token'));
    // Another agent's token hashed differently, or a token with trailing garbage, is no token.
    await assertUnauthorized(await postMcp(INITIALIZE, `Bearer ${bridge.tokens.alice}x`));
  });

  test('POST /mcp with a malformed Authorization header is 401 with www-authenticate', async () => {
    for (const header of ['Basic xyz', `Basic ${Buffer.from(`alice:${bridge.tokens.alice}`).toString('base64')}`, 'Bearer', 'Bearer ', `Bearer ${bridge.tokens.alice} extra`, bridge.tokens.alice!]) {
      await assertUnauthorized(await postMcp(INITIALIZE, header));
    }
  });

  test('an unauthenticated send_message is 401 and stores nothing', async () => {
    const call = { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'send_message', arguments: { to: 'bob', content: 'sneaky' } } };
    const response = await assertStoresNothing(bridge, redis, () => postMcp(call, 'Bearer wrong'));
    await assertUnauthorized(response);
  });

  test('the MCP SDK client with a wrong token fails to connect (HTTP 401)', async () => {
    let client: AgentClient | undefined;
    await assert.rejects(
      (async () => {
        client = await connectAgent({ url: mcpUrl, token: 'wrong-token', name: 'intruder' });
      })(),
      (error: unknown) => {
        // SDK v2 carries the HTTP status on SdkHttpError.status (its `code` is an SdkErrorCode).
        assert.ok(error instanceof SdkHttpError, `an HTTP error: ${String(error)}`);
        assert.equal(error.status, 401, `rejected with HTTP 401: ${error.message}`);
        return true;
      },
    );
    await client?.close();
  });

  test('GET (and DELETE) /mcp with a valid token is 405: the legacy endpoint is stateless, POST only', async () => {
    for (const method of ['GET', 'DELETE']) {
      const response = await fetch(mcpUrl, { method, headers: { authorization: `Bearer ${bridge.tokens.alice}`, accept: 'text/event-stream' } });
      assert.equal(response.status, 405, method);
      assert.equal(response.headers.get('allow'), 'POST');
      await response.body?.cancel();
    }
  });

  test('/healthz answers 200', async () => {
    const response = await fetch(`${base}/healthz`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: 'ok' });
  });

  test('/readyz answers 200 with JSON naming the applied flag version', async () => {
    const response = await fetch(`${base}/readyz`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    const body = (await response.json()) as { status?: string; flagsVersion?: unknown; flagsStale?: unknown };
    assert.equal(body.status, 'ready');
    assert.equal(typeof body.flagsVersion, 'number');
    assert.ok((body.flagsVersion as number) >= 1, 'startBridge published version 1 before the service started');
    assert.equal(body.flagsStale, false);
  });

  test('/metrics counts tool calls in agentbridge_tool_calls_total, by tool and outcome', async () => {
    const metrics = async () => {
      const response = await fetch(`${base}/metrics`);
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
      return response.text();
    };
    const count = (text: string, tool: string, outcome: string): number => {
      const line = text.split('\n').find((l) => l.startsWith('agentbridge_tool_calls_total{') && l.includes(`tool="${tool}"`) && l.includes(`outcome="${outcome}"`));
      return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
    };
    const before = await metrics();
    const alice = await bridge.connect('alice');
    try {
      await alice.callToolJson('send_message', { to: 'bob', content: 'counted' });
      const refused = await alice.callTool('send_message', { to: 'nobody-here', content: 'counted' });
      assert.equal(refused.isError, true);
    } finally {
      await alice.close();
    }
    const afterCalls = await metrics();
    assert.match(afterCalls, /^# TYPE agentbridge_tool_calls_total counter$/m);
    assert.equal(count(afterCalls, 'send_message', 'ok'), count(before, 'send_message', 'ok') + 1);
    assert.equal(count(afterCalls, 'send_message', 'UNKNOWN_RECIPIENT'), count(before, 'send_message', 'UNKNOWN_RECIPIENT') + 1);
  });
});
