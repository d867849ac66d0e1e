import { DEFAULT_FLAGS, deepFreeze, parseFlagSnapshot } from './snapshot.js';
import type { FlagSnapshot } from './snapshot.js';

export interface FlagSnapshotSource {
  /** Reads the latest published snapshot; null when none was ever published. Rejects when the store is unreachable. */
  readSnapshot(): Promise<FlagSnapshot | null>;
  /** Calls onChange (no argument) whenever a new snapshot may have been published. Returns an unsubscribe function. Best effort: notifications may be lost. */
  onSnapshotChanged(onChange: () => void): () => void;
}

/** The subset of a pino logger the watcher uses. */
export interface FlagWatcherLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface FlagWatcherOptions {
  pollIntervalMs?: number;
  readTimeoutMs?: number;
  logger?: FlagWatcherLogger;
  /** Called after a newer snapshot replaced `previous`. Errors it throws are logged, not propagated. */
  onApplied?: (snapshot: FlagSnapshot, previous: FlagSnapshot) => void;
}

export const FLAG_WATCHER_DEFAULTS = Object.freeze({
  /** Polling bounds how late a snapshot applies when its change notification is lost (well under 1 s). */
  pollIntervalMs: 500,
  /** A read slower than this counts as failed; the snapshot in use is kept. */
  readTimeoutMs: 2_000,
});

type ReadFailure = 'unreachable' | 'timeout' | 'invalid';

const silentLogger: FlagWatcherLogger = { info: () => {}, warn: () => {} };

/**
 * Keeps a service's effective flag snapshot current. Applies only strictly newer versions,
 * keeps the last good snapshot through store outages and invalid publications, and learns of
 * new snapshots through change notifications with polling as the safety net.
 */
export class FlagWatcher {
  readonly #source: FlagSnapshotSource;
  readonly #pollIntervalMs: number;
  readonly #readTimeoutMs: number;
  readonly #logger: FlagWatcherLogger;
  readonly #onApplied: FlagWatcherOptions['onApplied'];

  #state: 'idle' | 'running' | 'stopped' = 'idle';
  #snapshot: FlagSnapshot = DEFAULT_FLAGS;
  #lastSuccessfulReadAt: Date | null = null;
  #lastReadFailed = false;
  #outageStartedAt: number | null = null;
  #pollTimer: ReturnType<typeof setInterval> | undefined;
  #unsubscribe: (() => void) | undefined;
  #inFlight: Promise<void> | undefined;
  #queued: Promise<void> | undefined;

  constructor(source: FlagSnapshotSource, options: FlagWatcherOptions = {}) {
    this.#source = source;
    this.#pollIntervalMs = positiveMs('pollIntervalMs', options.pollIntervalMs ?? FLAG_WATCHER_DEFAULTS.pollIntervalMs);
    this.#readTimeoutMs = positiveMs('readTimeoutMs', options.readTimeoutMs ?? FLAG_WATCHER_DEFAULTS.readTimeoutMs);
    this.#logger = options.logger ?? silentLogger;
    this.#onApplied = options.onApplied;
  }

