/**
 * One channel's sender: while this controller leads, claims the channel's due notices from the
 * ledger, sends them (a few at a time, each with a deadline), and records how each ended — sent,
 * retried after an exponential backoff with jitter, or failed once its attempts are used up. Each
 * channel has its own worker, beside the reconcile loop: a hanging SMTP server delays only email.
 */
import { randomUUID } from 'node:crypto';
import type { ClaimedNotice, NoticeLedgerStore } from '@agent-bridge/event-store';
import type { Logger } from '@agent-bridge/observability';
import { ChannelError, type NotificationChannel } from './channels.js';
import { noticeIdempotencyKey, type OwnerNotice } from './notice.js';

export interface RetryPolicy {
  /** Attempts per notice and channel before it is recorded failed. */
  maxAttempts: number;
  /** The first retry's delay; it doubles per attempt up to maxDelayMs, and each is jittered to 50–100 %. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Deadline of one send. */
  timeoutMs: number;
  /** Sends in flight per channel. */
  concurrency: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 8, baseDelayMs: 5_000, maxDelayMs: 600_000, timeoutMs: 10_000, concurrency: 4 };

/** How long to wait before attempt `attempts + 1` (`attempts` ≥ 1 failed so far): exponential, capped, 50–100 % of it (equal jitter). */
export function retryDelayMs(policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'>, attempts: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** How a notice ended on a channel, for the metrics and the audit trail. */
export interface Settled {
  channel: string;
  milestone: string;
  owner: string;
  result: 'sent' | 'retried' | 'failed';
  attempts: number;
  error?: string;
  /** The channel's notices of this milestone still open (pending or sending); undefined when not known. */
  open?: number;
  /** The lease the claim was made under (audit entries are fenced by it). */
  leaseValue: string;
}

export interface WorkerDeps {
  store: NoticeLedgerStore;
  logger: Logger;
  now: () => number;
  /** The leader lease value while this controller leads. */
  leaseValue: () => string | undefined;
  retry: RetryPolicy;
  retentionSeconds: number;
  /** Longest wait between two looks at the ledger (a new leader resumes within it). */
  idleMs: number;
  onSettled: (settled: Settled) => void;
}

export class ChannelWorker {
  private stopped = false;
  private running: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(
    readonly channel: NotificationChannel,
    private readonly deps: WorkerDeps,
  ) {}

  start(): void {
    this.running ??= this.loop();
  }

  /** Looks at the ledger now (new notices were recorded, or leadership changed). */
  poke(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /**
   * Stops claiming and waits for the sends in flight (each bounded by its deadline) to be recorded:
   * aborting one the receiver already accepted would have the next leader send it again.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.poke();
    await this.running;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      let waitMs = this.deps.idleMs;
      const lease = this.deps.leaseValue();
      if (lease) {
        try {
          waitMs = await this.round(lease);
        } catch (error) {
          this.deps.logger.warn({ err: error, channel: this.channel.name }, 'notification round failed; retrying');
        }
      }
      if (this.stopped) break;
      if (waitMs > 0) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, waitMs).unref();
        });
      }
    }
  }

  /** Claims and sends what is due; returns how long to wait before the next round. */
  private async round(lease: string): Promise<number> {
    const { store, retry, now } = this.deps;
    const at = now();
    // A claim outlives the send's deadline, so a live send is never claimed twice.
    const claimUntil = at + 2 * retry.timeoutMs + 1_000;
    const claimed = await store.claimDueNotices(this.channel.name, { now: at, claimUntil, token: randomUUID(), maxAttempts: retry.maxAttempts, limit: retry.concurrency }, lease);
    // Settled one by one: a send whose result could not be recorded stays claimed until its claim
    // runs out, and the others are still recorded (and waited for by stop()).
    const results = await Promise.allSettled(
      claimed.map(async (notice) => {
        if ('exhausted' in notice) {
          this.deps.onSettled({ channel: notice.channel, milestone: notice.milestone, owner: notice.owner, result: 'failed', attempts: notice.state.attempts, error: notice.state.lastError ?? '', leaseValue: lease });
          return;
        }
        await this.deliver(notice, lease);
      }),
    );
    for (const result of results) if (result.status === 'rejected') this.deps.logger.warn({ err: result.reason, channel: this.channel.name }, 'could not record a notification; its claim runs out and it is tried again');
    if (claimed.length >= retry.concurrency) return 0;
    const next = await store.nextNoticeDueAt(this.channel.name);
    // At least a few ms when nothing was claimed: a due entry that is not claimable never spins the loop.
    return next === null ? this.deps.idleMs : Math.max(claimed.length === 0 ? 20 : 0, Math.min(this.deps.idleMs, next - now()));
  }

  private async deliver(claimed: ClaimedNotice, lease: string): Promise<void> {
    const { retry, now, store } = this.deps;
    const notice = JSON.parse(claimed.noticeJson) as OwnerNotice;
    const attempts = claimed.state.attempts;
    const token = claimed.state.token!;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), retry.timeoutMs);
    let error: string | undefined;
    let permanent = false;
    try {
      const idempotencyKey = noticeIdempotencyKey(claimed.milestone, claimed.owner, claimed.channel);
      // The channel honours the signal; the race makes sure a channel that does not cannot hold the worker.
      await Promise.race([
        this.channel.send(notice, { idempotencyKey, signal: abort.signal }),
        new Promise<never>((_, reject) => abort.signal.addEventListener('abort', () => reject(new ChannelError(`no answer within ${retry.timeoutMs} ms`)), { once: true })),
      ]);
    } catch (caught) {
      error = (caught as Error).message.slice(0, 500);
      permanent = caught instanceof ChannelError && caught.permanent;
    } finally {
      clearTimeout(timer);
    }
    const at = now();
    const outcome = error === undefined ? ({ result: 'sent' } as const) : permanent || attempts >= retry.maxAttempts ? ({ result: 'failed' } as const) : ({ result: 'retry', dueAt: at + retryDelayMs(retry, attempts) } as const);
    const settled = await store.settleNotice({ milestone: claimed.milestone, owner: claimed.owner, channel: claimed.channel, token }, outcome, error ?? '', at, this.deps.retentionSeconds);
    if (settled.status === 'stale') {
      this.deps.logger.warn({ channel: claimed.channel, milestone: claimed.milestone, owner: claimed.owner, error }, 'a notice was claimed again before its send reported back; the newer claim decides');
      return;
    }
    if (error !== undefined) this.deps.logger.warn({ channel: claimed.channel, milestone: claimed.milestone, owner: claimed.owner, attempts, error, outcome: outcome.result }, 'notification attempt failed');
    this.deps.onSettled({
      channel: claimed.channel,
      milestone: claimed.milestone,
      owner: claimed.owner,
      result: outcome.result === 'retry' ? 'retried' : outcome.result,
      attempts,
      ...(error !== undefined ? { error } : {}),
      open: settled.open,
      leaseValue: lease,
    });
  }
}
