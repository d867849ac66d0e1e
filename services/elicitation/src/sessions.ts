import type { NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import type { Server } from '@modelcontextprotocol/server';

/** One MCP session held by this replica. */
export class AgentSession {
  /** Open GET streams (0 or 1): server-to-client requests, such as elicitations, travel only on them. */
  streams = 0;
  /** Responses of this session still open: its GET stream and held POSTs (an `elicit`, a long poll). */
  openResponses = 0;
  /** The last time the client showed it is alive: a request, a stream closing, an answered ping. */
  lastSeenAt = Date.now();
  /** A liveness ping is on its way (at most one at a time). */
  pinging = false;
  elicitation = { form: false, url: false };

  constructor(
    readonly id: string,
    readonly agentId: string,
    readonly server: Server,
    readonly transport: NodeStreamableHTTPServerTransport,
  ) {}

  /** Can this session receive a pushed form elicitation right now? */
  get canPush(): boolean {
    return this.elicitation.form && this.streams > 0;
  }

  /** Nothing of this session is in flight: closing it interrupts no call and no stream. */
  get idle(): boolean {
    return this.openResponses === 0;
  }

  touch(): void {
    this.lastSeenAt = Date.now();
  }
}

export type SessionChange = 'added' | 'removed' | 'changed';

/**
 * The sessions this replica owns, by id and by agent. Every change is reported for the one session
 * it concerns, so the work it causes does not grow with the number of sessions an agent holds.
 */
export class SessionRegistry {
  private readonly byId = new Map<string, AgentSession>();
  private readonly byAgent = new Map<string, Set<AgentSession>>();

  constructor(private readonly onChange: (session: AgentSession, change: SessionChange) => void) {}

  get(sessionId: string): AgentSession | undefined {
    return this.byId.get(sessionId);
  }

  add(session: AgentSession): void {
    this.byId.set(session.id, session);
    let set = this.byAgent.get(session.agentId);
    if (!set) this.byAgent.set(session.agentId, (set = new Set()));
    set.add(session);
    this.onChange(session, 'added');
  }

  remove(sessionId: string): AgentSession | undefined {
    const session = this.byId.get(sessionId);
    if (!session) return undefined;
    this.byId.delete(sessionId);
    const set = this.byAgent.get(session.agentId);
    set?.delete(session);
    if (set?.size === 0) this.byAgent.delete(session.agentId);
    this.onChange(session, 'removed');
    return session;
  }

  changed(session: AgentSession): void {
    this.onChange(session, 'changed');
  }

  /** The session to push to: the most recently active one that can receive elicitations. */
  pushSession(agentId: string): AgentSession | undefined {
    let best: AgentSession | undefined;
    for (const session of this.byAgent.get(agentId) ?? []) {
      if (session.canPush && (!best || session.lastSeenAt > best.lastSeenAt)) best = session;
    }
    return best;
  }

  /** Whether any session of the agent declared form elicitation (it then needs a push deliverer). */
  wantsPush(agentId: string): boolean {
    for (const session of this.byAgent.get(agentId) ?? []) if (session.elicitation.form) return true;
    return false;
  }

  /** The agent's least recently seen session with nothing in flight, if any. */
  oldestIdle(agentId: string): AgentSession | undefined {
    let oldest: AgentSession | undefined;
    for (const session of this.byAgent.get(agentId) ?? []) {
      if (session.idle && (!oldest || session.lastSeenAt < oldest.lastSeenAt)) oldest = session;
    }
    return oldest;
  }

  countOf(agentId: string): number {
    return this.byAgent.get(agentId)?.size ?? 0;
  }

  all(): AgentSession[] {
    return [...this.byId.values()];
  }

  get size(): number {
    return this.byId.size;
  }
}
