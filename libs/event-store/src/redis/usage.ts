/**
 * The legacy inventory's usage (ActivityStore.recordUsage, ControllerStore.readAgentUsage): per
 * agent, when it was last seen by protocol and MCP generation, and its calls and messages per UTC
 * day. Unlike the activity sets the census prunes to minutes, these live USAGE_RETENTION_DAYS, and
 * each key expires on its own: nothing has to clean them up. Only authenticated agents are written,
 * so the keys are as many as the registered agents (times the days kept).
 */
import { DAY_MS, USAGE_RETENTION_DAYS } from '../keys.js';
import type { ActivityStore, ControllerStore } from '../store.js';
import type { AgentUsage, AgentUsageDelta, UsageCounter, UsageSeenKind } from '../types.js';
import type { RedisContext } from './context.js';

const RETENTION_MS = USAGE_RETENTION_DAYS * DAY_MS;

/** Agents per ZADD of a shard's usage list (a bounded command, however many agents one flush names). */
const USAGE_ZADD_SLICE = 1_000;

export class RedisUsage implements Pick<ActivityStore, 'recordUsage'>, Pick<ControllerStore, 'readAgentUsage'> {
  constructor(private readonly context: RedisContext) {}

  async recordUsage(deltas: readonly AgentUsageDelta[]): Promise<void> {
    if (deltas.length === 0) return;
    const { keys } = this.context;
    const pipeline = this.context.pipeline();
    // The shard lists the inventory starts from: one ZADD (and one expiry) per shard, not per agent.
    const listed = new Map<number, Array<string | number>>();
    for (const { agentId, seen, days, refreshExpiry = true } of deltas) {
      const seenEntries = Object.entries(seen) as Array<[UsageSeenKind, number]>;
      if (seenEntries.length > 0) {
        const seenKey = keys.usageSeen(agentId);
        // GT: a late flush from another replica never moves a last-seen time backwards.
        pipeline.zadd(seenKey, 'GT', ...seenEntries.flatMap(([kind, at]) => [at, kind]));
        if (refreshExpiry) pipeline.pexpire(seenKey, RETENTION_MS);
        const shard = keys.shardOf(agentId);
        let members = listed.get(shard);
        if (!members) listed.set(shard, (members = []));
        members.push(Math.max(...seenEntries.map(([, at]) => at)), agentId);
      }
      for (const [day, counters] of Object.entries(days)) {
        const dayKey = keys.usageDay(agentId, day);
        for (const [counter, count] of Object.entries(counters) as Array<[UsageCounter, number]>) if (count > 0) pipeline.hincrby(dayKey, counter, count);
        // Kept USAGE_RETENTION_DAYS after the day ended, whoever writes it last.
        if (refreshExpiry) pipeline.pexpireat(dayKey, Date.parse(`${day}T00:00:00Z`) + DAY_MS + RETENTION_MS);
      }
    }
    for (const [shard, members] of listed) {
      const agentsKey = keys.usageAgents(shard);
      for (let start = 0; start < members.length; start += 2 * USAGE_ZADD_SLICE) pipeline.zadd(agentsKey, 'GT', ...members.slice(start, start + 2 * USAGE_ZADD_SLICE));
      pipeline.pexpire(agentsKey, RETENTION_MS);
    }
    await this.context.exec('record usage', pipeline);
  }

  async readAgentUsage(since: number, days: readonly string[], limit: number): Promise<AgentUsage[]> {
    const { keys } = this.context;
    const listing = this.context.pipeline();
    for (const shard of keys.allShards()) {
      // An agent unseen for the whole retention has no usage keys left: forget it here too.
      listing.zremrangebyscore(keys.usageAgents(shard), '-inf', `(${Date.now() - RETENTION_MS}`);
      listing.zrevrangebyscore(keys.usageAgents(shard), '+inf', since, 'WITHSCORES', 'LIMIT', 0, limit);
    }
    const found: Array<{ agentId: string; at: number }> = [];
    (await this.context.exec('usage agents', listing)).forEach((reply, i) => {
      if (i % 2 === 0) return;
      const flat = reply as string[];
      for (let j = 0; j + 1 < flat.length; j += 2) found.push({ agentId: flat[j]!, at: Number(flat[j + 1]) });
    });
    const agents = found.sort((a, b) => b.at - a.at || (a.agentId < b.agentId ? -1 : 1)).slice(0, limit);
    if (agents.length === 0) return [];

    const details = this.context.pipeline();
    for (const { agentId } of agents) {
      details.zrange(keys.usageSeen(agentId), '0', '-1', 'WITHSCORES');
      for (const day of days) details.hgetall(keys.usageDay(agentId, day));
    }
    const replies = await this.context.exec('agent usage', details);
    const perAgent = 1 + days.length;
    return agents.map(({ agentId }, i) => {
      const flat = replies[i * perAgent] as string[];
      const seen: AgentUsage['seen'] = {};
      for (let j = 0; j + 1 < flat.length; j += 2) seen[flat[j] as UsageSeenKind] = Number(flat[j + 1]);
      const counted: AgentUsage['days'] = {};
      days.forEach((day, d) => {
        const hash = replies[i * perAgent + 1 + d] as Record<string, string>;
        const entries = Object.entries(hash);
        if (entries.length > 0) counted[day] = Object.fromEntries(entries.map(([counter, value]) => [counter, Number(value)]));
      });
      return { agentId, seen, days: counted };
    });
  }
}
