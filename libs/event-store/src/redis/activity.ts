/**
 * Who used which endpoint lately, and what waits where (ActivityStore, and the controller's
 * adoption numbers from ControllerStore): per-shard activity sets by protocol and MCP generation,
 * and the shard census of the backlog.
 */
import { MCP_GENERATIONS, type McpGeneration } from '@agent-bridge/protocol';
import { fieldMap } from '../entry-codec.js';
import { ROUTER_GROUP } from '../keys.js';
import type { ActivityStore, ControllerStore } from '../store.js';
import type { ActiveAgentCounts, ActivitySighting, AgentActivity, ShardCensus } from '../types.js';
import type { RedisContext } from './context.js';

/** The protocol activity sets of a shard; the MCP generation sets follow them (`activitySets`). */
const ACTIVITY_KINDS = ['any', 'legacy', 'elicitation'] as const;

/** Members per ZADD of a batched activity write (a bounded command, however many agents a replica holds). */
const ACTIVITY_ZADD_SLICE = 1_000;

export class RedisActivity implements Omit<ActivityStore, 'recordUsage'>, Pick<ControllerStore, 'activeAgents' | 'activeAgentCounts'> {
  constructor(private readonly context: RedisContext) {}

  async recordActivity(agentId: string, activity: AgentActivity, at: number, generation?: McpGeneration): Promise<void> {
    await this.recordActivities([{ agentId, activity, at, ...(generation !== undefined ? { generation } : {}) }]);
  }

  async recordActivities(sightings: readonly ActivitySighting[]): Promise<void> {
    if (sightings.length === 0) return;
    const { keys } = this.context;
    // Per set, each agent's latest sighting: one ZADD per set (in slices), not one per agent.
    const bySet = new Map<string, Map<string, number>>();
    const note = (key: string, agentId: string, at: number) => {
      let members = bySet.get(key);
      if (!members) bySet.set(key, (members = new Map()));
      members.set(agentId, Math.max(members.get(agentId) ?? 0, at));
    };
    for (const { agentId, activity, at, generation } of sightings) {
      const shard = keys.shardOf(agentId);
      note(keys.activity(shard, 'any'), agentId, at);
      if (activity !== 'other') note(keys.activity(shard, activity), agentId, at);
      if (generation !== undefined) note(keys.generationActivity(shard, generation), agentId, at);
    }
    const pipeline = this.context.pipeline();
    for (const [key, members] of bySet) {
      const entries = [...members];
      for (let start = 0; start < entries.length; start += ACTIVITY_ZADD_SLICE) {
        // GT: a late write from another replica never moves an agent's last-seen time backwards.
        pipeline.zadd(key, 'GT', ...entries.slice(start, start + ACTIVITY_ZADD_SLICE).flatMap(([agentId, at]) => [at, agentId]));
      }
    }
    await this.context.exec('record activity', pipeline);
  }

  async shardCensus(shard: number, since: number): Promise<ShardCensus> {
    const { keys } = this.context;
    const sets = this.activitySets(shard);
    const pipeline = this.context.pipeline();
    // Forgetting what is older than the window keeps the sets as small as the active population.
    for (const key of sets) pipeline.zremrangebyscore(key, '-inf', `(${since}`).zcard(key);
    pipeline.xinfo('GROUPS', keys.events(shard)).xlen(keys.events(shard)).zcard(keys.openMessages(shard)).smembers(keys.pushAgents(shard)).xlen(keys.deadLetters(shard));
    const replies = (await this.context.call('shard census', () => pipeline.exec())) ?? [];
    const value = (index: number): unknown => {
      const [error, result] = replies[index] ?? [null, null];
      // A shard nobody wrote to yet has no events stream: XINFO fails with "no such key".
      if (error && !/no such key/i.test(error.message)) throw this.context.unavailable('shard census', error);
      return error ? null : result;
    };
    const activeAgents = activeAgentCountsOf(sets.map((_, i) => Number(value(i * 2 + 1))));
    const backlogAt = sets.length * 2;
    const eventsLength = Number(value(backlogAt + 1));
    const open = Number(value(backlogAt + 2));
    const pushAgents = (value(backlogAt + 3) as string[] | null) ?? [];
    const deadLetters = Number(value(backlogAt + 4) ?? 0);

    let events = eventsLength;
    for (const group of (value(backlogAt) as unknown[][] | null) ?? []) {
      const fields = fieldMap(group);
      if (fields.name !== ROUTER_GROUP) continue;
      // `lag` is nil when Redis cannot tell (after deletions); the stream length is then an upper bound.
      events = Number(fields.pending ?? 0) + (fields.lag === null || fields.lag === undefined ? eventsLength : Number(fields.lag));
      events = Math.min(events, eventsLength);
    }

    let push = 0;
    if (pushAgents.length > 0) {
      const lengths = this.context.pipeline();
      for (const agentId of pushAgents) lengths.xlen(keys.lane(agentId, 'push'));
      for (const length of await this.context.exec('push lane lengths', lengths)) push += Number(length);
    }
    // Every accepted message stays in the open set until it is delivered; what is neither waiting to
    // be routed nor in a push lane waits in a poll lane (delivered to a poll but not yet acked included).
    const poll = Math.max(0, open - events - push);
    return { activeAgents, backlog: { events, push, poll }, deadLetters };
  }

