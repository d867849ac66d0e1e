import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from '@modelcontextprotocol/server';
import { SendGate, mailboxLimitsFrom, mailboxTools, sendGateLimitsFrom, toolHostHooks } from '@agent-bridge/agent-tools';
import type { Doorbell, EventStore } from '@agent-bridge/event-store';
import { evaluateProtocol, type FlagSnapshot } from '@agent-bridge/flags';
import type { BridgeMetrics, Logger } from '@agent-bridge/observability';
import { createToolServer, statelessMcpServing, type AgentRegistry, type ToolServerInfo, type UsageRecorder } from '@agent-bridge/service-kit';
import { requestStateSealer, type ElicitationConfig } from './config.js';
import { elicitTool } from './elicit-tool.js';
import { StatelessRounds } from './rounds.js';
import type { SessionRegistry } from './sessions.js';

export interface ToolHostDeps {
  service: string;
  info: ToolServerInfo;
  store: EventStore;
  doorbell: Doorbell;
  flags: () => FlagSnapshot;
  registry: AgentRegistry;
  sessions: SessionRegistry;
  metrics: BridgeMetrics;
  logger: Logger;
  /** Aborted at shutdown: every held call answers at once. */
  shutdownSignal: AbortSignal;
  /** The legacy inventory's counts: tool calls, messages sent and delivered. */
  usage?: UsageRecorder;
}

/** The endpoint's tools, served on both MCP generations. */
export interface ToolHost {
  /** The MCP server of a new 2025-11-25 session of `agentId`. */
  sessionServer(agentId: string): Server;
  /** Serves one 2026-07-28 request (no session: any replica serves it) of an authenticated agent. */
  serveStateless(request: IncomingMessage, response: ServerResponse, body: unknown, agentId: string): Promise<void>;
}

/**
 * The tools of the modern endpoint: the shared mailbox tools (`send_message`, `wait_for_messages`
 * with 2026-07-28 rounds, acks), and `elicit`.
 */
export function elicitationToolHost(config: ElicitationConfig, deps: ToolHostDeps): ToolHost {
  const { store, doorbell, flags, registry, sessions, metrics, logger, shutdownSignal, usage } = deps;
  const knowsAgent = (agentId: string) => registry.knows(agentId);
  const sendGate = new SendGate(
    store,
    sendGateLimitsFrom(config, () => flags().contingencies),
    metrics,
  );
  const rounds = new StatelessRounds({
    store,
    doorbell,
    flags,
    metrics,
    logger,
    sealer: requestStateSealer(config, logger),
    replica: config.REPLICA_ID,
    maxPerRound: config.ROUND_MAX_MESSAGES,
    roundsPerCall: config.ROUNDS_PER_CALL,
    presenceWindowMs: config.STATELESS_PRESENCE_WINDOW_MS,
    messageDeadlineMs: config.MESSAGE_DEADLINE_MS,
    ...(usage ? { usage } : {}),
  });
  const tools = [
    ...mailboxTools({
      endpoint: 'elicitation',
      store,
      doorbell,
      flags,
      knowsAgent,
      metrics,
      logger,
      limits: mailboxLimitsFrom(config),
      sendGate,
      elicitationEndpointUrl: config.ADVERTISE_URL ? `${config.ADVERTISE_URL}/mcp` : 'this endpoint',
      shutdownSignal,
      pushDeliveryNotice: (agentId, sessionId) => {
        const session = sessionId ? sessions.get(sessionId) : undefined;
        // Only while pushes can actually reach this session; otherwise the call waits like any poll.
        if (!session?.canPush || evaluateProtocol(flags(), agentId).protocol !== 'elicitation') return undefined;
        return 'Your messages are delivered to you as elicitations on this session; wait_for_messages only returns messages that could not be pushed.';
      },
      rounds,
      ...(usage ? { usage } : {}),
    }),
    elicitTool({
      store,
      doorbell,
      metrics,
      knowsAgent,
      defaultTimeoutMs: config.ELICIT_TIMEOUT_DEFAULT_MS,
      maxTimeoutMs: config.ELICIT_TIMEOUT_MAX_MS,
      progressIntervalMs: config.PROGRESS_INTERVAL_MS,
      recheckMs: config.POLL_RECHECK_MS,
      maxContentBytes: config.MAX_CONTENT_BYTES,
      sendGate,
      shutdownSignal,
      ...(usage ? { usage } : {}),
    }),
  ];
  const hooks = toolHostHooks({ service: deps.service, protocol: 'elicitation', metrics, logger, ...(usage ? { usage } : {}) });
  const serveStateless = statelessMcpServing({
    info: deps.info,
    tools,
    hooks,
    legacy: 'reject',
    keepAliveMs: config.KEEPALIVE_MS,
    onError: (error) => logger.debug({ err: error }, 'MCP request rejected'),
  });
  return {
    sessionServer: (agentId) => createToolServer(deps.info, tools, agentId, hooks),
    serveStateless,
  };
}
