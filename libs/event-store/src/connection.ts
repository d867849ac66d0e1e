import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { retryBackoffMs, withDeadline } from './deadline.js';

/** A connection to one Redis, or to a Redis Cluster (every key the store uses carries its slot's hash tag). */
export type RedisClient = Redis | Cluster;

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
  readonly redis: RedisClient;
  close(): Promise<void>;
}

/**
 * Where the store is: one Redis (`url`), or a Redis Cluster (`clusterNodes`: seed nodes as
 * host:port; `url` then gives the scheme, credentials and, when no seed is listed, the one seed).
 */
export interface RedisTarget {
  url: string;
  clusterNodes?: readonly string[];
}

/** Seeds of a cluster target as host/port pairs (the URL's own host when none is listed). */
function clusterSeeds(target: RedisTarget): Array<{ host: string; port: number }> {
  const url = new URL(target.url);
  const listed = target.clusterNodes?.length ? target.clusterNodes : [`${url.hostname}:${url.port || 6379}`];
  return listed.map((node) => {
    const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(node.trim());
    if (!match) throw new RangeError(`a Redis Cluster seed must be host:port, got "${node}"`);
    return { host: match[1]!, port: Number(match[2]) };
  });
}

/** The per-node options of a cluster target's URL: credentials, TLS (rediss:), database refused. */
function nodeOptionsOf(url: string): RedisOptions {
  const parsed = new URL(url);
  if (parsed.pathname && parsed.pathname !== '/' && parsed.pathname !== '/0') throw new RangeError(`a Redis Cluster has only database 0; the URL names ${parsed.pathname.slice(1)}`);
  return {
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/**
 * Opens an ioredis connection with a deadline on every command and a watchdog. The watchdog exists
 * because a half-open TCP connection (or a connection frozen by an interrupted command) never
 * errors by itself: commands just time out one by one. A ping that misses its deadline makes us
 * drop the socket so ioredis reconnects; subscribers resubscribe on their own.
 *
 * A cluster target opens an ioredis Cluster: one connection per node it needs (never per agent),
 * writes and reads on primaries, the slot map refreshed every few seconds as well as on MOVED, and
 * commands retried across a failover. `subscriber` makes it a sharded subscriber (SSUBSCRIBE on
 * the node that owns each channel's slot).
 */
export function openConnection(target: string | RedisTarget, options: ConnectionOptions, extra: RedisOptions = {}, cluster: { subscriber?: boolean } = {}): ManagedConnection {
  const { url, clusterNodes } = typeof target === 'string' ? { url: target, clusterNodes: undefined } : target;
  const nodeOptions: RedisOptions = {
    connectionName: options.name,
    commandTimeout: options.commandTimeoutMs,
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    retryStrategy: retryBackoffMs,
    lazyConnect: false,
    ...extra,
  };
  const redis: RedisClient =
    clusterNodes === undefined
      ? new Redis(url, nodeOptions)
      : new Cluster(clusterSeeds({ url, clusterNodes }), {
          // No retryStrategy per node: a node that went away must end, so its commands move to the
          // node that owns their slots now (the cluster client reconnects by clusterRetryStrategy).
          redisOptions: { ...nodeOptions, retryStrategy: undefined, ...nodeOptionsOf(url) },
          scaleReads: 'master',
          enableOfflineQueue: true,
          clusterRetryStrategy: retryBackoffMs,
          // A failover shows as MOVED or CLUSTERDOWN for about the node timeout: retry through it.
          maxRedirections: 16,
          retryDelayOnFailover: 200,
          retryDelayOnClusterDown: 200,
          retryDelayOnTryAgain: 100,
          slotsRefreshInterval: 5_000,
          ...(cluster.subscriber ? { shardedSubscribers: true } : {}),
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