  /**
   * Subscribes, starts polling and performs the first read. Resolves even when that read fails:
   * the watcher then serves DEFAULT_FLAGS (version 0), isStale() is true, and polling keeps trying.
   */
  async start(): Promise<FlagSnapshot> {
    if (this.#state !== 'idle') throw new Error('FlagWatcher.start() may only be called once');
    this.#state = 'running';
    try {
      this.#unsubscribe = this.#source.onSnapshotChanged(() => {
        void this.refresh();
      });
    } catch (error) {
      this.#logger.warn({ err: error }, 'cannot subscribe to flag snapshot changes; relying on polling');
    }
    this.#pollTimer = setInterval(() => {
      void this.refresh();
    }, this.#pollIntervalMs);
    this.#pollTimer.unref();
    await this.refresh();
    return this.#snapshot;
  }

  /** The snapshot in effect now. */
  current(): FlagSnapshot {
    return this.#snapshot;
  }

  /** True until the first successful read, and whenever the most recent read failed or was invalid. */
  isStale(): boolean {
    return this.#lastReadFailed || this.#lastSuccessfulReadAt === null;
  }

  get lastSuccessfulReadAt(): Date | null {
    return this.#lastSuccessfulReadAt;
  }

  /**
   * Reads the source now. At most one read is in flight; calls made meanwhile share one queued
   * read that starts when it finishes (so it sees anything published before the call). Never rejects.
   */
  refresh(): Promise<void> {
    if (this.#state === 'stopped') return Promise.resolve();
    if (this.#queued) return this.#queued;
    if (this.#inFlight) {
      const queued = this.#inFlight.then(() => {
        this.#queued = undefined;
        return this.#startRead();
      });
      this.#queued = queued;
      return queued;
    }
    return this.#startRead();
  }

  stop(): void {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    clearInterval(this.#pollTimer);
    this.#pollTimer = undefined;
    const unsubscribe = this.#unsubscribe;
    this.#unsubscribe = undefined;
    try {
      unsubscribe?.();
    } catch (error) {
      this.#logger.warn({ err: error }, 'unsubscribing from flag snapshot changes failed');
    }
  }

  #isStopped(): boolean {
    return this.#state === 'stopped';
  }

  #startRead(): Promise<void> {
    const read: Promise<void> = this.#readOnce().finally(() => {
      if (this.#inFlight === read) this.#inFlight = undefined;
    });
    this.#inFlight = read;
    return read;
  }

  async #readOnce(): Promise<void> {
    if (this.#isStopped()) return;
    let raw: unknown;
    try {
      raw = await withTimeout(new Promise<unknown>((resolve) => resolve(this.#source.readSnapshot())), this.#readTimeoutMs);
    } catch (error) {
      this.#recordFailure(error instanceof ReadTimeoutError ? 'timeout' : 'unreachable', error);
      return;
    }
    // stop() may have run while the read was pending.
    if (this.#isStopped()) return;

    // null: nothing was ever published; keep what we have (defaults, or a newer snapshot we already hold).
    if (raw === null) {
      this.#recordSuccess();
      return;
    }
    let snapshot: FlagSnapshot;
    try {
      snapshot = parseFlagSnapshot(raw);
    } catch (error) {
      this.#recordFailure('invalid', error);
      return;
    }
    this.#recordSuccess();
    if (snapshot.version > this.#snapshot.version) this.#apply(snapshot);
  }

  #apply(snapshot: FlagSnapshot): void {
    const previous = this.#snapshot;
    this.#snapshot = deepFreeze(snapshot);
    this.#logger.info(
      {
        version: snapshot.version,
        previousVersion: previous.version,
        publishedAt: snapshot.publishedAt,
        publishedBy: snapshot.publishedBy,
      },
      'applied flag snapshot',
    );
    try {
      this.#onApplied?.(snapshot, previous);
    } catch (error) {
      this.#logger.warn({ err: error, version: snapshot.version }, 'onApplied callback threw');
    }
  }

  #recordSuccess(): void {
    this.#lastSuccessfulReadAt = new Date();
    this.#lastReadFailed = false;
    if (this.#outageStartedAt !== null) {
      this.#logger.info({ outageMs: Date.now() - this.#outageStartedAt, version: this.#snapshot.version }, 'flag snapshot reads recovered');
      this.#outageStartedAt = null;
    }
  }

  #recordFailure(reason: ReadFailure, error: unknown): void {
    this.#lastReadFailed = true;
    if (this.#outageStartedAt === null) {
      this.#outageStartedAt = Date.now();
      this.#logger.warn({ err: error, reason, version: this.#snapshot.version }, 'cannot read a valid flag snapshot; keeping the current one until reads recover');
    }
  }
}

class ReadTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`flag snapshot read took longer than ${timeoutMs} ms`);
    this.name = 'ReadTimeoutError';
  }
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new ReadTimeoutError(timeoutMs)), timeoutMs);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

function positiveMs(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`FlagWatcher option ${name} must be a positive number of milliseconds, got ${value}`);
  }
  return value;
}
