import type { MessageLog, SendQuota } from '@agent-bridge/event-store';
import { DEFAULT_CONTINGENCIES, type Contingencies } from '@agent-bridge/flags';
import type { BridgeMetrics } from '@agent-bridge/observability';
import { ToolError, type Envelope } from '@agent-bridge/protocol';
import { LoadShedder } from './load-shedder.js';

export interface SendGateLimits {
  quota: SendQuota;
  /** Sends are refused while Redis uses this fraction of its memory limit or more (1: only Redis's own refusal). */
  memoryHighWater: number;
  /** Read-only mode and load shedding as published (the flag snapshot's `contingencies`). */
  contingencies?: () => Contingencies;
}

/** How long an agent refused by read-only mode is told to wait before it tries again. */
const READ_ONLY_RETRY_MS = 30_000;

/** How long an agent is told to wait while Redis is above its high-water mark. */
export const STORE_FULL_RETRY_MS = 5_000;
/** Agents remembered as rate-limited by this process at most (the memory of refusals is bounded too). */
const REMEMBERED_REFUSALS = 10_000;
/** A refusal is answered this much later per recent refusal of the same sender (its first one at once)… */
const REFUSAL_DELAY_STEP_MS = 10;
/** …and at most this much later. */
export const REFUSAL_DELAY_MAX_MS = 1_000;
/** Recent refusals of a sender count half after this long. */
const REFUSAL_HALF_LIFE_MS = 1_000;

/**
 * Decides, before anything of a send is stored, whether it may be accepted: the Redis memory
 * high-water mark first (shared by everyone), then the sender's token bucket and backlog (its own).
 * A refusal is a ToolError with a stable code and `details.retryAfterMs`. A sender refused for its
 * rate is refused by this process without asking Redis again until its retry-after has passed, so a
 * flood of refused calls costs Redis nothing. A sender that keeps calling while refused is answered
 * more slowly (10 ms per recent refusal, at most 1 s): a client that ignores the retry-after and
 * calls again at once would otherwise make the replica spend its time refusing it.
 */
export class SendGate {
  private readonly refusedUntil = new Map<string, number>();
  /** Recent refusals per sender, decayed by REFUSAL_HALF_LIFE_MS (bounded like refusedUntil). */
  private readonly strikes = new Map<string, { score: number; at: number }>();
  readonly shedder = new LoadShedder();

  constructor(
    private readonly store: Pick<MessageLog, 'admitSend' | 'memoryPressure'>,
    private readonly limits: SendGateLimits,
    private readonly metrics: BridgeMetrics,
  ) {}

  /**
   * `key`: the send's idempotency key, when it has one (load shedding answers its retries alike
   * within a retry-after window). A reply (`kind: reply`) completes a conversation already accepted:
   * read-only mode and load shedding let it through. `elicitWaitTtlMs`: an `elicit` question, whose
   * wait record the admission opens (store `admitSend`).
   */
  async admit(envelope: Pick<Envelope, 'id' | 'from' | 'to' | 'deadlineAt'> & Partial<Pick<Envelope, 'kind'>>, key?: string, elicitWaitTtlMs?: number): Promise<void> {
    try {
      if (envelope.kind !== 'reply') this.refuseIfContingent(envelope.id, key);
      await this.decide(envelope, elicitWaitTtlMs);
    } catch (error) {
      if (error instanceof ToolError && (error.code === 'RATE_LIMITED' || error.code === 'BACKLOG_FULL')) {
        const delay = this.refusalDelay(envelope.from);
        if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      }
      throw error;
    }
  }

  /** How much later to answer this refusal of the sender: 0 for a first one, more the more it had lately. */
  private refusalDelay(agentId: string): number {
    const now = Date.now();
    const last = this.strikes.get(agentId);
    const recent = last ? last.score * 0.5 ** ((now - last.at) / REFUSAL_HALF_LIFE_MS) : 0;
    if (!last && this.strikes.size >= REMEMBERED_REFUSALS) this.strikes.clear();
    this.strikes.set(agentId, { score: recent + 1, at: now });
    return Math.min(REFUSAL_DELAY_MAX_MS, Math.floor(recent * REFUSAL_DELAY_STEP_MS));
  }

