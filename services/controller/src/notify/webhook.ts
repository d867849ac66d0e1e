/**
 * The webhook channel: each notice POSTed as JSON (every field, and its idempotency key, also sent
 * as the Idempotency-Key header so a receiver can drop a repeat), or in the chat-compatible format
 * (Slack-style `{ "text": … }` with the owner and agents in the text).
 */
import { ChannelError, type NotificationChannel } from './channels.js';
import { noticeBody, type OwnerNotice } from './notice.js';

export interface WebhookOptions {
  url: string;
  format: 'json' | 'chat';
  timeoutMs: number;
  /** The bearer token (read at each send). */
  token?: () => string;
}

/** The request body of a notice in either format. */
export function webhookBody(notice: OwnerNotice, idempotencyKey: string, format: 'json' | 'chat'): Record<string, unknown> {
  if (format === 'chat') return { text: `*${notice.subject}*\n${noticeBody(notice)}` };
  return {
    milestone: notice.milestone,
    owner: notice.owner,
    agents: notice.agents,
    subject: notice.subject,
    text: notice.text,
    ...(notice.deadline ? { deadline: notice.deadline } : {}),
    links: notice.links ?? {},
    idempotencyKey,
  };
}

export class WebhookChannel implements NotificationChannel {
  readonly name = 'webhook';

  constructor(private readonly options: WebhookOptions) {}

  unreachable(): undefined {
    return undefined; // the webhook reaches every owner (the receiver routes by owner or team)
  }

  async send(notice: OwnerNotice, delivery: { idempotencyKey: string; signal: AbortSignal }): Promise<void> {
    const signal = AbortSignal.any([delivery.signal, AbortSignal.timeout(this.options.timeoutMs)]);
    let response: Response;
    try {
      response = await fetch(this.options.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'idempotency-key': delivery.idempotencyKey,
          ...(this.options.token ? { authorization: `Bearer ${this.options.token()}` } : {}),
        },
        body: JSON.stringify(webhookBody(notice, delivery.idempotencyKey, this.options.format)),
        signal,
        redirect: 'error',
      });
    } catch (error) {
      if (error instanceof ChannelError) throw error;
      const cause = (error as { cause?: { message?: string } }).cause?.message;
      throw new ChannelError(signal.aborted ? `webhook gave no answer within ${this.options.timeoutMs} ms` : `webhook unreachable: ${(error as Error).message}${cause ? ` (${cause})` : ''}`);
    }
    const text = (await response.text().catch(() => '')).slice(0, 200);
    if (response.ok) return;
    // 4xx but 408 and 429 will not change on a retry: recorded failed at once, with the answer.
    const permanent = response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429;
    throw new ChannelError(`webhook answered ${response.status}${text ? `: ${text}` : ''}`, permanent);
  }
}
