import { z } from 'zod';

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConfigError';
  }
}

/**
 * Reads a service's settings from the environment once, at start-up. Keys of the schema are the
 * environment variable names; an empty variable counts as unset. On a bad value it throws a
 * ConfigError whose message names every wrong setting and what it must be.
 */
/** Settings whose values are secrets (keys, tokens, passwords): errors name them without the value. */
const SECRET_SETTING = /KEY|TOKEN|SECRET|PASSWORD/;

export function loadConfig<S extends z.ZodObject>(service: string, schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') input[key] = value;
  }
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const key = String(issue.path[0] ?? '');
    const got = input[key];
    if (got === undefined) return issue.code === 'custom' ? `${key} ${issue.message}` : `${key} is required but not set`;
    // A secret's value never reaches a log: only its length does.
    const shown = SECRET_SETTING.test(key) ? `${got.length} characters, value hidden` : `"${got}"`;
    return `${key} ${issue.message.replace(/^Invalid input: /, '').toLowerCase()} (got ${shown})`;
  });
  throw new ConfigError(`Invalid configuration for ${service}: ${problems.join('; ')}. See docs/configuration.md.`);
}

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

/** Settings every service shares. Defaults are the production defaults; docs/configuration.md lists them. */
export const commonSettings = {
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\/.+/, 'must be a redis:// or rediss:// URL')
    .default('redis://127.0.0.1:6379'),
  /**
   * Seed nodes of a Redis Cluster, comma-separated host:port (a few are enough; the client learns
   * the rest). Set, the services run on the cluster: REDIS_URL then gives the scheme (rediss: for
   * TLS) and the credentials, its host the first seed when none is listed here.
   */
  REDIS_CLUSTER_NODES: z
    .string()
    .optional()
    .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.split(',').map((node) => node.trim())))
    .refine((nodes) => nodes === undefined || nodes.every((node) => /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(node)), 'must be comma-separated host:port seed nodes, e.g. redis-0.redis:6379,redis-1.redis:6379'),
  SHARD_COUNT: int(1, 4096).default(16),
  KEY_PREFIX: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,31}$/, 'must be lowercase letters, digits or "-" (at most 32)')
    .default('ab'),
  REDIS_COMMAND_TIMEOUT_MS: int(100, 60_000).default(5_000),
  /**
   * Replicas that must have an accepted message (Redis WAIT) before its sender is told it was
   * accepted: 1 keeps it through the failover of its primary (docs/event-store.md, "Failover").
   * 0: no wait.
   */
  REDIS_WAIT_REPLICAS: int(0, 5).default(0),
  /** How long an accepted message waits for those replicas; past it the sender gets UNAVAILABLE and retries. */
  REDIS_WAIT_TIMEOUT_MS: int(10, 10_000).default(1_000),
  /** The least durable Redis a service starts against (docs/event-store.md, "Durability"). */
  REDIS_REQUIRED_APPENDFSYNC: z.enum(['always', 'everysec', 'none']).default('everysec'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** How often a service re-reads the flag snapshot even without a change notification. */
  FLAGS_POLL_INTERVAL_MS: int(50, 1_000).default(500),
  SHUTDOWN_GRACE_MS: int(0, 120_000).default(10_000),
};

export const httpSettings = {
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: int(0, 65535),
};

export const settingHelpers = { int, bool };
