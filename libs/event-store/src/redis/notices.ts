/**
 * The owner notification ledger (part of ControllerStore): each milestone's notices, once per owner
 * per channel, and where each stands (pending → sending → sent | skipped | failed). Written by the
 * notice_* scripts; docs/event-store.md and decision 0023 say why it is built this way.
 */
import type { NoticeLedgerStore } from '../store.js';
import type { ClaimedNotice, EnqueueCounts, NoticeBatch, NoticeState, NoticeStateName } from '../types.js';
import type { RedisContext, Reply } from './context.js';

/** Owners per script call: a batch of thousands of owners never holds Redis for long. */
const ENQUEUE_CHUNK = 200;

export class RedisNotices implements NoticeLedgerStore {
  constructor(private readonly context: RedisContext) {}

  async enqueueNotices(batch: NoticeBatch, leaseValue: string): Promise<Record<string, EnqueueCounts>> {
    const { keys, scripts, redis } = this.context;
    const total: Record<string, EnqueueCounts> = Object.fromEntries(batch.channels.map((channel) => [channel, { queued: 0, already: 0, skipped: 0 }]));
    for (let start = 0; start < batch.notices.length; start += ENQUEUE_CHUNK) {
      const chunk = batch.notices.slice(start, start + ENQUEUE_CHUNK);
      const args: Array<string | number> = [leaseValue, batch.milestone, batch.now, batch.retentionSeconds, batch.maxOwners, batch.maxMilestones, batch.channels.length, ...batch.channels];
      for (const notice of chunk) {
        args.push(notice.owner, notice.noticeJson);
        for (const initial of notice.initial) {
          const state: NoticeState = { state: initial.state, attempts: 0, createdAt: batch.now, updatedAt: batch.now, dueAt: batch.now, ...(initial.detail ? { detail: initial.detail } : {}) };
          args.push(initial.state, JSON.stringify(state));
        }
      }
      const reply = (await this.context.run(
        scripts.notice_enqueue,
        [keys.controllerLease(), keys.noticeMilestones(), keys.notices(batch.milestone), keys.noticeCounts(batch.milestone), ...batch.channels.map((channel) => keys.noticesDue(channel))],
        args,
      )) as Reply;
      batch.channels.forEach((channel, c) => {
        total[channel]!.queued += Number(reply[3 * c]);
        total[channel]!.already += Number(reply[3 * c + 1]);
        total[channel]!.skipped += Number(reply[3 * c + 2]);
      });
      const forgotten = reply.slice(3 * batch.channels.length).map(String);
      // Old milestones: their keys go now; their due entries, if any, when a claim meets them.
      if (forgotten.length > 0) await this.context.call('forget milestones', () => redis.del(...forgotten.flatMap((m) => [keys.notices(m), keys.noticeCounts(m)])));
    }
    return total;
  }

  async claimDueNotices(
    channel: string,
    claim: { now: number; claimUntil: number; token: string; maxAttempts: number; limit: number },
    leaseValue: string,
  ): Promise<Array<ClaimedNotice | (Omit<ClaimedNotice, 'noticeJson'> & { exhausted: true })>> {
    const { keys, scripts, redis } = this.context;
    const due = keys.noticesDue(channel);
    const members = await this.context.call('due notices', () => redis.zrangebyscore(due, '-inf', claim.now, 'LIMIT', 0, claim.limit));
    if (members.length === 0) return [];
    const items = members.map((member) => {
      const bar = member.indexOf('|');
      return { member, milestone: member.slice(0, bar), owner: member.slice(bar + 1) };
    });
    const replies = (await this.context.pipelineScript(
      scripts.notice_claim,
      items.map(({ member, milestone, owner }) => ({
        keys: [keys.controllerLease(), due, keys.notices(milestone), keys.noticeCounts(milestone)],
        args: [leaseValue, member, `s|${channel}|${owner}`, `n|${owner}`, claim.now, claim.claimUntil, claim.token, claim.maxAttempts, channel],
      })),
    )) as Reply[];
    const claimed: Array<ClaimedNotice | (Omit<ClaimedNotice, 'noticeJson'> & { exhausted: true })> = [];
    replies.forEach((reply, i) => {
      const { milestone, owner } = items[i]!;
      if (reply[0] === 'claimed') claimed.push({ milestone, owner, channel, state: JSON.parse(String(reply[1])) as NoticeState, noticeJson: String(reply[2]) });
      else if (reply[0] === 'exhausted') claimed.push({ milestone, owner, channel, state: JSON.parse(String(reply[1])) as NoticeState, exhausted: true });
    });
    return claimed;
  }

