/**
 * The loop of every process that consumes a stream it holds a lease on — a router's shard worker
 * (the shard's events stream) and an elicitation replica's push deliverer (an agent's push lane):
 * wait on the doorbell, read this consumer's pending entries first and new ones after, hand them
 * over in order, back off after a failure, and stop or start over on a lost lease.
 *
 * Pending entries (claimed from a dead or deposed holder, or left by our own interrupted batch)
 * are always finished before anything new is read: that is what keeps per-(sender, target) order.
 */
import { retryBackoffMs, sleep } from './deadline.js';
import type { Doorbell, Waiter } from './doorbell.js';
import { isStoreError } from './errors.js';

export type ReadPhase = 'pending' | 'new';

export interface LeasedStream<E> {
  /** The doorbell topic rung when the stream may have something for us. */
  readonly topic: string;
  readonly batchSize: number;
  /** Longest wait on the doorbell before looking again anyway (pub/sub can miss a ring). */
  readonly recheckMs: number;
  /**
   * Before each read: holds the lease (and whatever else reading needs). 'ready': read now;
   * 'claimed': the lease was just taken and its pending entries claimed, read those first; 'wait':
   * not now, wait for a ring or the recheck and ask again.
   */
  prepare(waiter: Waiter): Promise<'ready' | 'claimed' | 'wait'>;
  read(phase: ReadPhase, count: number): Promise<E[]>;
  /** Handles the entries in order; returns how many it finished (the rest stay pending and are read again first). */
  handle(entries: E[], phase: ReadPhase): Promise<number>;
  /** Nothing to read: periodic chores (trimming) before the wait. */
  idle?(): Promise<void>;
  /** After a batch shorter than `batchSize` (caught up): wait for the next ring instead of reading an empty stream again. */
  readonly waitWhenCaughtUp?: boolean;
  /** A fenced write said the lease is gone: 'stop' ends the consumer, 'retry' goes back to `prepare`. */
  onLeaseLost(): 'stop' | 'retry';
  /** Any other failure; the consumer backs off and re-reads its pending entries. */
  onError(error: unknown, failures: number): void;
}

export class LeasedConsumer<E> {
  constructor(
    private readonly stream: LeasedStream<E>,
    private readonly doorbell: Doorbell,
    private readonly signal: AbortSignal,
  ) {}

  /** Runs until the signal aborts or the lease is lost for good ('stop'). */
  async run(): Promise<void> {
    const { stream, signal } = this;
    let phase: ReadPhase = 'pending';
    let failures = 0;
    while (!signal.aborted) {
      // Registered before reading: an entry that arrives between the read and the wait still rings us.
      const waiter = this.doorbell.register(stream.topic);
      try {
        const readiness = await stream.prepare(waiter);
        if (readiness === 'wait') {
          await waiter.wait(stream.recheckMs, signal);
          continue;
        }
        if (readiness === 'claimed') phase = 'pending';
        const entries = await stream.read(phase, stream.batchSize);
        if (entries.length === 0) {
          if (phase === 'pending') {
            phase = 'new';
            continue;
          }
          await stream.idle?.();
          await waiter.wait(stream.recheckMs, signal);
          continue;
        }
        const finished = await stream.handle(entries, phase);
        if (finished < entries.length) phase = 'pending';
        failures = 0;
        if (stream.waitWhenCaughtUp && phase === 'new' && entries.length < stream.batchSize) await waiter.wait(stream.recheckMs, signal);
      } catch (error) {
        if (isStoreError(error, 'LEASE_LOST')) {
          if (stream.onLeaseLost() === 'stop') return;
          continue;
        }
        failures++;
        // Whatever part of the batch was done is acknowledged; the rest is still pending and must
        // be finished before anything newer, so go back to reading our pending entries.
        phase = 'pending';
        stream.onError(error, failures);
        await sleep(retryBackoffMs(failures), signal);
      } finally {
        waiter.dispose();
      }
    }
  }
}
