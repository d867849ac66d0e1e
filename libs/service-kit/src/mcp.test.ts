import assert from 'node:assert/strict';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { isLegacyRequest } from '@modelcontextprotocol/server';
import { ToolError } from '@agent-bridge/protocol';
import { InputRequired, modernRequestElicitation, statelessMcpServing, type ToolCallContext, type ToolDefinition } from './mcp.js';

const seen: ToolCallContext[] = [];
const calls: Array<[string, string]> = [];

const tools: ToolDefinition[] = [
  {
    name: 'echo',
    description: 'echo',
    inputSchema: { type: 'object' },
    async handler(args, context) {
      seen.push(context);
      return { args: args as Record<string, unknown>, agent: context.agentId, generation: context.generation };
    },
  },
  {
    name: 'ask',
    description: 'asks one question, then returns the answer',
    inputSchema: { type: 'object' },
    holds: true,
    async handler(_args, context) {
      seen.push(context);
      if (context.requestState === undefined) {
        return new InputRequired({ q1: { message: 'name?', requestedSchema: { type: 'object', properties: { name: { type: 'string' } } }, _meta: { 'io.agentbridge/message': { message_id: 'm1' } } } }, 'state-1');
      }
      return { state: context.requestState, answers: context.inputResponses ?? {} };
    },
  },
  {
    name: 'maybe',
    description: 'holds unless its argument says the answer is ready',
    inputSchema: { type: 'object' },
    holds: async ({ args }) => args.ready !== true,
    async handler(_args, context) {
      seen.push(context);
      return { mayHold: context.mayHold };
    },
  },
  {
    name: 'brief',
    description: 'holds at most args.ms',
    inputSchema: { type: 'object' },
    holds: true,
    holdsAtMostMs: (args) => Number(args.ms),
    async handler(_args, context) {
      seen.push(context);
      return { mayHold: context.mayHold };
    },
  },
  {
    name: 'fail',
    description: 'always fails',
    inputSchema: { type: 'object' },
    async handler() {
      throw new Error('boom');
    },
  },
];

let http: HttpServer;
let url: URL;

before(async () => {
  const serve = statelessMcpServing({
    info: { name: 'test-host', version: '1.0.0' },
    tools,
    hooks: { mapError: () => new ToolError('INTERNAL', 'something broke'), onCall: (tool, outcome) => void calls.push([tool, outcome]) },
    legacy: 'stateless',
    keepAliveMs: 1_000,
  });
  http = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      void serve(request, response, raw ? JSON.parse(raw) : undefined, 'agent-7');
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  url = new URL(`http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`);
});
after(async () => {
  await new Promise<void>((resolve) => http.close(() => resolve()));
});

async function connect(mode: 'legacy' | { pin: '2026-07-28' }, elicitation = true): Promise<Client> {
  const client = new Client({ name: 'test', version: '1' }, { capabilities: elicitation ? { elicitation: { form: {} } } : {}, versionNegotiation: { mode } });
  if (elicitation) client.setRequestHandler('elicitation/create', async (request) => ({ action: 'accept', content: { name: `answered ${(request.params as { message: string }).message}` } }));
  await client.connect(new StreamableHTTPClientTransport(url));
  return client;
}

