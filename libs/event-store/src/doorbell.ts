import type { RedisClient } from './connection.js';

export type WakeReason = 'rung' | 'timeout' | 'aborted';

/**
 * A waiter for one or more topics (a ring on any wakes it). Register it *before* checking for
 * work, then `wait()`: a ring that lands between the check and the wait is remembered, so no
 * wakeup is ever lost.
 */
export class Waiter {
  private rung = false;
  private resolve: ((reason: WakeReason) => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly topics: readonly string[],
    private readonly onDispose: (waiter: Waiter) => void,
  ) {}

  /** Called by the doorbell. */
  ring(): void {
    this.rung = true;
    this.settle('rung');
  }

  /** Resolves on the next ring (or at once if one came since registration / the last wait), at the timeout, or on abort. */
  wait(timeoutMs: number, signal?: AbortSignal): Promise<WakeReason> {
    if (this.rung) {
      this.rung = false;
      return Promise.resolve('rung');
    }
    if (signal?.aborted) return Promise.resolve('aborted');
    return new Promise<WakeReason>((resolve) => {
      const onAbort = () => this.settle('aborted');
      this.resolve = (reason) => {
        signal?.removeEventListener('abort', onAbort);
        if (reason === 'rung') this.rung = false;
        resolve(reason);
      };
      this.timer = setTimeout(() => this.settle('timeout'), Math.max(0, timeoutMs));
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  dispose(): void {
    this.settle('aborted');
    this.onDispose(this);
  }

  private settle(reason: WakeReason): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const resolve = this.resolve;
    this.resolve = undefined;
    resolve?.(reason);
  }
}

/** After a cluster's subscriber connections change: ring every waiter this soon, and again this later. */
const RESUBSCRIBE_RING_MS = 250;
const RESUBSCRIBE_RING_AGAIN_MS = 2_000;

export interface DoorbellOptions {
  /**
   * Channels to listen on. A message's payload is the topic it rings, unless the channel names its
   * own `topic` (a shard's events bell, whose payload says nothing: doorbellTopics.events).
   */
  channels: Array<{ channel: string; topic?: string }>;
  onEvent?: (event: 'resubscribed' | 'error', detail?: unknown) => void;
  /**
   * Sharded pub/sub (a Redis Cluster): SSUBSCRIBE, each channel on the node that owns its slot,
   * and the scripts ring with SPUBLISH. A ring published while a slot moves to another node can be
   * lost; so can any ring across a reconnect: waiters wait in bounded slices and re-check.
   */
  sharded?: boolean;
}

/**
 * One pub/sub connection per process wakes any number of local waiters (long-polls, shard
 * workers). Waiting costs no Redis connection. Pub/sub is fire-and-forget, so after the subscriber
 * reconnects every waiter is woken to re-check; callers also wait in bounded slices.
 */
export class Doorbell {
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly handlers = new Map<string, (payload: string) => void>();
  private readonly topicOfChannel = new Map<string, string>();
  private wasReady = false;
  private lostConnection = false;
  private ringAllTimers: NodeJS.Timeout[] = [];

  constructor(
    private readonly subscriber: RedisClient,
    private readonly options: DoorbellOptions,
  ) {
    for (const { channel, topic } of options.channels) {
      if (topic !== undefined) this.topicOfChannel.set(channel, topic);
    }
    subscriber.on(options.sharded ? 'smessage' : 'message', (channel: string, payload: string) => this.onMessage(channel, payload));
    subscriber.on('close', () => {
      if (this.wasReady) this.lostConnection = true;
    });
    subscriber.on('ready', () => {
      this.wasReady = true;
      if (this.lostConnection) {
        this.lostConnection = false;
        this.options.onEvent?.('resubscribed');
        this.ringAll();
      }
    });
    if (options.sharded) {
      // A cluster's sharded subscriptions live on one connection per node: a node that fails, or a
      // slot that moves, replaces one of them (ioredis re-subscribes its channels) and whatever
      // rang in between is lost. Every waiter re-checks once the new subscriptions are in place.
      for (const event of ['+subscriber', '-subscriber', '+node', '-node']) subscriber.on(event, () => this.ringAllSoon());
    }
  }

  /** Rings every waiter now and again a little later (the re-subscription may still be under way). */
  private ringAllSoon(): void {
    if (this.ringAllTimers.length > 0) return;
    this.options.onEvent?.('resubscribed');
    for (const delayMs of [RESUBSCRIBE_RING_MS, RESUBSCRIBE_RING_AGAIN_MS]) {
      const timer = setTimeout(() => {
        this.ringAllTimers = this.ringAllTimers.filter((t) => t !== timer);
        this.ringAll();
      }, delayMs);
      timer.unref();
      this.ringAllTimers.push(timer);
    }
  }

  async start(): Promise<void> {
    await this.subscribe([...this.options.channels.map((c) => c.channel), ...this.handlers.keys()]);
  }

  /** Routes a channel's payloads to a handler (e.g. the flag watcher) on the same connection. */
  async listen(channel: string, handler: (payload: string) => void): Promise<void> {
    this.handlers.set(channel, handler);
    if (this.subscriber.status === 'ready') await this.subscribe([channel]);
  }

  /** SUBSCRIBE all at once; SSUBSCRIBE one slot at a time (a sharded subscription may not span slots). */
  private async subscribe(channels: string[]): Promise<void> {
    if (channels.length === 0) return;
    if (!this.options.sharded) {
      await this.subscriber.subscribe(...channels);
      return;
    }
    await Promise.all(channels.map((channel) => this.subscriber.ssubscribe(channel)));
  }

  register(...topics: [string, ...string[]]): Waiter {
    const waiter = new Waiter(topics, (w) => this.unregister(w));
    for (const topic of topics) {
      let set = this.waiters.get(topic);
      if (!set) {
        set = new Set();
        this.waiters.set(topic, set);
      }
      set.add(waiter);
    }
    return waiter;
  }

  ring(topic: string): void {
    const set = this.waiters.get(topic);
    if (!set) return;
    for (const waiter of set) waiter.ring();
  }

  ringAll(): void {
    for (const set of this.waiters.values()) for (const waiter of set) waiter.ring();
  }

  /** Number of registered waiters (for the waiting-polls gauge); a waiter of several topics counts once. */
  waiterCount(prefix?: string): number {
    const seen = new Set<Waiter>();
    for (const [topic, set] of this.waiters) if (prefix === undefined || topic.startsWith(prefix)) for (const waiter of set) seen.add(waiter);
    return seen.size;
  }

  private unregister(waiter: Waiter): void {
    for (const topic of waiter.topics) {
      const set = this.waiters.get(topic);
      if (!set) continue;
      set.delete(waiter);
      if (set.size === 0) this.waiters.delete(topic);
    }
  }

  private onMessage(channel: string, payload: string): void {
    const handler = this.handlers.get(channel);
    if (handler) {
      handler(payload);
      return;
    }
    this.ring(this.topicOfChannel.get(channel) ?? payload);
  }
}
