import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import type { Server } from '@modelcontextprotocol/server';
import { sleep } from '@agent-bridge/event-store';
import type { BridgeMetrics, Logger } from '@agent-bridge/observability';
import { HttpError, declaredElicitation } from '@agent-bridge/service-kit';
import type { ElicitationConfig } from './config.js';
import { AgentSession, type SessionRegistry } from './sessions.js';

export type SessionSettings = Pick<ElicitationConfig, 'REPLICA_ID' | 'KEEPALIVE_MS' | 'MAX_SESSIONS' | 'MAX_SESSIONS_PER_AGENT' | 'SESSION_IDLE_TIMEOUT_MS' | 'SESSION_PING_INTERVAL_MS' | 'SESSION_PING_TIMEOUT_MS'>;

export interface SessionLifecycleDeps {
  sessions: SessionRegistry;
  metrics: BridgeMetrics;
  logger: Logger;
  /** The MCP server of a new session of `agentId` (its tools, as that agent). */
  newServer: (agentId: string) => Server;
}

/**
 * The 2025-11-25 sessions this replica holds, from initialize to close: admission against the
 * session caps, the transport of each, the responses each holds open (its stream and held calls),
 * and closing the ones that went idle or stopped answering pings.
 */
export class SessionLifecycle {
  /** Initializes being served right now, by agent: counted against the caps before their session exists. */
  private readonly opening = new Map<string, number>();
  private openingTotal = 0;

  constructor(
    private readonly settings: SessionSettings,
    private readonly deps: SessionLifecycleDeps,
  ) {}

  /** Answers an initialize request with a new session of `agentId`, or refuses it (HttpError 503 / 429). */
  async create(agentId: string, request: IncomingMessage, response: ServerResponse, body: unknown): Promise<void> {
    this.admit(agentId);
    this.opening.set(agentId, (this.opening.get(agentId) ?? 0) + 1);
    this.openingTotal++;
    try {
      await this.open(agentId, request, response, body);
    } finally {
      this.openingTotal--;
      const left = (this.opening.get(agentId) ?? 1) - 1;
      if (left > 0) this.opening.set(agentId, left);
      else this.opening.delete(agentId);
    }
  }

  /**
   * Makes room for one more session of the agent, or refuses it: at MAX_SESSIONS the replica is
   * full (another replica may have room); at MAX_SESSIONS_PER_AGENT the agent's least recently seen
   * idle session is closed, and when every one of them is busy the new one is refused.
   */
  private admit(agentId: string): void {
    const { sessions, metrics } = this.deps;
    const { MAX_SESSIONS, MAX_SESSIONS_PER_AGENT } = this.settings;
    if (sessions.size + this.openingTotal >= MAX_SESSIONS) {
      metrics.sessionsRefused.inc({ reason: 'replica_full' });
      throw new HttpError(
        503,
        `this replica holds ${sessions.size} MCP sessions, its limit (MAX_SESSIONS); retry in a few seconds (another replica may take it) or use the stateless 2026-07-28 protocol`,
        { 'retry-after': '5' },
        'REPLICA_FULL',
      );
    }
    const held = sessions.countOf(agentId) + (this.opening.get(agentId) ?? 0);
    if (held < MAX_SESSIONS_PER_AGENT) return;
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
    this.close(oldest, `replaced by a new session: the agent reached MAX_SESSIONS_PER_AGENT (${MAX_SESSIONS_PER_AGENT})`);
  }

  private async open(agentId: string, request: IncomingMessage, response: ServerResponse, body: unknown): Promise<void> {
    const { sessions, logger } = this.deps;
    let session: AgentSession | undefined;
    const server = this.deps.newServer(agentId);
    const transport = new NodeStreamableHTTPServerTransport({
      sessionIdGenerator: () => `${this.settings.REPLICA_ID}.${randomUUID()}`,
      keepAliveMs: this.settings.KEEPALIVE_MS,
      onsessioninitialized: (sessionId) => {
        session = new AgentSession(sessionId, agentId, server, transport);
        session.elicitation = declaredElicitation(server.getClientCapabilities());
        sessions.add(session);
        logger.info({ agentId, sessionId, elicitation: session.elicitation }, 'session started');
      },
      onsessionclosed: (sessionId) => {
        this.end(sessionId, 'closed by the client');
      },
    });
    transport.onclose = () => {
      if (session) this.end(session.id, 'transport closed');
    };
    server.oninitialized = () => {
      if (!session) return;
      session.elicitation = declaredElicitation(server.getClientCapabilities());
      sessions.changed(session);
    };
    await server.connect(transport);
    await transport.handleRequest(request, response, body);
  }

  /** Counts the response while it is open (a GET is the session's stream), so the session is not taken for idle. */
  track(session: AgentSession, response: ServerResponse, stream: boolean): void {
    const { sessions } = this.deps;
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

  /**
   * One pass over the sessions (the presence heartbeat's tick): closes the idle ones that went quiet
   * for SESSION_IDLE_TIMEOUT_MS, pings those whose stream is open but that sent nothing for
   * SESSION_PING_INTERVAL_MS, and returns the sessions still held.
   */
  sweep(now = Date.now()): AgentSession[] {
    const live: AgentSession[] = [];
    for (const session of this.deps.sessions.all()) {
      const quiet = now - session.lastSeenAt;
      if (session.idle && quiet > this.settings.SESSION_IDLE_TIMEOUT_MS) {
        this.deps.metrics.sessionsClosed.inc({ reason: 'idle' });
        this.close(session, 'idle');
        continue;
      }
      if (session.streams > 0 && !session.pinging && quiet > this.settings.SESSION_PING_INTERVAL_MS) this.checkAlive(session);
      live.push(session);
    }
    return live;
  }

  /**
   * Asks a quiet session for a ping: a client that stopped reading or answering is closed instead
   * of holding a stream (and its buffers) forever.
   */
  private checkAlive(session: AgentSession): void {
    const timeout = this.settings.SESSION_PING_TIMEOUT_MS;
    session.pinging = true;
    session.server
      .request({ method: 'ping' }, { timeout })
      .then(() => session.touch())
      .catch(() => {
        if (this.deps.sessions.get(session.id) !== session) return;
        this.deps.metrics.sessionsClosed.inc({ reason: 'unresponsive' });
        this.close(session, `unresponsive: no answer to a ping within ${timeout} ms`);
      })
      .finally(() => (session.pinging = false));
  }

  /** Ends a session from this side: its streams and held calls end, the client has to initialize again. */
  close(session: AgentSession, why: string): void {
    this.end(session.id, why);
    void session.transport.close().catch(() => undefined);
  }

  private end(sessionId: string, why: string): void {
    const session = this.deps.sessions.remove(sessionId);
    if (!session) return;
    this.deps.logger.info({ agentId: session.agentId, sessionId, why }, 'session ended');
    void session.server.close().catch(() => undefined);
  }

  /** Resolves once every session's held calls have sent their answers (its only open response is its stream), or after `graceMs`. */
  async heldCallsAnswered(graceMs: number): Promise<void> {
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && this.deps.sessions.all().some((session) => session.openResponses > session.streams)) await sleep(20);
  }

  /** Closes the transport of every session (shutdown): each client opens a new session, on another replica. */
  async closeAll(sessions: readonly AgentSession[]): Promise<void> {
    await Promise.all(sessions.map((session) => session.transport.close().catch(() => undefined)));
  }
}
