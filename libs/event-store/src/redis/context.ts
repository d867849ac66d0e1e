/**
 * What every part of the Redis event store shares: the command connection, the key builder, the
 * Lua scripts, the options, and the one place a Redis failure becomes a StoreError.
 */
import { Cluster, type Redis } from 'ioredis';
import type { RedisClient } from '../connection.js';
import { StoreError } from '../errors.js';
import { withDeadline } from '../deadline.js';
import { clusterSlot, type Keys } from '../keys.js';
import { loadScripts, type LuaScript, type ScriptSet } from '../scripts.js';

export interface RedisEventStoreOptions {
  keys: Keys;
  /** How long a sender's idempotency key stays bound to its first message. */
  idempotencyTtlMs: number;
  /** How long a ledger record is kept after the message reached a terminal state. Must be ≥ the idempotency TTL. */
  ledgerRetentionSeconds: number;
  /** Approximate length the normalized communication log is capped at (it is a log, nobody acks it). */
  communicationLogMaxLength: number;
  /** Approximate length of the audit stream. */
  auditMaxLength: number;
  /** Redis memory limit to measure pressure against when Redis itself has no maxmemory (0: none known). */
  memoryLimitBytes: number;
  /**
   * How long after its deadline an `elicit` question may stay open before the router's census
   * closes it `abandoned`: the time its caller, whose wait ends at the deadline, has to record how
   * it ended. Shorter than the wait record's 60 s afterlife, so an answer stored there is kept.
   */
  elicitCloseGraceMs: number;
  /** Bells are rung with SPUBLISH (sharded pub/sub: a Redis Cluster) instead of PUBLISH. */
  shardedPubSub: boolean;
  /**
   * Replicas that must confirm an accepted message (Redis WAIT) before its sender is told it was
   * accepted, and how long to wait for them; 0: no wait (REDIS_WAIT_REPLICAS, REDIS_WAIT_TIMEOUT_MS).
   */
  waitReplicas: number;
  waitTimeoutMs: number;
}

export const DEFAULT_STORE_OPTIONS = {
  idempotencyTtlMs: 24 * 60 * 60 * 1000,
  ledgerRetentionSeconds: 7 * 24 * 60 * 60,
  communicationLogMaxLength: 100_000,
  auditMaxLength: 100_000,
  memoryLimitBytes: 0,
  elicitCloseGraceMs: 10_000,
  shardedPubSub: false,
  waitReplicas: 0,
  waitTimeoutMs: 1_000,
} as const;

/** Entries one ack or drain script call settles at most, so a huge batch never holds Redis for long. */
export const SCRIPT_CHUNK = 500;

export type Reply = Array<string | number>;

export class RedisContext {
  readonly keys: Keys;
  readonly scripts: ScriptSet;
  readonly options: RedisEventStoreOptions;

  constructor(
    readonly redis: RedisClient,
    options: Partial<RedisEventStoreOptions> & { keys: Keys },
  ) {
    this.options = { ...DEFAULT_STORE_OPTIONS, ...options };
    if (this.options.ledgerRetentionSeconds * 1000 < this.options.idempotencyTtlMs) {
      throw new RangeError('ledgerRetentionSeconds must cover idempotencyTtlMs, or a late retry could be stored twice');
    }
    this.keys = options.keys;
    this.scripts = loadScripts({ shardedPubSub: this.options.shardedPubSub });
  }

  async run(script: LuaScript, keys: string[], args: Array<string | number>): Promise<unknown> {
    try {
      return await script.run(this.redis, keys, args);
    } catch (error) {
      throw this.translate(script.name, error);
    }
  }

