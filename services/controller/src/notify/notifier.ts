/**
 * The notifier: the deprecation schedule hands it owner notices (enqueue), it records each once per
 * milestone, owner and channel in the ledger (the event store, fenced by the leader lease) and
 * returns; one ChannelWorker per channel sends them beside the reconcile loop. `summary` says what
 * was sent, is pending, skipped or failed, per milestone (GET /admin/notifications, bridgectl).
 */
import type { EventStore, Keys, NoticeState, NoticeStateName } from '@agent-bridge/event-store';
import type { BridgeMetrics, Logger } from '@agent-bridge/observability';
import type { NotificationChannel } from './channels.js';
import { checkNotices, NoticeInputError, type OwnerNotice } from './notice.js';
import { ChannelWorker, DEFAULT_RETRY, type RetryPolicy, type Settled } from './worker.js';

/** The pseudo-channel notices are recorded on when no channel is configured (skipped, visibly). */
const NO_CHANNEL = 'none';
const NO_CHANNEL_REASON = 'no notification channel is configured (set NOTIFY_WEBHOOK_URL or SMTP_URL)';

export interface NotifierLimits {
  /** Most owners one milestone may notify. */
  maxOwners: number;
  /** Milestones kept; the oldest beyond it are forgotten. */
  maxMilestones: number;
  /** A milestone's records expire this long after its last change. */
  retentionSeconds: number;
}

const DEFAULT_LIMITS: NotifierLimits = { maxOwners: 5_000, maxMilestones: 50, retentionSeconds: 90 * 24 * 3600 };

export interface NotifierDeps {
  store: EventStore;
  keys: Keys;
  logger: Logger;
  metrics: BridgeMetrics;
  channels: NotificationChannel[];
  /** The leader lease value while this controller leads (`elector.lease()?.value`): only the leader sends. */
  leaseValue: () => string | undefined;
  now?: () => number;
  retry?: Partial<RetryPolicy>;
  limits?: Partial<NotifierLimits>;
  /** Longest wait between two looks at the ledger when nothing is due (default 1 s). */
  idleMs?: number;
}

type ChannelCounts = Record<NoticeStateName, number>;

export interface MilestoneSummary {
  milestone: string;
  recordedAt: string;
  owners: number;
  /** By channel: how many notices are pending, sending, sent, skipped, failed. */
  channels: Record<string, ChannelCounts>;
  /** With summary(milestone): each owner's notice on each channel. */
  notices?: Array<{ owner: string; team?: string; contact?: string; agents: number; channels: Record<string, NoticeView> }>;
}

interface NoticeView {
  state: NoticeStateName;
  attempts: number;
  updatedAt: string;
  sentAt?: string;
  /** When the next attempt is due (pending), or the claim runs out (sending). */
  nextAttemptAt?: string;
  lastError?: string;
  detail?: string;
}

