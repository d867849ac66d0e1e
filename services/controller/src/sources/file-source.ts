/**
 * Local mode: the FeatureFlags resource is a YAML file (the same document `kubectl apply` takes),
 * watched for changes; its status is kept in the store, fenced by the controller lease.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { isDeepStrictEqual } from 'node:util';
import { parseDocument } from 'yaml';
import type { ControllerLease, ControllerStore } from '@agent-bridge/event-store';
import { parseFeatureFlags, type FeatureFlagsStatus } from '@agent-bridge/flags';
import type { Logger } from '@agent-bridge/observability';
import type { ResourceSource, ResourceView } from './source.js';

/** The file is re-checked this often too (editors that replace the file can miss a watch event). */
const POLL_INTERVAL_MS = 1_000;

export class FileResourceSource implements ResourceSource {
  readonly kind = 'file' as const;
  private view: ResourceView = { state: 'missing', message: 'not read yet' };
  private lastSpec: unknown;
  private generation = 0;
  private lastText: string | undefined;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private onChange: () => void = () => undefined;

  constructor(
    private readonly path: string,
    private readonly store: ControllerStore,
    private readonly lease: () => ControllerLease | undefined,
    private readonly logger: Logger,
  ) {}

  async start(onChange: () => void): Promise<void> {
    this.onChange = onChange;
    await this.reload();
    try {
      this.watcher = watch(this.path, () => void this.reload());
    } catch {
      // The directory may not exist yet; polling picks the file up when it appears.
    }
    this.timer = setInterval(() => void this.reload(), POLL_INTERVAL_MS);
    this.timer.unref();
  }

  current(): ResourceView {
    return this.view;
  }

  /** Applies a new document from `text` (bridgectl apply -f writes the file; tests call this). */
  private apply(text: string): void {
    if (text === this.lastText) return;
    this.lastText = text;
    const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
    let next: ResourceView;
    if (document.errors.length > 0) {
      next = { state: 'invalid', message: `${this.path}: not valid YAML: ${document.errors[0]!.message}`, generation: this.generation };
    } else {
      try {
        const resource = parseFeatureFlags(document.toJS(), this.path);
        // Like metadata.generation in Kubernetes: it moves when the spec changes, not on every save.
        if (!isDeepStrictEqual(resource.spec, this.lastSpec)) {
          this.generation += 1;
          this.lastSpec = resource.spec;
        }
        next = { state: 'ok', resource: { ...resource, metadata: { ...resource.metadata, generation: this.generation } }, generation: this.generation };
      } catch (error) {
        next = { state: 'invalid', message: (error as Error).message, generation: this.generation };
      }
    }
    if (next.state !== 'ok') this.logger.error({ file: this.path }, next.message);
    else if (this.view.state !== 'ok' || this.view.generation !== next.generation) this.logger.info({ file: this.path, generation: next.generation }, 'FeatureFlags resource loaded');
    this.view = next;
    this.onChange();
  }

  private async reload(): Promise<void> {
    try {
      await stat(this.path);
      this.apply(await readFile(this.path, 'utf8'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        if (this.view.state !== 'missing') this.onChange();
        this.view = { state: 'missing', message: `${this.path} does not exist; create it (see deploy/samples/)` };
        this.lastText = undefined;
      } else {
        this.logger.error({ err: error, file: this.path }, 'cannot read the FeatureFlags file');
      }
    }
  }

  async readStatus(): Promise<FeatureFlagsStatus | null> {
    const json = await this.store.readControllerStatusJson();
    return json ? (JSON.parse(json) as FeatureFlagsStatus) : null;
  }

  async writeStatus(status: FeatureFlagsStatus, guard: () => void): Promise<void> {
    guard();
    const lease = this.lease();
    if (!lease) throw new Error('no controller lease');
    // Fenced in Redis too: the write is refused if another controller took the lease meanwhile.
    await this.store.writeControllerStatusJson(JSON.stringify(status), lease);
  }

  async recordEvent(): Promise<void> {}

  async stop(): Promise<void> {
    this.watcher?.close();
    clearInterval(this.timer);
  }
}
