/**
 * Kubernetes mode: the FeatureFlags resource (agentbridge.io/v1alpha1, plural featureflags) is read
 * from the API server with a list+watch on the one object (kube-watch.ts), its status is written
 * through the status subresource, and what the controller does is recorded as core/v1 Events on the
 * object (kube-events.ts).
 */
import { CoreV1Api, CustomObjectsApi, Watch, type ConfigurationOptions, type KubeConfig } from '@kubernetes/client-node';
import { FEATURE_FLAGS_API_VERSION, FEATURE_FLAGS_GROUP, FEATURE_FLAGS_KIND, FEATURE_FLAGS_PLURAL, FEATURE_FLAGS_VERSION, parseFeatureFlags, type FeatureFlagsStatus } from '@agent-bridge/flags';
import type { Logger } from '@agent-bridge/observability';
import type { ControllerEvent } from '../reconcile.js';
import { initialStatus } from '../status.js';
import { describeApiError, httpStatusOf, requestOptions, type KubeObjectJson } from './kube-api.js';
import { eventReason, featureFlagsEvent } from './kube-events.js';
import { FeatureFlagsWatch, type WatchLike } from './kube-watch.js';
import type { ResourceSource, ResourceView } from './source.js';

export interface KubernetesResourceSourceOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  /** metadata.name of the FeatureFlags object. */
  name: string;
  /** Names this controller in Events (reportingInstance). */
  controllerId: string;
  logger: Logger;
  /** A fresh list + watch this often even when the watch looks healthy. Default 60 000. */
  relistIntervalMs?: number;
  /** First retry delay after a failed list/watch; doubles per failure. Default 250. */
  backoffInitialMs?: number;
  /** Cap of the retry delay. Default 30 000. */
  backoffMaxMs?: number;
  /** Deadline of each ordinary API request (not the watch stream). Default 10 000. */
  requestTimeoutMs?: number;
  /** Attempts of a status write that meets 409 Conflict. Default 5. */
  conflictAttempts?: number;
  /** The watch implementation (default: client-node's Watch on kubeConfig). */
  watch?: WatchLike;
}

const FF = { group: FEATURE_FLAGS_GROUP, version: FEATURE_FLAGS_VERSION, plural: FEATURE_FLAGS_PLURAL } as const;

export class KubernetesResourceSource implements ResourceSource {
  readonly kind = 'kubernetes' as const;
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;
  private readonly options: ConfigurationOptions;
  private readonly conflictAttempts: number;
  private readonly logger: Logger;
  private readonly watch: FeatureFlagsWatch;

  /** The object as last listed or watched (undefined: it does not exist). */
  private object: KubeObjectJson | undefined;
  private listed = false;
  private view: ResourceView = { state: 'missing', message: 'the FeatureFlags resource has not been read from the Kubernetes API yet' };
  private onChange: () => void = () => undefined;
  /** Our last status write: which cached resourceVersion it was based on, and the one it produced. */
  private lastWrite: { basedOn: string | undefined; produced: string } | undefined;
  private eventSeq = 0;

  constructor(private readonly settings: KubernetesResourceSourceOptions) {
    this.custom = settings.kubeConfig.makeApiClient(CustomObjectsApi);
    this.core = settings.kubeConfig.makeApiClient(CoreV1Api);
    const requestTimeoutMs = settings.requestTimeoutMs ?? 10_000;
    this.options = requestOptions(requestTimeoutMs);
    this.conflictAttempts = Math.max(1, settings.conflictAttempts ?? 5);
    this.logger = settings.logger;
    this.watch = new FeatureFlagsWatch({
      custom: this.custom,
      watcher: settings.watch ?? new Watch(settings.kubeConfig),
      requestOptions: this.options,
      namespace: settings.namespace,
      name: settings.name,
      relistIntervalMs: settings.relistIntervalMs ?? 60_000,
      backoffInitialMs: settings.backoffInitialMs ?? 250,
      backoffMaxMs: settings.backoffMaxMs ?? 30_000,
      requestTimeoutMs,
      logger: settings.logger,
      where: this.where,
      onObject: (object) => this.accept(object),
    });
  }

  private get where(): string {
    return `FeatureFlags ${this.settings.namespace}/${this.settings.name}`;
  }

  /** Lists the object once (failing start-up when the API refuses: no CRD, no RBAC), then watches in the background. */
  async start(onChange: () => void): Promise<void> {
    this.onChange = onChange;
    try {
      await this.watch.start();
    } catch (error) {
      const status = httpStatusOf(error);
      const hint =
        status === 401 || status === 403
          ? ' (the controller needs get/list/watch on featureflags.agentbridge.io; see docs/featureflags.md, "Running in Kubernetes")'
          : status === 404
            ? ' (is the FeatureFlags CRD installed? helm installs it from charts/agent-bridge/crds/)'
            : '';
      throw new Error(`cannot list ${FEATURE_FLAGS_PLURAL}.${FEATURE_FLAGS_GROUP} in namespace ${this.settings.namespace}: ${describeApiError(error)}${hint}`, { cause: error });
    }
  }

  current(): ResourceView {
    return this.view;
  }

  async stop(): Promise<void> {
    await this.watch.stop();
  }

