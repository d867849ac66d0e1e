import type { Logger } from '@agent-bridge/observability';
import { ActivityRecorder, AgentRegistry, UsageRecorder, startHttpServer, startServiceRuntime } from '@agent-bridge/service-kit';
import type { ElicitationConfig } from './config.js';
import { DelivererSupervisor } from './deliverer-supervisor.js';
import { McpEndpoint } from './mcp-endpoint.js';
import { PresenceHeartbeat } from './presence-heartbeat.js';
import { PUSH_FAILURE_REASONS } from './push-deliverer.js';
import { SessionLifecycle } from './session-lifecycle.js';
import { SessionRegistry } from './sessions.js';
import { elicitationToolHost } from './tool-host.js';

export const SERVICE_NAME = 'elicitation';
const SERVICE_VERSION = '0.1.0';

/** On shutdown, how long an elicitation in flight may still be answered before it is left for the agent's next session. */
const PUSH_SHUTDOWN_GRACE_MS = 1_000;
/** On shutdown, how long held calls (answered at once) get to send their answers before the sessions close. */
const HELD_CALLS_GRACE_MS = 2_000;

const SERVER_INFO = {
  name: 'agent-bridge',
  version: SERVICE_VERSION,
  instructions: 'agent-bridge: messages from other agents arrive as elicitations. send_message to talk, elicit to ask and wait for a structured answer.',
};

export interface ElicitationService {
  url: string;
  mcpUrl: string;
  sessions: SessionRegistry;
  close(): Promise<void>;
}

/**
 * The modern endpoint: MCP sessions over Streamable HTTP, push delivery by elicitation, `elicit`,
 * and the shared mailbox tools. A session belongs to the replica that created it (its id starts
 * with the replica id); a request for it that lands elsewhere is forwarded to the owner.
 * docs/decisions/0016-elicitation-service-modules.md says which module owns what.
 */
export async function startElicitationService(config: ElicitationConfig, logger: Logger): Promise<ElicitationService> {
  const registry = AgentRegistry.fromFile(config.AGENT_TOKENS_FILE);
  let deliverers: DelivererSupervisor | undefined;
  const runtime = await startServiceRuntime({
    service: SERVICE_NAME,
    replica: config.REPLICA_ID,
    config,
    logger,
    store: { listen: 'lanes', memoryLimitBytes: config.REDIS_MEMORY_LIMIT_BYTES },
    onFlagsApplied: (snapshot) => deliverers?.onFlagsChanged(snapshot),
  });
  const { metrics, watcher } = runtime;
  const { store, doorbell } = runtime.opened;
  const flags = () => watcher.current();
  const usage = new UsageRecorder(store, logger, { flushIntervalMs: config.USAGE_FLUSH_INTERVAL_MS });
  const activity = new ActivityRecorder(store, logger, { intervalMs: config.ACTIVITY_RECORD_INTERVAL_MS, usage });
  metrics.initializeEndpointSeries(
    'elicitation',
    PUSH_FAILURE_REASONS.map((reason) => `PUSH_${reason.toUpperCase()}`),
  );

  // After a change of one session: its presence (only its own), then the agent's deliverer.
  const sessions = new SessionRegistry((session, change) => {
    metrics.activeSessions.set(sessions.size);
    void (async () => {
      if (change === 'removed') await presence.removed(session);
      else await presence.record(session);
      await deliverers?.sync(session.agentId);
    })();
  });
  deliverers = new DelivererSupervisor(config, { store, doorbell, sessions, flags, metrics, logger, usage });
  await deliverers.start();
  const shutdown = new AbortController();
  const tools = elicitationToolHost(config, { service: SERVICE_NAME, info: SERVER_INFO, store, doorbell, flags, registry, sessions, metrics, logger, shutdownSignal: shutdown.signal, usage });
  const lifecycle = new SessionLifecycle(config, { sessions, metrics, logger, newServer: (agentId) => tools.sessionServer(agentId) });
  const presence = new PresenceHeartbeat(config, { service: SERVICE_NAME, store, activity, logger, liveSessions: () => lifecycle.sweep() });
  const endpoint = new McpEndpoint(config, { service: SERVICE_NAME, store, registry, activity, sessions, lifecycle, tools, metrics, logger });

  const http = await startHttpServer({
    host: config.HOST,
    port: config.PORT,
    onError: (error, request) => logger.error({ err: error, path: request.url }, 'request failed'),
    // While shutting down, a session held here is still served until it is closed: the answer to
    // an elicitation in flight can still arrive, and a call still gets its quick answer.
    stillServed: (request) => endpoint.holdsSessionOf(request),
    routes: {
      '/mcp': endpoint.handle,
      ...runtime.probes(() => {
        metrics.activeSessions.set(sessions.size);
        return { replica: config.REPLICA_ID, sessions: sessions.size };
      }),
    },
  });
  const advertisedUrl = config.ADVERTISE_URL ?? `http://127.0.0.1:${http.port}`;
  await presence.start(advertisedUrl);
  usage.start();
  logger.info({ url: `${http.url}/mcp`, replica: config.REPLICA_ID, advertised: advertisedUrl }, 'elicitation listening');

  return {
    url: http.url,
    mcpUrl: `${http.url}/mcp`,
    sessions,
    async close() {
      // In order: take nothing new (readiness off, no new sessions or 2026 calls); answer every
      // held call (polls with what they have, elicits with SHUTTING_DOWN); let each push in flight
      // be answered for a moment (its answer may come relayed by another replica), then leave it
      // pending for the agent's next session; stop being a relay target; end every session, so its
      // client opens a new one on another replica.
      http.drain();
      presence.stop();
      shutdown.abort();
      await Promise.all([deliverers.stopAll(PUSH_SHUTDOWN_GRACE_MS), lifecycle.heldCallsAnswered(HELD_CALLS_GRACE_MS)]);
      const open = sessions.all();
      await presence.leave(open);
      await lifecycle.closeAll(open);
      await http.close(config.SHUTDOWN_GRACE_MS);
      await activity.flush();
      await usage.close();
      await runtime.close();
    },
  };
}
