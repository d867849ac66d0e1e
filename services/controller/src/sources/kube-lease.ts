/**
 * Leader election in Kubernetes: a coordination.k8s.io/v1 Lease, held as client-go's leaderelection
 * package holds it. Every update is a PUT conditional on the Lease's resourceVersion, so of two
 * controllers that try at once exactly one succeeds and the other gets 409 Conflict — which means
 * "someone else holds it now". The Lease is taken when it is free (no holderIdentity) or expired
 * (renewTime + leaseDurationSeconds in the past), renewed while held, and cleared on shutdown.
 *
 * This is the gate of StoreLeaderElector (leader.ts): a controller leads only while it holds both
 * the Lease and the store's fenced lease. A renewal that fails for any reason (409, timeout, API
 * down) reports "not held" at once, so the elector stops the controller's writes before the Lease
 * can expire and be taken by another controller.
 */
import { CoordinationV1Api, V1MicroTime, type ConfigurationOptions, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from '@agent-bridge/observability';
import type { LeadershipGate } from '../leader.js';
import { describeApiError, httpStatusOf, requestOptions } from './kube-api.js';

export const CONTROLLER_LEASE_NAME = 'agent-bridge-controller';

export interface KubernetesLeaseGateOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  /** Lease name; default `agent-bridge-controller`. */
  name?: string;
  /** holderIdentity: the controller id. */
  identity: string;
  /** The controller's LEADER_LEASE_TTL_MS; leaseDurationSeconds is this rounded up to whole seconds. */
  leaseDurationMs: number;
  logger: Logger;
  /** Deadline of each API request. Default: the lease duration (a renewal slower than that is a failure). */
  requestTimeoutMs?: number;
  now?: () => number;
}

export class KubernetesLeaseGate implements LeadershipGate {
  private readonly api: CoordinationV1Api;
  private readonly options: ConfigurationOptions;
  private readonly name: string;
  private readonly durationSeconds: number;
  private readonly now: () => number;
  private held = false;
  private onLost: () => void = () => undefined;

  constructor(private readonly settings: KubernetesLeaseGateOptions) {
    this.api = settings.kubeConfig.makeApiClient(CoordinationV1Api);
    this.name = settings.name ?? CONTROLLER_LEASE_NAME;
    this.durationSeconds = Math.max(1, Math.ceil(settings.leaseDurationMs / 1000));
    this.options = requestOptions(settings.requestTimeoutMs ?? Math.max(1_000, settings.leaseDurationMs));
    this.now = settings.now ?? Date.now;
  }

  private get where(): string {
    return `Lease ${this.settings.namespace}/${this.name}`;
  }

  async start(onLost: () => void): Promise<void> {
    this.onLost = onLost;
  }

  /** Whether this controller held the Lease after its last tryHold(). */
  isHeld(): boolean {
    return this.held;
  }

  async tryHold(): Promise<boolean> {
    try {
      const outcome = await this.step();
      return this.settle(outcome.held, outcome.reason);
    } catch (error) {
      const status = httpStatusOf(error);
      const reason = status === 409 ? `another controller updated the ${this.where} first` : `the ${this.where} could not be ${this.held ? 'renewed' : 'read or taken'}: ${describeApiError(error)}`;
      if (status !== 409) this.settings.logger.warn({ err: error, lease: this.where }, reason);
      return this.settle(false, reason);
    }
  }

  private settle(held: boolean, reason: string): boolean {
    const was = this.held;
    this.held = held;
    if (held && !was) this.settings.logger.info({ lease: this.where, identity: this.settings.identity }, 'holding the Kubernetes Lease');
    if (!held && was) {
      this.settings.logger.warn({ lease: this.where, reason }, 'lost the Kubernetes Lease');
      this.onLost();
    }
    return held;
  }

  private async step(): Promise<{ held: boolean; reason: string }> {
    const { namespace, identity } = this.settings;
    const now = this.now();
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ namespace, name: this.name }, this.options);
    } catch (error) {
      if (httpStatusOf(error) !== 404) throw error;
      // No Lease yet: create it holding it. Of two creators one gets 409 AlreadyExists.
      await this.api.createNamespacedLease(
        {
          namespace,
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: this.name, namespace },
            spec: { holderIdentity: identity, leaseDurationSeconds: this.durationSeconds, acquireTime: new V1MicroTime(now), renewTime: new V1MicroTime(now), leaseTransitions: 0 },
          },
        },
        this.options,
      );
      return { held: true, reason: 'created' };
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    if (holder === identity) {
      await this.replace(lease, { ...spec, renewTime: new V1MicroTime(now), leaseDurationSeconds: this.durationSeconds });
      return { held: true, reason: 'renewed' };
    }
    const renewedAt = Date.parse(String(spec.renewTime ?? spec.acquireTime ?? ''));
    const expired = holder === '' || !Number.isFinite(renewedAt) || renewedAt + (spec.leaseDurationSeconds ?? this.durationSeconds) * 1000 < now;
    if (!expired) return { held: false, reason: `held by ${holder}` };
    await this.replace(lease, {
      ...spec,
      holderIdentity: identity,
      leaseDurationSeconds: this.durationSeconds,
      acquireTime: new V1MicroTime(now),
      renewTime: new V1MicroTime(now),
      leaseTransitions: (spec.leaseTransitions ?? 0) + 1,
    });
    this.settings.logger.info({ lease: this.where, previous: holder || null }, 'took over the Kubernetes Lease');
    return { held: true, reason: 'acquired' };
  }

  /** PUT with the resourceVersion read: 409 when anyone changed the Lease in between. */
  private async replace(lease: V1Lease, spec: NonNullable<V1Lease['spec']>): Promise<void> {
    await this.api.replaceNamespacedLease(
      {
        namespace: this.settings.namespace,
        name: this.name,
        body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: lease.metadata ?? { name: this.name }, spec },
      },
      this.options,
    );
  }

  /** Clears holderIdentity when the Lease is still ours, so a successor need not wait for it to expire. */
  async release(): Promise<void> {
    const wasHeld = this.held;
    this.held = false;
    if (!wasHeld) return;
    try {
      const lease = await this.api.readNamespacedLease({ namespace: this.settings.namespace, name: this.name }, this.options);
      if (lease.spec?.holderIdentity !== this.settings.identity) return;
      const { holderIdentity: _holder, ...rest } = lease.spec;
      await this.replace(lease, { ...rest, leaseDurationSeconds: 1, renewTime: new V1MicroTime(this.now()) });
      this.settings.logger.info({ lease: this.where }, 'released the Kubernetes Lease');
    } catch (error) {
      // It expires by itself; a successor takes it after leaseDurationSeconds.
      this.settings.logger.warn({ err: error, lease: this.where }, `could not release the Lease: ${describeApiError(error)}`);
    }
  }
}
