/**
 * The load side of the benchmark, shared by every protocol: measured windows, closed- and
 * open-loop senders, and one "delivery window" that sends around a ring and times each message
 * from "send accepted" to "received by the target", whatever receives it (a poll, a push, a round).
 */
import { ToolCallError, type AgentClient } from '@agent-bridge/testkit';
import type { ElicitRequestParams, ElicitResult } from '@modelcontextprotocol/client';
import type { Bridge, PollResult, ReceivedElicitation } from '@agent-bridge/testkit/bridge';
import { CpuMeter, type CpuReport } from './cpu.js';
import type { Profiler } from './profiling.js';
import type { BridgeResult, DeliveryProtocol, ElicitRoundTrips, RedisStats } from './results.js';

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

const inWindow = (window: Window, at: number): boolean => at >= window.start && at < window.end;

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
async function redisStatsOverWindow(bridge: Bridge, window: Window): Promise<RedisStats | undefined> {
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

/** Sums of Prometheus counters (by series pattern) over the measured part of the window, from one /metrics URL. */
async function countersOverWindow(metricsUrl: string, window: Window, series: Record<string, RegExp>): Promise<Record<string, number> | undefined> {
  const scrape = async () => {
    const lines = (await (await fetch(metricsUrl)).text()).split('\n').filter((line) => !line.startsWith('#'));
    return Object.fromEntries(Object.entries(series).map(([name, pattern]) => [name, lines.filter((line) => pattern.test(line)).reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0)]));
  };
  try {
    await sleep(window.start - now());
    const before = await scrape();
    await sleep(window.end - now());
    const after = await scrape();
    return Object.fromEntries(Object.keys(series).map((name) => [name, after[name]! - before[name]!]));
  } catch {
    return undefined;
  }
}

/** The elicitation replica's own count of 2026 rounds and of wait_for_messages requests (one per round handed out or result). */
const ROUND_COUNTERS = {
  rounds: /^agentbridge_elicitation_rounds_total/,
  requests: /^agentbridge_tool_calls_total\{[^}]*tool="wait_for_messages"/,
};

/**
 * Runs `count` workers until the window ends. Closed loop (`perWorkerRate` undefined): each worker
 * awaits its call before the next. Open loop: call k of worker i is due at begin + (i/count + k) /
 * perWorkerRate whether or not earlier calls were answered; a late schedule is caught up, never skipped.
 */
