import { randomBytes } from 'node:crypto';
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
 * How long a session's presence record lives without a refresh. Its liveness comes from the
 * replica's registration (PRESENCE_TTL_MS), which the record is bound to by the process's boot id;
 * the record's own expiry only clears what a crashed replica left, so it is refreshed every third
 * of this: one write per idle session every ten minutes instead of one every ten seconds.
 */
const PRESENCE_RECORD_TTL_MS = 30 * 60 * 1000;

/**
 * What the rest of the system knows about this replica's sessions: the presence record of each
 * (the router pushes only to an agent with a live, elicitation-capable session), the replica's
 * address in the registry (so other replicas can relay requests of its sessions), and the agent's
 * activity. The registration expires after PRESENCE_TTL_MS and is refreshed every third of it; a
 * session's record is written when the session changes, names this process, and counts only while
 * this process is registered — so a replica that dies takes its sessions' presence with it within
 * PRESENCE_TTL_MS, however long the records themselves live.
 */
export class PresenceHeartbeat {
  private timer: NodeJS.Timeout | undefined;
  private beating = false;
  /** This process (a restarted replica keeps its REPLICA_ID but not this): what presence records are bound to. */
  readonly instance = randomBytes(8).toString('hex');
  /** When each live session's record was last written. */
  private readonly writtenAt = new Map<string, number>();
  /** Sessions that ended but whose record could not be removed yet: tried again each beat. */
  private readonly toRemove = new Map<string, string>();

  constructor(
    private readonly settings: Pick<ElicitationConfig, 'REPLICA_ID' | 'PRESENCE_TTL_MS'>,
    private readonly deps: PresenceHeartbeatDeps,
  ) {}

  /** Records one session's presence now (after a change of it: only its own, whatever the agent holds). */
  async record(session: AgentSession): Promise<void> {
    this.saw(session);
    this.toRemove.delete(session.id);
    try {
      const writtenAt = Date.now();
      await this.deps.store.recordPresence(session.agentId, this.presenceOf(session, writtenAt));
      this.writtenAt.set(session.id, writtenAt);
    } catch (error) {
      this.writtenAt.delete(session.id);
      this.deps.logger.warn({ err: error, agentId: session.agentId }, 'cannot record presence');
    }
  }

  /** A session ended: its record goes now, or at the next beats until Redis takes the removal. */
  async removed(session: AgentSession): Promise<void> {
    this.writtenAt.delete(session.id);
    try {
      await this.deps.store.removePresence(session.agentId, session.id);
    } catch {
      this.toRemove.set(session.id, session.agentId);
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

  /**
   * One tick: the replica's registration (what keeps every session's presence live), removals that
   * failed before, then the records due a refresh in one batch; a tick still running is not overlapped.
   */
  private async beat(advertisedUrl: string): Promise<void> {
    const { store, service, logger } = this.deps;
    if (this.beating) return;
    this.beating = true;
    try {
      await store.heartbeatReplica(service, this.settings.REPLICA_ID, advertisedUrl, this.settings.PRESENCE_TTL_MS, this.instance);
    } catch (error) {
      logger.warn({ err: error }, 'replica heartbeat failed');
    }
    for (const [sessionId, agentId] of this.toRemove) {
      await store
        .removePresence(agentId, sessionId)
        .then(() => this.toRemove.delete(sessionId))
        .catch(() => undefined);
    }
    try {
      const now = Date.now();
      const live = this.deps.liveSessions();
      const liveIds = new Set(live.map((session) => session.id));
      for (const sessionId of this.writtenAt.keys()) if (!liveIds.has(sessionId)) this.writtenAt.delete(sessionId);
      const due = live.filter((session) => {
        this.saw(session);
        return now - (this.writtenAt.get(session.id) ?? 0) >= PRESENCE_RECORD_TTL_MS / 3;
      });
      await store.recordPresences(due.map((session) => ({ agentId: session.agentId, session: this.presenceOf(session, now) })));
      for (const session of due) this.writtenAt.set(session.id, now);
    } catch (error) {
      logger.warn({ err: error }, 'cannot refresh presence');
    } finally {
      this.beating = false;
    }
  }

  private presenceOf(session: AgentSession, now: number): PresenceSession {
    return {
      sessionId: session.id,
      replica: this.settings.REPLICA_ID,
      elicitation: session.elicitation,
      streamOpen: session.streams > 0,
      expiresAt: now + PRESENCE_RECORD_TTL_MS,
      instance: this.instance,
    };
  }

  /** The session's agent is active (throttled per agent by the recorder). */
  private saw(session: AgentSession): void {
    this.deps.activity.saw(session.agentId, session.elicitation.form ? 'elicitation' : 'other', '2025-11-25');
  }
}
