import type { EventStore, PresenceSession } from '@agent-bridge/event-store';
import type { Logger } from '@agent-bridge/observability';
import type { ActivityRecorder } from '@agent-bridge/service-kit';
import type { ElicitationConfig } from './config.js';
import type { AgentSession } from './sessions.js';

export interface PresenceHeartbeatDeps {
  service: string;
  store: Pick<EventStore, 'heartbeatReplica' | 'removeReplica' | 'recordPresence' | 'recordPresences' | 'removePresence'>;
  activity: ActivityRecorder;
  logger: Logger;
  /** The sessions still held, asked once per tick (it may close the ones that went quiet first). */
  liveSessions: () => AgentSession[];
}

/**
 * What the rest of the system knows about this replica's sessions: the presence record of each
 * (the router pushes only to an agent with a live, elicitation-capable session), the replica's
 * address in the registry (so other replicas can relay requests of its sessions), and the agent's
 * activity. Records expire after PRESENCE_TTL_MS and are refreshed every third of it.
 */
export class PresenceHeartbeat {
  private timer: NodeJS.Timeout | undefined;
  private beating = false;

  constructor(
    private readonly settings: Pick<ElicitationConfig, 'REPLICA_ID' | 'PRESENCE_TTL_MS'>,
    private readonly deps: PresenceHeartbeatDeps,
  ) {}

  /** Records one session's presence now (after a change of it: only its own, whatever the agent holds). */
  async record(session: AgentSession): Promise<void> {
    this.saw(session);
    try {
      await this.deps.store.recordPresence(session.agentId, this.presenceOf(session));
    } catch (error) {
      this.deps.logger.warn({ err: error, agentId: session.agentId }, 'cannot record presence');
    }
  }

  /** Beats once, then every third of PRESENCE_TTL_MS, advertising the replica at `advertisedUrl`. */
  async start(advertisedUrl: string): Promise<void> {
    await this.beat(advertisedUrl);
    this.timer = setInterval(() => void this.beat(advertisedUrl), Math.floor(this.settings.PRESENCE_TTL_MS / 3));
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Shutdown: the replica leaves the registry and the sessions' presence goes, so nothing more is routed to them here. */
  async leave(sessions: readonly AgentSession[]): Promise<void> {
    const { store, service } = this.deps;
    await store.removeReplica(service, this.settings.REPLICA_ID).catch(() => undefined);
    await Promise.all(sessions.map((session) => store.removePresence(session.agentId, session.id).catch(() => undefined)));
  }

  /** One tick: the replica's registration, then every live session's presence in one batch; a tick still running is not overlapped. */
  private async beat(advertisedUrl: string): Promise<void> {
    const { store, service, logger } = this.deps;
    if (this.beating) return;
    this.beating = true;
    try {
      await store.heartbeatReplica(service, this.settings.REPLICA_ID, advertisedUrl, this.settings.PRESENCE_TTL_MS);
    } catch (error) {
      logger.warn({ err: error }, 'replica heartbeat failed');
    }
    try {
      const live = this.deps.liveSessions().map((session) => {
        this.saw(session);
        return { agentId: session.agentId, session: this.presenceOf(session) };
      });
      await store.recordPresences(live);
    } catch (error) {
      logger.warn({ err: error }, 'cannot refresh presence');
    } finally {
      this.beating = false;
    }
  }

  private presenceOf(session: AgentSession): PresenceSession {
    return {
      sessionId: session.id,
      replica: this.settings.REPLICA_ID,
      elicitation: session.elicitation,
      streamOpen: session.streams > 0,
      expiresAt: Date.now() + this.settings.PRESENCE_TTL_MS,
    };
  }

  /** The session's agent is active (throttled per agent by the recorder). */
  private saw(session: AgentSession): void {
    this.deps.activity.saw(session.agentId, session.elicitation.form ? 'elicitation' : 'other', '2025-11-25');
  }
}
