import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import { isInitializeRequest } from '@modelcontextprotocol/server';
import { SendGate, mailboxLimitsFrom, mailboxTools, sendGateLimitsFrom, toolHostHooks } from '@agent-bridge/agent-tools';
import { evaluateProtocol } from '@agent-bridge/flags';
import { sleep, type PresenceSession } from '@agent-bridge/event-store';
import type { Logger } from '@agent-bridge/observability';
import {
  ActivityRecorder,
  AgentRegistry,
  AgentRequestLimiter,
  HttpError,
  OriginPolicy,
  RelayCredential,
  RelayTargetPolicy,
  createToolServer,
  declaredElicitation,
  modernRequestElicitation,
  parseJsonBody,
  readRawBody,
  sendJson,
  sendUnauthorized,
  startHttpServer,
  startServiceRuntime,
  statelessMcpServing,
  type HttpServerHandle,
} from '@agent-bridge/service-kit';
import { requestStateSealer, type ElicitationConfig } from './config.js';
import { elicitTool } from './elicit-tool.js';
import { PUSH_FAILURE_REASONS, PushDeliverer } from './push-deliverer.js';
import { StatelessRounds } from './rounds.js';
import { SessionRelay } from './session-relay.js';
import { AgentSession, SessionRegistry, type SessionChange } from './sessions.js';

export const SERVICE_NAME = 'elicitation';
export const SERVICE_VERSION = '0.1.0';

/** On shutdown, how long an elicitation in flight may still be answered before it is left for the agent's next session. */
export const PUSH_SHUTDOWN_GRACE_MS = 1_000;
/** On shutdown, how long held calls (answered at once) get to send their answers before the sessions close. */
const HELD_CALLS_GRACE_MS = 2_000;

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
 */
