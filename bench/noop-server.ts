/**
 * Baseline server for bench/throughput.ts: a no-op MCP tool served exactly the way
 * services/legacy-poll serves its tools (same node:http server, same bearer-token check, same body
 * reader, a fresh `createToolServer` per request handed to `serveStatelessMcp`), so the difference
 * between the two measures the bridge, not the transport.
 *
 * Environment: PORT (required), HOST (default 127.0.0.1), AGENT_TOKENS_FILE (required).
 */
import { ToolError } from '@agent-bridge/protocol';
import { BridgeMetrics } from '@agent-bridge/observability';
import {
  AgentRegistry,
  HttpError,
  createToolServer,
  installShutdown,
  probeRoutes,
  readJsonBody,
  sendJson,
  serveStatelessMcp,
  startHttpServer,
  type ToolDefinition,
} from '@agent-bridge/service-kit';

const port = Number(process.env.PORT);
const tokensFile = process.env.AGENT_TOKENS_FILE;
if (!Number.isInteger(port) || port <= 0 || !tokensFile) {
  console.error('noop-server needs PORT and AGENT_TOKENS_FILE');
  process.exit(1);
}

const registry = AgentRegistry.fromFile(tokensFile);
const metrics = new BridgeMetrics('bench-noop');

const noop: ToolDefinition = {
  name: 'noop',
  description: 'Does nothing and returns {ok:true}: the transport baseline for the throughput benchmark.',
  inputSchema: { type: 'object', properties: {}, additionalProperties: true },
  handler: async () => ({ ok: true }),
};
const tools = [noop];
const hooks = {
  mapError: (error: unknown) => new ToolError('INTERNAL', error instanceof Error ? error.message : String(error)),
  onCall: (tool: string, outcome: string) => metrics.toolCalls.inc({ tool, outcome }),
};

const http = await startHttpServer({
  host: process.env.HOST ?? '127.0.0.1',
  port,
  onError: (error) => console.error('request failed', error),
  routes: {
    '/mcp': async (request, response) => {
      if (request.method !== 'POST') throw new HttpError(405, 'noop serves MCP over POST only (stateless)', { allow: 'POST' });
      const agentId = registry.authenticate(request);
      if (!agentId) {
        sendJson(response, 401, { jsonrpc: '2.0', error: { code: -32001, message: 'missing or invalid bearer token' }, id: null });
        return;
      }
      const body = await readJsonBody(request, 1024 * 1024);
      const server = createToolServer({ name: 'agent-bridge-bench-noop', version: '0.1.0', instructions: 'Benchmark baseline: one no-op tool.' }, tools, agentId, hooks);
      await serveStatelessMcp(request, response, body, server);
    },
    ...probeRoutes({
      ready: async () => ({ ok: true }),
      metrics: async () => metrics.render(),
    }),
  },
});

const shutdown = installShutdown({ graceMs: 5_000, log: () => undefined });
shutdown.add(() => http.close(2_000));
