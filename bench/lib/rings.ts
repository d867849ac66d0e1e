/**
 * The benchmark's rings of agents, set up the same way by every benchmark part: N agents, agent i
 * sends to agent (i+1) mod N with one legacy-endpoint client per agent calling send_message; only
 * the receiving side differs (bench/lib/receivers.ts has the receivers, bench/lib/load.ts the measured window).
 *   legacy      — each target has a receiver client in a wait_for_messages loop (previous cursor).
 *   elicitation — each target is a modern agent: an MCP session on the elicitation endpoint that
 *                 declares the elicitation capability, stream open, in the `elicitation.agents`
 *                 rollout; messages arrive as elicitation/create requests, answered at once.
 *   2026        — each target is a 2026-07-28 agent (no session, no stream) in the rollout, in a
 *                 wait_for_messages loop on the elicitation endpoint answered by input_required rounds.
 */
import { connectAgent, waitFor, type AgentClient } from '@agent-bridge/testkit';
import type { Bridge, ModernAgent } from '@agent-bridge/testkit/bridge';
import { runDeliveryWindow } from './load.js';
import { PollingReceivers, RoundReceivers, type Mailbox, type PushReceivers, type Receivers } from './receivers.js';
import { Profiler } from './profiling.js';
import type { BridgeResult } from './results.js';

/** The rings the comparison benchmarks run (durability, noisy neighbour, observability): legacy polls, elicitation pushes. */
export type RingProtocol = 'legacy' | 'elicitation';

export interface Ring {
  ids: string[];
  senders: AgentClient[];
  receivers: Receivers;
  /** Processes metered in this ring's windows (besides the benchmark and redis-server). */
  services: Array<[string, number | undefined]>;
}

/** The bridge's processes a ring's messages pass through: legacy-poll (the senders), the router, and the elicitation replica when it pushes. */
function ringServices(bridge: Bridge, elicitation: boolean): Ring['services'] {
  const services: Ring['services'] = [
    ['legacy-poll', bridge.legacyPolls[0]?.pid],
    ['router', bridge.routers[0]?.pid],
  ];
  if (elicitation) services.push(['elicitation', bridge.elicitations[0]?.pid]);
  return services;
}

/** `prefix-01` … `prefix-NN`. */
export const ringIds = (prefix: string, agents: number): string[] => Array.from({ length: agents }, (_, i) => `${prefix}-${String(i + 1).padStart(2, '0')}`);

/** Every client a ring connects goes through `track`, so the caller closes them all at the end. */
export type Track = <C extends AgentClient>(client: C) => C;

/** The clients of a run: `track` each one as it connects, `closeAll` at the end. */
export function clientTracker(): { track: Track; closeAll(): Promise<void> } {
  const clients: AgentClient[] = [];
  return {
    track: (client) => {
      clients.push(client);
      return client;
    },
    closeAll: async () => {
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    },
  };
}

/** wait_for_messages arguments of a ring's receivers. */
export interface PollSettings {
  maxMessages: number;
  timeoutMs: number;
}

/** The legacy ring: a sender and a wait_for_messages receiver client per agent, both on the legacy endpoint. */
export async function startLegacyRing(bridge: Bridge, ids: string[], poll: PollSettings, track: Track): Promise<Ring> {
  const senders: AgentClient[] = [];
  const mailboxes: Mailbox[] = [];
  for (const agent of ids) {
    senders.push(track(await bridge.connect(agent)));
    mailboxes.push({ client: track(await bridge.connect(agent)), cursor: undefined });
  }
  return {
    ids,
    senders,
    receivers: new PollingReceivers(mailboxes, poll.maxMessages, poll.timeoutMs),
    services: ringServices(bridge, false),
  };
}

/** Resolves once every agent of `ids` holds a session with its stream open that declared form elicitation. */
async function waitForPushPresence(bridge: Bridge, ids: string[], description: string): Promise<void> {
  await waitFor(
    async () => {
      const presence = await bridge.store.store.readPresence(ids);
      return ids.every((id) => presence.get(id)?.some((s) => s.streamOpen && s.elicitation.form) ?? false);
    },
    { timeoutMs: 15_000, description },
  );
}

