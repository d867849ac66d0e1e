import { RedisIntegrity } from './redis/integrity.js';
import { DEFAULT_CONNECTION_OPTIONS, openConnection, type ManagedConnection, type RedisClient } from './connection.js';
import { withDeadline } from './deadline.js';
import { isStoreError, StoreError } from './errors.js';
import { Doorbell } from './doorbell.js';
import { DEFAULT_KEY_PREFIX, doorbellTopics, Keys } from './keys.js';
import { RedisActivity } from './redis/activity.js';
import { DEFAULT_STORE_OPTIONS, RedisContext, type RedisEventStoreOptions } from './redis/context.js';
import { RedisControlPlane } from './redis/control-plane.js';
import { RedisElicitWaits } from './redis/elicit-waits.js';
import { RedisLeases } from './redis/leases.js';
import { RedisMailboxes } from './redis/mailboxes.js';
import { RedisMessages } from './redis/messages.js';
import { RedisNotices } from './redis/notices.js';
import { RedisPresence } from './redis/presence.js';
import { RedisProgress } from './redis/progress.js';
import { RedisPushLanes } from './redis/push-lanes.js';
import { RedisShards } from './redis/shards.js';
import { RedisUsage } from './redis/usage.js';
import type { EventStore } from './store.js';

export { DEFAULT_STORE_OPTIONS } from './redis/context.js';

/** The parts of the Redis event store, one per concern (src/redis/); together they are an EventStore. */
const PARTS = [RedisIntegrity, RedisMessages, RedisShards, RedisLeases, RedisMailboxes, RedisPresence, RedisActivity, RedisPushLanes, RedisElicitWaits, RedisControlPlane, RedisUsage, RedisProgress, RedisNotices] as const;
/** A part's public methods (its private members would make the intersection `never`). */
type Public<T> = { [K in keyof T]: T[K] };
type Parts = Public<InstanceType<(typeof PARTS)[number]>>;
type UnionToIntersection<U> = (U extends unknown ? (part: U) => void : never) extends (part: infer I) => void ? I : never;
/** Fails to compile when the parts leave a method of EventStore out. */
type Covers<T extends EventStore> = T;
type _PartsCoverTheStore = Covers<UnionToIntersection<Parts>>;

/** The Redis event store: every EventStore method, and the key builder it uses. */
export type RedisEventStore = EventStore & { readonly keys: Keys };

/**
 * The event store on one Redis command connection: each method is its part's (src/redis/*.ts),
 * bound to it. A method two parts define is a mistake, refused at construction.
 */
export const RedisEventStore = class RedisEventStore {
  readonly keys: Keys;

  constructor(redis: RedisClient, options: Partial<RedisEventStoreOptions> & { keys: Keys }) {
    const context = new RedisContext(redis, options);
    this.keys = context.keys;
    const self = this as unknown as Record<string, unknown>;
    for (const Part of PARTS) {
      const part = new Part(context) as unknown as Record<string, (...args: unknown[]) => unknown>;
      for (const name of Object.getOwnPropertyNames(Object.getPrototypeOf(part))) {
        if (name === 'constructor' || typeof part[name] !== 'function') continue;
        if (name in self) throw new Error(`event store: ${Part.name} and another part both define ${name}`);
        self[name] = part[name]!.bind(part);
      }
    }
  }
} as unknown as new (redis: RedisClient, options: Partial<RedisEventStoreOptions> & { keys: Keys }) => RedisEventStore;

export interface OpenEventStoreOptions extends Partial<Omit<RedisEventStoreOptions, 'keys'>> {
  url: string;
  /**
   * Seed nodes (host:port) of a Redis Cluster: set, the store runs on the cluster (REDIS_CLUSTER_NODES;
   * `url` then gives the scheme and credentials). Every key carries its shard's hash tag, every
   * script touches one slot, and the doorbell uses sharded pub/sub.
   */
  clusterNodes?: readonly string[];
  /** Name of the process, shown in CLIENT LIST (`<name>:commands`, `<name>:doorbell`). */
  name: string;
  shardCount: number;
  keyPrefix?: string;
  commandTimeoutMs?: number;
  watchdogIntervalMs?: number;
  watchdogTimeoutMs?: number;
  /**
   * Which doorbells this process listens to: routers need `events` (new shard entries), endpoints
   * need `lanes` (lane entries and elicit answers). Default: both.
   */
  listen?: 'events' | 'lanes' | 'all';
  /** Opening fails with STORE_UNAVAILABLE (and leaves no connection behind) when Redis does not answer within this long. */
  connectTimeoutMs?: number;
  onConnectionEvent?: (connection: string, event: string, detail?: unknown) => void;
}

export interface OpenedEventStore {
  store: RedisEventStore;
  doorbell: Doorbell;
  keys: Keys;
  /** The command connection (for health checks and admin tools): a Cluster client on a cluster. */
  redis: RedisClient;
  close(): Promise<void>;
}

/**
 * Opens the event store the way every service uses it: exactly two Redis connections per process,
 * one for commands (pipelined, non-blocking) and one for the doorbell (pub/sub), whatever the
 * number of waiting long-polls, sessions or owned shards. On a Redis Cluster, one client: a
 * connection per node it talks to and one sharded subscriber per primary, whatever the number of agents.
 */
