import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { connectAgent, parseToolError, ToolCallError } from './mcp-client.js';
import type { AgentClient } from './mcp-client.js';
import { freePort, startService } from './service-process.js';
import type { ServiceHandle } from './service-process.js';

const TOKEN = 'test-token-123';
let server: ServiceHandle;
let url: string;
const agents: AgentClient[] = [];

before(async () => {
  const port = await freePort();
  url = `http://127.0.0.1:${port}/mcp`;
  server = await startService({
    name: 'mcp-fixture',
    entry: 'libs/testkit/src/fixtures/mcp-server.ts',
    env: { PORT: String(port), TOKEN },
    readyLogLine: /mcp fixture ready on \d+/,
  });
});

after(async () => {
  await Promise.all(agents.map((a) => a.close()));
  await server?.stop();
});

async function agent(opts: Partial<Parameters<typeof connectAgent>[0]> = {}): Promise<AgentClient> {
  const a = await connectAgent({ url, token: TOKEN, ...opts });
  agents.push(a);
  return a;
}

describe('connectAgent', () => {
  test('connects over Streamable HTTP with the bearer token, name and capabilities', async () => {
    const a = await agent({ name: 'agent-007', capabilities: { elicitation: {} } });
    assert.ok(a.sessionId, 'server assigned an Mcp-Session-Id');
    assert.equal(a.client.getServerVersion()?.name, 'fixture-mcp');
    const who = await a.callToolJson<{ name: string; capabilities: Record<string, unknown> }>('whoami');
    assert.equal(who.name, 'agent-007');
    // The SDK normalises `elicitation: {}` to `{ form: {} }` (form mode is the default).
    assert.ok(who.capabilities.elicitation, JSON.stringify(who.capabilities));
    const plain = await agent({ name: 'plain-agent' });
    const whoPlain = await plain.callToolJson<{ name: string; capabilities: Record<string, unknown> }>('whoami');
    assert.equal(whoPlain.name, 'plain-agent');
    assert.equal(whoPlain.capabilities.elicitation, undefined);
  });

  test('a wrong token is rejected at connect time', async () => {
    await assert.rejects(connectAgent({ url, token: 'wrong' }), /401|unauthorized/i);
  });

  test('callToolJson returns structuredContent', async () => {
    const a = await agent();
    assert.deepEqual(await a.callToolJson('echo', { x: 1, y: 'two' }), { echo: { x: 1, y: 'two' } });
  });

  test('callTool returns the raw result, including isError results', async () => {
    const a = await agent();
    const raw = await a.callTool('fail_text');
    assert.equal(raw.isError, true);
    assert.deepEqual(raw.content, [{ type: 'text', text: 'RATE_LIMITED: slow down please' }]);
  });

  test('callToolJson throws ToolCallError with code/message from structuredContent.error', async () => {
    const a = await agent();
    await assert.rejects(a.callToolJson('fail_structured'), (err: unknown) => {
      assert.ok(err instanceof ToolCallError);
      assert.equal(err.code, 'NOT_ALLOWED');
      assert.equal(err.message, 'you may not do that');
      assert.equal(err.toolName, 'fail_structured');
      assert.equal(err.result.isError, true);
      return true;
    });
  });

  test('callToolJson falls back to parsing "CODE: sentence" text content', async () => {
    const a = await agent();
    await assert.rejects(a.callToolJson('fail_text'), (err: unknown) => {
      assert.ok(err instanceof ToolCallError);
      assert.equal(err.code, 'RATE_LIMITED');
      assert.equal(err.message, 'slow down please');
      return true;
    });
  });

  test('callToolJson rejects a success result without structuredContent', async () => {
    const a = await agent();
    await assert.rejects(a.callToolJson('no_structured'), /no structuredContent/);
  });

  test('parseToolError falls back to UNKNOWN', () => {
    const result: CallToolResult = { isError: true, content: [{ type: 'text', text: 'something broke' }] };
    assert.deepEqual(parseToolError(result), { code: 'UNKNOWN', message: 'something broke' });
  });
});