  /** Takes a listed/watched state of the object; calls onChange when it differs from the last one. */
  private accept(object: KubeObjectJson | undefined): void {
    const before = this.object;
    const firstRead = !this.listed;
    this.listed = true;
    this.object = object;
    if (!firstRead && before?.metadata?.resourceVersion === object?.metadata?.resourceVersion && (before === undefined) === (object === undefined)) return;
    const previous = this.view;
    this.view = this.viewOf(object);
    const next = this.view;
    if (next.state === 'ok') {
      if (previous.state !== 'ok' || previous.generation !== next.generation) this.logger.info({ resource: this.where, generation: next.generation }, 'FeatureFlags resource loaded');
    } else if (previous.state !== next.state || previous.message !== next.message) {
      this.logger.error({ resource: this.where }, next.message);
    }
    this.onChange();
  }

  private viewOf(object: KubeObjectJson | undefined): ResourceView {
    const { namespace, name } = this.settings;
    if (!object) {
      const rename = name === 'agent-bridge' ? '' : ` (with metadata.name set to ${name})`;
      return {
        state: 'missing',
        message: `${this.where} does not exist; create it: kubectl apply -n ${namespace} -f deploy/samples/featureflags-preparation.yaml${rename}`,
      };
    }
    const generation = typeof object.metadata?.generation === 'number' ? object.metadata.generation : 0;
    try {
      const resource = parseFeatureFlags(object, this.where);
      return { state: 'ok', resource, generation };
    } catch (error) {
      return { state: 'invalid', message: (error as Error).message, generation };
    }
  }

  // ------------------------------------------------------------------ status

  /** The status as stored now (a fresh read: after a takeover it must include the previous leader's last write). */
  async readStatus(): Promise<FeatureFlagsStatus | null> {
    let object: KubeObjectJson;
    try {
      object = (await this.custom.getNamespacedCustomObject({ ...FF, namespace: this.settings.namespace, name: this.settings.name }, this.options)) as KubeObjectJson;
    } catch (error) {
      if (httpStatusOf(error) === 404) return null;
      throw new Error(`cannot read ${this.where}: ${describeApiError(error)}`, { cause: error });
    }
    const status = object.status;
    if (typeof status !== 'object' || status === null || Array.isArray(status) || Object.keys(status).length === 0) return null;
    // Lists may be missing after a hand edit; the rest is the controller's own writing.
    return { ...initialStatus(), ...(status as Partial<FeatureFlagsStatus>) };
  }

  /**
   * Replaces .status through the status subresource, conditional on the resourceVersion (the spec
   * and metadata are never written). A 409 Conflict means the object changed since it was read
   * (a spec edit, a label, our own previous write not yet seen): the object is read again and the
   * write retried, up to `conflictAttempts` times; status is entirely the controller's, so
   * replacing it on top of the latest version is correct. `guard` runs before every attempt.
   */
  async writeStatus(status: FeatureFlagsStatus, guard: () => void): Promise<void> {
    const cached = this.object;
    if (!cached) throw new Error(`${this.where} does not exist; its status cannot be written`);
    const basedOn = cached.metadata?.resourceVersion;
    let object: KubeObjectJson = cached;
    let resourceVersion = this.lastWrite && this.lastWrite.basedOn === basedOn ? this.lastWrite.produced : basedOn;
    for (let attempt = 1; ; attempt++) {
      guard();
      try {
        const body = { ...object, apiVersion: FEATURE_FLAGS_API_VERSION, kind: FEATURE_FLAGS_KIND, metadata: { ...object.metadata, resourceVersion }, status };
        const written = (await this.custom.replaceNamespacedCustomObjectStatus({ ...FF, namespace: this.settings.namespace, name: this.settings.name, body }, this.options)) as KubeObjectJson;
        const produced = written.metadata?.resourceVersion;
        this.lastWrite = produced ? { basedOn, produced } : undefined;
        return;
      } catch (error) {
        if (httpStatusOf(error) !== 409 || attempt >= this.conflictAttempts) {
          throw new Error(`cannot write the status of ${this.where}: ${describeApiError(error)}`, { cause: error });
        }
        this.logger.info({ resource: this.where, attempt }, 'status write conflicted (409); reading the object again and retrying');
        try {
          object = (await this.custom.getNamespacedCustomObject({ ...FF, namespace: this.settings.namespace, name: this.settings.name }, this.options)) as KubeObjectJson;
        } catch (readError) {
          throw new Error(`cannot read ${this.where} after a status conflict: ${describeApiError(readError)}`, { cause: readError });
        }
        resourceVersion = object.metadata?.resourceVersion;
      }
    }
  }

  // ------------------------------------------------------------------ events

  /** A core/v1 Event about the object (kube-events.ts): reason from the action, type from the severity. */
  async recordEvent(event: ControllerEvent, guard: () => void): Promise<void> {
    const object = this.object;
    if (!object?.metadata) return; // nothing to attach it to
    const { namespace, name, controllerId } = this.settings;
    const body = featureFlagsEvent(event, { namespace, name, controllerId, uid: object.metadata.uid, resourceVersion: object.metadata.resourceVersion }, new Date(), this.eventSeq++);
    guard();
    try {
      await this.core.createNamespacedEvent({ namespace, body }, this.options);
    } catch (error) {
      throw new Error(`cannot create the ${eventReason(event)} Event for ${this.where}: ${describeApiError(error)}`, { cause: error });
    }
  }
}
