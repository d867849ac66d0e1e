import type { IncomingMessage, ServerResponse } from 'node:http';
import { isInitializeRequest } from '@modelcontextprotocol/server';
import type { EventStore } from '@agent-bridge/event-store';
import type { BridgeMetrics, Logger } from '@agent-bridge/observability';
import {
  AgentRequestLimiter,
  HttpError,
  OriginPolicy,
  RelayCredential,
  RelayTargetPolicy,
  modernRequestElicitation,
  parseJsonBody,
  readRawBody,
  sendJson,
  sendUnauthorized,
  type ActivityRecorder,
  type AgentRegistry,
} from '@agent-bridge/service-kit';
import type { ElicitationConfig } from './config.js';
import type { SessionLifecycle } from './session-lifecycle.js';
import { SessionRelay } from './session-relay.js';
import type { SessionRegistry } from './sessions.js';
import type { ToolHost } from './tool-host.js';

export interface McpEndpointDeps {
  service: string;
  store: Pick<EventStore, 'lookupReplica'>;
  registry: AgentRegistry;
  activity: ActivityRecorder;
  sessions: SessionRegistry;
  lifecycle: SessionLifecycle;
  tools: ToolHost;
  metrics: BridgeMetrics;
  logger: Logger;
}

/**
 * `/mcp`: who is asking (relay assertion, Origin, bearer token, the agent's open requests), and who
 * answers: the session held here, the replica owning the session (relayed), the stateless
 * 2026-07-28 serving, or a new session for an initialize. A session nobody holds gets 404.
 */
export class McpEndpoint {
  private readonly origins: OriginPolicy;
  private readonly requests: AgentRequestLimiter;
  private readonly relay: SessionRelay;
  /** JSON escaping can grow content up to 6×: an oversized message reaches the tool (CONTENT_TOO_LARGE), not a 413. */
  private readonly bodyLimit: number;

  constructor(
    private readonly config: ElicitationConfig,
    private readonly deps: McpEndpointDeps,
  ) {
    const { service, store, registry, metrics, logger } = deps;
    this.origins = OriginPolicy.fromSettings(config);
    this.requests = new AgentRequestLimiter(config.MAX_REQUESTS_PER_AGENT, () => metrics.agentRequestsRefused.inc());
    this.bodyLimit = config.MAX_CONTENT_BYTES * 8 + config.MAX_METADATA_BYTES * 8 + 64 * 1024;
    this.relay = new SessionRelay({
      service,
      replicaId: config.REPLICA_ID,
      store,
      credential: RelayCredential.fromSettings(config, (message) => logger.warn(message)),
      targets: RelayTargetPolicy.fromSettings(config),
      origins: this.origins,
      registry,
      metrics,
      logger,
      bodyLimit: this.bodyLimit,
    });
  }

  readonly handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const { deps, relay } = this;
    if (relay.claimsRelayed(request)) return relay.receive(request, response, this.serveSession, sessionNotFound);
    // Before anything else: a page on a foreign origin learns nothing, not even whether a token is valid.
    const refusal = this.origins.refusal(request);
    if (refusal) throw new HttpError(403, refusal);
    const agentId = deps.registry.authenticate(request);
    if (!agentId) return sendUnauthorized(response);
    this.requests.admit(agentId, response);
    const raw = await readRawBody(request, this.bodyLimit);
    const sessionId = request.headers['mcp-session-id'];
    if (typeof sessionId === 'string' && sessionId !== '') {
      if (await this.serveSession(sessionId, agentId, request, response, raw)) return;
      const owner = ownerOf(sessionId);
      if (owner && owner !== this.config.REPLICA_ID && (await relay.toOwner(request, response, raw, agentId, owner))) return;
      return sessionNotFound(response);
    }
    const body = parseJsonBody(raw);
    const modern = request.method === 'POST' ? modernRequestElicitation(body) : undefined;
    if (modern) {
      deps.activity.saw(agentId, modern.form ? 'elicitation' : 'other', '2026-07-28');
      return deps.tools.serveStateless(request, response, body, agentId);
    }
    if (request.method !== 'POST' || !isInitializeRequest(body)) {
      throw new HttpError(400, 'send an initialize request first (no Mcp-Session-Id header was given), or a 2026-07-28 request carrying its protocol version in params._meta');
    }
    await deps.lifecycle.create(agentId, request, response, body);
  };

  /** While shutting down, a session held here is still served until it is closed (an answer to a push in flight may still arrive). */
  holdsSessionOf(request: IncomingMessage): boolean {
    const sessionId = request.headers['mcp-session-id'];
    return typeof sessionId === 'string' && this.deps.sessions.get(sessionId) !== undefined;
  }

  /** Serves a request of a session this replica holds; false when it holds no such session. */
  private readonly serveSession = async (sessionId: string, agentId: string, request: IncomingMessage, response: ServerResponse, raw: Buffer): Promise<boolean> => {
    const session = this.deps.sessions.get(sessionId);
    if (!session) return false;
    if (session.agentId !== agentId) {
      sessionNotFound(response);
      return true;
    }
    session.touch();
    this.deps.lifecycle.track(session, response, request.method === 'GET');
    await session.transport.handleRequest(request, response, parseJsonBody(raw));
    return true;
  };
}

/** Session ids are `<replica>.<random>`: the replica that owns it, or '' for an id without a dot. */
function ownerOf(sessionId: string): string {
  const dot = sessionId.indexOf('.');
  return dot > 0 ? sessionId.slice(0, dot) : '';
}

function sessionNotFound(response: ServerResponse): void {
  // The MCP answer for an unknown session: the client starts a new one with initialize.
  sendJson(response, 404, { jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null });
}