describe('one tool host for both MCP generations', () => {
  test('a 2026-07-28 call sees its generation, the agent and the elicitation support it declared in _meta', async () => {
    const client = await connect({ pin: '2026-07-28' });
    const result = await client.callTool({ name: 'echo', arguments: { x: 1 } });
    assert.deepEqual(result.structuredContent, { args: { x: 1 }, agent: 'agent-7', generation: '2026-07-28' });
    assert.deepEqual(seen.at(-1)?.elicitation, { form: true, url: false });
    assert.equal(seen.at(-1)?.sessionId, undefined);
    await client.close();
  });

  test('a 2025-era call is served statelessly with the same tools and results', async () => {
    const client = await connect('legacy', false);
    const result = await client.callTool({ name: 'echo', arguments: { x: 2 } });
    assert.deepEqual(result.structuredContent, { args: { x: 2 }, agent: 'agent-7', generation: '2025-11-25' });
    await client.close();
  });

  test('InputRequired becomes input_required; the retry carries the answers and the requestState', async () => {
    const client = await connect({ pin: '2026-07-28' });
    const result = await client.callTool({ name: 'ask', arguments: {} });
    assert.deepEqual(result.structuredContent, { state: 'state-1', answers: { q1: { action: 'accept', content: { name: 'answered name?' } } } });
    await client.close();
  });

  test('a holding tool is answered on an SSE stream, its retries too, any other call in one JSON body', async () => {
    const client = await connect({ pin: '2026-07-28' });
    const types: string[] = [];
    const probe = new Client({ name: 'probe', version: '1' }, { versionNegotiation: { mode: { pin: '2026-07-28' } }, capabilities: { elicitation: { form: {} } } });
    probe.setRequestHandler('elicitation/create', async () => ({ action: 'decline' }));
    await probe.connect(
      new StreamableHTTPClientTransport(url, {
        fetch: async (input, init) => {
          const response = await fetch(input, init);
          const body = String(init?.body);
          if (init?.method === 'POST' && body.includes('tools/call')) types.push(`${/"name":"(\w+)"/.exec(body)?.[1]}${body.includes('"requestState"') ? ' retry' : ''} ${response.headers.get('content-type')}`);
          return response;
        },
      }),
    );
    await probe.callTool({ name: 'echo', arguments: {} });
    await probe.callTool({ name: 'ask', arguments: {} });
    assert.deepEqual((await probe.callTool({ name: 'maybe', arguments: { ready: true } })).structuredContent, { mayHold: false }, 'a ready answer: the handler must not wait');
    assert.deepEqual((await probe.callTool({ name: 'maybe', arguments: { ready: false } })).structuredContent, { mayHold: true });
    // keepAliveMs is 1000: a call that cannot hold longer gets one JSON body, and may still hold.
    assert.deepEqual((await probe.callTool({ name: 'brief', arguments: { ms: 1_000 } })).structuredContent, { mayHold: true });
    assert.deepEqual((await probe.callTool({ name: 'brief', arguments: { ms: 1_001 } })).structuredContent, { mayHold: true });
    assert.deepEqual((await probe.callTool({ name: 'brief', arguments: { ms: 10 } }, { onprogress: () => undefined })).structuredContent, { mayHold: true });
    assert.deepEqual(
      types.filter((t) => t.startsWith('brief')).map((t) => t.split(' ')[1]),
      ['application/json', 'text/event-stream', 'text/event-stream'],
      'a short hold is one JSON body; a longer one, or one that asked for progress, a stream',
    );
    assert.ok(types.some((t) => t.startsWith('maybe application/json')) && types.some((t) => t.startsWith('maybe text/event-stream')), `holds() chooses the form per call (${types.join('; ')})`);
    assert.ok(
      types.some((t) => t.startsWith('echo application/json')),
      types.join('; '),
    );
    assert.ok(
      types.some((t) => t.startsWith('ask text/event-stream')),
      types.join('; '),
    );
    assert.ok(
      types.some((t) => t.startsWith('ask retry text/event-stream')),
      `a retry may hold too (another round): streamed (${types.join('; ')})`,
    );
    await probe.close();
    await client.close();
  });

  test('an unknown tool is INVALID_ARGUMENT counted under a fixed label; a thrown error is mapped to a ToolError', async () => {
    const client = await connect({ pin: '2026-07-28' });
    const unknown = await client.callTool({ name: 'junk-12345', arguments: {} });
    assert.equal(unknown.isError, true);
    assert.equal((unknown.structuredContent as { error: { code: string } }).error.code, 'INVALID_ARGUMENT');
    assert.deepEqual(calls.at(-1), ['unknown', 'INVALID_ARGUMENT'], 'the client-chosen name never becomes a label');
    const failed = await client.callTool({ name: 'fail', arguments: {} });
    assert.equal((failed.structuredContent as { error: { code: string } }).error.code, 'INTERNAL');
    await client.close();
  });
});

test('subscriptions/listen is refused at once (no change notifications to listen for, no stream held)', async () => {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'subscriptions/listen' },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 9,
      method: 'subscriptions/listen',
      params: { notifications: { toolsListChanged: true }, _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } },
    }),
  });
  assert.equal(response.status, 200);
  const body = (await response.json()) as { id: number; error: { code: number; message: string } };
  assert.deepEqual([body.id, body.error.code], [9, -32601]);
  assert.match(body.error.message, /no change notifications/);
});

describe('classifying a request by its body', () => {
  const envelope = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientInfo': { name: 'c', version: '1' } };
  const bodies: Array<[string, unknown]> = [
    ['initialize', { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'c', version: '1' } } }],
    ['2025 tools/call', { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: {}, _meta: { progressToken: 1 } } }],
    ['2026 tools/call', { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'echo', arguments: {}, _meta: { ...envelope, 'io.modelcontextprotocol/clientCapabilities': { elicitation: {} } } } }],
    ['2026 server/discover', { jsonrpc: '2.0', id: 4, method: 'server/discover', params: { _meta: envelope } }],
  ];

  for (const [name, body] of bodies) {
    test(`${name}: the same verdict as the SDK's isLegacyRequest`, async () => {
      const request = new Request('http://127.0.0.1/mcp', { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify(body) });
      assert.equal(modernRequestElicitation(body) === undefined, await isLegacyRequest(request));
    });
  }

  test('the elicitation support declared in the envelope (an empty elicitation object means form)', () => {
    assert.deepEqual(modernRequestElicitation(bodies[2]![1]), { form: true, url: false });
    assert.deepEqual(modernRequestElicitation(bodies[3]![1]), { form: false, url: false });
  });
});
