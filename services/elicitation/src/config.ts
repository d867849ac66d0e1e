import { hostname } from 'node:os';
import { z } from 'zod';
import { mailboxSettings } from '@agent-bridge/agent-tools';
import { ELICIT_TIMEOUT_DEFAULT_MS, POLL_TIMEOUT_MAX_MS } from '@agent-bridge/protocol';
import { commonSettings, httpSettings, loadConfig, settingHelpers } from '@agent-bridge/service-kit';

const { int } = settingHelpers;

/** elicitation settings, read once at start-up. Defaults are listed in docs/configuration.md. */
export const elicitationConfigSchema = z.object({
  ...commonSettings,
  ...httpSettings,
  PORT: httpSettings.PORT.default(8702),
  AGENT_TOKENS_FILE: z.string().min(1, 'must name the agent tokens JSON file'),
  /** Names this replica in session ids and the replica registry: letters, digits, "_" and "-". */
  REPLICA_ID: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1 to 64 letters, digits, "_" or "-"').default(`${hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 40)}-${process.pid}`),
  /** How the other replicas reach this one, for requests of sessions it owns. Default: http://127.0.0.1:PORT. */
  ADVERTISE_URL: z.string().url().optional(),
  ...mailboxSettings,
  ELICIT_TIMEOUT_DEFAULT_MS: int(100, 600_000).default(ELICIT_TIMEOUT_DEFAULT_MS),
  /** Upper bound of an `elicit` call; keep it below the callers' request timeout (60 s by default). */
  ELICIT_TIMEOUT_MAX_MS: int(1_000, 3_600_000).default(POLL_TIMEOUT_MAX_MS),
  /** SSE keep-alive comments on open streams, so proxies do not cut idle ones. */
  KEEPALIVE_MS: int(1_000, 120_000).default(15_000),
  /** A session with no request and no open stream for this long is closed. */
  SESSION_IDLE_TIMEOUT_MS: int(10_000, 24 * 60 * 60 * 1000).default(30 * 60 * 1000),
  /** Presence records expire after this long unless refreshed (refreshed every third of it). */
  PRESENCE_TTL_MS: int(1_000, 600_000).default(30_000),
  /** Lease of the replica pushing to an agent: another replica takes over after at most this long. */
  PUSH_LEASE_TTL_MS: int(500, 60_000).default(5_000),
  /** An agent's idle push lane is re-read this often even without a doorbell ring. */
  PUSH_RECHECK_MS: int(50, 30_000).default(1_000),
});

export type ElicitationConfig = z.infer<typeof elicitationConfigSchema>;

export function loadElicitationConfig(env: NodeJS.ProcessEnv = process.env): ElicitationConfig {
  return loadConfig('elicitation', elicitationConfigSchema, env);
}
