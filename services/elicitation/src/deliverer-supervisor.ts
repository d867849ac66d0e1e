import { randomBytes } from 'node:crypto';
import type { FlagSnapshot } from '@agent-bridge/flags';
import { doorbellTopics } from '@agent-bridge/event-store';
import type { ElicitationConfig } from './config.js';
import { PushDeliverer, type PushDelivererDeps } from './push-deliverer.js';

export type DelivererSupervisorDeps = Pick<PushDelivererDeps, 'store' | 'doorbell' | 'sessions' | 'flags' | 'metrics' | 'logger' | 'usage'>;

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
  /** Unique per process: each deliverer's lease owner and consumer name starts with it. */
  private readonly instanceId: string;

  constructor(
    private readonly settings: Pick<ElicitationConfig, 'REPLICA_ID' | 'PUSH_LEASE_TTL_MS' | 'PUSH_RECHECK_MS' | 'MESSAGE_DEADLINE_MS'>,
    private readonly deps: DelivererSupervisorDeps,
  ) {
    this.instanceId = `${settings.REPLICA_ID}-${randomBytes(4).toString('hex')}`;
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
        instanceId: `${this.instanceId}-${++this.started}`,
        leaseTtlMs: this.settings.PUSH_LEASE_TTL_MS,
        recheckMs: this.settings.PUSH_RECHECK_MS,
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
    await Promise.all([...this.running.values()].map((deliverer) => deliverer.stop(graceMs)));
  }
}
