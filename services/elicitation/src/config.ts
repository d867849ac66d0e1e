import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';
import { mailboxSettings } from '@agent-bridge/agent-tools';
import { ELICIT_TIMEOUT_DEFAULT_MS, POLL_TIMEOUT_MAX_MS } from '@agent-bridge/protocol';
import type { Logger } from '@agent-bridge/observability';
import {
  ConfigError,
  RequestStateSealer,
  advertiseSettings,
  agentRequestSettings,
  commonSettings,
  httpSettings,
  loadConfig,
  originSettings,
  relayKeySettings,
  relayTargetSettings,
  resolveAdvertiseUrl,
  settingHelpers,
} from '@agent-bridge/service-kit';

const { int } = settingHelpers;

/** elicitation settings, read once at start-up. Defaults are listed in docs/configuration.md. */
export const elicitationConfigSchema = z.object({
  ...commonSettings,
  ...httpSettings,
  PORT: httpSettings.PORT.default(8702),
  AGENT_TOKENS_FILE: z.string().min(1, 'must name the agent tokens JSON file'),
  /** Names this replica in session ids and the replica registry: letters, digits, "_" and "-". */
  REPLICA_ID: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1 to 64 letters, digits, "_" or "-"')
    .default(
      `${hostname()
        .replace(/[^A-Za-z0-9_-]/g, '-')
        .slice(0, 40)}-${process.pid}`,
    ),
  /** How the other replicas reach this one, for requests of sessions it owns (advertiseSettings). Default: http://127.0.0.1:PORT. */
  ...advertiseSettings,
  ...relayKeySettings,
  ...relayTargetSettings,
  ...mailboxSettings,
  ...originSettings,
  ...agentRequestSettings,
  ELICIT_TIMEOUT_DEFAULT_MS: int(100, 600_000).default(ELICIT_TIMEOUT_DEFAULT_MS),
  /** Upper bound of an `elicit` call; keep it below the callers' request timeout (60 s by default). */
  ELICIT_TIMEOUT_MAX_MS: int(1_000, 3_600_000).default(POLL_TIMEOUT_MAX_MS),
  /** A session with no request and no open stream for this long is closed. */
  SESSION_IDLE_TIMEOUT_MS: int(10_000, 24 * 60 * 60 * 1000).default(30 * 60 * 1000),
  /**
   * Live MCP sessions one agent may hold on this replica. One more initialize closes the agent's
   * least recently seen session with nothing in flight, or is refused (429 SESSION_LIMIT) when all
   * are busy.
   */
  MAX_SESSIONS_PER_AGENT: int(1, 1_000).default(16),
  /** Live MCP sessions this replica holds at most (all agents); one more initialize gets 503 REPLICA_FULL. */
  MAX_SESSIONS: int(1, 1_000_000).default(10_000),
  /** A session whose stream is open but that sent nothing for this long is pinged; one that does not answer is closed. */
  SESSION_PING_INTERVAL_MS: int(1_000, 3_600_000).default(60_000),
  /** How long a liveness ping waits for its answer. */
  SESSION_PING_TIMEOUT_MS: int(500, 120_000).default(10_000),
  /** Presence records expire after this long unless refreshed (refreshed every third of it). */
  PRESENCE_TTL_MS: int(1_000, 600_000).default(30_000),
  /** Lease of the replica pushing to an agent: another replica takes over after at most this long. */
  PUSH_LEASE_TTL_MS: int(500, 60_000).default(5_000),
  /** An agent's idle push lane is re-read this often even without a doorbell ring. */
  PUSH_RECHECK_MS: int(50, 30_000).default(1_000),
  /**
   * HMAC key signing the requestState of 2026-07-28 rounds, at least 32 bytes; every replica needs
   * the same one (from a Secret). Unset: a random key per process, so a retry must come back to the
   * replica that issued the round (fine for one replica, not for several).
   */
  REQUEST_STATE_KEY: z.string().min(32, 'must be at least 32 characters (e.g. openssl rand -base64 48)').optional(),
  /** The previous REQUEST_STATE_KEY during a rotation: state it signed still verifies. */
  REQUEST_STATE_PREVIOUS_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
  /** Messages handed out in one input_required round of a 2026-07-28 wait_for_messages, at most. */
  ROUND_MAX_MESSAGES: int(1, 64).default(8),
  /**
   * Rounds one 2026-07-28 wait_for_messages call hands out at most: after a retry stores its
   * answers, the call goes on with the next round while messages wait (or arrive within its hold).
   * The SDK client fulfils 10 rounds per call by default; 1 makes every retry return at once.
   */
  ROUNDS_PER_CALL: int(1, 9).default(8),
  /** A 2026-07-28 agent counts as present for push while a wait_for_messages call waits, and this long after. */
  STATELESS_PRESENCE_WINDOW_MS: int(1_000, 600_000).default(30_000),
});

export type ElicitationConfig = z.infer<typeof elicitationConfigSchema>;

/**
 * The largest requestState a round issues: 64 entry ids, the lease, and what at most 9 rounds of
 * 64 messages answered (a message id and an action each, or a problem of at most 160 characters).
 */
const MAX_REQUEST_STATE_BYTES = 64 * 1024;

export function requestStateSealer(config: ElicitationConfig, logger: Logger): RequestStateSealer {
  const keys = [config.REQUEST_STATE_KEY, config.REQUEST_STATE_PREVIOUS_KEY].filter((key): key is string => key !== undefined).map((key) => Buffer.from(key, 'utf8'));
  if (keys.length === 0) {
    logger.warn('REQUEST_STATE_KEY is not set: 2026-07-28 rounds are signed with a random key of this process, so only this replica can complete them; set the same key on every replica');
    keys.push(randomBytes(32));
  }
  return new RequestStateSealer({ keys, maxBytes: MAX_REQUEST_STATE_BYTES });
}

export function loadElicitationConfig(env: NodeJS.ProcessEnv = process.env): ElicitationConfig {
  const config = resolveAdvertiseUrl(loadConfig('elicitation', elicitationConfigSchema, env));
  // Each session's open stream is one of the agent's open requests: leave room for its calls.
  if (config.MAX_REQUESTS_PER_AGENT <= config.MAX_SESSIONS_PER_AGENT) {
    throw new ConfigError(
      `Invalid configuration for elicitation: MAX_REQUESTS_PER_AGENT (${config.MAX_REQUESTS_PER_AGENT}) must be larger than MAX_SESSIONS_PER_AGENT (${config.MAX_SESSIONS_PER_AGENT}), since each session's open stream counts as one of the agent's requests; raise MAX_REQUESTS_PER_AGENT (e.g. to ${config.MAX_SESSIONS_PER_AGENT + 48}) or lower MAX_SESSIONS_PER_AGENT. See docs/configuration.md.`,
    );
  }
  return config;
}