export class Notifier {
  private readonly workers: ChannelWorker[];
  private readonly now: () => number;
  private readonly limits: NotifierLimits;
  private gaugeTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: NotifierDeps) {
    this.now = deps.now ?? Date.now;
    this.limits = { ...DEFAULT_LIMITS, ...deps.limits };
    const names = deps.channels.map((c) => c.name);
    if (new Set(names).size !== names.length || names.some((n) => !/^[a-z][a-z0-9-]{0,31}$/.test(n) || n === NO_CHANNEL))
      throw new Error(`notification channels need distinct names of lowercase letters, digits or "-" (got ${names.join(', ')})`);
    const retry = { ...DEFAULT_RETRY, ...deps.retry };
    this.workers = deps.channels.map(
      (channel) =>
        new ChannelWorker(channel, {
          store: deps.store,
          logger: deps.logger,
          now: this.now,
          leaseValue: deps.leaseValue,
          retry,
          retentionSeconds: this.limits.retentionSeconds,
          idleMs: deps.idleMs ?? 1_000,
          onSettled: (settled) => this.settled(settled),
        }),
    );
    for (const channel of [...names, NO_CHANNEL]) for (const result of ['sent', 'skipped', 'retried', 'failed']) deps.metrics.notifications.inc({ channel, result }, 0);
  }

  start(): void {
    for (const worker of this.workers) worker.start();
    void this.countPending().catch(() => undefined);
    this.gaugeTimer = setInterval(() => void this.countPending().catch(() => undefined), 5_000);
    this.gaugeTimer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.gaugeTimer);
    await Promise.all(this.workers.map((w) => w.stop()));
    await Promise.all(this.deps.channels.map((c) => c.close?.()));
  }

  /**
   * Records each notice as pending on every channel (skipped where a channel cannot reach the owner,
   * or on "none" when no channel is configured) and returns at once: it never waits on a channel.
   * A notice already recorded for that milestone, owner and channel is not queued again. Fenced by
   * `fence`, the leader lease value (LEASE_LOST when it is no longer held). Throws NoticeInputError
   * for a notice that is invalid or beyond the limits.
   */
  async enqueue(notices: OwnerNotice[], fence: string): Promise<{ queued: number; already: number; skipped: number }> {
    const checked = checkNotices(notices);
    const byMilestone = new Map<string, OwnerNotice[]>();
    for (const notice of checked) {
      const group = byMilestone.get(notice.milestone);
      if (group) group.push(notice);
      else byMilestone.set(notice.milestone, [notice]);
    }
    const channels = this.deps.channels;
    const names = channels.length > 0 ? channels.map((c) => c.name) : [NO_CHANNEL];
    const total = { queued: 0, already: 0, skipped: 0 };
    for (const [milestone, group] of byMilestone) {
      if (group.length > this.limits.maxOwners) throw new NoticeInputError(`milestone ${milestone} has ${group.length} owners to notify, more than the limit of ${this.limits.maxOwners} (NOTIFY_MAX_OWNERS); raise it or notify fewer owners`);
      let counts;
      try {
        counts = await this.deps.store.enqueueNotices(
          {
            milestone,
            channels: names,
            notices: group.map((notice) => ({
              owner: notice.owner.name,
              noticeJson: JSON.stringify(notice),
              initial: channels.length > 0 ? channels.map((c) => skippedOr(c.unreachable(notice))) : [{ state: 'skipped', detail: NO_CHANNEL_REASON }],
            })),
            now: this.now(),
            retentionSeconds: this.limits.retentionSeconds,
            maxOwners: this.limits.maxOwners,
            maxMilestones: this.limits.maxMilestones,
          },
          fence,
        );
      } catch (error) {
        const limit = /LIMIT (milestone .*)$/.exec((error as Error).message)?.[1];
        if (limit) throw new NoticeInputError(`${limit} (NOTIFY_MAX_OWNERS); nothing of this batch was recorded past the limit`);
        throw error;
      }
      for (const [channel, c] of Object.entries(counts)) {
        total.queued += c.queued;
        total.already += c.already;
        total.skipped += c.skipped;
        if (c.skipped > 0) this.deps.metrics.notifications.inc({ channel, result: 'skipped' }, c.skipped);
      }
      if (channels.length === 0 && counts[NO_CHANNEL]!.skipped > 0) this.deps.logger.warn({ milestone, owners: group.length }, `owner notices recorded but not sent: ${NO_CHANNEL_REASON}`);
      await this.deps.store.appendAudit(
        { at: new Date(this.now()).toISOString(), actor: 'notifier', action: 'controller.notification.queued', reason: `${milestone}: owner notices recorded`, trigger: 'controller', details: { milestone, channels: counts } },
        fence,
      );
    }
    if (total.queued > 0) {
      for (const worker of this.workers) worker.poke();
      void this.countPending().catch(() => undefined);
    }
    return total;
  }

  /** What was sent, is pending, skipped or failed: every milestone's counts, or one milestone with each owner's notices. */
  async summary(milestone?: string): Promise<{ channels: string[]; milestones: MilestoneSummary[] }> {
    const all = await this.deps.store.noticeMilestones();
    const chosen = milestone === undefined ? all : all.filter((m) => m.milestone === milestone);
    const milestones = await Promise.all(
      chosen.map(async (m): Promise<MilestoneSummary> => {
        const summary: MilestoneSummary = {
          milestone: m.milestone,
          recordedAt: new Date(m.recordedAt).toISOString(),
          owners: m.owners,
          channels: Object.fromEntries(Object.entries(m.counts).map(([channel, counts]) => [channel, fullCounts(counts)])),
        };
        if (milestone === undefined) return summary;
        const notices = await this.deps.store.readNotices(m.milestone);
        summary.notices = notices.map(({ owner, noticeJson, channels }) => {
          const notice = JSON.parse(noticeJson) as Partial<OwnerNotice>;
          return {
            owner,
            ...(notice.owner?.team ? { team: notice.owner.team } : {}),
            ...(notice.owner?.contact ? { contact: notice.owner.contact } : {}),
            agents: notice.agents?.length ?? 0,
            channels: Object.fromEntries(Object.entries(channels).map(([channel, state]) => [channel, viewOf(state)])),
          };
        });
        return summary;
      }),
    );
    return { channels: this.deps.channels.map((c) => c.name), milestones };
  }

  private settled(settled: Settled): void {
    const { metrics, store, logger } = this.deps;
    metrics.notifications.inc({ channel: settled.channel, result: settled.result });
    const at = new Date(this.now()).toISOString();
    const audits: Array<Promise<unknown>> = [];
    if (settled.result === 'failed') {
      audits.push(
        store.appendAudit(
          {
            at,
            actor: 'notifier',
            action: 'controller.notification.failed',
            reason: `${settled.milestone}: ${settled.channel} notice to ${settled.owner} failed after ${settled.attempts} attempts: ${settled.error ?? ''}`,
            trigger: 'controller',
            details: { milestone: settled.milestone, channel: settled.channel, owner: settled.owner, attempts: settled.attempts, error: settled.error ?? '' },
          },
          settled.leaseValue,
        ),
      );
    }
    if (settled.open === 0) audits.push(this.auditMilestone(settled.milestone, settled.channel, settled.leaseValue, at));
    // Audit entries are fenced: a deposed leader's are refused, which is right (its successor audits).
    void Promise.all(audits).catch((error) => logger.warn({ err: error, milestone: settled.milestone }, 'could not audit a notification'));
  }

  /** Once a milestone's channel has nothing left to send: what it sent, skipped and failed. */
  private async auditMilestone(milestone: string, channel: string, leaseValue: string, at: string): Promise<void> {
    const counts = fullCounts((await this.deps.store.noticeMilestones()).find((m) => m.milestone === milestone)?.counts[channel] ?? {});
    await this.deps.store.appendAudit(
      {
        at,
        actor: 'notifier',
        action: 'controller.notification.sent',
        reason: `${milestone}: ${channel} notices done: ${counts.sent} sent, ${counts.skipped} skipped, ${counts.failed} failed`,
        trigger: 'controller',
        details: { milestone, channel, ...counts },
      },
      leaseValue,
    );
  }

  /** The pending gauge: the leader counts the ledger; a follower reports nothing (so sums count once). */
  private async countPending(): Promise<void> {
    const gauge = this.deps.metrics.notificationsPending;
    if (!this.deps.leaseValue()) {
      gauge.reset();
      return;
    }
    // Every channel has a series, 0 included ("none" never holds a pending notice: it records them skipped).
    const pending = new Map<string, number>([...this.deps.channels.map((c): [string, number] => [c.name, 0]), [NO_CHANNEL, 0]]);
    for (const m of await this.deps.store.noticeMilestones()) {
      for (const [channel, counts] of Object.entries(m.counts)) if (channel !== NO_CHANNEL) pending.set(channel, (pending.get(channel) ?? 0) + (counts.pending ?? 0) + (counts.sending ?? 0));
    }
    for (const [channel, count] of pending) gauge.set({ channel }, count);
  }
}

function skippedOr(reason: string | undefined): { state: 'pending' | 'skipped'; detail?: string } {
  return reason === undefined ? { state: 'pending' } : { state: 'skipped', detail: reason };
}

function fullCounts(counts: Partial<Record<NoticeStateName, number>>): ChannelCounts {
  return { pending: counts.pending ?? 0, sending: counts.sending ?? 0, sent: counts.sent ?? 0, skipped: counts.skipped ?? 0, failed: counts.failed ?? 0 };
}

function viewOf(state: NoticeState): NoticeView {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    state: state.state,
    attempts: state.attempts,
    updatedAt: iso(state.updatedAt),
    ...(state.sentAt !== undefined ? { sentAt: iso(state.sentAt) } : {}),
    ...(state.state === 'pending' ? { nextAttemptAt: iso(state.dueAt) } : state.state === 'sending' && state.claimUntil !== undefined ? { nextAttemptAt: iso(state.claimUntil) } : {}),
    ...(state.lastError ? { lastError: state.lastError } : {}),
    ...(state.detail ? { detail: state.detail } : {}),
  };
}
