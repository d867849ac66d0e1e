/**
 * Kubernetes mode: the FeatureFlags resource (agentbridge.io/v1alpha1, plural featureflags) is read
 * from the API server with a list+watch on the one object (fieldSelector metadata.name=…), its
 * status is written through the status subresource, and what the controller does is recorded as
 * core/v1 Events on the object.
 *
 * The watch is driven here rather than by client-node's informer, so every failure mode ends in
 * the same place (see run()):
 *   - a watch the server closes cleanly is re-opened from the last resourceVersion seen;
 *   - a 410 Gone (ERROR event: the resourceVersion was compacted away) leads to a fresh list;
 *   - any other error (connection reset, 5xx, timeouts) leads to a fresh list after an exponential
 *     backoff (capped at 30 s by default);
 *   - and every `relistIntervalMs` (default 60 s) the watch is replaced by a fresh list + watch even
 *     when it looks healthy, so a watch that stalls silently (a half-open connection, a proxy that
 *     stops forwarding) cannot freeze the controller on an old spec.
 */
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  Observable,
  V1MicroTime,
  Watch,
  type ConfigurationOptions,
  type CoreV1Event,
  type KubeConfig,
  type ObservableMiddleware,
} from '@kubernetes/client-node';
import { FEATURE_FLAGS_API_VERSION, FEATURE_FLAGS_GROUP, FEATURE_FLAGS_KIND, FEATURE_FLAGS_PLURAL, FEATURE_FLAGS_VERSION, parseFeatureFlags, type FeatureFlagsStatus } from '@agent-bridge/flags';
import type { Logger } from '@agent-bridge/observability';
import type { ControllerEvent } from '../reconcile.js';
import { initialStatus } from '../status.js';
import type { ResourceSource, ResourceView } from './source.js';

/** What Events name as their source (source.component / reportingComponent). */
export const CONTROLLER_COMPONENT = 'agent-bridge-controller';

/** A Kubernetes object as JSON (what CustomObjectsApi returns). */
export interface KubeObjectJson {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string; generation?: number; [field: string]: unknown };
  spec?: unknown;
  status?: unknown;
  [field: string]: unknown;
}

/** The subset of client-node's Watch used here (tests wrap it to simulate a stalled stream). */
export interface WatchLike {
  watch(path: string, queryParams: Record<string, string | number | boolean | undefined>, callback: (phase: string, apiObj: any, watchObj?: any) => void, done: (err: any) => void): Promise<AbortController>;
}

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

