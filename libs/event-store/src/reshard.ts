/**
 * Changing the shard count of a drained, stopped store (docs/operations.md, "Changing the shard
 * count"; decision 0028): each agent's own keys move to its shard under the new count, with their
 * contents and expiries, so its cursor, sequence numbers, idempotency keys, quota and inventory
 * usage carry over. Run by `bridgectl reshard`, which checks first that nothing runs and nothing is
 * in flight (`reshardBlockers`): a message still in an events stream, a lane or the ledger's open
 * set would be left under keys nobody reads.
 */
import type { Cluster, Redis } from 'ioredis';
import type { RedisClient } from './connection.js';
import { Keys } from './keys.js';
import type { ActivityStore } from './store.js';

/** The shapes of an agent's own keys after `<prefix>:{sN}:` (the agent id has no ':'; what follows it may). */
const AGENT_KEY = /^(lane:poll|lane:push|mailbox|presence|quota|sends|pushlease|pushfence|usage:seen|usage:day|idem):([A-Za-z0-9][A-Za-z0-9._-]{0,127})(:.*)?$/;

export interface ReshardReport {
  from: number;
  to: number;
  /** Agents with at least one key of their own (whether it moved or not). */
  agents: number;
  /** Keys moved to another shard, by kind (`mailbox`, `idem`, …). */
  moved: Record<string, number>;
  /** Agents listed in the shards' usage lists (the inventory's starting point), listed again by their new shard. */
  usageListed: number;
  /** Keys of shards the new count no longer has that stay behind (dead letters, communication log, counters, ledger records of delivered messages). */
  leftBehind: number;
  dryRun: boolean;
}

/**
 * Why the store cannot be resharded now (empty: it can): a live router, elicitation replica or push
 * holder, or anything accepted and not yet delivered and acknowledged.
 */
export async function reshardBlockers(store: Pick<ActivityStore, 'shardCensus'>, redis: RedisClient, keys: Keys): Promise<string[]> {
  const blockers: string[] = [];
  const now = Date.now();
  const routers = await redis.zrangebyscore(keys.routerMembers(), now, '+inf');
  if (routers.length > 0) blockers.push(`router replicas are running (${routers.join(', ')}): stop every service first`);
  const replicas = Object.entries(await redis.hgetall(keys.replicas('elicitation'))).filter(([, json]) => {
    try {
      return (JSON.parse(json) as { expiresAt: number }).expiresAt > now;
    } catch {
      return false;
    }
  });
  if (replicas.length > 0) blockers.push(`elicitation replicas are registered (${replicas.map(([id]) => id).join(', ')}): stop every service first`);
  const holders = await scanKeys(redis, `${keys.prefix}:{control}:push:holder:*`);
  if (holders.length > 0) blockers.push(`${holders.length} elicitation process(es) still hold push leases: stop every service first`);
  // The census's backlog (what the routers' own shard census counts): not routed, on push lanes, and
  // delivered to a poll lane but not acknowledged; all of it is in the ledger's open set.
  for (const shard of keys.allShards()) {
    const { backlog } = await store.shardCensus(shard, now);
    if (backlog.events > 0) blockers.push(`shard ${shard} has ${backlog.events} accepted message(s) not routed yet`);
    const open = backlog.events + backlog.push + backlog.poll;
    if (open > 0) blockers.push(`shard ${shard} has ${open} message(s) not delivered and acknowledged yet`);
    if (backlog.push > 0) blockers.push(`shard ${shard} has ${backlog.push} message(s) on push lanes`);
  }
  return blockers;
}

/**
 * Moves every agent's own keys to its shard under `toCount` and lists the inventory's agents
 * again; the activity sets (minutes of history) are dropped, the rest of the old shards' keys stay.
 * Records the new count in the layout last. Call only when `reshardBlockers` is empty.
 */
export async function reshardStore(redis: RedisClient, from: Keys, toCount: number, options: { dryRun?: boolean } = {}): Promise<ReshardReport> {
  const to = new Keys(toCount, from.prefix);
  const dryRun = options.dryRun === true;
  const report: ReshardReport = { from: from.shardCount, to: toCount, agents: 0, moved: {}, usageListed: 0, leftBehind: 0, dryRun };
  const agents = new Set<string>();
  const tagged = new RegExp(`^${escapeRegExp(from.prefix)}:\\{s(\\d+)\\}:(.*)$`);
  for (const key of await scanKeys(redis, `${from.prefix}:{s*}:*`)) {
    const match = tagged.exec(key);
    if (!match) continue;
    const shard = Number(match[1]);
    const rest = match[2]!;
    const own = AGENT_KEY.exec(rest);
    if (!own) {
      if (rest.startsWith('activity:')) {
        if (!dryRun) await redis.del(key);
      } else if (shard >= toCount && !rest.startsWith('usage:agents')) report.leftBehind++;
      continue;
    }
    const [, kind, agentId] = own as unknown as [string, string, string];
    agents.add(agentId);
    if (from.shardOf(agentId) !== shard) continue; // not where this layout puts it: not ours to move
    const target = to.shardOf(agentId);
    if (target === shard) continue;
    const destination = `${from.prefix}:{s${target}}:${rest}`;
    report.moved[kind] = (report.moved[kind] ?? 0) + 1;
    if (!dryRun) await moveKey(redis, key, destination);
  }
  report.agents = agents.size;

  // The inventory starts from the shards' usage lists: every agent goes to its new shard's list.
  const listed = new Map<number, Array<string | number>>();
  for (const shard of from.allShards()) {
    const flat = await redis.zrange(from.usageAgents(shard), '0', '-1', 'WITHSCORES');
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const agentId = flat[i]!;
      const members = listed.get(to.shardOf(agentId)) ?? [];
      members.push(Number(flat[i + 1]), agentId);
      listed.set(to.shardOf(agentId), members);
      report.usageListed++;
    }
  }
  if (!dryRun) {
    const ttls = await Promise.all(from.allShards().map((shard) => redis.pttl(from.usageAgents(shard))));
    const ttlMs = Math.max(1, ...ttls);
    for (const shard of from.allShards()) await redis.del(from.usageAgents(shard));
    for (const [shard, members] of listed) {
      for (let start = 0; start < members.length; start += 2_000) await redis.zadd(to.usageAgents(shard), 'GT', ...members.slice(start, start + 2_000));
      await redis.pexpire(to.usageAgents(shard), ttlMs);
    }
    await redis.hset(from.layout(), 'shard_count', String(toCount));
  }
  return report;
}

/** DUMP, RESTORE with the same expiry under the new name, then DEL: works across slots and nodes. */
async function moveKey(redis: RedisClient, key: string, destination: string): Promise<void> {
  const [dump, ttl] = await Promise.all([redis.dumpBuffer(key), redis.pttl(key)]);
  if (dump === null) return; // expired meanwhile
  if ((await redis.exists(destination)) === 1) throw new Error(`cannot move ${key}: ${destination} exists already (a reshard interrupted and started again with other counts?); look at both keys before retrying`);
  await redis.restore(destination, ttl > 0 ? ttl : 0, dump);
  await redis.del(key);
}

/** Every key matching `pattern`, on every primary of a cluster. */
async function scanKeys(redis: RedisClient, pattern: string): Promise<string[]> {
  const nodes: Redis[] = redis.isCluster ? (redis as Cluster).nodes('master') : [redis as Redis];
  const found: string[] = [];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000);
      found.push(...batch);
      cursor = next;
    } while (cursor !== '0');
  }
  return [...new Set(found)];
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
