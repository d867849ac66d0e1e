/**
 * The email channel: each notice mailed over SMTP (nodemailer) to the owner's contact when it is an
 * email address, plain text (and a simple HTML part when configured), with a Message-ID derived from
 * the idempotency key so a repeat is recognisable. An owner without an email contact is skipped.
 */
import nodemailer from 'nodemailer';
import { ChannelError, type NotificationChannel } from './channels.js';
import { emailAddressOf, noticeBody, type OwnerNotice } from './notice.js';

export interface EmailOptions {
  host: string;
  port: number;
  /** TLS from the start (smtps://); otherwise STARTTLS when the server offers it. */
  secure: boolean;
  user?: string;
  /** The password (read at each send). */
  password?: () => string;
  from: string;
  html: boolean;
  timeoutMs: number;
}

export interface EmailMessage {
  from: string;
  to: string;
  subject: string;
  text: string;
  html?: string;
  messageId: string;
  headers: Record<string, string>;
}

/** The message of a notice to `to`. */
export function emailMessage(notice: OwnerNotice, to: string, idempotencyKey: string, from: string, html: boolean): EmailMessage {
  const domain = /@([^\s@<>]+)>?\s*$/.exec(from)?.[1] ?? 'agent-bridge';
  const text = noticeBody(notice, 200);
  return {
    from,
    to,
    subject: notice.subject,
    text,
    ...(html ? { html: htmlOf(notice) } : {}),
    messageId: `<${idempotencyKey}@${domain}>`,
    headers: { 'X-Agent-Bridge-Milestone': notice.milestone, 'X-Agent-Bridge-Idempotency-Key': idempotencyKey },
  };
}

function htmlOf(notice: OwnerNotice): string {
  const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const paragraphs = notice.text
    .split(/\n{2,}/)
    .map((p) => `<p>${escape(p).replace(/\n/g, '<br>')}</p>`)
    .join('');
  const agents = notice.agents.length > 0 ? `<p>Agents still on legacy (${notice.agents.length}):</p><ul>${notice.agents.map((a) => `<li><code>${escape(a)}</code></li>`).join('')}</ul>` : '';
  const deadline = notice.deadline ? `<p><strong>Deadline:</strong> ${escape(notice.deadline)}</p>` : '';
  const links = Object.entries(notice.links ?? {})
    .map(([name, url]) => `<li><a href="${escape(url)}">${escape(name)}</a></li>`)
    .join('');
  return `<!doctype html><html><body>${paragraphs}<p>Owner: ${escape(notice.owner.name)}${notice.owner.team ? ` (team ${escape(notice.owner.team)})` : ''}</p>${agents}${deadline}${links ? `<ul>${links}</ul>` : ''}</body></html>`;
}

export class EmailChannel implements NotificationChannel {
  readonly name = 'email';

  constructor(private readonly options: EmailOptions) {}

  unreachable(notice: OwnerNotice): string | undefined {
    return emailAddressOf(notice.owner.contact) ? undefined : `the owner has no email contact${notice.owner.contact ? ` ("${notice.owner.contact.slice(0, 100)}" is not an address)` : ''}`;
  }

  async send(notice: OwnerNotice, delivery: { idempotencyKey: string; signal: AbortSignal }): Promise<void> {
    const to = emailAddressOf(notice.owner.contact);
    if (!to) throw new ChannelError(this.unreachable(notice)!, true);
    const { host, port, secure, user, password, timeoutMs } = this.options;
    // One connection per notice (no pool): nothing is left open on a server that stopped answering.
    const transport = nodemailer.createTransport({
      host,
      port,
      secure,
      ...(user ? { auth: { user, pass: password?.() ?? '' } } : {}),
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
      dnsTimeout: timeoutMs,
    });
    let abort = () => undefined as void;
    const aborted = new Promise<never>((_, reject) => {
      abort = () => reject(new ChannelError(`SMTP server ${host}:${port} did not complete the send within the deadline`));
      if (delivery.signal.aborted) abort();
      else delivery.signal.addEventListener('abort', abort, { once: true });
    });
    aborted.catch(() => undefined); // settled by the race, or after it (then nobody listens)
    try {
      await Promise.race([transport.sendMail(emailMessage(notice, to, delivery.idempotencyKey, this.options.from, this.options.html)), aborted]);
    } catch (error) {
      if (error instanceof ChannelError) throw error;
      const code = (error as { responseCode?: number }).responseCode;
      // 5xx: the server refused this message for good (no such mailbox, policy); 4xx and network errors may pass later.
      throw new ChannelError(`SMTP ${host}:${port}: ${(error as Error).message}`, code !== undefined && code >= 500 && code < 600);
    } finally {
      delivery.signal.removeEventListener('abort', abort);
      transport.close();
    }
  }
}
