import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { DEFAULT_FLAGS, FLAG_WATCHER_DEFAULTS, FlagWatcher } from './index.js';
import type { FlagSnapshot, FlagSnapshotSource, FlagWatcherLogger, FlagWatcherOptions } from './index.js';

/** An in-memory stand-in for the published-snapshot store, with switches for the failures the watcher must survive. */
class InMemorySnapshotSource implements FlagSnapshotSource {
  #stored: unknown = null;
  #listeners = new Set<() => void>();
  #heldReads: Array<() => void> = [];
  holdReads = false;
  notificationsLost = false;
  failure: Error | undefined;
  reads = 0;

  publish(snapshot: unknown): void {
    this.#stored = structuredClone(snapshot);
    if (!this.notificationsLost) for (const listener of [...this.#listeners]) listener();
  }

  async readSnapshot(): Promise<FlagSnapshot | null> {
    this.reads++;
    const stored = structuredClone(this.#stored);
    const failure = this.failure;
    if (this.holdReads) await new Promise<void>((resolve) => this.#heldReads.push(resolve));
    if (failure) throw failure;
    return stored as FlagSnapshot | null;
  }

  onSnapshotChanged(onChange: () => void): () => void {
    this.#listeners.add(onChange);
    return () => this.#listeners.delete(onChange);
  }

  releaseHeldReads(): void {
    this.holdReads = false;
    for (const release of this.#heldReads.splice(0)) release();
  }

  get subscriberCount(): number {
    return this.#listeners.size;
  }
}

class RecordingLogger implements FlagWatcherLogger {
  readonly infos: Array<{ obj: object; msg: string }> = [];
  readonly warns: Array<{ obj: object; msg: string }> = [];
  info(obj: object, msg: string): void {
    this.infos.push({ obj, msg });
  }
  warn(obj: object, msg: string): void {
    this.warns.push({ obj, msg });
  }
}

function snapshot(version: number, percentage = 10): FlagSnapshot {
  return {
    ...structuredClone(DEFAULT_FLAGS),
    version,
    publishedAt: new Date().toISOString(),
    publishedBy: 'test-controller',
    elicitation: { enabled: true, percentage, agents: [], excludedAgents: [] },
  };
}

async function waitUntil(condition: () => boolean, deadlineMs: number, what: string): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() >= deadline) assert.fail(`${what} did not happen within ${deadlineMs} ms`);
    await delay(5);
  }
}

async function startedWatcher(t: { after(fn: () => void): void }, source: FlagSnapshotSource, options: FlagWatcherOptions = {}): Promise<FlagWatcher> {
  const watcher = new FlagWatcher(source, options);
  t.after(() => watcher.stop());
  await watcher.start();
  return watcher;
}

// Long enough that only a change notification can explain a prompt update.
const NO_POLLING = { pollIntervalMs: 60_000 };

test('the documented watcher defaults poll every 500 ms and time reads out after 2 s', () => {
  assert.deepEqual({ ...FLAG_WATCHER_DEFAULTS }, { pollIntervalMs: 500, readTimeoutMs: 2_000 });
});

test('when nothing was ever published, start() serves DEFAULT_FLAGS with version 0', async (t) => {
  const source = new InMemorySnapshotSource();
  const watcher = new FlagWatcher(source, NO_POLLING);
  t.after(() => watcher.stop());
  const started = await watcher.start();
  assert.deepEqual(started, DEFAULT_FLAGS);
  assert.equal(watcher.current().version, 0);
  assert.equal(watcher.isStale(), false);
  assert.ok(watcher.lastSuccessfulReadAt instanceof Date);
});

test('start() applies the snapshot already published', async (t) => {
  const source = new InMemorySnapshotSource();
  source.publish(snapshot(4, 30));
  const watcher = await startedWatcher(t, source, NO_POLLING);
  assert.equal(watcher.current().version, 4);
  assert.equal(watcher.current().elicitation.percentage, 30);
});

test('a new version is applied after a change notification', async (t) => {
  const source = new InMemorySnapshotSource();
  source.publish(snapshot(1));
  const watcher = await startedWatcher(t, source, NO_POLLING);
  source.publish(snapshot(2, 50));
  await waitUntil(() => watcher.current().version === 2, 500, 'applying version 2 after its notification');
  assert.equal(watcher.current().elicitation.percentage, 50);
});

test('a new version is applied by polling within 1 s when its change notification is lost', async (t) => {
  const source = new InMemorySnapshotSource();
  source.publish(snapshot(1));
  const watcher = await startedWatcher(t, source);
  source.notificationsLost = true;
  source.publish(snapshot(2, 50));
  await waitUntil(() => watcher.current().version === 2, 1_000, 'applying version 2 by polling alone');
});

test('an older or equal version never replaces the current snapshot', async (t) => {
  const source = new InMemorySnapshotSource();
  source.publish(snapshot(5, 40));
  const applied: number[] = [];
  const watcher = await startedWatcher(t, source, { ...NO_POLLING, onApplied: (next) => applied.push(next.version) });

  source.publish(snapshot(5, 90));
  await watcher.refresh();
  source.publish(snapshot(3, 90));
  await watcher.refresh();

  assert.equal(watcher.current().version, 5);
  assert.equal(watcher.current().elicitation.percentage, 40);
  assert.deepEqual(applied, [5]);
  assert.equal(watcher.isStale(), false);
});

test('onApplied receives the new and the previous snapshot', async (t) => {
  const source = new InMemorySnapshotSource();
  const calls: Array<[number, number]> = [];
  const watcher = await startedWatcher(t, source, {
    ...NO_POLLING,
    onApplied: (next, previous) => calls.push([next.version, previous.version]),
  });
  source.publish(snapshot(1));
  await watcher.refresh();
  source.publish(snapshot(3));
  await watcher.refresh();
  assert.deepEqual(calls, [
    [1, 0],
    [3, 1],
  ]);
});

test('an onApplied callback that throws is logged and does not stop the watcher', async (t) => {
  const source = new InMemorySnapshotSource();
  const logger = new RecordingLogger();
  const watcher = await startedWatcher(t, source, {
    pollIntervalMs: 20,
    logger,
    onApplied: () => {
      throw new Error('subscriber bug');
    },
  });
  source.publish(snapshot(1));
  await waitUntil(() => watcher.current().version === 1, 1_000, 'applying version 1');
  source.notificationsLost = true;
  source.publish(snapshot(2));
  await waitUntil(() => watcher.current().version === 2, 1_000, 'applying version 2 by polling after a callback error');
  assert.ok(logger.warns.some((entry) => entry.msg.includes('onApplied')));
});

test('a rejecting source keeps the last snapshot, reports stale, logs once per outage and recovers', async (t) => {
  const source = new InMemorySnapshotSource();
  const logger = new RecordingLogger();
  source.publish(snapshot(1, 20));
  const watcher = await startedWatcher(t, source, { ...NO_POLLING, logger });
  const lastGoodRead = watcher.lastSuccessfulReadAt;
  assert.ok(lastGoodRead);

  source.failure = new Error('ECONNREFUSED');
  for (let attempt = 0; attempt < 3; attempt++) await watcher.refresh();
  assert.equal(watcher.current().version, 1);
  assert.equal(watcher.current().elicitation.percentage, 20);
  assert.equal(watcher.isStale(), true);
  assert.equal(watcher.lastSuccessfulReadAt, lastGoodRead);
  assert.equal(logger.warns.length, 1);
  assert.equal((logger.warns[0]?.obj as { reason?: string }).reason, 'unreachable');

  source.failure = undefined;
  source.publish(snapshot(2, 30));
  await watcher.refresh();
  assert.equal(watcher.current().version, 2);
  assert.equal(watcher.isStale(), false);
  assert.notEqual(watcher.lastSuccessfulReadAt, lastGoodRead);
  assert.ok(logger.infos.some((entry) => entry.msg.includes('recovered')));

  source.failure = new Error('ECONNRESET');
  await watcher.refresh();
  assert.equal(logger.warns.length, 2, 'a second outage is logged again');
});

test('an invalid published snapshot is rejected and the last valid one kept', async (t) => {
  const source = new InMemorySnapshotSource();
  const logger = new RecordingLogger();
  source.publish(snapshot(1, 20));
  const watcher = await startedWatcher(t, source, { ...NO_POLLING, logger });

  const outOfRange = snapshot(2, 20) as { elicitation: { percentage: number } };
  outOfRange.elicitation.percentage = 150;
  for (const invalid of [outOfRange, '{"version": 3, "elicitation":', { ...snapshot(4), unexpected: true }]) {
    source.publish(invalid);
    await watcher.refresh();
    assert.equal(watcher.current().version, 1);
    assert.equal(watcher.isStale(), true);
  }
  assert.equal(logger.warns.length, 1);
  assert.equal((logger.warns[0]?.obj as { reason?: string }).reason, 'invalid');
  assert.match(String((logger.warns[0]?.obj as { err?: Error }).err?.message), /elicitation\.percentage/);

  source.publish(snapshot(5, 60));
  await watcher.refresh();
  assert.equal(watcher.current().version, 5);
  assert.equal(watcher.isStale(), false);
});

test('a read slower than readTimeoutMs counts as failed and keeps the last snapshot', { timeout: 2_000 }, async (t) => {
  const source = new InMemorySnapshotSource();
  const logger = new RecordingLogger();
  source.publish(snapshot(1));
  const watcher = await startedWatcher(t, source, { ...NO_POLLING, readTimeoutMs: 30, logger });
  t.after(() => source.releaseHeldReads());

  source.holdReads = true;
  source.publish(snapshot(2));
  await watcher.refresh();
  assert.equal(watcher.current().version, 1);
  assert.equal(watcher.isStale(), true);
  assert.equal((logger.warns[0]?.obj as { reason?: string }).reason, 'timeout');
});

test('when the first read fails, start() resolves with the defaults marked stale and polling catches up', async (t) => {
  const source = new InMemorySnapshotSource();
  source.failure = new Error('ECONNREFUSED');
  source.publish(snapshot(3));
  const watcher = await startedWatcher(t, source, { pollIntervalMs: 20 });
  assert.equal(watcher.current().version, 0);
  assert.equal(watcher.isStale(), true);
  assert.equal(watcher.lastSuccessfulReadAt, null);

  source.failure = undefined;
  await waitUntil(() => watcher.current().version === 3, 1_000, 'applying version 3 once the source is back');
  assert.equal(watcher.isStale(), false);
});

test('concurrent reads are coalesced into one in flight and one queued', { timeout: 2_000 }, async (t) => {
  const source = new InMemorySnapshotSource();
  source.publish(snapshot(1));
  const watcher = await startedWatcher(t, source, NO_POLLING);
  const readsBefore = source.reads;

  source.holdReads = true;
  const first = watcher.refresh();
  source.publish(snapshot(2));
  source.publish(snapshot(3));
  const queued = [watcher.refresh(), watcher.refresh(), watcher.refresh()];
  assert.equal(source.reads - readsBefore, 1, 'only one read is in flight');

  source.releaseHeldReads();
  await Promise.all([first, ...queued]);
  assert.equal(source.reads - readsBefore, 2, 'the calls made meanwhile share one queued read');
  assert.equal(watcher.current().version, 3, 'the queued read sees what was published during the first read');
});

test('stop() unsubscribes, stops polling and applies nothing afterwards', async (t) => {
  const source = new InMemorySnapshotSource();
  source.publish(snapshot(1));
  const watcher = await startedWatcher(t, source, { pollIntervalMs: 10 });
  await waitUntil(() => source.reads >= 3, 1_000, 'polling');

  watcher.stop();
  assert.equal(source.subscriberCount, 0);
  const readsAtStop = source.reads;
  source.publish(snapshot(2));
  await delay(60);
  assert.equal(source.reads, readsAtStop);
  assert.equal(watcher.current().version, 1);
});

test('applied snapshots are frozen, so an evaluation cache keyed by the snapshot stays valid', async (t) => {
  const source = new InMemorySnapshotSource();
  source.publish(snapshot(1));
  const watcher = await startedWatcher(t, source, NO_POLLING);
  assert.ok(Object.isFrozen(watcher.current()));
  assert.ok(Object.isFrozen(watcher.current().elicitation.agents));
});

test('start() may be called only once', async (t) => {
  const watcher = await startedWatcher(t, new InMemorySnapshotSource(), NO_POLLING);
  await assert.rejects(watcher.start(), /only be called once/);
});

test('invalid watcher options are rejected', () => {
  const source = new InMemorySnapshotSource();
  assert.throws(() => new FlagWatcher(source, { pollIntervalMs: 0 }), RangeError);
  assert.throws(() => new FlagWatcher(source, { readTimeoutMs: Number.NaN }), RangeError);
});
