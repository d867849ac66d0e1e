/**
 * What the legacy endpoint tells an agent while it is deprecated (the schedule's warnings, headers
 * and final notice, published in the flags as `deprecation` and `deprecationNotice`): the notice in
 * every tool result, the standard HTTP headers, and a warning in the logs at most once per agent
 * and interval.
 */
import type { FlagSnapshot } from '@agent-bridge/flags';
import type { Logger } from '@agent-bridge/observability';

/**
 * The standard headers of a deprecated resource: Deprecation (RFC 9745, a structured-field date:
 * `@` and Unix seconds), Sunset (RFC 8594, an HTTP-date) and Link to the migration guide
 * (rel="deprecation", RFC 9745 §3) and to the sunset policy (rel="sunset", RFC 8594 §3). None
 * before the schedule's headers step.
 */
export function deprecationHeaders(flags: Pick<FlagSnapshot, 'deprecationNotice'>): Record<string, string> {
  const notice = flags.deprecationNotice;
  if (!notice?.headers) return {};
  const headers: Record<string, string> = {
    deprecation: `@${Math.floor(Date.parse(notice.deprecatedAt) / 1000)}`,
    sunset: new Date(notice.sunsetAt).toUTCString(),
  };
  if (notice.link) headers.link = `<${notice.link}>; rel="deprecation"; type="text/html", <${notice.link}>; rel="sunset"; type="text/html"`;
  return headers;
}

/** The sentence every deprecated legacy result carries. */
export function deprecationMessage(flags: Pick<FlagSnapshot, 'deprecationNotice'>, tool: string, elicitationUrl: string): string {
  const notice = flags.deprecationNotice;
  const when = notice ? ` on ${notice.sunsetAt.slice(0, 10)} (${notice.sunsetAt})` : '';
  const deadline = notice?.final ? `FINAL DEADLINE: the legacy endpoint stops serving${when}. ` : '';
  const guide = notice?.link ? ` Migration guide: ${notice.link}.` : '';
  return `${deadline}${tool} on the legacy endpoint is deprecated and will be removed${when}. Connect to ${elicitationUrl} with the same token: messages then arrive as elicitations.${guide}`;
}

/** Logs a deprecated call at most once per agent and interval (bounded memory: the oldest entries are forgotten first). */
export class DeprecationLog {
  private readonly last = new Map<string, number>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 60_000,
    private readonly maxAgents = 10_000,
  ) {}

  saw(agentId: string, tool: string, flags: Pick<FlagSnapshot, 'deprecationNotice'>, now = Date.now()): boolean {
    const previous = this.last.get(agentId);
    if (previous !== undefined && now - previous < this.intervalMs) return false;
    this.last.delete(agentId);
    this.last.set(agentId, now);
    if (this.last.size > this.maxAgents) this.last.delete(this.last.keys().next().value!);
    this.logger.warn(
      { agentId, tool, sunsetAt: flags.deprecationNotice?.sunsetAt ?? null, finalNotice: flags.deprecationNotice?.final ?? false },
      `deprecated legacy call: agent ${agentId} used ${tool}; the legacy endpoint will be removed${flags.deprecationNotice ? ` on ${flags.deprecationNotice.sunsetAt}` : ''}`,
    );
    return true;
  }
}