async function driveLoad(window: Window, count: number, perWorkerRate: number | undefined, call: (worker: number, seq: number) => Promise<void>): Promise<void> {
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

/** What a ring's receivers did between start() and stop(). */
export interface ReceiverCounts {
  /** Legacy and rounds: wait_for_messages results; elicitation: elicitation/create requests received. */
  deliveries: number;
  /** Legacy: messages the polls returned; elicitation and rounds: ring messages among the elicitations. */
  items: number;
  /** Failed wait_for_messages calls (legacy, rounds). */
  errors: number;
  /** Rounds: ring messages returned in `messages` (the poll lane: a fallback, not a round). */
  pollLane: number;
}

const noCounts = (): ReceiverCounts => ({ deliveries: 0, items: 0, errors: 0, pollLane: 0 });

/** Receives the ring's messages for one protocol. */
export interface Receivers {
  readonly protocol: DeliveryProtocol;
  /** Starts receiving for window `tag`: `onReceive(key, at)` for each benchmark message of that window. */
  start(tag: string, onReceive: (key: string, at: number) => void): void;
  /** Stops receiving; returns what it did since start. */
  stop(): Promise<ReceiverCounts>;
}

/** The tag and key of a benchmark message's content ("bench|<tag>|<key>|xxxx…"), wherever it sits in `text`. */
const BENCH_MARK = /bench\|([^|]+)\|([^|]+)\|/;

export interface Mailbox {
  client: AgentClient;
  cursor: string | undefined;
  /** Set while the call in flight answers a round (its elicitations are being answered, its retry sent). */
  answering?: boolean;
}

/**
 * A wait_for_messages loop per mailbox (previous cursor) from start() to stop(). Each call gets its
 * own AbortController, aborted only while that call is in flight, so stop() cancels exactly the calls
 * still waiting. (One signal shared by every call was worse with SDK 1.x, whose Protocol.request
 * never removed its 'abort' listener: aborting it sent a notifications/cancelled POST for every poll
 * ever made.) A call answering a round is let finish: cut, its retry would never come, and the
 * round's lease would keep the agent's lane from the next window until it expired.
 */
class WaitLoops {
  private stopping = false;
  private loops: Array<Promise<void>> = [];
  private readonly inFlight = new Map<AbortController, Mailbox>();
  errors = 0;

  constructor(
    private readonly mailboxes: readonly Mailbox[],
    private readonly args: { max_messages: number; timeout_ms: number },
  ) {}

  start(onResult: (result: PollResult, at: number) => void): void {
    this.stopping = false;
    this.errors = 0;
    this.loops = this.mailboxes.map(async (mailbox) => {
      while (!this.stopping) {
        const controller = new AbortController();
        this.inFlight.set(controller, mailbox);
        let result: PollResult;
        try {
          result = await mailbox.client.callToolJson<PollResult>('wait_for_messages', { ...(mailbox.cursor ? { cursor: mailbox.cursor } : {}), ...this.args }, { signal: controller.signal });
        } catch {
          if (this.stopping) return;
          this.errors++;
          await sleep(50);
          continue;
        } finally {
          this.inFlight.delete(controller);
          mailbox.answering = false;
        }
        mailbox.cursor = result.cursor;
        onResult(result, now());
      }
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const [controller, mailbox] of this.inFlight) if (!mailbox.answering) controller.abort();
    await Promise.all(this.loops);
  }
}

/** Legacy: each target has a receiver client in a wait_for_messages loop (previous cursor). */
export class PollingReceivers implements Receivers {
  readonly protocol = 'legacy';
  private readonly loops: WaitLoops;
  private counts = noCounts();

  constructor(mailboxes: Mailbox[], maxMessages: number, timeoutMs: number) {
    this.loops = new WaitLoops(mailboxes, { max_messages: maxMessages, timeout_ms: timeoutMs });
  }

  start(tag: string, onReceive: (key: string, at: number) => void): void {
    this.counts = noCounts();
    this.loops.start((result, at) => {
      this.counts.deliveries++;
      this.counts.items += result.messages.length;
      for (const message of result.messages) {
        const match = BENCH_MARK.exec(message.content);
        if (match && match[1] === tag) onReceive(match[2]!, at); // else an earlier window's message
      }
    });
  }

  async stop() {
    await this.loops.stop();
    return { ...this.counts, errors: this.loops.errors };
  }
}

/** The answer a modern agent gives to an `elicit` question of the benchmark (schema {ok: boolean}). */
const ELICIT_SCHEMA = { type: 'object', properties: { ok: { type: 'boolean', title: 'OK' } }, required: ['ok'] } as const;

/**
 * How every benchmark agent answers an elicitation, whatever carried it: a ring message at once
 * with `accept {}` (no reply message), an `elicit` question with `accept {ok: true}`, anything else
 * (e.g. a reply pushed back) with `accept {}`, counted as stray.
 */
class ElicitationAnswers {
  private tag: string | undefined;
  private onReceive: ((key: string, at: number) => void) | undefined;
  /** Elicitations received since start / ring messages among them. */
  received = 0;
  ringMessages = 0;
  /** Elicitations that were neither a ring message nor an elicit question. */
  stray = 0;
  questions = 0;

  start(tag: string, onReceive: (key: string, at: number) => void): void {
    this.tag = tag;
    this.onReceive = onReceive;
    this.received = 0;
    this.ringMessages = 0;
  }

  stop(): void {
    this.tag = undefined;
    this.onReceive = undefined;
  }

  answer(message: string, requestedSchema: unknown): ElicitResult {
    const at = now();
    this.received++;
    const match = BENCH_MARK.exec(message);
    if (match) {
      this.ringMessages++;
      if (match[1] === this.tag) this.onReceive?.(match[2]!, at);
      return { action: 'accept', content: {} };
    }
    if ((requestedSchema as { properties?: Record<string, unknown> } | undefined)?.properties?.ok !== undefined) {
      this.questions++;
      return { action: 'accept', content: { ok: true } };
    }
    this.stray++;
    return { action: 'accept', content: {} };
  }
}

/**
 * Elicitation: each target is a modern agent (an MCP session on the elicitation endpoint with its
 * stream open). Pass `answer` to bridge.connectModern. Ring messages are answered at once with
 * `accept {}` (no reply message); `elicit` questions with `accept {ok: true}`.
 */
export class PushReceivers implements Receivers {
  readonly protocol = 'elicitation';
  private readonly answers = new ElicitationAnswers();

  get stray(): number {
    return this.answers.stray;
  }

  readonly answer = (request: ReceivedElicitation): ElicitResult => this.answers.answer(request.message, request.requestedSchema);

  start(tag: string, onReceive: (key: string, at: number) => void): void {
    this.answers.start(tag, onReceive);
  }

  async stop() {
    this.answers.stop();
    return { ...noCounts(), deliveries: this.answers.received, items: this.answers.ringMessages };
  }
}

/**
 * 2026-07-28 rounds: each target is a 2026-07-28 agent (SDK v2 client pinned, no session) in a
 * wait_for_messages loop on the elicitation endpoint. A waiting call is answered `input_required`
 * with one elicitation per waiting push-lane message; the client asks `answer` (its elicitation
 * handler: the receive time) for each, at once, and retries by itself, which stores the answers and
 * settles them. `add` connects each target with its own elicitation handler.
 */
export class RoundReceivers implements Receivers {
  readonly protocol = 'rounds';
  private readonly mailboxes: Mailbox[] = [];
  private readonly loops: WaitLoops;
  private readonly answers = new ElicitationAnswers();
  private counts = noCounts();

  constructor(maxMessages: number, timeoutMs: number) {
    this.loops = new WaitLoops(this.mailboxes, { max_messages: maxMessages, timeout_ms: timeoutMs });
  }

  get stray(): number {
    return this.answers.stray;
  }

  /** Connects one target (`connect` passes `onElicitation` to connectAgent); its loop runs from the next start(). */
  async add(connect: (onElicitation: (params: ElicitRequestParams) => ElicitResult) => Promise<AgentClient>): Promise<AgentClient> {
    const mailbox: Partial<Mailbox> = { cursor: undefined };
    const client = await connect((params) => {
      mailbox.answering = true;
      return this.answers.answer(params.message, 'requestedSchema' in params ? params.requestedSchema : undefined);
    });
    mailbox.client = client;
    this.mailboxes.push(mailbox as Mailbox);
    return client;
  }

  start(tag: string, onReceive: (key: string, at: number) => void): void {
    this.counts = noCounts();
    this.answers.start(tag, onReceive);
    this.loops.start((result, at) => {
      this.counts.deliveries++;
      // Poll-lane messages: a fallback, routed while the agent was not present for push (its
      // presence lapses 30 s after its last waiting call, e.g. between two half-peak windows).
      for (const message of result.messages) {
        const match = BENCH_MARK.exec(message.content);
        if (!match || match[1] !== tag) continue;
        this.counts.pollLane++;
        onReceive(match[2]!, at);
      }
    });
  }

  async stop() {
    await this.loops.stop();
    this.answers.stop();
    return { ...this.counts, items: this.answers.ringMessages, errors: this.loops.errors };
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
  const sendErrorCodes: Record<string, number> = {};
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
    } catch (error) {
      sendErrors++;
      const code = error instanceof ToolCallError ? error.code : 'transport';
      sendErrorCodes[code] = (sendErrorCodes[code] ?? 0) + 1;
      return;
    }
    sent.set(key, { startedAt, acceptedAt: now() });
  };

  const meter = new CpuMeter([...options.services.map(([name, pid]) => ({ name, pid })), { name: 'redis-server', pid: bridge.redis.pid }]);
  const profile = options.profile ? options.profiler.claim(options.services) : [];
  const load = driveLoad(window, senders.length, options.targetRate === undefined ? undefined : options.targetRate / senders.length, send);
  const roundCounters = receivers.protocol === 'rounds' && bridge.elicitationBaseUrls[0] ? countersOverWindow(`${bridge.elicitationBaseUrls[0]}/metrics`, window, ROUND_COUNTERS) : Promise.resolve(undefined);
  const [cpu, redis, , counters] = await Promise.all([meterWindow(window, meter, options.profiler, profile), redisStatsOverWindow(bridge, window), load, roundCounters]);

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
    sendErrorCodes,
    maxSenderRate: 0,
    pollErrors: counts.errors,
    ...(counters ? { roundsHandedOut: counters.rounds, roundRequests: counters.requests } : {}),
    pollLaneMessages: counts.pollLane,
    cpu,
    redis,
  };
  const perSender = new Map<string, number>();
  for (const [key, record] of accepted()) {
    result.sent++;
    const sender = key.slice(0, key.lastIndexOf(':'));
    perSender.set(sender, (perSender.get(sender) ?? 0) + 1);
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
  result.maxSenderRate = Math.max(0, ...perSender.values()) / options.seconds;
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
  const [cpu, redis] = await Promise.all([meterWindow(window, meter, options.profiler, profile), redisStatsOverWindow(options.bridge, window), driveLoad(window, options.askers.length, undefined, ask)]);
  return { askers: options.askers.length, seconds: options.seconds, calls, latencies, errors, wrong, cpu, redis };
}