/**
 * The elicitation ring: a legacy-endpoint sender per agent, and per target a modern agent (a 2025
 * session on the first elicitation replica) answering with `push`. Returns once every target is
 * present with an open stream, so the first window's messages go to push lanes. `modern` are the
 * targets' sessions (the elicit windows ask with them).
 */
export async function startPushRing(bridge: Bridge, ids: string[], push: PushReceivers, track: Track): Promise<Ring & { modern: ModernAgent[] }> {
  const senders: AgentClient[] = [];
  const modern: ModernAgent[] = [];
  for (const agent of ids) {
    senders.push(track(await bridge.connect(agent)));
    modern.push(track(await bridge.connectModern(agent, { answer: push.answer })));
  }
  await waitForPushPresence(bridge, ids, 'every modern agent to be present with an open stream');
  return {
    ids,
    senders,
    receivers: push,
    modern,
    services: ringServices(bridge, true),
  };
}

/**
 * The 2026 ring: a legacy-endpoint sender per agent, and per target a 2026-07-28 agent on the
 * elicitation endpoint whose elicitation handler is the receivers'. Returns once every target is
 * present for push (a waiting call records it), so the first window's messages go to push lanes.
 */
export async function startRoundsRing(bridge: Bridge, ids: string[], poll: PollSettings, track: Track, log: (message: string) => void): Promise<Ring & { receivers: RoundReceivers }> {
  const receivers = new RoundReceivers(poll.maxMessages, poll.timeoutMs);
  const senders: AgentClient[] = [];
  for (const agent of ids) {
    senders.push(track(await bridge.connect(agent)));
    const client = await receivers.add((onElicitation) => connectAgent({ url: `${bridge.elicitationBaseUrls[0]}/mcp`, token: bridge.tokens[agent]!, name: agent, generation: '2026-07-28', onElicitation }));
    track(client);
  }
  receivers.start('presence', () => undefined);
  try {
    await waitForPushPresence(bridge, ids, 'every 2026-07-28 agent to be present for push (waiting on the elicitation endpoint)');
  } finally {
    const counts = await receivers.stop();
    if (counts.errors > 0) log(`2026 ring: ${counts.errors} wait_for_messages calls failed while waiting for presence`);
  }
  return {
    ids,
    senders,
    receivers,
    services: ringServices(bridge, true),
  };
}

export interface RingWindowOptions {
  /** Closed-loop senders when undefined, else open loop at this total rate. */
  targetRate?: number;
  warmupSeconds: number;
  seconds: number;
  contentBytes: number;
  drainSeconds: number;
  /** More processes to meter, e.g. a load generator of the benchmark. */
  extraServices?: Array<[string, number | undefined]>;
  /** Profiles the ring's services over this window when `profile` (default: no profiling). */
  profiler?: Profiler;
  profile?: boolean;
}

const NO_PROFILER = new Profiler(undefined);

/** One window of an A/B comparison on a ring (fsync policy, flooder, observability): which ring, which arm, which round. */
export interface ArmWindow<Arm extends string> {
  protocol: RingProtocol;
  arm: Arm;
  round: number;
  result: BridgeResult;
}

/** The windows of `arm` on the `protocol` ring, in round order. */
export const windowsOf = <W extends ArmWindow<string>>(windows: W[], protocol: RingProtocol, arm: W['arm']): W[] => windows.filter((w) => w.protocol === protocol && w.arm === arm);

/** One measured window of a ring (bench/lib/load.ts runDeliveryWindow). */
export function runRingWindow(bridge: Bridge, ring: Ring, options: RingWindowOptions): Promise<BridgeResult> {
  return runDeliveryWindow({
    bridge,
    ids: ring.ids,
    senders: ring.senders,
    receivers: ring.receivers,
    targetRate: options.targetRate,
    warmupSeconds: options.warmupSeconds,
    seconds: options.seconds,
    contentBytes: options.contentBytes,
    drainSeconds: options.drainSeconds,
    services: [...ring.services, ...(options.extraServices ?? [])],
    profiler: options.profiler ?? NO_PROFILER,
    profile: options.profile ?? false,
  });
}