/** The HTTP status of a failed client-node call (ApiException.code), or undefined. */
export function httpStatusOf(error: unknown): number | undefined {
  if (error instanceof ApiException) return error.code;
  const code = (error as { code?: unknown; statusCode?: unknown } | null)?.statusCode ?? (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** A readable one-line description of a failed API call: the Status message when there is one. */
export function describeApiError(error: unknown): string {
  if (error instanceof ApiException) {
    let message: string | undefined;
    try {
      const body = typeof error.body === 'string' ? (JSON.parse(error.body) as { message?: string }) : (error.body as { message?: string } | undefined);
      message = body?.message;
    } catch {
      message = typeof error.body === 'string' ? error.body.slice(0, 200) : undefined;
    }
    return `HTTP ${error.code}${message ? `: ${message}` : ''}`;
  }
  return error instanceof Error ? error.message : String(error);
}

/** Per-request options: a deadline on every call (node-fetch has none by default). */
export function requestOptions(timeoutMs: number): ConfigurationOptions {
  const timeout: ObservableMiddleware = {
    pre: (request) => {
      request.setSignal(AbortSignal.timeout(timeoutMs));
      return new Observable(Promise.resolve(request));
    },
    post: (response) => new Observable(Promise.resolve(response)),
  };
  return { middleware: [timeout], middlewareMergeStrategy: 'append' };
}

/** `stage.promoted` → `StagePromoted`; a rollback carries its level: `RollbackFull`, `RollbackPartial`, `RollbackCanary`. */
export function eventReason(event: ControllerEvent): string {
  const camel = event.action
    .split(/[._-]/)
    .filter((part) => part !== '')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
  const level = event.action === 'rollback' ? event.details?.level : undefined;
  return typeof level === 'string' && level !== '' ? `${camel}${level.charAt(0).toUpperCase()}${level.slice(1)}` : camel;
}

type WatchOutcome = 'closed' | 'expired' | 'relist';

export class KubernetesResourceSource implements ResourceSource {
  readonly kind = 'kubernetes' as const;
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;
  private readonly watcher: WatchLike;
  private readonly options: ConfigurationOptions;
  private readonly relistIntervalMs: number;
  private readonly backoffInitialMs: number;
  private readonly backoffMaxMs: number;
  private readonly conflictAttempts: number;
  private readonly requestTimeoutMs: number;
  private readonly path: string;
  private readonly logger: Logger;

  /** The object as last listed or watched (undefined: it does not exist). */
  private object: KubeObjectJson | undefined;
  private listed = false;
  /** Where the next watch continues from. */
  private resourceVersion = '';
  private view: ResourceView = { state: 'missing', message: 'the FeatureFlags resource has not been read from the Kubernetes API yet' };
  private onChange: () => void = () => undefined;
  private stopped = false;
  private running: Promise<void> | undefined;
  /** Ends the current watch attempt or backoff sleep (stop()). */
  private interrupt: (() => void) | undefined;
  /** Our last status write: which cached resourceVersion it was based on, and the one it produced. */
  private lastWrite: { basedOn: string | undefined; produced: string } | undefined;
  private eventSeq = 0;

  constructor(private readonly settings: KubernetesResourceSourceOptions) {
    this.custom = settings.kubeConfig.makeApiClient(CustomObjectsApi);
    this.core = settings.kubeConfig.makeApiClient(CoreV1Api);
    this.watcher = settings.watch ?? new Watch(settings.kubeConfig);
    this.requestTimeoutMs = settings.requestTimeoutMs ?? 10_000;
    this.options = requestOptions(this.requestTimeoutMs);
    this.relistIntervalMs = settings.relistIntervalMs ?? 60_000;
    this.backoffInitialMs = settings.backoffInitialMs ?? 250;
    this.backoffMaxMs = settings.backoffMaxMs ?? 30_000;
    this.conflictAttempts = Math.max(1, settings.conflictAttempts ?? 5);
    this.path = `/apis/${FEATURE_FLAGS_GROUP}/${FEATURE_FLAGS_VERSION}/namespaces/${settings.namespace}/${FEATURE_FLAGS_PLURAL}`;
    this.logger = settings.logger;
  }

  private get where(): string {
    return `FeatureFlags ${this.settings.namespace}/${this.settings.name}`;
  }

  /** Lists the object once (failing start-up when the API refuses: no CRD, no RBAC), then watches in the background. */
  async start(onChange: () => void): Promise<void> {
    this.onChange = onChange;
    try {
      await this.list();
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
    this.running = this.run();
  }

  current(): ResourceView {
    return this.view;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.interrupt?.();
    await this.running;
  }

  // ------------------------------------------------------------------ list + watch

  private async run(): Promise<void> {
    let failures = 0;
    let needList = false;
    while (!this.stopped) {
      try {
        if (needList) await this.list();
        const startedAt = Date.now();
        const outcome = await this.watchOnce();
        if (this.stopped) break;
        needList = outcome !== 'closed';
        if (outcome === 'expired') this.logger.info({ resource: this.where }, 'watch resourceVersion expired (410 Gone); relisting');
        // A watch the server keeps closing right away must not become a busy loop.
        failures = outcome === 'closed' && Date.now() - startedAt < 1_000 ? failures + 1 : 0;
      } catch (error) {
        if (this.stopped) break;
        failures += 1;
        needList = true;
        this.logger.warn({ err: error, resource: this.where, failures }, `list/watch failed (${describeApiError(error)}); retrying with backoff`);
      }
      if (failures > 0) await this.sleep(this.backoff(failures));
    }
  }

  private backoff(failures: number): number {
    const base = Math.min(this.backoffMaxMs, this.backoffInitialMs * 2 ** Math.min(failures - 1, 30));
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  /** Waits `ms`, or less when stop() interrupts. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopped) {
        resolve();
        return;
      }
      const done = () => {
        clearTimeout(timer);
        if (this.interrupt === done) this.interrupt = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.interrupt = done;
    });
  }

  private async list(): Promise<void> {
    const list = (await this.custom.listNamespacedCustomObject({ ...FF, namespace: this.settings.namespace, fieldSelector: `metadata.name=${this.settings.name}` }, this.options)) as {
      metadata?: { resourceVersion?: string };
      items?: KubeObjectJson[];
    };
    this.resourceVersion = list.metadata?.resourceVersion ?? '';
    const item = (list.items ?? []).find((candidate) => candidate.metadata?.name === this.settings.name);
    this.accept(item && { apiVersion: FEATURE_FLAGS_API_VERSION, kind: FEATURE_FLAGS_KIND, ...item });
  }

  /**
   * One watch from `resourceVersion`. Resolves 'closed' when the server ended the stream (re-watch
   * from where it stopped), 'expired' on 410 Gone and 'relist' when the periodic relist is due;
   * rejects on errors.
   */
  private watchOnce(): Promise<WatchOutcome> {
    return new Promise<WatchOutcome>((resolve, reject) => {
      if (this.stopped) {
        resolve('closed');
        return;
      }
      let finished = false;
      let controller: AbortController | undefined;
      let expired = false;
      let failed: Error | undefined;
      const timers: NodeJS.Timeout[] = [];
      const finish = (outcome: WatchOutcome | Error) => {
        if (finished) return;
        finished = true;
        for (const timer of timers) clearTimeout(timer);
        if (this.interrupt === stop) this.interrupt = undefined;
        controller?.abort();
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      };
      const stop = () => finish('closed');
      this.interrupt = stop;
      const after = (ms: number, fn: () => void) => {
        const timer = setTimeout(fn, ms);
        timer.unref();
        timers.push(timer);
        return timer;
      };
      // The periodic relist, which is also the end of a watch that went silent.
      after(this.relistIntervalMs, () => finish('relist'));
      // The API server sends a watch's response headers at once; an attempt that gets none is dead.
      const connectTimer = after(this.requestTimeoutMs, () => finish(new Error(`the watch did not connect within ${this.requestTimeoutMs} ms`)));

      const query = {
        fieldSelector: `metadata.name=${this.settings.name}`,
        allowWatchBookmarks: true,
        ...(this.resourceVersion ? { resourceVersion: this.resourceVersion } : {}),
      };
      const onEvent = (type: string, object: any) => {
        if (finished) return;
        const rv: string | undefined = object?.metadata?.resourceVersion;
        switch (type) {
          case 'ADDED':
          case 'MODIFIED':
            if (rv) this.resourceVersion = rv;
            if (object?.metadata?.name === this.settings.name) this.accept(object as KubeObjectJson);
            break;
          case 'DELETED':
            if (rv) this.resourceVersion = rv;
            if (object?.metadata?.name === this.settings.name) this.accept(undefined);
            break;
          case 'BOOKMARK':
            if (rv) this.resourceVersion = rv;
            break;
          case 'ERROR':
            if (object?.code === 410) expired = true;
            else failed = Object.assign(new Error(`watch error: ${object?.message ?? JSON.stringify(object)}`), { code: object?.code });
            break;
        }
      };
      const onDone = (error: unknown) => {
        if (finished) return;
        if (error) finish(error instanceof Error ? error : new Error(String(error)));
        else if (failed) finish(failed);
        else finish(expired ? 'expired' : 'closed');
      };
      this.watcher.watch(this.path, query, onEvent, onDone).then(
        (started) => {
          controller = started;
          clearTimeout(connectTimer);
          if (finished) started.abort();
        },
        (error: unknown) => finish(error instanceof Error ? error : new Error(String(error))),
      );
    });
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

  /** A core/v1 Event about the object: reason from the action, type from the severity, message = the event's reason. */
  async recordEvent(event: ControllerEvent, guard: () => void): Promise<void> {
    const object = this.object;
    if (!object?.metadata) return; // nothing to attach it to
    const { namespace, name, controllerId } = this.settings;
    const now = new Date();
    const reason = eventReason(event);
    const unique = (BigInt(now.getTime()) * 1_000_000n + BigInt(this.eventSeq++ % 1_000_000)).toString(16);
    const body: CoreV1Event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${name.slice(0, 253 - unique.length - 1)}.${unique}`, namespace },
      involvedObject: {
        apiVersion: FEATURE_FLAGS_API_VERSION,
        kind: FEATURE_FLAGS_KIND,
        name,
        namespace,
        ...(object.metadata.uid ? { uid: object.metadata.uid } : {}),
        ...(object.metadata.resourceVersion ? { resourceVersion: object.metadata.resourceVersion } : {}),
      },
      reason,
      message: event.reason.length > 1024 ? `${event.reason.slice(0, 1021)}...` : event.reason,
      type: event.severity,
      action: reason,
      source: { component: CONTROLLER_COMPONENT },
      reportingComponent: CONTROLLER_COMPONENT,
      reportingInstance: controllerId,
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
      eventTime: new V1MicroTime(now.getTime()),
    };
    guard();
    try {
      await this.core.createNamespacedEvent({ namespace, body }, this.options);
    } catch (error) {
      throw new Error(`cannot create the ${reason} Event for ${this.where}: ${describeApiError(error)}`, { cause: error });
    }
  }
}
