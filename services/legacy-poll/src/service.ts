import { SendGate, deprecationHeaders, mailboxLimitsFrom, mailboxTools, sendGateLimitsFrom, toolHostHooks } from '@agent-bridge/agent-tools';
import type { Logger } from '@agent-bridge/observability';
import {
  ActivityRecorder,
  AgentRegistry,
  UsageRecorder,
  AgentRequestLimiter,
  HttpError,
  OriginPolicy,
  modernRequestElicitation,
  readJsonBody,
  sendUnauthorized,
  statelessMcpServing,
  startHttpServer,
  startServiceRuntime,
} from '@agent-bridge/service-kit';
import type { LegacyPollConfig } from './config.js';

export const SERVICE_NAME = 'legacy-poll';
const SERVICE_VERSION = '0.1.0';

export interface LegacyPollService {
  url: string;
  mcpUrl: string;
  close(): Promise<void>;
}

/** The legacy endpoint: stateless MCP over HTTP, any replica serves any agent. */
export async function startLegacyPollService(config: LegacyPollConfig, logger: Logger): Promise<LegacyPollService> {
  const registry = AgentRegistry.fromFile(config.AGENT_TOKENS_FILE);
  const origins = OriginPolicy.fromSettings(config);
  const runtime = await startServiceRuntime({ service: SERVICE_NAME, replica: config.REPLICA_ID, config, logger, store: { listen: 'lanes', memoryLimitBytes: config.REDIS_MEMORY_LIMIT_BYTES } });
  const { metrics, watcher } = runtime;
  const requests = new AgentRequestLimiter(config.MAX_REQUESTS_PER_AGENT, () => metrics.agentRequestsRefused.inc());
  const { store, doorbell } = runtime.opened;

  const usage = new UsageRecorder(store, logger, { flushIntervalMs: config.USAGE_FLUSH_INTERVAL_MS });
  const activity = new ActivityRecorder(store, logger, { intervalMs: config.ACTIVITY_RECORD_INTERVAL_MS, usage });
  metrics.initializeEndpointSeries('legacy');
  const shutdown = new AbortController();
  const tools = mailboxTools({
    endpoint: 'legacy',
    shutdownSignal: shutdown.signal,
    store,
    doorbell,
    flags: () => watcher.current(),
    knowsAgent: (agentId) => registry.knows(agentId),
    metrics,
    logger,
    elicitationEndpointUrl: config.ELICITATION_ENDPOINT_URL,
    limits: mailboxLimitsFrom(config),
    sendGate: new SendGate(
      runtime.opened.store,
      sendGateLimitsFrom(config, () => watcher.current().contingencies),
      runtime.metrics,
    ),
    usage,
  });
  const hooks = toolHostHooks({ service: SERVICE_NAME, protocol: 'legacy', metrics, logger, usage });
  // JSON escaping can grow content up to 6×: leave room so an oversized message reaches the
  // tool and gets CONTENT_TOO_LARGE rather than an HTTP 413.
  const bodyLimit = config.MAX_CONTENT_BYTES * 8 + config.MAX_METADATA_BYTES * 8 + 64 * 1024;

  // Both MCP generations on the one URL, statelessly: 2026-07-28 requests and 2025-era ones alike.
  const serveMcp = statelessMcpServing({
    info: {
      name: 'agent-bridge-legacy',
      version: SERVICE_VERSION,
      instructions: 'Legacy agent-bridge endpoint: send_message to talk to other agents, wait_for_messages to receive.',
    },
    tools,
    hooks,
    legacy: 'stateless',
    keepAliveMs: config.KEEPALIVE_MS,
    onError: (error) => logger.debug({ err: error }, 'MCP request rejected'),
  });

  const http = await startHttpServer({
    host: config.HOST,
    port: config.PORT,
    onError: (error, request) => logger.error({ err: error, path: request.url }, 'request failed'),
    routes: {
      '/mcp': async (request, response) => {
        if (request.method !== 'POST') {
          // Stateless endpoint: there is no session stream to open (GET) or close (DELETE).
          throw new HttpError(405, 'legacy-poll serves MCP over POST only (stateless)', { allow: 'POST' });
        }
        // Before anything else: a page on a foreign origin learns nothing, not even whether a token is valid.
        const refusal = origins.refusal(request);
        if (refusal) throw new HttpError(403, refusal);
        // The deprecation schedule's headers step: Deprecation, Sunset and Link on every answer of this endpoint.
        for (const [name, value] of Object.entries(deprecationHeaders(watcher.current()))) response.setHeader(name, value);
        const agentId = registry.authenticate(request);
        if (!agentId) return sendUnauthorized(response);
        requests.admit(agentId, response);
        const body = await readJsonBody(request, bodyLimit);
        activity.saw(agentId, 'legacy', modernRequestElicitation(body) ? '2026-07-28' : '2025-11-25');
        await serveMcp(request, response, body, agentId);
      },
      ...runtime.probes(),
    },
  });
  usage.start();
  logger.info({ url: `${http.url}/mcp`, agents: registry.size, shards: config.SHARD_COUNT }, 'legacy-poll listening');

  return {
    url: http.url,
    mcpUrl: `${http.url}/mcp`,
    async close() {
      // Nothing new is taken (readiness off, the listener closed); waiting polls answer at once
      // with what they have, each response ending its connection so the next call goes elsewhere.
      http.drain();
      shutdown.abort();
      await http.close(config.SHUTDOWN_GRACE_MS);
      await activity.flush();
      await usage.close();
      await runtime.close();
    },
  };
}