  async activeAgents(since: number, limit: number): Promise<Array<{ agentId: string; lastSeenAt: number }>> {
    const { keys } = this.context;
    const pipeline = this.context.pipeline();
    for (const shard of keys.allShards()) pipeline.zrevrangebyscore(keys.activity(shard, 'any'), '+inf', since, 'WITHSCORES', 'LIMIT', 0, limit);
    const agents: Array<{ agentId: string; lastSeenAt: number }> = [];
    for (const flat of await this.context.exec('active agents', pipeline)) {
      const list = flat as string[];
      for (let i = 0; i + 1 < list.length; i += 2) agents.push({ agentId: list[i]!, lastSeenAt: Number(list[i + 1]) });
    }
    return agents.sort((a, b) => b.lastSeenAt - a.lastSeenAt).slice(0, limit);
  }

  async activeAgentCounts(since: number): Promise<ActiveAgentCounts> {
    const { keys } = this.context;
    const sets = keys.allShards().map((shard) => this.activitySets(shard));
    const pipeline = this.context.pipeline();
    for (const key of sets.flat()) pipeline.zcount(key, since, '+inf');
    // Who used the legacy endpoint, to find those also on elicitation (bounded by the registered agents).
    for (const shard of keys.allShards()) pipeline.zrangebyscore(keys.activity(shard, 'legacy'), since, '+inf');
    const replies = await this.context.exec('active agents', pipeline);
    const counts = replies.slice(0, sets.flat().length);
    // An agent lives in one shard, so the shards' counts add up.
    const perShard = sets[0]!.length;
    const totals = new Array<number>(perShard).fill(0);
    counts.forEach((count, i) => (totals[i % perShard]! += Number(count)));
    const legacyMembers = replies.slice(sets.flat().length) as string[][];
    const scores = this.context.pipeline();
    keys.allShards().forEach((shard, i) => {
      if (legacyMembers[i]!.length > 0) scores.zmscore(keys.activity(shard, 'elicitation'), ...legacyMembers[i]!);
    });
    let both = 0;
    for (const reply of scores.length > 0 ? await this.context.exec('agents on both protocols', scores) : []) {
      for (const score of reply as Array<string | null>) if (score !== null && Number(score) >= since) both += 1;
    }
    return { ...activeAgentCountsOf(totals), both };
  }

  /** The sets a shard's active agents are counted in, in the order `activeAgentCountsOf` reads their counts. */
  private activitySets(shard: number): string[] {
    const { keys } = this.context;
    return [...ACTIVITY_KINDS.map((kind) => keys.activity(shard, kind)), ...MCP_GENERATIONS.map((generation) => keys.generationActivity(shard, generation))];
  }
}

/** Counts in `activitySets` order: the activity kinds, then one per MCP generation. */
function activeAgentCountsOf(counts: number[]): ActiveAgentCounts {
  const [any = 0, legacy = 0, elicitation = 0] = counts;
  const byGeneration = Object.fromEntries(MCP_GENERATIONS.map((generation, i) => [generation, counts[ACTIVITY_KINDS.length + i] ?? 0])) as Record<McpGeneration, number>;
  return { any, legacy, elicitation, byGeneration };
}