export async function startElicitationService(config: ElicitationConfig, logger: Logger): Promise<ElicitationService> {
  const registry = AgentRegistry.fromFile(config.AGENT_TOKENS_FILE);
  const origins = OriginPolicy.fromSettings(config);
  const instanceId = `${config.REPLICA_ID}-${randomBytes(4).toString('hex')}`;
  const deliverers = new Map<string, PushDeliverer>();
  const runtime = await startServiceRuntime({
    service: SERVICE_NAME,
    replica: config.REPLICA_ID,
    config,
    logger,
    store: { listen: 'lanes', memoryLimitBytes: config.REDIS_MEMORY_LIMIT_BYTES },
    onFlagsApplied: (snapshot) => {
      for (const deliverer of deliverers.values()) deliverer.onFlagsChanged(snapshot);
    },
  });
  const { metrics, watcher } = runtime;
  const requests = new AgentRequestLimiter(config.MAX_REQUESTS_PER_AGENT, () => metrics.agentRequestsRefused.inc());
  const { store, doorbell } = runtime.opened;
  const activity = new ActivityRecorder(store, logger, { intervalMs: config.ACTIVITY_RECORD_INTERVAL_MS });
  metrics.initializeEndpointSeries('elicitation', PUSH_FAILURE_REASONS.map((reason) => `PUSH_${reason.toUpperCase()}`));

  const sessions = new SessionRegistry((session, change) => {
    void syncSession(session, change);
  });

  const stopping = new Map<string, Promise<void>>();
  let delivererCount = 0;

  /**
   * After a change of one session: refresh its presence (only its own: the cost of a change does
   * not grow with the sessions the agent holds), and keep exactly one push deliverer for the agent
   * while it holds an elicitation-capable session here. The deliverer itself pauses (and lets go of
   * the push lease) while no session has its stream open.
   */
  async function syncSession(session: AgentSession, change: SessionChange): Promise<void> {
    metrics.activeSessions.set(sessions.size);
    if (change !== 'removed') await recordPresence(session);
    const agentId = session.agentId;
    doorbell.ring(`push:${agentId}`);
    const running = deliverers.get(agentId);
    const wanted = sessions.wantsPush(agentId);
    if (!wanted && running) {
      deliverers.delete(agentId);
      const stop = running.stop().finally(() => stopping.delete(agentId));
      stopping.set(agentId, stop);
      await stop;
    } else if (wanted && !running) {
      await stopping.get(agentId);
      if (deliverers.has(agentId) || !sessions.wantsPush(agentId)) return;
      const deliverer = new PushDeliverer(agentId, {
        store,
        doorbell,
        sessions,
        flags: () => watcher.current(),
        metrics,
        logger,
        // Unique per deliverer: two deliverers can never share a lease or pending entries.
        instanceId: `${instanceId}-${++delivererCount}`,
        leaseTtlMs: config.PUSH_LEASE_TTL_MS,
        recheckMs: config.PUSH_RECHECK_MS,
        messageDeadlineMs: config.MESSAGE_DEADLINE_MS,
      });
      deliverers.set(agentId, deliverer);
      deliverer.start();
    }
  }

  function presenceOf(session: AgentSession): PresenceSession {
    return {
      sessionId: session.id,
      replica: config.REPLICA_ID,
      elicitation: session.elicitation,
      streamOpen: session.streams > 0,
      expiresAt: Date.now() + config.PRESENCE_TTL_MS,
    };
  }

  /** The session's agent is active (throttled per agent by the recorder). */
  function sawSession(session: AgentSession): void {
    activity.saw(session.agentId, session.elicitation.form ? 'elicitation' : 'other', '2025-11-25');
  }

  async function recordPresence(session: AgentSession): Promise<void> {
    sawSession(session);
    try {
      await store.recordPresence(session.agentId, presenceOf(session));
    } catch (error) {
      logger.warn({ err: error, agentId: session.agentId }, 'cannot record presence');
    }
  }

  const shutdown = new AbortController();
  const limits = mailboxLimitsFrom(config);
  const sendGate = new SendGate(store, sendGateLimitsFrom(config), metrics);
  const rounds = new StatelessRounds({
    store,
    doorbell,
    flags: () => watcher.current(),
    metrics,
    logger,
    sealer: requestStateSealer(config, logger),
    replica: config.REPLICA_ID,
    maxPerRound: config.ROUND_MAX_MESSAGES,
    roundsPerCall: config.ROUNDS_PER_CALL,
    presenceWindowMs: config.STATELESS_PRESENCE_WINDOW_MS,
    messageDeadlineMs: config.MESSAGE_DEADLINE_MS,
  });
  const tools = [
    ...mailboxTools({
      endpoint: 'elicitation',
      store,
      doorbell,
      flags: () => watcher.current(),
      knowsAgent: (agentId) => registry.knows(agentId),
      metrics,
      logger,
      limits,
      sendGate,
      elicitationEndpointUrl: config.ADVERTISE_URL ? `${config.ADVERTISE_URL}/mcp` : 'this endpoint',
      shutdownSignal: shutdown.signal,
      pushDeliveryNotice: (agentId, sessionId) => {
        const session = sessionId ? sessions.get(sessionId) : undefined;
        // Only while pushes can actually reach this session; otherwise the call waits like any poll.
        if (!session?.canPush || evaluateProtocol(watcher.current(), agentId).protocol !== 'elicitation') return undefined;
        return 'Your messages are delivered to you as elicitations on this session; wait_for_messages only returns messages that could not be pushed.';
      },
      rounds,
    }),
    elicitTool({
      store,
      doorbell,
      metrics,
      knowsAgent: (agentId) => registry.knows(agentId),
      defaultTimeoutMs: config.ELICIT_TIMEOUT_DEFAULT_MS,
      maxTimeoutMs: config.ELICIT_TIMEOUT_MAX_MS,
      progressIntervalMs: config.PROGRESS_INTERVAL_MS,
      recheckMs: config.POLL_RECHECK_MS,
      maxContentBytes: config.MAX_CONTENT_BYTES,
      sendGate,
      shutdownSignal: shutdown.signal,
    }),
  ];
  const hooks = toolHostHooks({ service: SERVICE_NAME, protocol: 'elicitation', metrics, logger });
  const bodyLimit = config.MAX_CONTENT_BYTES * 8 + config.MAX_METADATA_BYTES * 8 + 64 * 1024;
  const serverInfo = {
    name: 'agent-bridge',
    version: SERVICE_VERSION,
    instructions: 'agent-bridge: messages from other agents arrive as elicitations. send_message to talk, elicit to ask and wait for a structured answer.',
  };
  // 2026-07-28 requests: no sessions, any replica serves them (the 2025 era has its sessions below).
  const serveModern = statelessMcpServing({
    info: serverInfo,
    tools,
    hooks,
    legacy: 'reject',
    keepAliveMs: config.KEEPALIVE_MS,
    onError: (error) => logger.debug({ err: error }, 'MCP request rejected'),
  });

  /** Initializes being served right now, by agent: counted against the caps before their session exists. */
  const opening = new Map<string, number>();
  let openingTotal = 0;

  /**
   * Makes room for one more session of the agent, or refuses it: at MAX_SESSIONS the replica is
   * full (another replica may have room); at MAX_SESSIONS_PER_AGENT the agent's least recently seen
   * idle session is closed, and when every one of them is busy the new one is refused.
   */
  function admitSession(agentId: string): void {
    if (sessions.size + openingTotal >= config.MAX_SESSIONS) {
      metrics.sessionsRefused.inc({ reason: 'replica_full' });
      throw new HttpError(
        503,
        `this replica holds ${sessions.size} MCP sessions, its limit (MAX_SESSIONS); retry in a few seconds (another replica may take it) or use the stateless 2026-07-28 protocol`,
        { 'retry-after': '5' },
        'REPLICA_FULL',
      );
    }
    const held = sessions.countOf(agentId) + (opening.get(agentId) ?? 0);
    if (held < config.MAX_SESSIONS_PER_AGENT) return;
    const oldest = sessions.oldestIdle(agentId);
    if (!oldest) {
      metrics.sessionsRefused.inc({ reason: 'agent_limit' });
      throw new HttpError(
        429,
        `agent ${agentId} already holds ${held} MCP sessions on this replica, the most one agent may (MAX_SESSIONS_PER_AGENT), and each has a call or stream open; reuse a session (send its Mcp-Session-Id) or end one with HTTP DELETE before starting another`,
        { 'retry-after': '5' },
        'SESSION_LIMIT',
      );
    }
    metrics.sessionsClosed.inc({ reason: 'replaced' });
    closeSession(oldest, `replaced by a new session: the agent reached MAX_SESSIONS_PER_AGENT (${config.MAX_SESSIONS_PER_AGENT})`);
  }

  async function createSession(agentId: string, request: IncomingMessage, response: ServerResponse, body: unknown): Promise<void> {
    admitSession(agentId);
    opening.set(agentId, (opening.get(agentId) ?? 0) + 1);
    openingTotal++;
    try {
      await openSession(agentId, request, response, body);
    } finally {
      openingTotal--;
      const left = (opening.get(agentId) ?? 1) - 1;
      if (left > 0) opening.set(agentId, left);
      else opening.delete(agentId);
    }
  }

  async function openSession(agentId: string, request: IncomingMessage, response: ServerResponse, body: unknown): Promise<void> {
    let session: AgentSession | undefined;
    const server = createToolServer(serverInfo, tools, agentId, hooks);
    const transport = new NodeStreamableHTTPServerTransport({
      sessionIdGenerator: () => `${config.REPLICA_ID}.${randomUUID()}`,
      keepAliveMs: config.KEEPALIVE_MS,
      onsessioninitialized: (sessionId) => {
        session = new AgentSession(sessionId, agentId, server, transport);
        session.elicitation = declaredElicitation(server.getClientCapabilities());
        sessions.add(session);
        logger.info({ agentId, sessionId, elicitation: session.elicitation }, 'session started');
      },
      onsessionclosed: (sessionId) => {
        endSession(sessionId, 'closed by the client');
      },
    });
    transport.onclose = () => {
      if (session) endSession(session.id, 'transport closed');
    };
    server.oninitialized = () => {
      if (!session) return;
      session.elicitation = declaredElicitation(server.getClientCapabilities());
      sessions.changed(session);
    };
    await server.connect(transport);
    await transport.handleRequest(request, response, body);
  }

  /** Ends a session from this side: its streams and held calls end, the client has to initialize again. */
  function closeSession(session: AgentSession, why: string): void {
    endSession(session.id, why);
    void session.transport.close().catch(() => undefined);
  }

  function endSession(sessionId: string, why: string): void {
    const session = sessions.remove(sessionId);
    if (!session) return;
    logger.info({ agentId: session.agentId, sessionId, why }, 'session ended');
    void store.removePresence(session.agentId, sessionId).catch(() => undefined);
    void session.server.close().catch(() => undefined);
  }

  const relay = new SessionRelay({
    service: SERVICE_NAME,
    replicaId: config.REPLICA_ID,
    store,
    credential: RelayCredential.fromSettings(config, (message) => logger.warn(message)),
    targets: RelayTargetPolicy.fromSettings(config),
    origins,
    registry,
    metrics,
    logger,
    bodyLimit,
  });

  async function handleMcp(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (relay.claimsRelayed(request)) return relay.receive(request, response, serveSession, sessionNotFound);
    // Before anything else: a page on a foreign origin learns nothing, not even whether a token is valid.
    const refusal = origins.refusal(request);
    if (refusal) throw new HttpError(403, refusal);
    const agentId = registry.authenticate(request);
    if (!agentId) return sendUnauthorized(response);
    requests.admit(agentId, response);
    const raw = await readRawBody(request, bodyLimit);
    const sessionId = request.headers['mcp-session-id'];
    if (typeof sessionId === 'string' && sessionId !== '') {
      if (await serveSession(sessionId, agentId, request, response, raw)) return;
      // Session ids are `<replica>.<random>`; one without a dot names no replica.
      const dot = sessionId.indexOf('.');
      const owner = dot > 0 ? sessionId.slice(0, dot) : '';
      if (owner && owner !== config.REPLICA_ID && (await relay.toOwner(request, response, raw, agentId, owner))) return;
      return sessionNotFound(response);
    }
    const body = parseJsonBody(raw);
    const modern = request.method === 'POST' ? modernRequestElicitation(body) : undefined;
    if (modern) {
      activity.saw(agentId, modern.form ? 'elicitation' : 'other', '2026-07-28');
      return serveModern(request, response, body, agentId);
    }
    if (request.method !== 'POST' || !isInitializeRequest(body)) {
      throw new HttpError(
        400,
        'send an initialize request first (no Mcp-Session-Id header was given), or a 2026-07-28 request carrying its protocol version in params._meta',
      );
    }
    await createSession(agentId, request, response, body);
  }

  /** Serves a request of a session this replica holds; false when it holds no such session. */
  async function serveSession(sessionId: string, agentId: string, request: IncomingMessage, response: ServerResponse, raw: Buffer): Promise<boolean> {
    const session = sessions.get(sessionId);
    if (!session) return false;
    if (session.agentId !== agentId) {
      sessionNotFound(response);
      return true;
    }
    session.touch();
    trackResponse(session, response, request.method === 'GET');
    await session.transport.handleRequest(request, response, parseJsonBody(raw));
    return true;
  }

  /** Counts the response while it is open (a GET is the session's stream), so the session is not taken for idle. */
  function trackResponse(session: AgentSession, response: ServerResponse, stream: boolean): void {
    session.openResponses++;
    if (stream) {
      session.streams++;
      sessions.changed(session);
    }
    response.on('close', () => {
      session.openResponses = Math.max(0, session.openResponses - 1);
      session.touch();
      if (!stream) return;
      session.streams = Math.max(0, session.streams - 1);
      sessions.changed(session);
    });
  }

  const http: HttpServerHandle = await startHttpServer({
    host: config.HOST,
    port: config.PORT,
    onError: (error, request) => logger.error({ err: error, path: request.url }, 'request failed'),
    // While shutting down, a session held here is still served until it is closed: the answer to
    // an elicitation in flight can still arrive, and a call still gets its quick answer.
    stillServed: (request) => {
      const sessionId = request.headers['mcp-session-id'];
      return typeof sessionId === 'string' && sessions.get(sessionId) !== undefined;
    },
    routes: {
      '/mcp': handleMcp,
      ...runtime.probes(() => {
        metrics.activeSessions.set(sessions.size);
        return { replica: config.REPLICA_ID, sessions: sessions.size };
      }),
    },
  });

  /** Resolves once every session's held calls have sent their answers (its only open response is its stream), or after `graceMs`. */
  async function heldCallsAnswered(graceMs: number): Promise<void> {
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && sessions.all().some((session) => session.openResponses > session.streams)) await sleep(20);
  }

  const advertisedUrl = config.ADVERTISE_URL ?? `http://127.0.0.1:${http.port}`;

  /**
   * A session whose stream is open but that sent nothing for a while is asked for a ping: a client
   * that stopped reading or answering is closed instead of holding a stream (and its buffers) forever.
   */
  function checkAlive(session: AgentSession): void {
    session.pinging = true;
    session.server
      .request({ method: 'ping' }, { timeout: config.SESSION_PING_TIMEOUT_MS })
      .then(() => session.touch())
      .catch(() => {
        if (sessions.get(session.id) !== session) return;
        metrics.sessionsClosed.inc({ reason: 'unresponsive' });
        closeSession(session, `unresponsive: no answer to a ping within ${config.SESSION_PING_TIMEOUT_MS} ms`);
      })
      .finally(() => (session.pinging = false));
  }

  // Keep presence and the replica registry fresh, and close sessions that went quiet. One refresh
  // of every session's presence per tick, in one batch; a tick that is still running is not overlapped.
  let beating = false;
  const heartbeat = async () => {
    if (beating) return;
    beating = true;
    try {
      await store.heartbeatReplica(SERVICE_NAME, config.REPLICA_ID, advertisedUrl, config.PRESENCE_TTL_MS);
    } catch (error) {
      logger.warn({ err: error }, 'replica heartbeat failed');
    }
    try {
      const now = Date.now();
      const live: Array<{ agentId: string; session: PresenceSession }> = [];
      for (const session of sessions.all()) {
        const quiet = now - session.lastSeenAt;
        if (session.idle && quiet > config.SESSION_IDLE_TIMEOUT_MS) {
          metrics.sessionsClosed.inc({ reason: 'idle' });
          closeSession(session, 'idle');
          continue;
        }
        if (session.streams > 0 && !session.pinging && quiet > config.SESSION_PING_INTERVAL_MS) checkAlive(session);
        sawSession(session);
        live.push({ agentId: session.agentId, session: presenceOf(session) });
      }
      await store.recordPresences(live);
    } catch (error) {
      logger.warn({ err: error }, 'cannot refresh presence');
    } finally {
      beating = false;
    }
  };
  await heartbeat();
  const heartbeatTimer = setInterval(() => void heartbeat(), Math.floor(config.PRESENCE_TTL_MS / 3));
  heartbeatTimer.unref();
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
      clearInterval(heartbeatTimer);
      shutdown.abort();
      await Promise.all([...deliverers.values()].map((d) => d.stop(PUSH_SHUTDOWN_GRACE_MS)).concat(heldCallsAnswered(HELD_CALLS_GRACE_MS)));
      await store.removeReplica(SERVICE_NAME, config.REPLICA_ID).catch(() => undefined);
      const open = [...sessions.all()];
      await Promise.all(open.map((session) => store.removePresence(session.agentId, session.id).catch(() => undefined)));
      await Promise.all(open.map((session) => session.transport.close().catch(() => undefined)));
      await http.close(config.SHUTDOWN_GRACE_MS);
      await runtime.close();
    },
  };
}

function sessionNotFound(response: ServerResponse): void {
  // The MCP answer for an unknown session: the client starts a new one with initialize.
  sendJson(response, 404, { jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null });
}
