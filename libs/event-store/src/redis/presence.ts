/**
 * Who is connected where: an agent's live sessions (PresenceStore), written by the elicitation
 * replicas' heartbeat and read by the router, and the replicas themselves (ReplicaRegistry), so a
 * replica can forward a request for a session it does not own.
 */
import type { PresenceStore, ReplicaRegistry } from '../store.js';
import type { PresenceSession } from '../types.js';
import type { RedisContext } from './context.js';

/** Agents per pipeline of a batched presence refresh. */
const PRESENCE_BATCH = 500;

export class RedisPresence implements PresenceStore, ReplicaRegistry {
  constructor(private readonly context: RedisContext) {}

  async readPresence(agentIds: string[]): Promise<Map<string, PresenceSession[]>> {
    const result = new Map<string, PresenceSession[]>();
    if (agentIds.length === 0) return result;
    const pipeline = this.context.pipeline();
    for (const agentId of agentIds) pipeline.hgetall(this.context.keys.presence(agentId));
    const hashes = await this.context.exec('presence lookup', pipeline);
    const now = Date.now();
    agentIds.forEach((agentId, i) => {
      const sessions: PresenceSession[] = [];
      for (const [sessionId, json] of Object.entries((hashes[i] ?? {}) as Record<string, string>)) {
        try {
          const session = JSON.parse(json) as Omit<PresenceSession, 'sessionId'>;
          if (session.expiresAt > now) sessions.push({ sessionId, ...session });
        } catch {
          // A malformed presence entry is treated as absent: the agent is then served on its poll lane.
        }
      }
      result.set(agentId, sessions);
    });
    return result;
  }

  async recordPresence(agentId: string, session: PresenceSession): Promise<void> {
    await this.recordPresences([{ agentId, session }]);
  }

  async recordPresences(entries: ReadonlyArray<{ agentId: string; session: PresenceSession }>): Promise<void> {
    const byAgent = new Map<string, { fields: string[]; expiresAt: number }>();
    for (const { agentId, session } of entries) {
      const { sessionId, ...rest } = session;
      let agent = byAgent.get(agentId);
      if (!agent) byAgent.set(agentId, (agent = { fields: [], expiresAt: 0 }));
      agent.fields.push(sessionId, JSON.stringify(rest));
      agent.expiresAt = Math.max(agent.expiresAt, session.expiresAt);
    }
    const agents = [...byAgent];
    // The hash expires with its longest-lived session; expired sessions inside it are ignored by readers.
    // Pipelines of at most PRESENCE_BATCH agents: a replica with 10,000 sessions never builds one huge reply.
    for (let start = 0; start < agents.length; start += PRESENCE_BATCH) {
      const pipeline = this.context.pipeline();
      const now = Date.now();
      for (const [agentId, { fields, expiresAt }] of agents.slice(start, start + PRESENCE_BATCH)) {
        const key = this.context.keys.presence(agentId);
        pipeline.hset(key, ...fields).pexpire(key, Math.max(1, expiresAt - now));
      }
      await this.context.exec('record presences', pipeline);
    }
  }

  async removePresence(agentId: string, sessionId: string): Promise<void> {
    await this.context.call('remove presence', () => this.context.redis.hdel(this.context.keys.presence(agentId), sessionId));
  }

  async heartbeatReplica(service: string, replicaId: string, url: string, ttlMs: number): Promise<void> {
    await this.context.call('replica heartbeat', () => this.context.redis.hset(this.context.keys.replicas(service), replicaId, JSON.stringify({ url, expiresAt: Date.now() + ttlMs })));
  }

  async removeReplica(service: string, replicaId: string): Promise<void> {
    await this.context.call('replica leave', () => this.context.redis.hdel(this.context.keys.replicas(service), replicaId));
  }

  async lookupReplica(service: string, replicaId: string): Promise<string | null> {
    const json = await this.context.call('replica lookup', () => this.context.redis.hget(this.context.keys.replicas(service), replicaId));
    if (!json) return null;
    const { url, expiresAt } = JSON.parse(json) as { url: string; expiresAt: number };
    return expiresAt > Date.now() ? url : null;
  }
}
