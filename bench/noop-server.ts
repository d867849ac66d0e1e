/**
 * Baseline server for bench/throughput.ts: a no-op MCP tool served the way a stateless SDK v2
 * endpoint is served (`createMcpHandler(factory)` mounted with `toNodeHandler`, a fresh server per
 * request), behind what services/legacy-poll puts in front of its tools (same node:http server, same
 * bearer-token check, same body reader), so the difference between the two measures the bridge, not
 * the transport.
 *
 * Every answer is an SSE stream, as with the SDK 1.x stateless transport this server used before:
 * 2025-era requests go to the handler's stateless legacy leg, which streams by default, and
 * `responseMode: 'sse'` makes 2026-07-28 requests stream too (their default, 'auto', would answer a
 * call without notifications with one JSON body).
 *
 * Environment: PORT (required), HOST (default 127.0.0.1), AGENT_TOKENS_FILE (required).
 */
import { ToolError } from '@agent-bridge/protocol';
import { BridgeMetrics } from '@agent-bridge/observability';
import { AgentRegistry, HttpError, installShutdown, probeRoutes, readJsonBody, sendJson, startHttpServer } from '@agent-bridge/service-kit';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { Server, createMcpHandler } from '@modelcontextprotocol/server';

const port = Number(process.env.PORT);
const tokensFile = process.env.AGENT_TOKENS_FILE;
if (!Number.isInteger(port) || port <= 0 || !tokensFile) {
  console.error('noop-server needs PORT and AGENT_TOKENS_FILE');
  process.exit(1);
}

const registry = AgentRegistry.fromFile(tokensFile);
const metrics = new BridgeMetrics('bench-noop');

/** The one tool, answered the way service-kit's tool servers answer: the JSON as text and as structuredContent. */
function createNoopServer(): Server {
  const server = new Server({ name: 'agent-bridge-bench-noop', version: '0.1.0' }, { capabilities: { tools: {} }, instructions: 'Benchmark baseline: one no-op tool.' });
  server.setRequestHandler('tools/list', () => ({
    tools: [
      {
        name: 'noop',
        description: 'Does nothing and returns {ok:true}: the transport baseline for the throughput benchmark.',
        inputSchema: { type: 'object' as const, properties: {}, additionalProperties: true },
      },
    ],
  }));
  server.setRequestHandler('tools/call', (request) => {
    if (request.params.name !== 'noop') {
      const error = new ToolError('INVALID_ARGUMENT', `there is no tool named "${request.params.name}"; available tools: noop.`);
      metrics.toolCalls.inc({ tool: request.params.name, outcome: error.code });
      return error.toToolResult();
    }
    const result = { ok: true };
    metrics.toolCalls.inc({ tool: 'noop', outcome: 'ok' });
    return { content: [{ type: 'text', text: JSON.stringify(result) }], structuredContent: result };
  });
  return server;
}

const mcp = createMcpHandler(createNoopServer, { responseMode: 'sse' });
const serveMcp = toNodeHandler(mcp);

const http = await startHttpServer({
  host: process.env.HOST ?? '127.0.0.1',
  port,
  onError: (error) => console.error('request failed', error),
  routes: {
    '/mcp': async (request, response) => {
      if (request.method !== 'POST') throw new HttpError(405, 'noop serves MCP over POST only (stateless)', { allow: 'POST' });
      if (!registry.authenticate(request)) {
        sendJson(response, 401, { jsonrpc: '2.0', error: { code: -32001, message: 'missing or invalid bearer token' }, id: null });
        return;
      }
      await serveMcp(request, response, await readJsonBody(request, 1024 * 1024));
    },
    ...probeRoutes({
      ready: async () => ({ ok: true }),
      metrics: async () => metrics.render(),
    }),
  },
});

const shutdown = installShutdown({ graceMs: 5_000, log: () => undefined });
shutdown.add(() => http.close(2_000));
shutdown.add(() => mcp.close());