export async function openEventStore(options: OpenEventStoreOptions): Promise<OpenedEventStore> {
  const keys = new Keys(options.shardCount, options.keyPrefix ?? DEFAULT_KEY_PREFIX);
  const connectionOptions = {
    commandTimeoutMs: options.commandTimeoutMs ?? DEFAULT_CONNECTION_OPTIONS.commandTimeoutMs,
    watchdogIntervalMs: options.watchdogIntervalMs ?? DEFAULT_CONNECTION_OPTIONS.watchdogIntervalMs,
    watchdogTimeoutMs: options.watchdogTimeoutMs ?? DEFAULT_CONNECTION_OPTIONS.watchdogTimeoutMs,
  };
  const connections: ManagedConnection[] = [];
  const target = { url: options.url, ...(options.clusterNodes ? { clusterNodes: options.clusterNodes } : {}) };
  const sharded = options.clusterNodes !== undefined;
  // On a cluster one client does both: its sharded subscriptions have connections of their own
  // (one per primary), so commands never wait behind them.
  const commands = openConnection(
    target,
    {
      name: `${options.name}:commands`,
      ...connectionOptions,
      onEvent: (event, detail) => options.onConnectionEvent?.('commands', event, detail),
    },
    {},
    { subscriber: sharded },
  );
  connections.push(commands);
  const subscriber = sharded
    ? commands
    : openConnection(target, {
        name: `${options.name}:doorbell`,
        ...connectionOptions,
        onEvent: (event, detail) => options.onConnectionEvent?.('doorbell', event, detail),
      });
  if (subscriber !== commands) connections.push(subscriber);

  const store = new RedisEventStore(commands.redis, {
    keys,
    shardedPubSub: sharded,
    idempotencyTtlMs: options.idempotencyTtlMs ?? DEFAULT_STORE_OPTIONS.idempotencyTtlMs,
    ledgerRetentionSeconds: options.ledgerRetentionSeconds ?? DEFAULT_STORE_OPTIONS.ledgerRetentionSeconds,
    communicationLogMaxLength: options.communicationLogMaxLength ?? DEFAULT_STORE_OPTIONS.communicationLogMaxLength,
    auditMaxLength: options.auditMaxLength ?? DEFAULT_STORE_OPTIONS.auditMaxLength,
    elicitCloseGraceMs: options.elicitCloseGraceMs ?? DEFAULT_STORE_OPTIONS.elicitCloseGraceMs,
    waitReplicas: options.waitReplicas ?? DEFAULT_STORE_OPTIONS.waitReplicas,
    waitTimeoutMs: options.waitTimeoutMs ?? DEFAULT_STORE_OPTIONS.waitTimeoutMs,
  });
  const doorbell = new Doorbell(subscriber.redis, {
    channels: keys
      .allShards()
      .flatMap((shard) => [...(options.listen !== 'lanes' ? [{ channel: keys.eventsBell(shard), topic: doorbellTopics.events(shard) }] : []), ...(options.listen !== 'events' ? [{ channel: keys.lanesBell(shard) }] : [])]),
    onEvent: (event, detail) => options.onConnectionEvent?.('doorbell', event, detail),
    sharded,
  });
  const close = async () => {
    await Promise.all(connections.map((c) => c.close()));
  };
  try {
    await withDeadline(Promise.all([commands.redis.ping(), doorbell.start()]), options.connectTimeoutMs ?? 10_000, `redis at ${redactUrl(options.url)}`);
  } catch (error) {
    for (const connection of connections) connection.redis.disconnect(false);
    await close();
    throw new StoreError('STORE_UNAVAILABLE', `cannot reach redis at ${redactUrl(options.url)}: ${(error as Error).message}`, { cause: error });
  }
  try {
    await checkShardLayout(commands.redis, keys);
  } catch (error) {
    await close();
    throw isStoreError(error) ? error : new StoreError('STORE_UNAVAILABLE', `cannot read the store's layout at ${redactUrl(options.url)}: ${(error as Error).message}`, { cause: error });
  }

  return {
    store,
    doorbell,
    keys,
    redis: commands.redis,
    close,
  };
}

/**
 * The shard count the store was created with is recorded by the first process that opens it; a
 * process with another SHARD_COUNT is refused, since it would look for every agent's lanes, ledger
 * and cursor in the wrong shard and route nothing already accepted (docs/operations.md, "Changing
 * the shard count").
 */
async function checkShardLayout(redis: RedisClient, keys: Keys): Promise<void> {
  await redis.hsetnx(keys.layout(), 'shard_count', String(keys.shardCount));
  const recorded = Number(await redis.hget(keys.layout(), 'shard_count'));
  if (recorded === keys.shardCount) return;
  throw new StoreError(
    'STORE_LAYOUT_MISMATCH',
    `the store under KEY_PREFIX "${keys.prefix}" was created with SHARD_COUNT=${recorded}, but this process has SHARD_COUNT=${keys.shardCount}: it would look for every agent in the wrong shard. Start it with SHARD_COUNT=${recorded}; to change the shard count, follow docs/operations.md "Changing the shard count" (bridgectl reshard).`,
    { details: { recorded, configured: keys.shardCount } },
  );
}

/** The URL without its password, for messages. */
function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
