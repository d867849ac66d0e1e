import { withDeadline, type EventStore } from '@agent-bridge/event-store';
import type { Logger } from '@agent-bridge/observability';

export interface PushHolderDeps {
  store: Pick<EventStore, 'heartbeatPushHolder' | 'removePushHolder'>;
  logger: Logger;
  /** The liveness key's TTL (PUSH_LEASE_TTL_MS): how long after this process dies its agents can move. */
  ttlMs: number;
  /** The liveness could not be renewed in time: every lease bound to it must be treated as lost. */
  onLost(): void;
  /** Renewed again after a loss: deliverers may take their leases again. */
  onRegained(): void;
}

/** How long before its TTL the liveness stops counting here (as LeaseKeeper's margin: at most half the TTL). */
const SAFETY_MARGIN_MS = 500;

/**
 * The liveness of one replica process as a push-lease holder: one key with a short TTL, renewed
 * every third of it — one Redis write per process, however many agents it pushes to. Each agent's
 * push lease is bound to it (boundPushLeaseOwner) and lives long on its own; when this key is gone,
 * any replica or the router's drain may release those leases (store.acquirePushLease), so a dead
 * replica's agents move within PUSH_LEASE_TTL_MS as they did when every lease was renewed alone.
 *
 * Like LeaseKeeper, the process stops counting itself alive before the key could expire in Redis
 * (from when the renewal was sent, less a margin): a replica that cannot reach Redis, or stalled,
 * stops pushing before another may start.
 */
export class PushHolder {
  private validUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Not counted alive (before the first renewal, or after a loss); the next successful renewal calls onRegained. */
  private lost = true;
  private beating: Promise<void> | undefined;
  private wasAlive = false;

  constructor(
    readonly id: string,
    private readonly deps: PushHolderDeps,
  ) {}

  /** Renews once (the first renewal may fail: the holder then counts as not alive until one succeeds), then every third of the TTL. */
  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat(), Math.max(100, Math.floor(this.deps.ttlMs / 3)));
    this.timer.unref();
  }

  /** Whether this process may act on the leases bound to it now. */
  alive(): boolean {
    return Date.now() < this.validUntil;
  }

  /** Shutdown (after every deliverer stopped): the liveness goes, so what is left bound to it moves at once. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.beating;
    this.validUntil = 0;
    await this.deps.store.removePushHolder(this.id).catch(() => undefined);
  }

  private beat(): Promise<void> {
    // Checked at every tick, even while a renewal is still under way: one that hangs must not keep us alive.
    this.checkLost();
    this.beating ??= this.renew().finally(() => (this.beating = undefined));
    return this.beating;
  }

  private async renew(): Promise<void> {
    const { store, ttlMs, logger } = this.deps;
    const sentAt = Date.now();
    try {
      // Bounded by the renewal interval, so the next tick can try again on a fresh command.
      await withDeadline(store.heartbeatPushHolder(this.id, ttlMs), Math.max(100, Math.floor(ttlMs / 3)), 'push holder renewal');
      this.validUntil = sentAt + ttlMs - Math.min(SAFETY_MARGIN_MS, ttlMs / 2);
      if (this.lost) {
        this.lost = false;
        if (this.wasAlive) logger.info({ holder: this.id }, 'push holder renewed again: deliverers take their leases back');
        this.wasAlive = true;
        this.deps.onRegained();
      }
    } catch (error) {
      logger.warn({ err: error, holder: this.id }, 'push holder renewal failed');
      this.checkLost();
    }
  }

  private checkLost(): void {
    if (this.lost || this.alive()) return;
    this.lost = true;
    this.deps.logger.warn({ holder: this.id }, 'push holder expired before renewal: every push lease of this replica counts as lost');
    this.deps.onLost();
  }
}
