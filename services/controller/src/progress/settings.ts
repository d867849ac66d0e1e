/**
 * Settings of the public progress page (docs/configuration.md, "controller: progress page"). The
 * page has its own listener, so exposing it through an Ingress never exposes the admin API.
 */
import { z } from 'zod';
import { settingHelpers } from '@agent-bridge/service-kit';

const { int, bool } = settingHelpers;
const DAY_MS = 24 * 60 * 60 * 1000;

export const progressSettings = {
  /** Serve the page (on PROGRESS_PORT); false: no listener at all. */
  PROGRESS_ENABLED: bool.default(true),
  /** Default 8705, or 0 (any free port) when PORT is 0, as in tests: see progressPort. */
  PROGRESS_PORT: int(0, 65535).optional(),
  /** The path the page is served under, as the Ingress routes it (no rewrite needed); "/" for the root. */
  PROGRESS_BASE_PATH: z
    .string()
    .regex(/^\/([A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*\/?)?$/, 'must be "/" or a path such as /migration (letters, digits, ".", "_", "~", "-" between slashes)')
    .default('/migration')
    .transform((path) => path.replace(/\/+$/, '')),
  /** Optional: visitors then need this token (HTTP Basic password, any user name, or Authorization: Bearer). */
  PROGRESS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  PROGRESS_TOKEN_FILE: z.string().min(1).optional(),
  /** The agent lookup form (an agent id → its protocol and what to do next). */
  PROGRESS_LOOKUP_ENABLED: bool.default(true),
  /** The owner feedback form (score 1–5 and a comment, per agent). */
  PROGRESS_FEEDBACK_ENABLED: bool.default(true),
  /** Linked from the lookup's next steps (e.g. the agent guide on your documentation site). */
  PROGRESS_MIGRATION_GUIDE_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  /** How often the leader records an adoption sample for the chart, and how long samples are kept. */
  PROGRESS_SAMPLE_INTERVAL_MS: int(1_000, 3_600_000).default(300_000),
  PROGRESS_SAMPLE_RETENTION_MS: int(60_000, 90 * DAY_MS).default(14 * DAY_MS),
  /** Lookups and feedback answers one client may make per minute (per controller replica). */
  PROGRESS_RATE_LIMIT_PER_MINUTE: int(1, 10_000).default(30),
  /**
   * Proxies in front of the page that append to X-Forwarded-For (1 behind the Ingress): the client
   * is the address that many entries from the right. 0: the connection's address.
   */
  PROGRESS_TRUSTED_PROXY_HOPS: int(0, 5).default(0),
  /** Agents whose feedback is kept at most (the latest answer per agent); more are refused. */
  PROGRESS_FEEDBACK_MAX_AGENTS: int(1, 1_000_000).default(10_000),
  /** Longest feedback comment, in characters. */
  PROGRESS_COMMENT_MAX_LENGTH: int(0, 4_000).default(1_000),
};

const DEFAULT_PROGRESS_PORT = 8705;

/** The page's port: PROGRESS_PORT, else 8705, else (PORT=0: the process takes free ports) 0. */
export function progressPort(config: { PORT: number; PROGRESS_PORT?: number | undefined }): number {
  return config.PROGRESS_PORT ?? (config.PORT === 0 ? 0 : DEFAULT_PROGRESS_PORT);
}

export type ProgressSettings = z.infer<z.ZodObject<typeof progressSettings>>;
