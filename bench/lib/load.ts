/**
 * The load side of the benchmark, shared by every protocol: measured windows, closed- and
 * open-loop senders, and one "delivery window" that sends around a ring and times each message
 * from "send accepted" to "received by the target", whatever receives it (a poll, a push).
 */
import type { AgentClient } from '@agent-bridge/testkit';
import type { ElicitResult } from '@modelcontextprotocol/client';
import type { Bridge, PollResult, ReceivedElicitation } from '../../e2e/support/bridge.js';
import { CpuMeter, type CpuReport } from './cpu.js';
import type { Profiler } from './profiling.js';
import type { BridgeResult, ElicitRoundTrips, RedisStats } from './results.js';

export const now = (): number => performance.now();
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Open-loop senders never hold more than this many unanswered sends each (protects the machine if the bridge stalls). */
const MAX_IN_FLIGHT_PER_SENDER = 64;

export interface Window {
  /** Start of warm-up: load starts here. */
  begin: number;
  /** Start of the measured part. */
  start: number;
  /** End of the measured part: load stops here. */
  end: number;
}

export function planWindow(warmupSeconds: number, seconds: number): Window {
  const begin = now();
  const start = begin + warmupSeconds * 1000;
  return { begin, start, end: start + seconds * 1000 };
}

export const inWindow = (window: Window, at: number): boolean => at >= window.start && at < window.end;

/** Meters CPU over the measured part of the window, and profiles `profile` (pids) over it. */
export async function meterWindow(window: Window, meter: CpuMeter, profiler: Profiler, profile: number[]): Promise<CpuReport> {
  await sleep(window.start - now());
  meter.start();
  profiler.toggle(profile);
  await sleep(window.end - now());
  profiler.toggle(profile);
  const report = meter.stop();
  if (profile.length > 0) await sleep(1_000); // let the profiles be written before anything stops
  return report;
}

/** INFO commandstats over the measured part of the window (CONFIG RESETSTAT at its start). */
export async function redisStatsOverWindow(bridge: Bridge, window: Window): Promise<RedisStats | undefined> {
  const client = bridge.redis.client();
  try {
    await sleep(window.start - now());
    await client.config('RESETSTAT');
    await sleep(window.end - now());
    const info = await client.info('commandstats');
    const commands = new Map<string, { calls: number; usec: number }>();
    for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
      if (match[1] === 'info' || match[1] === 'config') continue;
      commands.set(match[1]!, { calls: Number(match[2]), usec: Number(match[3]) });
    }
    const values = [...commands.values()];
    return { commands, totalCalls: values.reduce((a, c) => a + c.calls, 0), totalUsec: values.reduce((a, c) => a + c.usec, 0) };
  } catch {
    return undefined;
  } finally {
    client.disconnect();
  }
}

/**
 * Runs `count` workers until the window ends. Closed loop (`perWorkerRate` undefined): each worker
 * awaits its call before the next. Open loop: call k of worker i is due at begin + (i/count + k) /
 * perWorkerRate whether or not earlier calls were answered; a late schedule is caught up, never skipped.
 */
export async function driveLoad(window: Window, count: number, perWorkerRate: number | undefined, call: (worker: number, seq: number) => Promise<void>): Promise<void> {
  const closed = async (worker: number) => {
    for (let seq = 0; now() < window.end; seq++) await call(worker, seq);
  };
  const open = async (worker: number, rate: number) => {
    const interval = 1000 / rate;
    if (!(Number.isFinite(interval) && interval > 0)) throw new Error(`open-loop rate must be a positive number (got ${rate}/s per sender)`);
    const offset = (worker / count) * interval;
    const inFlight = new Set<Promise<void>>();
    for (let seq = 0; ; seq++) {
      const due = window.begin + offset + seq * interval;
      if (due >= window.end) break;
      if (due > now()) await sleep(due - now());
      while (inFlight.size >= MAX_IN_FLIGHT_PER_SENDER) await Promise.race(inFlight);
      const pending: Promise<void> = call(worker, seq).finally(() => inFlight.delete(pending));
      inFlight.add(pending);
    }
    await Promise.all(inFlight);
  };
  await Promise.all(Array.from({ length: count }, (_, i) => (perWorkerRate === undefined ? closed(i) : open(i, perWorkerRate))));
}

// ------------------------------------------------------------------ receivers

/** Receives the ring's messages for one protocol. */
export interface Receivers {
  readonly protocol: 'legacy' | 'elicitation';
  /** Starts receiving for window `tag`: `onReceive(key, at)` for each benchmark message of that window. */
  start(tag: string, onReceive: (key: string, at: number) => void): void;
  /** Stops receiving; returns what it did since start. */
  stop(): Promise<{ deliveries: number; items: number; errors: number }>;
}

