/**
 * A notification channel: one way of reaching owners (the webhook, email). The worker gives each its
 * own loop, so a slow or failing channel delays only itself; `channelsFromConfig` builds the ones
 * the controller's settings configure.
 */
import { readFileSync } from 'node:fs';
import type { OwnerNotice } from './notice.js';
import { EmailChannel } from './email.js';
import { smtpEndpoint } from './settings.js';
import { WebhookChannel } from './webhook.js';

export interface NotificationChannel {
  /** Names the channel in the ledger, the metrics and the audit trail (letters, digits, "-"). */
  readonly name: string;
  /** Why this channel cannot reach the notice's owner (the notice is recorded skipped for it), or undefined. */
  unreachable(notice: OwnerNotice): string | undefined;
  /** Delivers, or throws (a ChannelError with `permanent` when retrying cannot help). Gives up when `signal` aborts. */
  send(notice: OwnerNotice, delivery: { idempotencyKey: string; signal: AbortSignal }): Promise<void>;
  close?(): Promise<void>;
}

/** A send that failed; `permanent`: the receiver refused it for good (a retry would be refused too). */
export class ChannelError extends Error {
  constructor(
    message: string,
    readonly permanent = false,
  ) {
    super(message);
    this.name = 'ChannelError';
  }
}

export interface ChannelSettings {
  NOTIFY_WEBHOOK_URL?: string | undefined;
  NOTIFY_WEBHOOK_FORMAT: 'json' | 'chat';
  NOTIFY_WEBHOOK_TOKEN_FILE?: string | undefined;
  SMTP_URL?: string | undefined;
  SMTP_PASSWORD_FILE?: string | undefined;
  SMTP_FROM?: string | undefined;
  NOTIFY_EMAIL_HTML: boolean;
  NOTIFY_TIMEOUT_MS: number;
}

/**
 * The channels the settings configure (none: the notices are recorded as "no channel configured").
 * Secret files are read once here, so a missing file stops the start with its name, and again at
 * each send (a rotated Secret is picked up).
 */
export function channelsFromConfig(settings: ChannelSettings): NotificationChannel[] {
  const channels: NotificationChannel[] = [];
  if (settings.NOTIFY_WEBHOOK_URL) {
    const tokenFile = settings.NOTIFY_WEBHOOK_TOKEN_FILE;
    if (tokenFile) readSecret(tokenFile, 'NOTIFY_WEBHOOK_TOKEN_FILE');
    channels.push(
      new WebhookChannel({
        url: settings.NOTIFY_WEBHOOK_URL,
        format: settings.NOTIFY_WEBHOOK_FORMAT,
        timeoutMs: settings.NOTIFY_TIMEOUT_MS,
        ...(tokenFile ? { token: () => readSecret(tokenFile, 'NOTIFY_WEBHOOK_TOKEN_FILE') } : {}),
      }),
    );
  }
  if (settings.SMTP_URL) {
    const passwordFile = settings.SMTP_PASSWORD_FILE;
    if (passwordFile) readSecret(passwordFile, 'SMTP_PASSWORD_FILE');
    channels.push(
      new EmailChannel({
        ...smtpEndpoint(settings.SMTP_URL),
        from: settings.SMTP_FROM!,
        html: settings.NOTIFY_EMAIL_HTML,
        timeoutMs: settings.NOTIFY_TIMEOUT_MS,
        ...(passwordFile ? { password: () => readSecret(passwordFile, 'SMTP_PASSWORD_FILE') } : {}),
      }),
    );
  }
  return channels;
}

function readSecret(file: string, setting: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (error) {
    throw new ChannelError(`cannot read ${setting} ${file}: ${(error as Error).message}`);
  }
}
