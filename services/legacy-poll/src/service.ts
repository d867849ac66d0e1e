import { mailboxTools, toWireError } from '@agent-bridge/agent-tools';
import { openEventStore, StoreFlagSource, withDeadline } from '@agent-bridge/event-store';
import { FlagWatcher } from '@agent-bridge/flags';
import { BridgeMetrics, type Logger } from '@agent-bridge/observability';
import {
  AgentRegistry,
  HttpError,
  createToolServer,
  probeRoutes,
  readJsonBody,
  sendJson,
  serveStatelessMcp,
  startHttpServer,
} from '@agent-bridge/service-kit';
import type { LegacyPollConfig } from './config.js';

export const SERVICE_NAME = 'legacy-poll';
export const SERVICE_VERSION = '0.1.0';

export interface LegacyPollService {
  url: string;
  mcpUrl: string;
  close(): Promise<void>;
}

/** The legacy endpoint: stateless MCP over HTTP, any replica serves any agent. */
export async function startLegacyPollService(config: LegacyPollConfig, logger: Logger): Promise<LegacyPollService> {
  const registry = AgentRegistry.fromFile(config.AGENT_TOKENS_FILE);
  const metrics = new BridgeMetrics(SERVICE_NAME);
  const opened = await openEventStore({
    url: config.REDIS_URL,
    name: `${SERVICE_NAME}:${config.REPLICA_ID}`,
    shardCount: config.SHARD_COUNT,
    keyPrefix: config.KEY_PREFIX,
    commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
    onConnectionEvent: (connection, event, detail) => {
      metrics.redisConnectionEvents.inc({ connection, event });
      if (event !== 'ready') logger.warn({ connection, event, err: detail }, 'redis connection event');
    },
  });
  const { store, doorbell } = opened;

  const watcher = new FlagWatcher(new StoreFlagSource(store, doorbell, opened.keys), {
    pollIntervalMs: config.FLAGS_POLL_INTERVAL_MS,
    logger,
    onApplied: (snapshot) => {
      metrics.flagSnapshotVersion.set(snapshot.version);
      metrics.flagPercentage.set(snapshot.elicitation.percentage);
    },
  });
  const initial = await watcher.start();
  metrics.flagSnapshotVersion.set(initial.version);
  metrics.flagPercentage.set(initial.elicitation.percentage);

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
    limits: {
      maxContentBytes: config.MAX_CONTENT_BYTES,
      maxMetadataBytes: config.MAX_METADATA_BYTES,
      messageDeadlineMs: config.MESSAGE_DEADLINE_MS,
      pollTimeoutMaxMs: config.POLL_TIMEOUT_MAX_MS,
      pollRecheckMs: config.POLL_RECHECK_MS,
      progressIntervalMs: config.POLL_PROGRESS_INTERVAL_MS,
    },
  });
  const hooks = {
    mapError(error: unknown, tool: string, agentId: string) {
      const wire = toWireError(error);
      metrics.errors.inc({ component: SERVICE_NAME, protocol: 'legacy', code: wire.code });
      logger.error({ err: error, tool, agentId, code: wire.code }, 'tool call failed');
      return wire;
    },
    onCall(tool: string, outcome: string) {
      metrics.toolCalls.inc({ tool, outcome });
    },
  };
  // JSON escaping can grow content up to 6×: leave room so an oversized message reaches the
  // tool and gets CONTENT_TOO_LARGE rather than an HTTP 413.
  const bodyLimit = config.MAX_CONTENT_BYTES * 8 + config.MAX_METADATA_BYTES * 8 + 64 * 1024;

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
        const agentId = registry.authenticate(request);
        if (!agentId) {
          sendJson(
            response,
            401,
            { jsonrpc: '2.0', error: { code: -32001, message: 'missing or invalid bearer token: send "Authorization: Bearer <your agent token>"' }, id: null },
            { 'www-authenticate': 'Bearer realm="agent-bridge"' },
          );
          return;
        }
        const body = await readJsonBody(request, bodyLimit);
        const server = createToolServer(
          {
            name: 'agent-bridge-legacy',
            version: SERVICE_VERSION,
            instructions: 'Legacy agent-bridge endpoint: send_message to talk to other agents, wait_for_messages to receive.',
          },
          tools,
          agentId,
          hooks,
        );
        await serveStatelessMcp(request, response, body, server);
      },
      ...probeRoutes({
        ready: async () => {
          try {
            await withDeadline(store.ping(), 1_000, 'redis ping');
            return { ok: true, detail: { flagsVersion: watcher.current().version, flagsStale: watcher.isStale() } };
          } catch (error) {
            return { ok: false, detail: { redis: (error as Error).message } };
          }
        },
        metrics: async () => {
          metrics.flagSnapshotStale.set(watcher.isStale() ? 1 : 0);
          return metrics.render();
        },
      }),
    },
  });
  logger.info({ url: `${http.url}/mcp`, agents: registry.size, shards: config.SHARD_COUNT }, 'legacy-poll listening');

  return {
    url: http.url,
    mcpUrl: `${http.url}/mcp`,
    async close() {
      // Waiting polls answer at once (with what they have) so connections can close.
      shutdown.abort();
      await http.close(config.SHUTDOWN_GRACE_MS);
      watcher.stop();
      await opened.close();
    },
  };
}