  private async decide(envelope: Pick<Envelope, 'id' | 'from' | 'to' | 'deadlineAt'>, elicitWaitTtlMs: number | undefined): Promise<void> {
    const now = Date.now();
    const until = this.refusedUntil.get(envelope.from);
    if (until !== undefined && until > now) throw this.rateLimited(envelope.from, until - now);
    const pressure = await this.store.memoryPressure();
    if (pressure.limitBytes > 0 && pressure.ratio >= this.limits.memoryHighWater) {
      this.metrics.sendsRefused.inc({ reason: 'store_full' });
      throw new ToolError(
        'STORE_FULL',
        `the bridge's event store is ${Math.round(pressure.ratio * 100)} % full, above its high-water mark; nothing was stored. Messages already accepted are still delivered: retry in ${STORE_FULL_RETRY_MS / 1000} s (with the same idempotency_key, if you set one).`,
        { details: { retryAfterMs: STORE_FULL_RETRY_MS } },
      );
    }
    const started = performance.now();
    const admission = await this.store.admitSend({ from: envelope.from, to: envelope.to, messageId: envelope.id, deadlineAt: envelope.deadlineAt, ...(elicitWaitTtlMs === undefined ? {} : { elicitWaitTtlMs }) }, this.limits.quota);
    this.shedder.observe(performance.now() - started);
    this.metrics.loadLatencyRatio.set(this.shedder.ratio());
    if (admission.admitted) return;
    if (admission.reason === 'rate') {
      this.remember(envelope.from, now + admission.retryAfterMs);
      throw this.rateLimited(envelope.from, admission.retryAfterMs);
    }
    this.metrics.sendsRefused.inc({ reason: 'backlog_full' });
    throw new ToolError(
      'BACKLOG_FULL',
      `${admission.open} of your messages are accepted and not yet delivered, the most one agent may have (SEND_BACKLOG_MAX ${this.limits.quota.backlogMax}); nothing was stored. Retry once your recipients have received some (in about ${admission.retryAfterMs / 1000} s).`,
      { details: { retryAfterMs: admission.retryAfterMs, open: admission.open, limit: this.limits.quota.backlogMax } },
    );
  }

  /** Read-only mode, then load shedding (docs/agent-guide.md: READ_ONLY, LOAD_SHED). */
  private refuseIfContingent(messageId: string, key: string | undefined): void {
    const { readOnly, loadShedding } = this.limits.contingencies?.() ?? DEFAULT_CONTINGENCIES;
    if (readOnly.enabled) {
      this.metrics.sendsRefused.inc({ reason: 'read_only' });
      const since = readOnly.since ? ` since ${readOnly.since}` : '';
      throw new ToolError(
        'READ_ONLY',
        `the bridge is in read-only mode${since} (${readOnly.reason || 'no reason given'}); nothing was stored. Replies (send_message with in_reply_to), answers to questions and delivery of accepted messages go on. Retry this send later, in ${READ_ONLY_RETRY_MS / 1000} s or more (with the same idempotency_key, if you set one).`,
        { details: { retryAfterMs: READ_ONLY_RETRY_MS, reason: readOnly.reason, since: readOnly.since } },
      );
    }
    const decision = this.shedder.decide(key ?? messageId, loadShedding);
    this.metrics.loadShedding.set(loadShedding.enabled && decision.ratio >= loadShedding.latencyMultiple ? 1 : 0);
    if (decision.probe) this.metrics.loadShedProbes.inc();
    if (!decision.shed) return;
    this.metrics.sendsRefused.inc({ reason: 'load_shed' });
    throw new ToolError(
      'LOAD_SHED',
      `the bridge is shedding load: its latency is ${decision.ratio.toFixed(1)} times its baseline (shedding starts at ${loadShedding.latencyMultiple}), so ${Math.round(loadShedding.share * 100)} % of new sends are refused; nothing was stored. Retry after ${loadShedding.retryAfterMs} ms (with the same idempotency_key, if you set one).`,
      { details: { retryAfterMs: loadShedding.retryAfterMs, latencyRatio: Number(decision.ratio.toFixed(2)), share: loadShedding.share } },
    );
  }

  private rateLimited(agentId: string, retryAfterMs: number): ToolError {
    this.metrics.sendsRefused.inc({ reason: 'rate_limited' });
    const { ratePerSecond, burst } = this.limits.quota;
    return new ToolError('RATE_LIMITED', `agent ${agentId} sends faster than the ${ratePerSecond} messages per second (bursts of ${burst}) one agent may; nothing was stored. Retry after ${retryAfterMs} ms.`, {
      details: { retryAfterMs, ratePerSecond, burst },
    });
  }

  private remember(agentId: string, until: number): void {
    if (this.refusedUntil.size >= REMEMBERED_REFUSALS) {
      const now = Date.now();
      for (const [agent, at] of this.refusedUntil) if (at <= now) this.refusedUntil.delete(agent);
      if (this.refusedUntil.size >= REMEMBERED_REFUSALS) this.refusedUntil.clear();
    }
    this.refusedUntil.set(agentId, until);
  }
}

export function sendGateLimitsFrom(config: { SEND_RATE_PER_SECOND: number; SEND_BURST: number; SEND_BACKLOG_MAX: number; REDIS_MEMORY_HIGH_WATER_PERCENT: number }, contingencies?: () => Contingencies): SendGateLimits {
  return {
    ...(contingencies ? { contingencies } : {}),
    quota: { ratePerSecond: config.SEND_RATE_PER_SECOND, burst: config.SEND_BURST, backlogMax: config.SEND_BACKLOG_MAX },
    memoryHighWater: config.REDIS_MEMORY_HIGH_WATER_PERCENT / 100,
  };
}
