/**
 * An owner notice: what the deprecation schedule tells one owner at one milestone, its limits (an
 * owner list comes from the operator's registry, still bounded), and the idempotency key a receiver
 * drops a repeat by.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';

export interface OwnerNotice {
  /** The schedule's step, e.g. "deprecation:day-5". */
  milestone: string;
  owner: { name: string; contact?: string; team?: string };
  /** The owner's agents the notice is about (still on legacy). */
  agents: string[];
  subject: string;
  text: string;
  /** ISO date-time: when legacy goes away for these agents. */
  deadline?: string;
  /** Named links: the migration guide, the progress page… */
  links?: Record<string, string>;
}

/** Characters a name may not hold (control characters): they would break a header or a log line. */
const NO_CONTROL = /^[^\p{Cc}]*$/u;
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

const NOTICE_LIMITS = { agents: 1_000, subject: 200, text: 20_000, links: 20, url: 2_000 } as const;

const ownerNoticeSchema = z.strictObject({
  milestone: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/, 'must be 1 to 100 letters, digits, ".", "_", ":" or "-", such as "deprecation:day-5"'),
  owner: z.strictObject({
    name: z.string().min(1).max(200).regex(NO_CONTROL, 'must not contain control characters'),
    contact: z.string().min(1).max(320).regex(NO_CONTROL, 'must not contain control characters').optional(),
    team: z.string().min(1).max(200).regex(NO_CONTROL, 'must not contain control characters').optional(),
  }),
  agents: z.array(z.string().min(1).max(200)).max(NOTICE_LIMITS.agents, `must list at most ${NOTICE_LIMITS.agents} agents; send the owner a shorter list and a link to the full one`),
  subject: z.string().min(1).max(NOTICE_LIMITS.subject).regex(NO_CONTROL, 'must be one line without control characters'),
  text: z.string().min(1).max(NOTICE_LIMITS.text),
  deadline: z.string().regex(ISO_DATE_TIME, 'must be an ISO date-time such as 2027-01-15T00:00:00Z').optional(),
  links: z
    .record(z.string().min(1).max(100), z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(NOTICE_LIMITS.url))
    .refine((links) => Object.keys(links).length <= NOTICE_LIMITS.links, `must have at most ${NOTICE_LIMITS.links} links`)
    .optional(),
});

/** A notice the notifier refuses (what was wrong, what to do). */
export class NoticeInputError extends Error {
  readonly code = 'NOTICE_INVALID';
  override readonly name = 'NoticeInputError';
}

/** The notices, checked: each valid and each owner once per milestone. Throws NoticeInputError naming the first problem. */
export function checkNotices(notices: readonly OwnerNotice[]): OwnerNotice[] {
  const seen = new Set<string>();
  return notices.map((notice, i) => {
    const parsed = ownerNoticeSchema.safeParse(notice);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new NoticeInputError(`notice ${i} (${describe(notice)}): ${issue.path.join('.') || 'notice'} ${issue.message.replace(/^Invalid input: /, '')}`);
    }
    const id = `${parsed.data.milestone}\n${parsed.data.owner.name}`;
    if (seen.has(id)) throw new NoticeInputError(`notice ${i}: owner "${parsed.data.owner.name}" appears twice for milestone ${parsed.data.milestone}; give each owner one notice listing all its agents`);
    seen.add(id);
    return parsed.data as OwnerNotice;
  });
}

function describe(notice: OwnerNotice): string {
  return `milestone ${String(notice?.milestone)}, owner ${String(notice?.owner?.name)}`;
}

/** One key per milestone, owner and channel: the webhook's Idempotency-Key and the email's Message-ID. */
export function noticeIdempotencyKey(milestone: string, owner: string, channel: string): string {
  return `notice-${createHash('sha256').update(`${milestone}\n${owner}\n${channel}`).digest('hex').slice(0, 32)}`;
}

/** The owner's email address, when the contact is one (`mailto:` allowed). */
export function emailAddressOf(contact: string | undefined): string | undefined {
  const address = contact?.trim().replace(/^mailto:/i, '');
  return address && /^[^\s@<>,;:"()[\]\\]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/.test(address) ? address : undefined;
}

/** The text of a notice for a person: the subject's details, the agents, the deadline and links. */
export function noticeBody(notice: OwnerNotice, agentsShown = 50): string {
  const shown = notice.agents.slice(0, agentsShown);
  const more = notice.agents.length - shown.length;
  const lines = [notice.text, ''];
  lines.push(`Owner: ${notice.owner.name}${notice.owner.team ? ` (team ${notice.owner.team})` : ''}`);
  if (notice.agents.length > 0) lines.push(`Agents still on legacy (${notice.agents.length}): ${shown.join(', ')}${more > 0 ? ` and ${more} more` : ''}`);
  if (notice.deadline) lines.push(`Deadline: ${notice.deadline}`);
  for (const [name, url] of Object.entries(notice.links ?? {})) lines.push(`${name}: ${url}`);
  return lines.join('\n');
}
