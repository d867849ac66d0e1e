/**
 * The notifier's settings (part of the controller's config.ts): which channels reach the owners of
 * agents still on legacy, how often a send is retried, and how much the ledger may hold.
 */
import { z } from 'zod';
import { settingHelpers } from '@agent-bridge/service-kit';

const { int, bool } = settingHelpers;

/** `Name <address>` or `address`. */
const MAILBOX = /^(?:[^<>\r\n]{0,200}<[^\s@<>]+@[^\s@<>]+>|[^\s@<>]+@[^\s@<>]+)$/;

export const notifySettings = {
  /** Owner notices are POSTed here (JSON, or chat-compatible with NOTIFY_WEBHOOK_FORMAT=chat). */
  NOTIFY_WEBHOOK_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL such as https://hooks.example.com/agent-bridge' }).optional(),
  NOTIFY_WEBHOOK_FORMAT: z.enum(['json', 'chat']).default('json'),
  /** A file holding the bearer token sent to the webhook (Authorization: Bearer …). */
  NOTIFY_WEBHOOK_TOKEN_FILE: z.string().min(1).optional(),
  /** The SMTP server owners are emailed through: smtp://host:port (STARTTLS when offered) or smtps://host:port; a user may be in the URL, the password never. */
  SMTP_URL: z.string().optional(),
  /** A file holding the SMTP password (for the URL's user). */
  SMTP_PASSWORD_FILE: z.string().min(1).optional(),
  /** The From of owner emails: `Agent Bridge <bridge@example.com>` or an address. */
  SMTP_FROM: z.string().regex(MAILBOX, 'must be an address or "Name <address>", such as "Agent Bridge <bridge@example.com>"').optional(),
  /** Emails carry a simple HTML part besides the plain text. */
  NOTIFY_EMAIL_HTML: bool.default(false),
  /** Deadline of one send (connect, deliver, answer); a send past it counts as a failed attempt. */
  NOTIFY_TIMEOUT_MS: int(100, 120_000).default(10_000),
  /** Attempts per notice and channel before it is recorded failed. */
  NOTIFY_MAX_ATTEMPTS: int(1, 100).default(8),
  /** The first retry waits about this long, doubling each time (with jitter), up to NOTIFY_BACKOFF_MAX_MS. */
  NOTIFY_BACKOFF_MS: int(10, 3_600_000).default(5_000),
  NOTIFY_BACKOFF_MAX_MS: int(10, 86_400_000).default(600_000),
  /** Most owners one milestone may notify (the ledger's bound; owners come from the agent registry). */
  NOTIFY_MAX_OWNERS: int(1, 100_000).default(5_000),
  /** Milestones the ledger keeps; the oldest beyond it are forgotten. */
  NOTIFY_MAX_MILESTONES: int(1, 1_000).default(50),
  /** A milestone's records expire this many days after its last change. */
  NOTIFY_RETENTION_DAYS: int(1, 3_650).default(90),
};

type NotifyConfig = z.infer<z.ZodObject<typeof notifySettings>>;

/** The cross-setting checks (config.ts's superRefine calls it). */
export function checkNotifySettings(config: NotifyConfig, context: z.RefinementCtx): void {
  if (config.SMTP_URL !== undefined) {
    const problem = smtpUrlProblem(config.SMTP_URL);
    // A URL with a password is reported under SMTP_PASSWORD_FILE: the error must not print it.
    if (problem === 'password') context.addIssue({ code: 'custom', path: ['SMTP_PASSWORD_FILE'], message: 'must hold the SMTP password: SMTP_URL must not carry one (remove it from the URL, keep the user)' });
    else if (problem) context.addIssue({ code: 'custom', path: ['SMTP_URL'], message: problem });
    if (!config.SMTP_FROM) context.addIssue({ code: 'custom', path: ['SMTP_FROM'], message: 'must be set when SMTP_URL is: the From of owner emails, such as "Agent Bridge <bridge@example.com>"' });
  }
  if (config.NOTIFY_BACKOFF_MAX_MS < config.NOTIFY_BACKOFF_MS) context.addIssue({ code: 'custom', path: ['NOTIFY_BACKOFF_MAX_MS'], message: `must be at least NOTIFY_BACKOFF_MS (${config.NOTIFY_BACKOFF_MS})` });
}

function smtpUrlProblem(text: string): string | 'password' | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'must be a URL such as smtp://mail.example.com:587 or smtps://mail.example.com:465';
  }
  if (url.password) return 'password';
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') return 'must start with smtp:// (STARTTLS when the server offers it) or smtps:// (TLS from the start)';
  if (!url.hostname) return 'must name the SMTP host, such as smtp://mail.example.com:587';
  if ((url.pathname && url.pathname !== '/') || url.search) return 'must be only smtp(s)://[user@]host[:port]: no path or query';
  return undefined;
}

/** The SMTP URL's parts (valid: checkNotifySettings passed). */
export function smtpEndpoint(text: string): { host: string; port: number; secure: boolean; user?: string } {
  const url = new URL(text);
  const secure = url.protocol === 'smtps:';
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port ? Number(url.port) : secure ? 465 : 587, secure, ...(url.username ? { user: decodeURIComponent(url.username) } : {}) };
}

/** The notifier's retry policy and ledger bounds from the settings. */
export function notifierOptions(config: NotifyConfig): { retry: { maxAttempts: number; baseDelayMs: number; maxDelayMs: number; timeoutMs: number }; limits: { maxOwners: number; maxMilestones: number; retentionSeconds: number } } {
  return {
    retry: { maxAttempts: config.NOTIFY_MAX_ATTEMPTS, baseDelayMs: config.NOTIFY_BACKOFF_MS, maxDelayMs: config.NOTIFY_BACKOFF_MAX_MS, timeoutMs: config.NOTIFY_TIMEOUT_MS },
    limits: { maxOwners: config.NOTIFY_MAX_OWNERS, maxMilestones: config.NOTIFY_MAX_MILESTONES, retentionSeconds: config.NOTIFY_RETENTION_DAYS * 24 * 3600 },
  };
}