/** The tag and key of a benchmark message's content ("bench|<tag>|<key>|xxxx…"), wherever it sits in `text`. */
const BENCH_MARK = /bench\|([^|]+)\|([^|]+)\|/;

export interface Mailbox {
  client: AgentClient;
  cursor: string | undefined;
}

/** Legacy: each target has a receiver client in a wait_for_messages loop (previous cursor). */
export class PollingReceivers implements Receivers {
  readonly protocol = 'legacy';
  private stopping = false;
  private loops: Array<Promise<void>> = [];
  private counts = { deliveries: 0, items: 0, errors: 0 };
  // Each poll gets its own AbortController, aborted only while that poll is in flight, so stop()
  // cancels exactly the polls still waiting. (One signal shared by every poll was worse with SDK 1.x,
  // whose Protocol.request never removed its 'abort' listener: aborting it sent a
  // notifications/cancelled POST for every poll ever made.)
  private readonly inFlight = new Set<AbortController>();

  constructor(
    private readonly mailboxes: Mailbox[],
    private readonly maxMessages: number,
    private readonly timeoutMs: number,
  ) {}

  start(tag: string, onReceive: (key: string, at: number) => void): void {
    this.stopping = false;
    this.counts = { deliveries: 0, items: 0, errors: 0 };
    this.loops = this.mailboxes.map(async (mailbox) => {
      while (!this.stopping) {
        const controller = new AbortController();
        this.inFlight.add(controller);
        let result: PollResult;
        try {
          result = await mailbox.client.callToolJson<PollResult>(
            'wait_for_messages',
            { ...(mailbox.cursor ? { cursor: mailbox.cursor } : {}), max_messages: this.maxMessages, timeout_ms: this.timeoutMs },
            { signal: controller.signal },
          );
        } catch {
          if (this.stopping) return;
          this.counts.errors++;
          await sleep(50);
          continue;
        } finally {
          this.inFlight.delete(controller);
        }
        const at = now();
        this.counts.deliveries++;
        this.counts.items += result.messages.length;
        mailbox.cursor = result.cursor;
        for (const message of result.messages) {
          const match = BENCH_MARK.exec(message.content);
          if (match && match[1] === tag) onReceive(match[2]!, at); // else an earlier window's message
        }
      }
    });
  }

  async stop() {
    this.stopping = true;
    for (const controller of this.inFlight) controller.abort();
    await Promise.all(this.loops);
    return this.counts;
  }
}

/** The answer a modern agent gives to an `elicit` question of the benchmark (schema {ok: boolean}). */
export const ELICIT_SCHEMA = { type: 'object', properties: { ok: { type: 'boolean', title: 'OK' } }, required: ['ok'] } as const;

/**
 * Elicitation: each target is a modern agent (an MCP session on the elicitation endpoint with its
 * stream open). Pass `answer` to bridge.connectModern. Ring messages are answered at once with
 * `accept {}` (no reply message); `elicit` questions with `accept {ok: true}`.
 */
export class PushReceivers implements Receivers {
  readonly protocol = 'elicitation';
  private tag: string | undefined;
  private onReceive: ((key: string, at: number) => void) | undefined;
  private counts = { deliveries: 0, items: 0, errors: 0 };
  /** Elicitations that were neither a ring message nor an elicit question (e.g. replies pushed back). */
  stray = 0;
  questions = 0;

  readonly answer = (request: ReceivedElicitation): ElicitResult => {
    const at = now();
    this.counts.deliveries++;
    const match = BENCH_MARK.exec(request.message);
    if (match) {
      this.counts.items++;
      if (match[1] === this.tag) this.onReceive?.(match[2]!, at);
      return { action: 'accept', content: {} };
    }
    if ((request.requestedSchema as { properties?: Record<string, unknown> }).properties?.ok !== undefined) {
      this.questions++;
      return { action: 'accept', content: { ok: true } };
    }
    this.stray++;
    return { action: 'accept', content: {} };
  };

  start(tag: string, onReceive: (key: string, at: number) => void): void {
    this.tag = tag;
    this.onReceive = onReceive;
    this.counts = { deliveries: 0, items: 0, errors: 0 };
  }

  async stop() {
    this.tag = undefined;
    this.onReceive = undefined;
    return this.counts;
  }
}

// ------------------------------------------------------------------ one delivery window

export interface DeliveryWindowOptions {
  bridge: Bridge;
  /** Agent ids of the ring: agent i sends to agent (i+1) mod N. */
  ids: string[];
  /** One sender client per agent (send_message on the legacy endpoint). */
  senders: AgentClient[];
  receivers: Receivers;
  /** Closed-loop senders when undefined, else open loop at this total rate. */
  targetRate: number | undefined;
  warmupSeconds: number;
  seconds: number;
  contentBytes: number;
  drainSeconds: number;
  /** Processes to meter (besides this one and redis-server). */
  services: Array<[string, number | undefined]>;
  profiler: Profiler;
  /** Profile the services over this window. */
  profile: boolean;
}

