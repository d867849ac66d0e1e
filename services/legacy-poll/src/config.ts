import { hostname } from 'node:os';
import { z } from 'zod';
import { POLL_TIMEOUT_MAX_MS } from '@agent-bridge/protocol';
import { commonSettings, httpSettings, loadConfig, settingHelpers } from '@agent-bridge/service-kit';

const { int } = settingHelpers;

/** legacy-poll settings, read once at start-up. Defaults are listed in docs/configuration.md. */
export const legacyPollConfigSchema = z.object({
  ...commonSettings,
  ...httpSettings,
  PORT: httpSettings.PORT.default(8701),
  AGENT_TOKENS_FILE: z.string().min(1, 'must name the agent tokens JSON file'),
  MAX_CONTENT_BYTES: int(1, 16 * 1024 * 1024).default(64 * 1024),
  MAX_METADATA_BYTES: int(2, 1024 * 1024).default(16 * 1024),
  MESSAGE_DEADLINE_MS: int(1_000, 30 * 24 * 60 * 60 * 1000).default(24 * 60 * 60 * 1000),
  POLL_TIMEOUT_MAX_MS: int(1_000, 58_000).default(POLL_TIMEOUT_MAX_MS),
  POLL_RECHECK_MS: int(100, 30_000).default(5_000),
  POLL_PROGRESS_INTERVAL_MS: int(100, 50_000).default(10_000),
  ELICITATION_ENDPOINT_URL: z.string().url().default('http://127.0.0.1:8702/mcp'),
  REPLICA_ID: z.string().min(1).default(`${hostname()}-${process.pid}`),
});

export type LegacyPollConfig = z.infer<typeof legacyPollConfigSchema>;

export function loadLegacyPollConfig(env: NodeJS.ProcessEnv = process.env): LegacyPollConfig {
  return loadConfig('legacy-poll', legacyPollConfigSchema, env);
}
