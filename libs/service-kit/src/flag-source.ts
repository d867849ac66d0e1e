import { parseFlagSnapshot, type FlagSnapshot, type FlagSnapshotSource } from '@agent-bridge/flags';
import type { ControlStore, Doorbell, Keys } from '@agent-bridge/event-store';

/**
 * The flag watcher's view of the store: snapshot reads, plus change notifications on the process's
 * doorbell connection. It lives in the service kit, its one user (runtime.ts), so the event store
 * does not depend on the flags library.
 */
export class StoreFlagSource implements FlagSnapshotSource {
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly store: ControlStore,
    doorbell: Doorbell,
    keys: Keys,
  ) {
    void doorbell.listen(keys.flagChannel(), () => {
      for (const listener of this.listeners) listener();
    });
  }

  async readSnapshot(): Promise<FlagSnapshot | null> {
    const json = await this.store.readFlagSnapshotJson();
    return json === null ? null : parseFlagSnapshot(JSON.parse(json));
  }

  onSnapshotChanged(onChange: () => void): () => void {
    this.listeners.add(onChange);
    return () => this.listeners.delete(onChange);
  }
}
