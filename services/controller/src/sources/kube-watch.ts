/**
 * The list+watch of the one FeatureFlags object (fieldSelector metadata.name=…), driven here rather
 * than by client-node's informer so every failure mode ends in the same place (run()):
 *   - a watch the server closes cleanly is re-opened from the last resourceVersion seen;
 *   - a 410 Gone (ERROR event: the resourceVersion was compacted away) leads to a fresh list;
 *   - any other error (connection reset, 5xx, timeouts) leads to a fresh list after an exponential
 *     backoff (capped at 30 s by default);
 *   - and every `relistIntervalMs` (default 60 s) the watch is replaced by a fresh list + watch even
 *     when it looks healthy, so a watch that stalls silently (a half-open connection, a proxy that
 *     stops forwarding) cannot freeze the controller on an old spec.
 */
import type { ConfigurationOptions, CustomObjectsApi } from '@kubernetes/client-node';
import { FEATURE_FLAGS_API_VERSION, FEATURE_FLAGS_GROUP, FEATURE_FLAGS_KIND, FEATURE_FLAGS_PLURAL, FEATURE_FLAGS_VERSION } from '@agent-bridge/flags';
import type { Logger } from '@agent-bridge/observability';
import { describeApiError, type KubeObjectJson } from './kube-api.js';

/** The subset of client-node's Watch used here (tests wrap it to simulate a stalled stream). */
export interface WatchLike {
  watch(path: string, queryParams: Record<string, string | number | boolean | undefined>, callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void, done: (err: unknown) => void): Promise<AbortController>;
}

export interface FeatureFlagsWatchOptions {
  custom: CustomObjectsApi;
  watcher: WatchLike;
  /** Per-request options of the ordinary API calls (the list). */
  requestOptions: ConfigurationOptions;
  namespace: string;
  name: string;
  relistIntervalMs: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** Also the time a watch has to connect. */
  requestTimeoutMs: number;
  logger: Logger;
  /** The object as log lines name it. */
  where: string;
  /** Every listed or watched state of the object (undefined: it does not exist). */
  onObject: (object: KubeObjectJson | undefined) => void;
}

type WatchOutcome = 'closed' | 'expired' | 'relist';

const FF = { group: FEATURE_FLAGS_GROUP, version: FEATURE_FLAGS_VERSION, plural: FEATURE_FLAGS_PLURAL } as const;

/** The API server ended a watch with an error Status (other than 410 Gone, which means relist). */
class WatchError extends Error {
  constructor(
    message: string,
    readonly code: number | undefined,
  ) {
    super(message);
  }
}

export class FeatureFlagsWatch {
  private readonly path: string;
  /** Where the next watch continues from. */
  private resourceVersion = '';
  private stopped = false;
  private running: Promise<void> | undefined;
  /** Ends the current watch attempt or backoff sleep (stop()). */
  private interrupt: (() => void) | undefined;

  constructor(private readonly settings: FeatureFlagsWatchOptions) {
    this.path = `/apis/${FEATURE_FLAGS_GROUP}/${FEATURE_FLAGS_VERSION}/namespaces/${settings.namespace}/${FEATURE_FLAGS_PLURAL}`;
  }

  /** Lists the object once (rejects when the API refuses), then watches in the background. */
  async start(): Promise<void> {
    await this.list();
    this.running = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.interrupt?.();
    await this.running;
  }

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
        if (outcome === 'expired') this.settings.logger.info({ resource: this.settings.where }, 'watch resourceVersion expired (410 Gone); relisting');
        // A watch the server keeps closing right away must not become a busy loop.
        failures = outcome === 'closed' && Date.now() - startedAt < 1_000 ? failures + 1 : 0;
      } catch (error) {
        if (this.stopped) break;
        failures += 1;
        needList = true;
        this.settings.logger.warn({ err: error, resource: this.settings.where, failures }, `list/watch failed (${describeApiError(error)}); retrying with backoff`);
      }
      if (failures > 0) await this.sleep(this.backoff(failures));
    }
  }

  private backoff(failures: number): number {
    const base = Math.min(this.settings.backoffMaxMs, this.settings.backoffInitialMs * 2 ** Math.min(failures - 1, 30));
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
    const list = (await this.settings.custom.listNamespacedCustomObject({ ...FF, namespace: this.settings.namespace, fieldSelector: `metadata.name=${this.settings.name}` }, this.settings.requestOptions)) as {
      metadata?: { resourceVersion?: string };
      items?: KubeObjectJson[];
    };
    this.resourceVersion = list.metadata?.resourceVersion ?? '';
    const item = (list.items ?? []).find((candidate) => candidate.metadata?.name === this.settings.name);
    this.settings.onObject(item && { apiVersion: FEATURE_FLAGS_API_VERSION, kind: FEATURE_FLAGS_KIND, ...item });
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
      after(this.settings.relistIntervalMs, () => finish('relist'));
      // The API server sends a watch's response headers at once; an attempt that gets none is dead.
      const connectTimer = after(this.settings.requestTimeoutMs, () => finish(new Error(`the watch did not connect within ${this.settings.requestTimeoutMs} ms`)));

      const query = {
        fieldSelector: `metadata.name=${this.settings.name}`,
        allowWatchBookmarks: true,
        ...(this.resourceVersion ? { resourceVersion: this.resourceVersion } : {}),
      };
      const onEvent = (type: string, received: unknown) => {
        if (finished) return;
        // A watch event's object: the resource, or a Status ({code, message}) for ERROR.
        const object = received as (KubeObjectJson & { code?: number; message?: string }) | undefined;
        const rv = object?.metadata?.resourceVersion;
        switch (type) {
          case 'ADDED':
          case 'MODIFIED':
            if (rv) this.resourceVersion = rv;
            if (object?.metadata?.name === this.settings.name) this.settings.onObject(object);
            break;
          case 'DELETED':
            if (rv) this.resourceVersion = rv;
            if (object?.metadata?.name === this.settings.name) this.settings.onObject(undefined);
            break;
          case 'BOOKMARK':
            if (rv) this.resourceVersion = rv;
            break;
          case 'ERROR':
            if (object?.code === 410) expired = true;
            else failed = new WatchError(`watch error: ${object?.message ?? JSON.stringify(object)}`, object?.code);
            break;
        }
      };
      const onDone = (error: unknown) => {
        if (finished) return;
        if (error) finish(error instanceof Error ? error : new Error(String(error)));
        else if (failed) finish(failed);
        else finish(expired ? 'expired' : 'closed');
      };
      this.settings.watcher.watch(this.path, query, onEvent, onDone).then(
        (started) => {
          controller = started;
          clearTimeout(connectTimer);
          if (finished) started.abort();
        },
        (error: unknown) => finish(error instanceof Error ? error : new Error(String(error))),
      );
    });
  }
}
