import { Cluster, type Redis } from 'ioredis';
import type { RedisClient } from './connection.js';

/**
 * How durable the bridge requires Redis to be (REDIS_REQUIRED_APPENDFSYNC): `always` (every write
 * is on disk before Redis answers, so an acknowledged message survives a crash of the Redis host),
 * `everysec` (AOF on, fsync at least every second: a host crash loses up to the last second), or
 * `none` (no check).
 */
export type RequiredAppendfsync = 'always' | 'everysec' | 'none';

export interface DurabilityCheck {
  /** What Redis said: `appendonly` on or off, and its `appendfsync`; undefined where it would not say. */
  observed: { appendonly?: boolean; appendfsync?: string };
  /** The sentence to stop the service with, when Redis is less durable than required. */
  problem?: string;
  /** Set when Redis refused to say (CONFIG disabled, as on some managed services): a warning, not a stop. */
  unverified?: string;
}

const STRENGTH: Record<string, number> = { no: 0, everysec: 1, always: 2 };

/**
 * Reads Redis's persistence settings and compares them with what is required. `appendonly` comes
 * from INFO persistence (always allowed), `appendfsync` from CONFIG GET (which managed services
 * may refuse: then the answer is unverified rather than wrong). On a Redis Cluster every node is
 * read, replicas included (one promoted in a failover must be as durable as the primary it replaces).
 */
export async function checkDurability(redis: RedisClient, required: RequiredAppendfsync): Promise<DurabilityCheck> {
  if (required === 'none') return { observed: {} };
  if (!(redis instanceof Cluster)) return checkNode(redis, required);
  // A cluster: every node, replicas too (a replica promoted in a failover must be as durable).
  const nodes = redis.nodes('all');
  const checks = await Promise.all(nodes.map(async (node) => ({ at: `${node.options.host}:${node.options.port}`, check: await checkNode(node, required) })));
  const failed = checks.find(({ check }) => check.problem);
  if (failed) return { observed: failed.check.observed, problem: `Redis Cluster node ${failed.at}: ${failed.check.problem}` };
  const unverified = checks.find(({ check }) => check.unverified);
  if (unverified) return { observed: unverified.check.observed, unverified: `Redis Cluster node ${unverified.at}: ${unverified.check.unverified}` };
  return { observed: checks[0]?.check.observed ?? {} };
}

async function checkNode(redis: Redis, required: Exclude<RequiredAppendfsync, 'none'>): Promise<DurabilityCheck> {
  const info = await redis.info('persistence');
  const aof = /^aof_enabled:(\d)/m.exec(info)?.[1];
  const observed: DurabilityCheck['observed'] = aof === undefined ? {} : { appendonly: aof === '1' };
  const fix = `set it on Redis (redis.conf, or CONFIG SET then CONFIG REWRITE) or, knowing what it risks, lower REDIS_REQUIRED_APPENDFSYNC (docs/event-store.md, "Durability")`;
  if (observed.appendonly === false) {
    return { observed, problem: `Redis runs without AOF (appendonly no), so a Redis restart loses accepted messages; REDIS_REQUIRED_APPENDFSYNC is ${required}: turn on appendonly yes with appendfsync ${required}, ${fix}.` };
  }
  let appendfsync: string | undefined;
  try {
    const reply = (await redis.config('GET', 'appendfsync')) as string[];
    appendfsync = reply[1];
  } catch (error) {
    return { observed, unverified: `Redis would not say its appendfsync (${(error as Error).message}); REDIS_REQUIRED_APPENDFSYNC is ${required} and cannot be checked: make sure the Redis service is configured with it.` };
  }
  if (appendfsync === undefined) return { observed, unverified: `Redis gave no appendfsync; REDIS_REQUIRED_APPENDFSYNC ${required} cannot be checked.` };
  observed.appendfsync = appendfsync;
  if ((STRENGTH[appendfsync] ?? 0) < STRENGTH[required]!) {
    return { observed, problem: `Redis runs with appendfsync ${appendfsync}, less durable than REDIS_REQUIRED_APPENDFSYNC ${required}: ${fix}.` };
  }
  return { observed };
}