  /**
   * A pipeline for commands whose keys may be in different slots. On one Redis: a pipeline (one
   * round trip). On a cluster, where a pipeline must stay in one slot, the same calls sent one by
   * one without waiting (ioredis writes each to the node that owns its key), with replies in the
   * same `[error, reply]` form and order. Not a transaction: use multi() within one slot for that.
   */
  pipeline(): ReturnType<RedisClient['pipeline']> {
    if (!(this.redis instanceof Cluster)) return this.redis.pipeline();
    const cluster = this.redis;
    const queued: Array<[string, unknown[]]> = [];
    const scatter: ReturnType<RedisClient['pipeline']> = new Proxy({} as ReturnType<RedisClient['pipeline']>, {
      get(_, name) {
        if (name === 'exec') {
          return () =>
            Promise.all(
              queued.map(([command, args]) =>
                (cluster as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[command]!(...args).then(
                  (reply): [Error | null, unknown] => [null, reply],
                  (error: Error): [Error | null, unknown] => [error, null],
                ),
              ),
            );
        }
        if (name === 'length') return queued.length;
        if (typeof name !== 'string' || name === 'then') return undefined;
        return (...args: unknown[]) => {
          queued.push([name, args]);
          return scatter;
        };
      },
    });
    return scatter;
  }

  /** Runs one script per command in one pipeline (one round trip, in order), loading it first after a NOSCRIPT. */
  async pipelineScript(script: LuaScript, commands: Array<{ keys: string[]; args: Array<string | number> }>): Promise<unknown[]> {
    for (let attempt = 0; ; attempt++) {
      const pipeline = this.pipeline();
      for (const { keys, args } of commands) script.queue(pipeline, keys, args);
      const replies = (await this.call(script.name, () => pipeline.exec())) ?? [];
      const noscript = replies.some(([error]) => error instanceof Error && error.message.startsWith('NOSCRIPT'));
      if (noscript && attempt === 0) {
        await this.call('script load', () => script.ensureLoaded(this.redis));
        continue;
      }
      return replies.map(([error, value]) => {
        if (error) throw this.translate(script.name, error);
        return value;
      });
    }
  }

  /**
   * Waits until `waitReplicas` replicas of the node that holds `key` have every write it made so
   * far (Redis WAIT on that node: on a cluster the primary that owns the key's slot now). Fewer in
   * time: STORE_NOT_REPLICATED; the write stays on the primary (a retry with the same idempotency
   * key finds it instead of storing it twice).
   */
  async waitForReplicas(what: string, key: string): Promise<void> {
    const { waitReplicas, waitTimeoutMs } = this.options;
    if (waitReplicas <= 0) return;
    const node = this.redis instanceof Cluster ? primaryOwning(this.redis, key) : this.redis;
    // Bounded here too: a node that just went away answers nothing, not even an error.
    const acked = Number(await this.call('wait', () => withDeadline(node.call('WAIT', waitReplicas, waitTimeoutMs), waitTimeoutMs + 1_000, 'WAIT for replicas')));
    if (acked < waitReplicas) {
      throw new StoreError('STORE_NOT_REPLICATED', `${what}: stored on the primary, but ${acked} of ${waitReplicas} replicas confirmed it within ${waitTimeoutMs} ms`, { details: { acked, required: waitReplicas } });
    }
  }

  /** The replies of a pipeline, failing as a whole when one command failed. */
  async exec(what: string, pipeline: ReturnType<RedisClient['pipeline']>): Promise<unknown[]> {
    const replies = (await this.call(what, () => pipeline.exec())) ?? [];
    return replies.map(([error, value]) => {
      if (error) throw this.unavailable(what, error);
      return value;
    });
  }

  async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw this.translate(what, error);
    }
  }

  translate(what: string, error: unknown): StoreError {
    if (error instanceof StoreError) return error;
    const message = error instanceof Error ? error.message : String(error);
    if (message.startsWith('FENCED')) return new StoreError('LEASE_LOST', message, { cause: error });
    if (/timed out/i.test(message)) return new StoreError('STORE_DEADLINE_EXCEEDED', `${what}: ${message}`, { cause: error });
    if (message.startsWith('OOM')) return new StoreError('STORE_FULL', `${what}: ${message}`, { cause: error });
    return this.unavailable(what, error);
  }

  unavailable(what: string, error: unknown): StoreError {
    const message = error instanceof Error ? error.message : String(error);
    return new StoreError('STORE_UNAVAILABLE', `${what} failed: ${message}`, { cause: error });
  }
}

/** The node of a cluster client that serves a key's slot now (its slot map; a stale map is refreshed on the next MOVED). */
function primaryOwning(cluster: Cluster, key: string): Redis {
  const owner = cluster.slots[clusterSlot(key)]?.[0];
  const node = cluster.nodes('master').find((candidate) => `${candidate.options.host}:${candidate.options.port}` === owner && candidate.status === 'ready');
  if (!node) throw new StoreError('STORE_UNAVAILABLE', `no primary known for the slot of ${key} (the cluster's slot map is being refreshed): retry in a moment`);
  return node;
}
