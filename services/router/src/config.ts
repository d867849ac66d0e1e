import { hostname } from 'node:os';
import { z } from 'zod';
import { commonSettings, httpSettings, loadConfig, settingHelpers } from '@agent-bridge/service-kit';

const { int } = settingHelpers;

/** router settings, read once at start-up. Defaults are listed in docs/configuration.md. */
export const routerConfigSchema = z.object({
  ...commonSettings,
  ...httpSettings,
  PORT: httpSettings.PORT.default(8703),
  ROUTER_ID: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,100}$/, 'must be 1 to 100 letters, digits, ".", "_" or "-"')
    .default(`${hostname()}-${process.pid}`),
  /** A crashed router's shards are taken over after at most this long. */
  LEASE_TTL_MS: int(500, 60_000).default(5_000),
  ROUTE_BATCH_SIZE: int(1, 1_000).default(100),
  /** An idle shard is re-read this often even without a doorbell ring. */
  IDLE_RECHECK_MS: int(50, 30_000).default(1_000),
  TRIM_INTERVAL_MS: int(1_000, 600_000).default(10_000),
  /** How often each shard's messages past their deadline are counted (agentbridge_messages_unaccounted). */
  AUDIT_INTERVAL_MS: int(100, 600_000).default(5_000),
  /** An agent counts as active (agentbridge_active_agents) when it used an endpoint within this window. */
  ACTIVE_AGENT_WINDOW_MS: int(10_000, 24 * 60 * 60 * 1000).default(5 * 60 * 1000),
  COMMUNICATION_LOG_MAX_LENGTH: int(1_000, 100_000_000).default(100_000),
});

export type RouterConfig = z.infer<typeof routerConfigSchema>;

export function loadRouterConfig(env: NodeJS.ProcessEnv = process.env): RouterConfig {
  return loadConfig('router', routerConfigSchema, env);
}
