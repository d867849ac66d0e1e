/** What one measured window produces, and how windows of the same kind are combined. */
import { mergeCpuReports, type CpuReport } from './cpu.js';
import { distribution } from './stats.js';

/** How a ring's targets receive: poll results, pushed elicitation/create requests, or 2026-07-28 input_required rounds. */
export type DeliveryProtocol = 'legacy' | 'elicitation' | 'rounds';

export interface RedisStats {
  /** Calls and time inside Redis by command (commands run by Lua scripts included). */
  commands: Map<string, { calls: number; usec: number }>;
  totalCalls: number;
  totalUsec: number;
}

export interface NoopResult {
  /** Measured seconds. */
  seconds: number;
  calls: number;
  /** Call durations, ms. */
  latencies: number[];
  errors: number;
  cpu: CpuReport;
}

export interface BridgeResult {
  /**
   * How the targets received: legacy = wait_for_messages polls, elicitation = pushed
   * elicitation/create requests, rounds = elicitations of 2026-07-28 input_required rounds.
   */
  protocol: DeliveryProtocol;
  /** Measured seconds. */
  seconds: number;
  /** Open loop at this many messages/s; undefined for the closed-loop peak. */
  targetRate: number | undefined;
  /** Messages whose send_message resolved inside the window. */
  sent: number;
  /** Of those, how many never arrived within the drain time. */
  lost: number;
  /** Messages the targets received (poll returned / elicitation arrived) inside the window. */
  delivered: number;
  /** send accepted → returned by the target's poll, ms (the goal's latency). */
  latencies: number[];
  /** send started → returned by the target's poll, ms. */
  fromSendStart: number[];
  /** send_message call durations, ms. */
  sendCalls: number[];
  /** Messages returned by a poll before the sender's send_message call had resolved (latency counted as 0). */
  beforeAccepted: number;
  /** Legacy and rounds: wait_for_messages results; elicitation: elicitation/create requests received. */
  polls: number;
  /** Legacy: messages those polls returned; elicitation and rounds: ring messages among the elicitations. */
  polledMessages: number;
  sendErrors: number;
  /** Failed send_message calls by error code (`transport` when the call got no tool error). */
  sendErrorCodes: Record<string, number>;
  /** Messages per second the busiest sender had accepted in the window (the per-agent send quota applies to it). */
  maxSenderRate: number;
  /** Failed wait_for_messages calls (legacy, rounds). */
  pollErrors: number;
  /** Rounds: rounds the elicitation replica handed out in the measured part (its metric). */
  roundsHandedOut?: number;
  /** Rounds: wait_for_messages requests the elicitation replica served in the measured part (first calls and retries). */
  roundRequests?: number;
  /** Rounds: ring messages that came back on the poll lane instead (a fallback). */
  pollLaneMessages: number;
  cpu: CpuReport;
  redis: RedisStats | undefined;
}

/** Messages the targets received in the window, per measured second. */
export const deliveredRate = (r: BridgeResult): number => r.delivered / Math.max(r.seconds, 1e-9);
/** Latency (send accepted → received) p50 and p99 of a window, ms. */
export const latencyP50 = (r: BridgeResult): number => distribution(r.latencies).p50;
export const latencyP99 = (r: BridgeResult): number => distribution(r.latencies).p99;

export function mergeNoop(results: NoopResult[]): NoopResult {
  return {
    seconds: results.reduce((sum, r) => sum + r.seconds, 0),
    calls: results.reduce((sum, r) => sum + r.calls, 0),
    latencies: results.flatMap((r) => r.latencies),
    errors: results.reduce((sum, r) => sum + r.errors, 0),
    cpu: mergeCpuReports(results.map((r) => r.cpu)),
  };
}

export function mergeBridge(results: BridgeResult[]): BridgeResult {
  const sum = (pick: (r: BridgeResult) => number) => results.reduce((total, r) => total + pick(r), 0);
  let redis: RedisStats | undefined;
  for (const r of results) {
    if (!r.redis) continue;
    redis ??= { commands: new Map(), totalCalls: 0, totalUsec: 0 };
    redis.totalCalls += r.redis.totalCalls;
    redis.totalUsec += r.redis.totalUsec;
    for (const [name, c] of r.redis.commands) {
      const into = redis.commands.get(name) ?? { calls: 0, usec: 0 };
      redis.commands.set(name, { calls: into.calls + c.calls, usec: into.usec + c.usec });
    }
  }
  return {
    protocol: results[0]?.protocol ?? 'legacy',
    seconds: sum((r) => r.seconds),
    targetRate: results[0]?.targetRate,
    sent: sum((r) => r.sent),
    lost: sum((r) => r.lost),
    delivered: sum((r) => r.delivered),
    latencies: results.flatMap((r) => r.latencies),
    fromSendStart: results.flatMap((r) => r.fromSendStart),
    sendCalls: results.flatMap((r) => r.sendCalls),
    beforeAccepted: sum((r) => r.beforeAccepted),
    polls: sum((r) => r.polls),
    polledMessages: sum((r) => r.polledMessages),
    sendErrors: sum((r) => r.sendErrors),
    sendErrorCodes: results.reduce<Record<string, number>>((all, r) => {
      for (const [code, count] of Object.entries(r.sendErrorCodes)) all[code] = (all[code] ?? 0) + count;
      return all;
    }, {}),
    maxSenderRate: Math.max(0, ...results.map((r) => r.maxSenderRate)),
    pollErrors: sum((r) => r.pollErrors),
    ...(results.every((r) => r.roundsHandedOut !== undefined) ? { roundsHandedOut: sum((r) => r.roundsHandedOut!), roundRequests: sum((r) => r.roundRequests ?? 0) } : {}),
    pollLaneMessages: sum((r) => r.pollLaneMessages),
    cpu: mergeCpuReports(results.map((r) => r.cpu)),
    redis,
  };
}

/** `elicit` calls by a few closed-loop askers, each asking a modern agent that answers at once. */
export interface ElicitRoundTrips {
  askers: number;
  seconds: number;
  /** Calls completed inside the window. */
  calls: number;
  /** Call durations, ms. */
  latencies: number[];
  errors: number;
  /** Calls that returned something else than accept {ok: true}. */
  wrong: number;
  cpu: CpuReport;
  redis: RedisStats | undefined;
}
