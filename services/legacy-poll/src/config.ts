import { hostname } from 'node:os';
import { z } from 'zod';
import { mailboxSettings } from '@agent-bridge/agent-tools';
import { commonSettings, httpSettings, loadConfig, agentRequestSettings, originSettings } from '@agent-bridge/service-kit';

/** legacy-poll settings, read once at start-up. Defaults are listed in docs/configuration.md. */
export const legacyPollConfigSchema = z.object({
  ...commonSettings,
  ...httpSettings,
  PORT: httpSettings.PORT.default(8701),
  AGENT_TOKENS_FILE: z.string().min(1, 'must name the agent tokens JSON file'),
  ...mailboxSettings,
  ...originSettings,
  ...agentRequestSettings,
  ELICITATION_ENDPOINT_URL: z.string().url().default('http://127.0.0.1:8702/mcp'),
  REPLICA_ID: z.string().min(1).default(`${hostname()}-${process.pid}`),
});

export type LegacyPollConfig = z.infer<typeof legacyPollConfigSchema>;

export function loadLegacyPollConfig(env: NodeJS.ProcessEnv = process.env): LegacyPollConfig {
  return loadConfig('legacy-poll', legacyPollConfigSchema, env);
}
