import { Redis, type RedisOptions } from 'ioredis';
import { retryBackoffMs, withDeadline } from './deadline.js';

export interface ConnectionOptions {
  /** Shown in CLIENT LIST, e.g. `legacy-poll:commands`. */
  name: string;
  /** Every command must answer within this many ms, or it fails (the caller sees STORE_DEADLINE_EXCEEDED). */
  commandTimeoutMs: number;
  /** How often the watchdog pings the connection. */
  watchdogIntervalMs: number;
  /** A ping slower than this counts as a stuck connection. */
  watchdogTimeoutMs: number;
  onEvent?: (event: 'stuck' | 'reconnecting' | 'ready' | 'error', detail?: unknown) => void;
}

export const DEFAULT_CONNECTION_OPTIONS = {
  commandTimeoutMs: 5_000,
  watchdogIntervalMs: 5_000,
  watchdogTimeoutMs: 3_000,
} as const;

export interface ManagedConnection {
  readonly redis: Redis;
  close(): Promise<void>;
}

/**
 * Opens an ioredis connection with a deadline on every command and a watchdog. The watchdog exists
 * because a half-open TCP connection (or a connection frozen by an interrupted command) never
 * errors by itself: commands just time out one by one. A ping that misses its deadline makes us
 * drop the socket so ioredis reconnects; subscribers resubscribe on their own.
 */
export function openConnection(url: string, options: ConnectionOptions, extra: RedisOptions = {}): ManagedConnection {
  const redis = new Redis(url, {
    connectionName: options.name,
    commandTimeout: options.commandTimeoutMs,
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    retryStrategy: retryBackoffMs,
    lazyConnect: false,
    ...extra,
  });
  redis.on('error', (error) => options.onEvent?.('error', error));
  redis.on('reconnecting', () => options.onEvent?.('reconnecting'));
  redis.on('ready', () => options.onEvent?.('ready'));

  let checking = false;
  const watchdog = setInterval(async () => {
    if (checking || redis.status !== 'ready') return;
    checking = true;
    try {
      await withDeadline(redis.ping(), options.watchdogTimeoutMs, `${options.name} ping`);
    } catch (error) {
      options.onEvent?.('stuck', error);
      redis.disconnect(true);
    } finally {
      checking = false;
    }
  }, options.watchdogIntervalMs);
  watchdog.unref();

  return {
    redis,
    async close() {
      clearInterval(watchdog);
      try {
        await withDeadline(redis.quit(), 1_000, `${options.name} quit`);
      } catch {
        redis.disconnect(false);
      }
    },
  };
}
