/**
 * The load side of the benchmark, shared by every protocol: closed- and open-loop senders, and one
 * "delivery window" that sends around a ring and times each message from "send accepted" to
 * "received by the target", whatever receives it (bench/lib/receivers.ts: a poll, a push, a round).
 */
import { ToolCallError, type AgentClient } from '@agent-bridge/testkit';
import type { Bridge } from '@agent-bridge/testkit/bridge';
import { CpuMeter } from './cpu.js';
import type { Profiler } from './profiling.js';
import type { Receivers } from './receivers.js';
import type { BridgeResult, ElicitRoundTrips } from './results.js';
import { countersOverWindow, inWindow, meterWindow, now, planWindow, redisStatsOverWindow, sleep, type Window } from './window.js';

/** Open-loop senders never hold more than this many unanswered sends each (protects the machine if the bridge stalls). */
const MAX_IN_FLIGHT_PER_SENDER = 64;

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

/** The answer a modern agent gives to an `elicit` question of the benchmark (schema {ok: boolean}). */
const ELICIT_SCHEMA = { type: 'object', properties: { ok: { type: 'boolean', title: 'OK' } }, required: ['ok'] } as const;

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
