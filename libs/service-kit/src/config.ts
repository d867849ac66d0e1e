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
  SHARD_COUNT: int(1, 4096).default(16),
  KEY_PREFIX: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,31}$/, 'must be lowercase letters, digits or "-" (at most 32)')
    .default('ab'),
  REDIS_COMMAND_TIMEOUT_MS: int(100, 60_000).default(5_000),
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
