import type { NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import type { Server } from '@modelcontextprotocol/server';

/** One MCP session held by this replica. */
export class AgentSession {
  /** Open GET streams (0 or 1): server-to-client requests, such as elicitations, travel only on them. */
  streams = 0;
  lastSeenAt = Date.now();
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

  touch(): void {
    this.lastSeenAt = Date.now();
  }
}

/** The sessions this replica owns, by id and by agent. */
export class SessionRegistry {
  private readonly byId = new Map<string, AgentSession>();
  private readonly byAgent = new Map<string, Set<AgentSession>>();

  constructor(private readonly onAgentChanged: (agentId: string) => void) {}

  get(sessionId: string): AgentSession | undefined {
    return this.byId.get(sessionId);
  }

  add(session: AgentSession): void {
    this.byId.set(session.id, session);
    let set = this.byAgent.get(session.agentId);
    if (!set) this.byAgent.set(session.agentId, (set = new Set()));
    set.add(session);
    this.onAgentChanged(session.agentId);
  }

  remove(sessionId: string): AgentSession | undefined {
    const session = this.byId.get(sessionId);
    if (!session) return undefined;
    this.byId.delete(sessionId);
    const set = this.byAgent.get(session.agentId);
    set?.delete(session);
    if (set?.size === 0) this.byAgent.delete(session.agentId);
    this.onAgentChanged(session.agentId);
    return session;
  }

  changed(session: AgentSession): void {
    this.onAgentChanged(session.agentId);
  }

  /** The session to push to: the most recently active one that can receive elicitations. */
  pushSession(agentId: string): AgentSession | undefined {
    let best: AgentSession | undefined;
    for (const session of this.byAgent.get(agentId) ?? []) {
      if (session.canPush && (!best || session.lastSeenAt > best.lastSeenAt)) best = session;
    }
    return best;
  }

  sessionsOf(agentId: string): AgentSession[] {
    return [...(this.byAgent.get(agentId) ?? [])];
  }

  all(): AgentSession[] {
    return [...this.byId.values()];
  }

  get size(): number {
    return this.byId.size;
  }
}