  async settleNotice(
    notice: { milestone: string; owner: string; channel: string; token: string },
    outcome: { result: 'sent' | 'skipped' | 'failed' } | { result: 'retry'; dueAt: number },
    detail: string,
    now: number,
    retentionSeconds: number,
  ): Promise<{ status: 'settled'; open: number } | { status: 'stale' }> {
    const { keys, scripts } = this.context;
    const reply = (await this.context.run(
      scripts.notice_settle,
      [keys.noticesDue(notice.channel), keys.notices(notice.milestone), keys.noticeCounts(notice.milestone)],
      [`${notice.milestone}|${notice.owner}`, `s|${notice.channel}|${notice.owner}`, notice.token, outcome.result, now, outcome.result === 'retry' ? outcome.dueAt : 0, detail, notice.channel, retentionSeconds],
    )) as Reply;
    return reply[0] === 'OK' ? { status: 'settled', open: Number(reply[1]) } : { status: 'stale' };
  }

  async nextNoticeDueAt(channel: string): Promise<number | null> {
    const first = await this.context.call('next notice due', () => this.context.redis.zrange(this.context.keys.noticesDue(channel), '0', '0', 'WITHSCORES'));
    return first.length === 2 ? Number(first[1]) : null;
  }

  async noticeMilestones(): Promise<Array<{ milestone: string; recordedAt: number; owners: number; counts: Record<string, Partial<Record<NoticeStateName, number>>> }>> {
    const { keys, redis } = this.context;
    const index = await this.context.call('notice milestones', () => redis.zrange(keys.noticeMilestones(), '0', '-1', 'WITHSCORES'));
    const milestones: Array<{ milestone: string; recordedAt: number }> = [];
    for (let i = 0; i < index.length; i += 2) milestones.push({ milestone: index[i]!, recordedAt: Number(index[i + 1]) });
    if (milestones.length === 0) return [];
    const pipeline = this.context.pipeline();
    for (const { milestone } of milestones) pipeline.hgetall(keys.noticeCounts(milestone));
    const counts = (await this.context.exec('notice counts', pipeline)) as Array<Record<string, string>>;
    return milestones.flatMap(({ milestone, recordedAt }, i) => {
      const hash = counts[i] ?? {};
      if (Object.keys(hash).length === 0) return []; // expired
      const byChannel: Record<string, Partial<Record<NoticeStateName, number>>> = {};
      for (const [field, value] of Object.entries(hash)) {
        const bar = field.indexOf('|');
        if (bar < 0 || Number(value) === 0) continue;
        (byChannel[field.slice(0, bar)] ??= {})[field.slice(bar + 1) as NoticeStateName] = Number(value);
      }
      return [{ milestone, recordedAt, owners: Number(hash.owners ?? 0), counts: byChannel }];
    });
  }

  async readNotices(milestone: string): Promise<Array<{ owner: string; noticeJson: string; channels: Record<string, NoticeState> }>> {
    const hash = await this.context.call('read notices', () => this.context.redis.hgetall(this.context.keys.notices(milestone)));
    const byOwner = new Map<string, { owner: string; noticeJson: string; channels: Record<string, NoticeState> }>();
    const entry = (owner: string) => byOwner.get(owner) ?? byOwner.set(owner, { owner, noticeJson: '{}', channels: {} }).get(owner)!;
    for (const [field, value] of Object.entries(hash)) {
      if (field.startsWith('n|')) entry(field.slice(2)).noticeJson = value;
      else if (field.startsWith('s|')) {
        const rest = field.slice(2);
        const bar = rest.indexOf('|');
        entry(rest.slice(bar + 1)).channels[rest.slice(0, bar)] = JSON.parse(value) as NoticeState;
      }
    }
    return [...byOwner.values()].sort((a, b) => a.owner.localeCompare(b.owner));
  }
}
