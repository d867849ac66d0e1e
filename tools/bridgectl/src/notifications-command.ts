/**
 * bridgectl notifications [--milestone M] [--json]: the owner notification ledger as the controller
 * summarises it (GET /admin/notifications, services/controller/src/notify/http-route.ts): per
 * milestone and channel what was sent, is pending, skipped or failed; with --milestone, each owner.
 */
import { EXIT, UsageError, type ControllerCommandContext } from './common.js';
import { adminToken, controllerUrl, ControllerRequestError, ControllerUnavailableError } from './controller-client.js';

type State = 'pending' | 'sending' | 'sent' | 'skipped' | 'failed';

/** What GET /admin/notifications answers (Notifier.summary). */
export interface NotificationSummary {
  channels: string[];
  milestones: Array<{
    milestone: string;
    recordedAt: string;
    owners: number;
    channels: Record<string, Record<State, number>>;
    notices?: Array<{
      owner: string;
      team?: string;
      contact?: string;
      agents: number;
      channels: Record<string, { state: State; attempts: number; updatedAt: string; sentAt?: string; nextAttemptAt?: string; lastError?: string; detail?: string }>;
    }>;
  }>;
}

const STATES: State[] = ['sent', 'pending', 'sending', 'skipped', 'failed'];

export function renderNotifications(summary: NotificationSummary, milestone: string | undefined): string {
  const lines: string[] = [];
  lines.push(`channels configured: ${summary.channels.length > 0 ? summary.channels.join(', ') : 'none (notices are recorded, not sent: set NOTIFY_WEBHOOK_URL or SMTP_URL)'}`);
  if (summary.milestones.length === 0) {
    lines.push(milestone ? `no notices recorded for milestone ${milestone}` : 'no notices recorded yet');
    return `${lines.join('\n')}\n`;
  }
  for (const m of summary.milestones) {
    lines.push('', `${m.milestone}  (${m.owners} owner${m.owners === 1 ? '' : 's'}, first recorded ${m.recordedAt})`);
    for (const [channel, counts] of Object.entries(m.channels)) {
      lines.push(`  ${channel.padEnd(8)} ${STATES.map((s) => `${counts[s] ?? 0} ${s}`).join(', ')}`);
    }
    for (const notice of m.notices ?? []) {
      lines.push(`  ${notice.owner}${notice.team ? ` (team ${notice.team})` : ''}${notice.contact ? ` <${notice.contact}>` : ''}, ${notice.agents} agent${notice.agents === 1 ? '' : 's'}`);
      for (const [channel, view] of Object.entries(notice.channels)) {
        const when = view.state === 'sent' ? ` at ${view.sentAt}` : view.nextAttemptAt ? `, next attempt ${view.nextAttemptAt}` : '';
        const why = view.detail ? `: ${view.detail}` : view.lastError ? ` (last error: ${view.lastError})` : '';
        lines.push(`    ${channel.padEnd(8)} ${view.state.toUpperCase()}${when}, ${view.attempts} attempt${view.attempts === 1 ? '' : 's'}${why}`);
      }
    }
  }
  return `${lines.join('\n')}\n`;
}

export async function notificationsCommand(ctx: ControllerCommandContext): Promise<number> {
  const milestone = ctx.values.milestone;
  if (milestone !== undefined && (typeof milestone !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/.test(milestone))) {
    throw new UsageError('--milestone needs a milestone name such as deprecation:day-5 (letters, digits, ".", "_", ":" or "-")');
  }
  const base = controllerUrl(ctx.env);
  const token = adminToken(ctx.env);
  const path = `/admin/notifications${milestone ? `?milestone=${encodeURIComponent(milestone)}` : ''}`;
  let response: Response;
  try {
    response = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token.token}`, accept: 'application/json' }, signal: AbortSignal.timeout(10_000) });
  } catch (error) {
    throw new ControllerUnavailableError(`cannot reach the controller at ${base}: ${(error as Error).message}. Is it running? Set BRIDGECTL_CONTROLLER_URL to its address.`);
  }
  const body = (await response.json().catch(() => undefined)) as (NotificationSummary & { error?: { code?: string; message?: string } }) | undefined;
  if (response.status !== 200 || !body || !Array.isArray(body.milestones)) {
    const said = body?.error?.message ?? `HTTP ${response.status}`;
    const hint = response.status === 401 ? `; the admin token from ${token.source} must equal the controller's ADMIN_TOKEN` : response.status === 404 ? '; this controller has no notifier (older than this bridgectl)' : '';
    throw new ControllerRequestError(`${base}${path}: ${said}${hint}`, response.status, body?.error?.code ?? `HTTP_${response.status}`);
  }
  if (ctx.json) ctx.io.out(`${JSON.stringify(body, null, 2)}\n`);
  else ctx.io.out(renderNotifications(body, typeof milestone === 'string' ? milestone : undefined));
  return body.milestones.length > 0 ? EXIT.ok : EXIT.nothing;
}
