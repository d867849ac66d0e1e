/**
 * SOURCE=kubernetes wiring: the KubeConfig (KUBECONFIG, ~/.kube/config or the pod's service
 * account, as kubectl finds them), the namespace, and the two Kubernetes parts the controller
 * service takes — the FeatureFlags source (kube-source.ts) and the Lease gate (kube-lease.ts).
 */
import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '@agent-bridge/observability';
import type { ControllerConfig } from './config.js';
import type { StoreLeaderElector } from './leader.js';
import type { KubernetesParts } from './service.js';
import { CONTROLLER_LEASE_NAME, KubernetesLeaseGate } from './sources/kube-lease.js';
import { KubernetesResourceSource } from './sources/kube-source.js';
import type { WatchLike } from './sources/kube-watch.js';

/** Where a pod's service account token mounts its namespace. */
export const SERVICE_ACCOUNT_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

export interface KubernetesPartsOptions {
  /** Default: `loadFromDefault()` (KUBECONFIG, ~/.kube/config, in-cluster service account). Tests pass the fake's. */
  kubeConfig?: KubeConfig;
  /** Periodic relist of the FeatureFlags watch; default 60 000. */
  relistIntervalMs?: number;
  /** Retry backoff of the watch: first delay and cap; defaults 250 and 30 000. */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** The watch implementation (tests wrap client-node's Watch). */
  watch?: WatchLike;
  /** Lease name; default `agent-bridge-controller`. */
  leaseName?: string;
  /** Where the in-cluster namespace is read from (tests point it elsewhere). */
  namespaceFile?: string;
}

/** KUBE_NAMESPACE, else the pod's own namespace, else the kubeconfig context's, else `default`. */
export function resolveNamespace(config: Pick<ControllerConfig, 'KUBE_NAMESPACE'>, kubeConfig: KubeConfig, namespaceFile = SERVICE_ACCOUNT_NAMESPACE_FILE): string {
  if (config.KUBE_NAMESPACE) return config.KUBE_NAMESPACE;
  try {
    const fromPod = readFileSync(namespaceFile, 'utf8').trim();
    if (fromPod) return fromPod;
  } catch {
    // not in a pod
  }
  const context = kubeConfig.getContextObject(kubeConfig.getCurrentContext());
  return context?.namespace || 'default';
}

/** The factory startControllerService takes for SOURCE=kubernetes. */
export function kubernetesParts(config: ControllerConfig, logger: Logger, options: KubernetesPartsOptions = {}): (elector: () => StoreLeaderElector) => Promise<KubernetesParts> {
  return async () => {
    let kubeConfig = options.kubeConfig;
    if (!kubeConfig) {
      kubeConfig = new KubeConfig();
      kubeConfig.loadFromDefault();
    }
    const namespace = resolveNamespace(config, kubeConfig, options.namespaceFile);
    const cluster = kubeConfig.getCurrentCluster();
    logger.info({ server: cluster?.server, namespace, resource: config.FEATURE_FLAGS_NAME }, 'using the Kubernetes API');
    const source = new KubernetesResourceSource({
      kubeConfig,
      namespace,
      name: config.FEATURE_FLAGS_NAME,
      controllerId: config.CONTROLLER_ID,
      logger,
      ...(options.relistIntervalMs !== undefined ? { relistIntervalMs: options.relistIntervalMs } : {}),
      ...(options.backoffInitialMs !== undefined ? { backoffInitialMs: options.backoffInitialMs } : {}),
      ...(options.backoffMaxMs !== undefined ? { backoffMaxMs: options.backoffMaxMs } : {}),
      ...(options.watch ? { watch: options.watch } : {}),
    });
    const gate = new KubernetesLeaseGate({
      kubeConfig,
      namespace,
      name: options.leaseName ?? config.KUBE_LEASE_NAME ?? CONTROLLER_LEASE_NAME,
      identity: config.CONTROLLER_ID,
      leaseDurationMs: config.LEADER_LEASE_TTL_MS,
      logger,
    });
    return { source, gate };
  };
}
