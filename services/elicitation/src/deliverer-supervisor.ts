import { randomBytes } from 'node:crypto';
import type { FlagSnapshot } from '@agent-bridge/flags';
import { boundPushLeaseOwner, doorbellTopics, type EventStore } from '@agent-bridge/event-store';
import type { ElicitationConfig } from './config.js';
import { PushDeliverer, type PushDelivererDeps } from './push-deliverer.js';
import { PushHolder } from './push-holder.js';

export type DelivererSupervisorDeps = Pick<PushDelivererDeps, 'doorbell' | 'sessions' | 'flags' | 'metrics' | 'logger' | 'usage'> & {
  store: PushDelivererDeps['store'] & Pick<EventStore, 'heartbeatPushHolder' | 'removePushHolder' | 'pushBacklogAmong'>;
};

/**
 * How long an agent's push lease lives on its own. It is bound to the replica's holder liveness
 * (PushHolder, PUSH_LEASE_TTL_MS), which decides when another replica may take it; this only
 * bounds what a lease left behind costs, and is renewed every third of it: one renewal per idle
 * agent every ten minutes.
 */
export const PUSH_LEASE_HOLD_MS = 30 * 60 * 1000;

/**
 * How long an idle deliverer waits on the doorbell before reading its lane anyway. The replica's
 * sweep (every PUSH_RECHECK_MS) rings every deliverer whose lane has entries, whatever became of
 * their rings, so this is only the last resort: an idle agent costs one read every five minutes.
 */
const IDLE_RECHECK_MS = 5 * 60 * 1000;

/**
 * Keeps exactly one push deliverer per agent while the agent holds a session here that declared
 * form elicitation, and none otherwise. The deliverer itself pauses (and lets go of the push lease)
 * while no session has its stream open; a deliverer being stopped finishes before its successor
 * starts, so two never push to the same agent from one replica.
 */
export class DelivererSupervisor {
  private readonly running = new Map<string, PushDeliverer>();
  private readonly stopping = new Map<string, Promise<void>>();
  private started = 0;
  /** This process as the holder of its deliverers' push leases (unique per process: each lease owner and consumer name starts with it). */
  private readonly holder: PushHolder;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping = false;

  constructor(
    private readonly settings: Pick<ElicitationConfig, 'REPLICA_ID' | 'PUSH_LEASE_TTL_MS' | 'PUSH_RECHECK_MS' | 'MESSAGE_DEADLINE_MS'>,
    private readonly deps: DelivererSupervisorDeps,
  ) {
    this.holder = new PushHolder(`${settings.REPLICA_ID.replaceAll('/', '_')}-${randomBytes(4).toString('hex')}`, {
      store: deps.store,
      logger: deps.logger,
      ttlMs: settings.PUSH_LEASE_TTL_MS,
      onLost: () => {
        for (const deliverer of this.running.values()) deliverer.onHolderLost();
      },
      onRegained: () => {
        for (const deliverer of this.running.values()) this.deps.doorbell.ring(deliverer.topic);
      },
    });
  }

  /** The holder's liveness first (no lease is taken before it), then the sweep. */
  async start(): Promise<void> {
    await this.holder.start();
    this.sweepTimer = setInterval(() => void this.sweep(), this.settings.PUSH_RECHECK_MS);
    this.sweepTimer.unref();
  }

  /**
   * Rings the deliverers whose agents have push-lane entries (the shards' push-backlog sets: one
   * read per shard, whatever the agents): a ring lost on the way (a subscriber reconnect, a Redis
   * Cluster slot move) costs at most PUSH_RECHECK_MS, and an idle agent costs no read at all.
   */
  private async sweep(): Promise<void> {
    if (this.sweeping || this.running.size === 0) return;
    this.sweeping = true;
    try {
      for (const agentId of await this.deps.store.pushBacklogAmong(this.running.keys())) {
        const deliverer = this.running.get(agentId);
        if (deliverer) this.deps.doorbell.ring(deliverer.topic);
      }
    } catch (error) {
      this.deps.logger.warn({ err: error }, 'push backlog sweep failed');
    } finally {
      this.sweeping = false;
    }
  }

  /** After a change of one of the agent's sessions: wake its deliverer, start or stop one as its sessions now want. */
  async sync(agentId: string): Promise<void> {
    const { sessions } = this.deps;
    this.deps.doorbell.ring(doorbellTopics.lane(agentId, 'push'));
    const running = this.running.get(agentId);
    const wanted = sessions.wantsPush(agentId);
    if (!wanted && running) {
      this.running.delete(agentId);
      const stop = running.stop().finally(() => this.stopping.delete(agentId));
      this.stopping.set(agentId, stop);
      await stop;
    } else if (wanted && !running) {
      await this.stopping.get(agentId);
      if (this.running.has(agentId) || !sessions.wantsPush(agentId)) return;
      // Unique per deliverer: two deliverers can never share a lease or pending entries.
      const deliverer = new PushDeliverer(agentId, {
        ...this.deps,
        instanceId: boundPushLeaseOwner(this.holder.id, ++this.started),
        holder: this.holder,
        leaseTtlMs: PUSH_LEASE_HOLD_MS,
        recheckMs: IDLE_RECHECK_MS,
        messageDeadlineMs: this.settings.MESSAGE_DEADLINE_MS,
      });
      this.running.set(agentId, deliverer);
      deliverer.start();
    }
  }

  /** A new flag snapshot applies: each deliverer decides (an agent moved back to legacy gets its rollback grace). */
  onFlagsChanged(snapshot: FlagSnapshot): void {
    for (const deliverer of this.running.values()) deliverer.onFlagsChanged(snapshot);
  }

  /** Shutdown: every deliverer stops; a push still unanswered after `graceMs` is left pending for the agent's next session. */
  async stopAll(graceMs: number): Promise<void> {
    clearInterval(this.sweepTimer);
    await Promise.all([...this.running.values()].map((deliverer) => deliverer.stop(graceMs)));
    await this.holder.stop();
  }
}
