/**
 * What idle agents cost a replica and Redis, read the same way by bench/sessions.ts and
 * bench/scale.ts: the replica's memory after a full GC (bench/memory-probe-preload.mjs), and Redis
 * calls by command from INFO commandstats (those run inside Lua scripts included).
 */
import type { ServiceHandle } from '@agent-bridge/testkit';
import type { Redis } from 'ioredis';

export interface Memory {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

/** Full GC in the service, then its process.memoryUsage() (bench/memory-probe-preload.mjs); `timeoutMs` for a busy service's answer. */
export async function probeMemory(service: ServiceHandle, timeoutMs = 10_000): Promise<Memory> {
  const line = service.waitForLog(/^memory-probe(-error)? /, timeoutMs, { includeExisting: false });
  process.kill(service.pid, 'SIGUSR2');
  const text = await line;
  if (text.startsWith('memory-probe-error')) throw new Error(`the memory probe of ${service.name} failed: ${text}`);
  return JSON.parse(text.slice('memory-probe '.length)) as Memory;
}

/**
 * Memory the process holds: RSS less the free part of the V8 heap (heapTotal − heapUsed). How much
 * free heap V8 keeps reserved follows its sizing heuristics (it grows the heap ahead of allocation
 * and shrinks it again seconds after allocation stops), not what the sessions hold, and it moves
 * RSS by tens of MB either way between two probes; what is left is the live heap plus everything
 * outside it (sockets, HTTP parsers, buffers, malloc).
 */
export const memoryOf = (m: Memory, key: keyof Memory | 'held'): number => (key === 'held' ? m.rss - (m.heapTotal - m.heapUsed) : m[key]);

/** Calls so far by command (INFO commandstats). */
export async function commandStats(redis: Redis): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  for (const match of (await redis.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(match[1]!, Number(match[2]));
  return calls;
}

/** Calls by command between two commandstats readings; the benchmark's own `info` (and `client`, its CLIENT LIST) left out. */
export function callsBetween(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const calls = new Map<string, number>();
  for (const [name, count] of after) {
    if (name === 'info' || name === 'client|list') continue;
    const delta = count - (before.get(name) ?? 0);
    if (delta > 0) calls.set(name, delta);
  }
  return calls;
}

export const usedMemory = async (redis: Redis): Promise<number> => Number(/^used_memory:(\d+)/m.exec(await redis.info('memory'))?.[1] ?? Number.NaN);
