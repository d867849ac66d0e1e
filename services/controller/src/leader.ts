/**
 * Leader election: at most one controller reconciles. The leader holds the store's controller
 * lease (`owner|fence`, with a TTL it renews every third of the TTL); every write it makes to the
 * store is checked against that lease inside Redis, so a leader that stalls past its TTL and comes
 * back cannot overwrite its successor. In Kubernetes mode it must also hold a coordination.k8s.io
 * Lease (see kube-lease.ts) before it even tries the store lease.
 */
import type { ControllerLease, ControllerStore } from '@agent-bridge/event-store';
import type { Logger } from '@agent-bridge/observability';

export interface LeaderElector {
  start(onChange: (leader: boolean) => void): Promise<void>;
  isLeader(): boolean;
  /** The store lease while leading (for fenced writes). */
  lease(): ControllerLease | undefined;
  /** Throws when this process must not write (not the leader, or its lease ran out unrenewed). */
  assertLeader(): void;
  stop(): Promise<void>;
}

/** A further condition for leading (the Kubernetes Lease), checked before the store lease. */
export interface LeadershipGate {
  start(onLost: () => void): Promise<void>;
  /** Tries to acquire or renew; true while held. */
  tryHold(): Promise<boolean>;
  release(): Promise<void>;
}

export class NotLeaderError extends Error {
  readonly code = 'NOT_LEADER';
  override readonly name = 'NotLeaderError';
}

export class StoreLeaderElector implements LeaderElector {
  private held: ControllerLease | undefined;
  /** Until when the held lease is surely ours (renewed at, plus TTL, minus a safety margin). */
  private validUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private onChange: (leader: boolean) => void = () => undefined;
  private stopped = false;

  constructor(
    private readonly store: ControllerStore,
    private readonly controllerId: string,
    private readonly ttlMs: number,
    private readonly logger: Logger,
    private readonly gate?: LeadershipGate,
  ) {}

  async start(onChange: (leader: boolean) => void): Promise<void> {
    this.onChange = onChange;
    await this.gate?.start(() => this.lose('the Kubernetes Lease was lost'));
    await this.tick();
    this.schedule();
  }

  isLeader(): boolean {
    return this.held !== undefined && Date.now() < this.validUntil;
  }

  lease(): ControllerLease | undefined {
    return this.isLeader() ? this.held : undefined;
  }

  assertLeader(): void {
    if (!this.isLeader()) throw new NotLeaderError(`${this.controllerId} is not the leader`);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick().finally(() => this.schedule()), Math.max(100, Math.floor(this.ttlMs / 3)));
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    const startedAt = Date.now();
    try {
      if (this.gate && !(await this.gate.tryHold())) {
        this.lose('the Kubernetes Lease is held by another controller');
        return;
      }
      if (this.held) {
        if (await this.store.renewControllerLease(this.held, this.ttlMs)) {
          this.validUntil = startedAt + this.ttlMs - SAFETY_MARGIN_MS;
        } else {
          this.lose('the store lease expired before it was renewed');
        }
        return;
      }
      const lease = await this.store.acquireControllerLease(this.controllerId, this.ttlMs);
      if (lease) {
        this.held = lease;
        this.validUntil = startedAt + this.ttlMs - SAFETY_MARGIN_MS;
        this.logger.info({ fence: lease.fence }, 'became the leader');
        this.onChange(true);
      }
    } catch (error) {
      // Cannot reach the store: keep leading only while the lease is surely still ours.
      this.logger.warn({ err: error }, 'leader election step failed');
      if (this.held && Date.now() >= this.validUntil) this.lose('the store did not answer before the lease ran out');
    }
  }

  private lose(reason: string): void {
    if (!this.held) return;
    this.held = undefined;
    this.validUntil = 0;
    this.logger.warn({ reason }, 'lost leadership');
    this.onChange(false);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const held = this.held;
    this.held = undefined;
    if (held) await this.store.releaseControllerLease(held).catch(() => undefined);
    await this.gate?.release().catch(() => undefined);
  }
}

/** Writes stop this long before the lease could expire, so clock drift cannot make two writers. */
const SAFETY_MARGIN_MS = 500;
