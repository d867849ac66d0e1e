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

/** The service whose replicas hold the sessions presence records describe. */
const PRESENCE_SERVICE = 'elicitation';
/** How long the registry read for presence checks is reused; a session whose replica it lacks re-reads it if older than the second. */
const REGISTRY_CACHE_MS = 1_000;
const REGISTRY_MISS_MS = 100;
/** A presence hash lives at least this long after its last write (its sessions carry their own expiry). */
const PRESENCE_KEY_TTL_MS = 30 * 60 * 1000;
/** Agents whose presence-key expiry this process remembers setting, at most (beyond, the stale ones are forgotten). */
const KEY_EXPIRY_MEMORY = 100_000;

interface RegisteredReplica {
  url: string;
  expiresAt: number;
  instance?: string;
}

/** A session bound to a replica process is live while that very process is registered. */
function isLive(replicas: Map<string, RegisteredReplica>, session: Omit<PresenceSession, 'sessionId'>, now: number): boolean {
  const replica = replicas.get(session.replica);
  return replica !== undefined && replica.instance === session.instance && replica.expiresAt > now;
}

export class RedisPresence implements PresenceStore, ReplicaRegistry {
  private registryCache: { readAt: number; replicas: Map<string, RegisteredReplica> } | undefined;
  private registryRead: Promise<Map<string, RegisteredReplica>> | undefined;
  /** Per agent: when this process last set its presence key's expiry, and until when. */
  private readonly keyExpirySet = new Map<string, { at: number; until: number }>();

  constructor(private readonly context: RedisContext) {}

  async readPresence(agentIds: string[]): Promise<Map<string, PresenceSession[]>> {
    const result = new Map<string, PresenceSession[]>();
    if (agentIds.length === 0) return result;
    const pipeline = this.context.pipeline();
    for (const agentId of agentIds) pipeline.hgetall(this.context.keys.presence(agentId));
    const hashes = await this.context.exec('presence lookup', pipeline);
    const now = Date.now();
    let replicas: Map<string, RegisteredReplica> | undefined;
    for (const [i, agentId] of agentIds.entries()) {
      const sessions: PresenceSession[] = [];
      for (const [sessionId, json] of Object.entries((hashes[i] ?? {}) as Record<string, string>)) {
        let session: Omit<PresenceSession, 'sessionId'>;
        try {
          session = JSON.parse(json) as Omit<PresenceSession, 'sessionId'>;
        } catch {
          // A malformed presence entry is treated as absent: the agent is then served on its poll lane.
          continue;
        }
        if (!(session.expiresAt > now)) continue;
        if (session.instance !== undefined) {
          replicas ??= await this.presenceReplicas(now);
          if (!isLive(replicas, session, now)) {
            // Maybe registered since the registry was cached (a replica just started): look once more.
            replicas = await this.presenceReplicas(now, true);
            if (!isLive(replicas, session, now)) continue;
          }
        }
        sessions.push({ sessionId, ...session });
      }
      result.set(agentId, sessions);
    }
    return result;
  }

  /**
   * The elicitation replicas' registry, read at most once per REGISTRY_CACHE_MS (the router asks
   * for every batch it routes); `fresh` re-reads it unless it was read within REGISTRY_MISS_MS.
   */
  private async presenceReplicas(now: number, fresh = false): Promise<Map<string, RegisteredReplica>> {
    const cached = this.registryCache;
    const maxAge = fresh ? REGISTRY_MISS_MS : REGISTRY_CACHE_MS;
    if (cached && now - cached.readAt < maxAge) return cached.replicas;
    this.registryRead ??= this.context
      .call('replica registry', () => this.context.redis.hgetall(this.context.keys.replicas(PRESENCE_SERVICE)))
      .then((hash) => {
        const replicas = new Map<string, RegisteredReplica>();
        for (const [replicaId, json] of Object.entries(hash)) {
          try {
            replicas.set(replicaId, JSON.parse(json) as RegisteredReplica);
          } catch {
            // A malformed registration counts as no registration.
          }
        }
        this.registryCache = { readAt: Date.now(), replicas };
        return replicas;
      })
      .finally(() => (this.registryRead = undefined));
    return this.registryRead;
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
    // The hash lives at least PRESENCE_KEY_TTL_MS and as long as its longest-lived session; readers
    // ignore the expired sessions inside it. Its expiry is set again only when this process has not
    // set it for a third of that: a 2026-07-28 agent's presence, written at most every call, costs
    // one HSET, not two commands.
    // Pipelines of at most PRESENCE_BATCH agents: a replica with 10,000 sessions never builds one huge reply.
    for (let start = 0; start < agents.length; start += PRESENCE_BATCH) {
      const pipeline = this.context.pipeline();
      const now = Date.now();
      const expirySet: string[] = [];
      for (const [agentId, { fields, expiresAt }] of agents.slice(start, start + PRESENCE_BATCH)) {
        const key = this.context.keys.presence(agentId);
        pipeline.hset(key, ...fields);
        const ttlMs = Math.max(PRESENCE_KEY_TTL_MS, expiresAt - now);
        const set = this.keyExpirySet.get(agentId);
        if (set === undefined || now - set.at >= PRESENCE_KEY_TTL_MS / 3 || expiresAt > set.until) {
          pipeline.pexpire(key, ttlMs);
          expirySet.push(agentId);
          this.keyExpirySet.set(agentId, { at: now, until: now + ttlMs });
        }
      }
      try {
        await this.context.exec('record presences', pipeline);
      } catch (error) {
        for (const agentId of expirySet) this.keyExpirySet.delete(agentId);
        throw error;
      }
      if (this.keyExpirySet.size > KEY_EXPIRY_MEMORY) for (const [agentId, set] of this.keyExpirySet) if (now - set.at >= PRESENCE_KEY_TTL_MS / 3) this.keyExpirySet.delete(agentId);
    }
  }

  async removePresence(agentId: string, sessionId: string): Promise<void> {
    await this.context.call('remove presence', () => this.context.redis.hdel(this.context.keys.presence(agentId), sessionId));
  }

  async heartbeatReplica(service: string, replicaId: string, url: string, ttlMs: number, instance?: string): Promise<void> {
    const registration: RegisteredReplica = { url, expiresAt: Date.now() + ttlMs, ...(instance !== undefined ? { instance } : {}) };
    await this.context.call('replica heartbeat', () => this.context.redis.hset(this.context.keys.replicas(service), replicaId, JSON.stringify(registration)));
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
