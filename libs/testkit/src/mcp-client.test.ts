import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/client';
import type { CallToolResult, ElicitRequestParams } from '@modelcontextprotocol/client';
import { Client as Sdk1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectAgent, parseToolError, ToolCallError } from './mcp-client.js';
import type { AnyAgentClient, ClientGeneration, ConnectAgentOptions } from './mcp-client.js';
import { freePort, startService } from './service-process.js';
import type { ServiceHandle } from './service-process.js';

const TOKEN = 'test-token-123';
let server: ServiceHandle;
let url: string;
const agents: AnyAgentClient[] = [];

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

async function agent(opts: Partial<ConnectAgentOptions> = {}): Promise<AnyAgentClient> {
  const a = await connectAgent({ url, token: TOKEN, ...opts });
  agents.push(a);
  return a;
}

interface WhoAmI {
  name: string;
  capabilities: Record<string, unknown> | null;
  era: 'legacy' | 'modern';
}

describe('connectAgent', () => {
  test('connects over Streamable HTTP with the bearer token, name and capabilities', async () => {
    const a = await agent({ name: 'agent-007', capabilities: { elicitation: {} } });
    assert.ok(a.sessionId, 'server assigned an Mcp-Session-Id');
    assert.equal(a.generation, '2025-11-25', 'the default generation');
    assert.equal((a.client as Client).getServerVersion()?.name, 'fixture-mcp');
    const who = await a.callToolJson<WhoAmI>('whoami');
    assert.equal(who.name, 'agent-007');
    // The SDK normalises `elicitation: {}` to `{ form: {} }` (form mode is the default).
    assert.ok(who.capabilities?.elicitation, JSON.stringify(who.capabilities));
    const plain = await agent({ name: 'plain-agent' });
    const whoPlain = await plain.callToolJson<WhoAmI>('whoami');
    assert.equal(whoPlain.name, 'plain-agent');
    assert.equal(whoPlain.capabilities?.elicitation, undefined);
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

/** What each generation is, as the fixture server sees it. */
const GENERATIONS: Array<{ generation: ClientGeneration; era: WhoAmI['era']; session: boolean; sdk: typeof Client | typeof Sdk1Client }> = [
  { generation: '2025-11-25', era: 'legacy', session: true, sdk: Client },
  { generation: '2026-07-28', era: 'modern', session: false, sdk: Client },
  { generation: 'sdk1', era: 'legacy', session: true, sdk: Sdk1Client },
];

for (const { generation, era, session, sdk } of GENERATIONS) {
  describe(`connectAgent, generation ${generation}`, () => {
    test(`a ${generation} agent is the client it says, speaking the ${era} era${session ? ' in a session' : ' without a session'}`, async () => {
      const a = await agent({ generation, name: `agent-${generation}` });
      assert.equal(a.generation, generation);
      assert.ok(a.client instanceof sdk, `the raw client comes from ${sdk === Client ? 'SDK v2' : 'SDK 1.x'}`);
      assert.equal(Boolean(a.sessionId), session, `session id: ${a.sessionId}`);
      if (a.client instanceof Client) assert.equal(a.client.getProtocolEra(), era);
      const who = await a.callToolJson<WhoAmI>('whoami');
      assert.deepEqual({ name: who.name, era: who.era }, { name: `agent-${generation}`, era });
      assert.deepEqual(await a.callToolJson('echo', { n: 1 }), { echo: { n: 1 } });
      await assert.rejects(a.callToolJson('fail_structured'), (err: unknown) => err instanceof ToolCallError && err.code === 'NOT_ALLOWED');
      await a.terminateSession(); // a DELETE with a session, nothing without one
    });

    test(`a ${generation} agent answers elicitations with onElicitation, which declares the capability`, async () => {
      const asked: ElicitRequestParams[] = [];
      const a = await agent({
        generation,
        onElicitation: (params) => {
          asked.push(params);
          return { action: 'accept', content: { ok: true } };
        },
      });
      const who = await a.callToolJson<WhoAmI>('whoami');
      assert.deepEqual(who.capabilities?.elicitation, { form: {} });
      // 2025-era: the server sends elicitation/create on the session; 2026-07-28: the call answers
      // input_required, the client asks the handler and retries the call with the answer.
      assert.deepEqual(await a.callToolJson('ask', { question: 'Ship it?' }), { action: 'accept', content: { ok: true } });
      assert.deepEqual(
        asked.map((p) => p.message),
        ['Ship it?'],
      );
    });

    test(`a ${generation} agent with a wrong token is rejected at connect time`, async () => {
      await assert.rejects(connectAgent({ url, token: 'wrong', generation }), /401|unauthorized/i);
    });
  });
}
