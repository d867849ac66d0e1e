import { POLL_TIMEOUT_MAX_MS } from '@agent-bridge/protocol';
import { settingHelpers } from '@agent-bridge/service-kit';
import type { MailboxLimits } from './mailbox-tools.js';

const { int } = settingHelpers;

/** Settings of the mailbox tools, shared by every endpoint that serves them (docs/configuration.md). */
export const mailboxSettings = {
  MAX_CONTENT_BYTES: int(1, 16 * 1024 * 1024).default(64 * 1024),
  MAX_METADATA_BYTES: int(2, 1024 * 1024).default(16 * 1024),
  MESSAGE_DEADLINE_MS: int(1_000, 30 * 24 * 60 * 60 * 1000).default(24 * 60 * 60 * 1000),
  POLL_TIMEOUT_MAX_MS: int(1_000, 58_000).default(POLL_TIMEOUT_MAX_MS),
  POLL_RECHECK_MS: int(100, 300_000).default(30_000),
  PROGRESS_INTERVAL_MS: int(100, 50_000).default(10_000),
  /** An agent's use of this endpoint is recorded at most this often (adoption and legacy-usage numbers). */
  ACTIVITY_RECORD_INTERVAL_MS: int(100, 600_000).default(15_000),
  /** What an agent did (calls, messages, last seen) is written for the legacy inventory this often, in one batch. */
  USAGE_FLUSH_INTERVAL_MS: int(100, 3_600_000).default(300_000),
  /** Sends one agent may make per second, on average (a token bucket shared by every replica, in Redis). */
  SEND_RATE_PER_SECOND: int(1, 100_000).default(100),
  /** Sends one agent may make at once above its rate (the bucket's size). */
  SEND_BURST: int(1, 100_000).default(200),
  /** Messages of one sender accepted and not yet delivered, at most: beyond, its sends are refused (BACKLOG_FULL). */
  SEND_BACKLOG_MAX: int(1, 1_000_000).default(1_000),
  /** New sends are refused (STORE_FULL) while Redis uses this share of its memory limit or more; delivery goes on. */
  REDIS_MEMORY_HIGH_WATER_PERCENT: int(1, 100).default(85),
  /** Redis's memory limit in bytes, for a Redis without maxmemory (0: use maxmemory; with neither, no high-water check). */
  REDIS_MEMORY_LIMIT_BYTES: int(0, Number.MAX_SAFE_INTEGER).default(0),
  /** SSE keep-alive comments on open streams (held calls, session streams), so proxies do not cut idle ones. */
  KEEPALIVE_MS: int(1_000, 120_000).default(15_000),
};

export function mailboxLimitsFrom(config: { MAX_CONTENT_BYTES: number; MAX_METADATA_BYTES: number; MESSAGE_DEADLINE_MS: number; POLL_TIMEOUT_MAX_MS: number; POLL_RECHECK_MS: number; PROGRESS_INTERVAL_MS: number }): MailboxLimits {
  return {
    maxContentBytes: config.MAX_CONTENT_BYTES,
    maxMetadataBytes: config.MAX_METADATA_BYTES,
    messageDeadlineMs: config.MESSAGE_DEADLINE_MS,
    pollTimeoutMaxMs: config.POLL_TIMEOUT_MAX_MS,
    pollRecheckMs: config.POLL_RECHECK_MS,
    progressIntervalMs: config.PROGRESS_INTERVAL_MS,
  };
}
