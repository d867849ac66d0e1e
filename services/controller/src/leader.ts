/**
 * Leader election: at most one controller reconciles. The leader holds the store's controller
 * lease (`owner|fence`, with a TTL its LeaseKeeper renews every third of the TTL); every write it makes to the
 * store is checked against that lease inside Redis, so a leader that stalls past its TTL and comes
 * back cannot overwrite its successor. In Kubernetes mode it must also hold a coordination.k8s.io
 * Lease (see kube-lease.ts) before it even tries the store lease.
 */
import { LeaseKeeper, type ControllerLease, type ControllerStore } from '@agent-bridge/event-store';
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
  private readonly keeper: LeaseKeeper<ControllerLease>;
  private timer: NodeJS.Timeout | undefined;
  private onChange: (leader: boolean) => void = () => undefined;
  private stopped = false;

  constructor(
    private readonly store: ControllerStore,
    private readonly controllerId: string,
    private readonly ttlMs: number,
    private readonly logger: Logger,
    private readonly gate?: LeadershipGate,
  ) {
    // Writes stop SAFETY_MARGIN_MS before the lease could expire, so clock drift cannot make two writers.
    this.keeper = new LeaseKeeper<ControllerLease>({
      ttlMs,
      safetyMarginMs: SAFETY_MARGIN_MS,
      renew: (lease, leaseTtlMs) => store.renewControllerLease(lease, leaseTtlMs),
      release: (lease) => store.releaseControllerLease(lease),
      onLost: (reason) => this.lost(reason === 'expired' ? 'the store lease expired before it was renewed' : 'the store did not answer before the lease ran out'),
      onRenewError: (error) => logger.warn({ err: error }, 'leader election step failed'),
    });
  }

  async start(onChange: (leader: boolean) => void): Promise<void> {
    this.onChange = onChange;
    await this.gate?.start(() => this.lose('the Kubernetes Lease was lost'));
    await this.campaign();
    this.schedule();
  }

  isLeader(): boolean {
    return this.keeper.current() !== undefined;
  }

  lease(): ControllerLease | undefined {
    return this.keeper.current();
  }

  assertLeader(): void {
    if (!this.isLeader()) throw new NotLeaderError(`${this.controllerId} is not the leader`);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.campaign().finally(() => this.schedule()), Math.max(100, Math.floor(this.ttlMs / 3)));
    this.timer.unref();
  }

  /** Every third of the TTL: the gate first (Kubernetes mode), then the store lease if not held (the keeper renews a held one). */
  private async campaign(): Promise<void> {
    try {
      if (this.gate && !(await this.gate.tryHold())) {
        this.lose('the Kubernetes Lease is held by another controller');
        return;
      }
      if (this.keeper.lease) return;
      const acquiredAt = Date.now();
      const lease = await this.store.acquireControllerLease(this.controllerId, this.ttlMs);
      if (lease && !this.stopped) {
        this.keeper.hold(lease, acquiredAt);
        this.logger.info({ fence: lease.fence }, 'became the leader');
        this.onChange(true);
      }
    } catch (error) {
      // Cannot reach the store: the keeper keeps leading only while the lease is surely still ours.
      this.logger.warn({ err: error }, 'leader election step failed');
    }
  }

  /** Gives leadership up (the gate said so); the store lease is left to run out. */
  private lose(reason: string): void {
    if (!this.keeper.lease) return;
    this.keeper.forget();
    this.lost(reason);
  }

  private lost(reason: string): void {
    this.logger.warn({ reason }, 'lost leadership');
    this.onChange(false);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.keeper.release();
    await this.gate?.release().catch(() => undefined);
  }
}

/** Writes stop this long before the lease could expire, so clock drift cannot make two writers. */
const SAFETY_MARGIN_MS = 500;
