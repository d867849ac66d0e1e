/** Consumer-group chores shared by the shard events streams and the push lanes. */
import { fieldMap } from '../entry-codec.js';
import type { RedisContext } from './context.js';

export async function ensureGroup(context: RedisContext, key: string, group: string): Promise<void> {
  try {
    await context.redis.xgroup('CREATE', key, group, '0', 'MKSTREAM');
  } catch (error) {
    if (!(error instanceof Error && error.message.startsWith('BUSYGROUP'))) throw context.unavailable(`create group ${group}`, error);
  }
}

/**
 * Moves every pending entry of the group to `consumer`, whatever its idle time: callers hold the
 * lease that makes them the stream's only consumer, so the previous owner is dead or fenced.
 */
export async function claimAll(context: RedisContext, key: string, group: string, consumer: string): Promise<number> {
  let start = '0-0';
  let claimed = 0;
  do {
    const reply = (await context.call('xautoclaim', () => context.redis.xautoclaim(key, group, consumer, '0', start, 'COUNT', 500, 'JUSTID'))) as [string, string[]];
    start = reply[0];
    claimed += reply[1].length;
  } while (start !== '0-0');
  return claimed;
}

/** The consumers of a stream's group (XINFO CONSUMERS, whose replies are flat name/value lists). */
export async function consumersOf(context: RedisContext, key: string, group: string): Promise<Array<{ name: string; pending: number; idle: number }>> {
  const consumers = (await context.call('xinfo consumers', () => context.redis.xinfo('CONSUMERS', key, group))) as unknown[][];
  return consumers.map((flat) => {
    const info = fieldMap(flat);
    return { name: String(info.name), pending: Number(info.pending), idle: Number(info.idle) };
  });
}

export async function deleteConsumer(context: RedisContext, key: string, group: string, consumer: string): Promise<void> {
  await context.call('xgroup delconsumer', () => context.redis.xgroup('DELCONSUMER', key, group, consumer));
}

/** Reads the group's pending entries of `consumer` ('pending') or entries never delivered ('new'); deleted entries come back as null fields. */
export async function readGroup(context: RedisContext, what: string, key: string, group: string, consumer: string, which: 'pending' | 'new', count: number): Promise<Array<[string, string[] | null]>> {
  const reply = (await context.call(what, () => context.redis.xreadgroup('GROUP', group, consumer, 'COUNT', count, 'STREAMS', key, which === 'new' ? '>' : '0'))) as Array<[string, Array<[string, string[] | null]>]> | null;
  return reply?.[0]?.[1] ?? [];
}