let windowCounter = 0;

export async function runDeliveryWindow(options: DeliveryWindowOptions): Promise<BridgeResult> {
  const { bridge, ids, senders, receivers } = options;
  const tag = `w${++windowCounter}`;
  const sent = new Map<string, { startedAt: number; acceptedAt: number }>();
  const received = new Map<string, number>();
  let sendErrors = 0;
  const window = planWindow(options.warmupSeconds, options.seconds);

  receivers.start(tag, (key, at) => {
    if (!received.has(key)) received.set(key, at);
  });

  const send = async (index: number, seq: number) => {
    const from = ids[index]!;
    const key = `${from}:${seq}`;
    const prefix = `bench|${tag}|${key}|`;
    const startedAt = now();
    try {
      await senders[index]!.callToolJson('send_message', { to: ids[(index + 1) % ids.length]!, content: prefix + 'x'.repeat(Math.max(0, options.contentBytes - prefix.length)) });
    } catch {
      sendErrors++;
      return;
    }
    sent.set(key, { startedAt, acceptedAt: now() });
  };

  const meter = new CpuMeter([...options.services.map(([name, pid]) => ({ name, pid })), { name: 'redis-server', pid: bridge.redis.pid }]);
  const profile = options.profile ? options.profiler.claim(options.services) : [];
  const load = driveLoad(window, senders.length, options.targetRate === undefined ? undefined : options.targetRate / senders.length, send);
  const [cpu, redis] = await Promise.all([meterWindow(window, meter, options.profiler, profile), redisStatsOverWindow(bridge, window), load]);

  // Let what was accepted in the window arrive, then stop the receivers.
  const accepted = () => [...sent].filter(([, r]) => inWindow(window, r.acceptedAt));
  const drainDeadline = now() + options.drainSeconds * 1000;
  while (now() < drainDeadline && accepted().some(([key]) => !received.has(key))) await sleep(50);
  const counts = await receivers.stop();

  const result: BridgeResult = {
    protocol: receivers.protocol,
    seconds: options.seconds,
    targetRate: options.targetRate,
    sent: 0,
    lost: 0,
    delivered: [...received.values()].filter((at) => inWindow(window, at)).length,
    latencies: [],
    fromSendStart: [],
    sendCalls: [],
    beforeAccepted: 0,
    polls: counts.deliveries,
    polledMessages: counts.items,
    sendErrors,
    pollErrors: counts.errors,
    cpu,
    redis,
  };
  for (const [key, record] of accepted()) {
    result.sent++;
    result.sendCalls.push(record.acceptedAt - record.startedAt);
    const at = received.get(key);
    if (at === undefined) {
      result.lost++;
      continue;
    }
    if (at < record.acceptedAt) result.beforeAccepted++;
    result.latencies.push(Math.max(0, at - record.acceptedAt));
    result.fromSendStart.push(at - record.startedAt);
  }
  return result;
}

// ------------------------------------------------------------------ elicit round trips

export interface ElicitWindowOptions {
  bridge: Bridge;
  /** askers[i] (a modern agent's session) asks targets[i]. */
  askers: AgentClient[];
  targets: string[];
  warmupSeconds: number;
  seconds: number;
  services: Array<[string, number | undefined]>;
  profiler: Profiler;
  profile: boolean;
}

export async function runElicitWindow(options: ElicitWindowOptions): Promise<ElicitRoundTrips> {
  const window = planWindow(options.warmupSeconds, options.seconds);
  const latencies: number[] = [];
  let calls = 0;
  let errors = 0;
  let wrong = 0;
  const ask = async (index: number, seq: number) => {
    const started = now();
    let result: { action?: string; content?: { ok?: unknown } };
    try {
      result = await options.askers[index]!.callToolJson('elicit', { to: options.targets[index]!, message: `May I go on? (${seq})`, requested_schema: ELICIT_SCHEMA, timeout_ms: 10_000 });
    } catch {
      errors++;
      await sleep(20);
      return;
    }
    const done = now();
    if (result.action !== 'accept' || result.content?.ok !== true) wrong++;
    if (inWindow(window, done)) {
      calls++;
      latencies.push(done - started);
    }
  };
  const meter = new CpuMeter([...options.services.map(([name, pid]) => ({ name, pid })), { name: 'redis-server', pid: options.bridge.redis.pid }]);
  const profile = options.profile ? options.profiler.claim(options.services) : [];
  const [cpu, redis] = await Promise.all([
    meterWindow(window, meter, options.profiler, profile),
    redisStatsOverWindow(options.bridge, window),
    driveLoad(window, options.askers.length, undefined, ask),
  ]);
  return { askers: options.askers.length, seconds: options.seconds, calls, latencies, errors, wrong, cpu, redis };
}
