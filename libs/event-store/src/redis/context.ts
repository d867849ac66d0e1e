/**
 * What every part of the Redis event store shares: the command connection, the key builder, the
 * Lua scripts, the options, and the one place a Redis failure becomes a StoreError.
 */
import type { Redis } from 'ioredis';
import { StoreError } from '../errors.js';
import type { Keys } from '../keys.js';
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
}

export const DEFAULT_STORE_OPTIONS = {
  idempotencyTtlMs: 24 * 60 * 60 * 1000,
  ledgerRetentionSeconds: 7 * 24 * 60 * 60,
  communicationLogMaxLength: 100_000,
  auditMaxLength: 100_000,
  memoryLimitBytes: 0,
  elicitCloseGraceMs: 10_000,
} as const;

/** Entries one ack or drain script call settles at most, so a huge batch never holds Redis for long. */
export const SCRIPT_CHUNK = 500;

export type Reply = Array<string | number>;

export class RedisContext {
  readonly keys: Keys;
  readonly scripts: ScriptSet;
  readonly options: RedisEventStoreOptions;

  constructor(
    readonly redis: Redis,
    options: Partial<RedisEventStoreOptions> & { keys: Keys },
  ) {
    this.options = { ...DEFAULT_STORE_OPTIONS, ...options };
    if (this.options.ledgerRetentionSeconds * 1000 < this.options.idempotencyTtlMs) {
      throw new RangeError('ledgerRetentionSeconds must cover idempotencyTtlMs, or a late retry could be stored twice');
    }
    this.keys = options.keys;
    this.scripts = loadScripts();
  }

  async run(script: LuaScript, keys: string[], args: Array<string | number>): Promise<unknown> {
    try {
      return await script.run(this.redis, keys, args);
    } catch (error) {
      throw this.translate(script.name, error);
    }
  }

  /** Runs one script per command in one pipeline (one round trip, in order), loading it first after a NOSCRIPT. */
  async pipelineScript(script: LuaScript, commands: Array<{ keys: string[]; args: Array<string | number> }>): Promise<unknown[]> {
    for (let attempt = 0; ; attempt++) {
      const pipeline = this.redis.pipeline();
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

  /** The replies of a pipeline, failing as a whole when one command failed. */
  async exec(what: string, pipeline: ReturnType<Redis['pipeline']>): Promise<unknown[]> {
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
