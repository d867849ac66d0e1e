/**
 * One agent worker of the scale benchmark (bench/scale.ts, driven through bench/lib/agent-workers.ts):
 * a child process holding a share of the agents, each a real MCP client as the testkit builds
 * it. Poll agents (SDK 1.x, legacy endpoint) and stateless agents (SDK v2 pinned to 2026-07-28,
 * elicitation endpoint) loop wait_for_messages with the previous cursor; session agents (SDK 1.x,
 * 2025-11-25) keep their GET stream open and answer pushed elicitations. Every agent answers a
 * benchmark message's elicitation with `accept {}` (no reply message).
 *
 * For the delivery measure, both agents of a pair live in this process, so one clock times a
 * message from its send_message returning (accepted) to the target client receiving it.
 */
import { connectAgent, ToolCallError, type AnyAgentClient } from '@agent-bridge/testkit';
import { connectModernAgent, type PollResult } from '@agent-bridge/testkit/bridge';
import type { ElicitResult } from '@modelcontextprotocol/client';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { AgentKind, AgentSpec, ConnectResult, ExchangeResult, WorkerCommand, WorkerStatus } from './lib/agent-workers.js';

const now = (): number => performance.now();
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** An error with its deepest cause ("fetch failed" says nothing without its ECONNRESET or UND_ERR_… code). */
function describe(error: unknown): string {
  let cause = (error as { cause?: unknown }).cause;
  for (let depth = 0; depth < 5 && (cause as { cause?: unknown } | undefined)?.cause !== undefined; depth++) cause = (cause as { cause?: unknown }).cause;
  const message = error instanceof Error ? error.message : String(error);
  const detail = cause as { code?: string; message?: string } | undefined;
  return `${message.slice(0, 200)}${detail ? ` (${[detail.code, detail.message?.slice(0, 100)].filter(Boolean).join(': ')})` : ''}`;
}

const CONNECT_ATTEMPTS = 3;

/** A benchmark message's content: "scale|<tag>|<key>|". */
const MARK = /scale\|([^|]+)\|([^|]+)\|/;

interface Agent {
  spec: AgentSpec;
  group: string;
  client: AnyAgentClient;
  stopping: boolean;
  loop?: Promise<void>;
}

const agents = new Map<string, Agent>();
const waitStats = { waiting: 0, done: 0, errors: 0, messages: new Set<string>() };

// ------------------------------------------------------------------ the exchange (delivery measure)

let exchange:
  | {
      tag: string;
      stopping: boolean;
      /** key → when send_message returned */
      acceptedAt: Map<string, number>;
      /** key → when it arrived before send_message returned, and the kind of agent that got it */
      early: Map<string, { at: number; kind: AgentKind }>;
      loopDelay: IntervalHistogram;
      received: Set<string>;
      result: ExchangeResult;
      senders: Array<Promise<void>>;
    }
  | undefined;

/** A message an agent of `kind` received (a poll result, a pushed elicitation, a round's elicitation). */
function received(text: string, kind: AgentKind, viaPollLane: boolean): void {
  const match = MARK.exec(text);
  if (!match || !exchange || match[1] !== exchange.tag) return;
  const key = match[2]!;
  const at = now();
  if (exchange.received.has(key)) {
    exchange.result.duplicates++;
    return;
  }
  exchange.received.add(key);
  if (viaPollLane) exchange.result.pollLane++;
  const acceptedAt = exchange.acceptedAt.get(key);
  if (acceptedAt === undefined) exchange.early.set(key, { at, kind });
  else latency(exchange.result, kind, at - acceptedAt);
}

function latency(result: ExchangeResult, kind: AgentKind, ms: number): void {
  result.latencies.push(ms);
  result.latenciesByKind[kind].push(ms);
}

const answer = (message: string, kind: AgentKind): ElicitResult => {
  received(message, kind, false);
  return { action: 'accept', content: {} };
};

async function sendLoop(from: Agent, to: string, intervalMs: number): Promise<void> {
  const state = exchange!;
  let seq = 0;
  let next = now() + Math.random() * intervalMs;
  while (!state.stopping) {
    await sleep(next - now());
    if (state.stopping) return;
    next += intervalMs;
    const key = `${from.spec.id}>${to}#${++seq}`;
    try {
      await from.client.callToolJson('send_message', { to, content: `scale|${state.tag}|${key}|` });
      const at = now();
      state.result.sent++;
      const early = state.early.get(key);
      if (early === undefined) state.acceptedAt.set(key, at);
      else {
        state.early.delete(key);
        state.result.beforeAccepted++;
        latency(state.result, early.kind, 0);
      }
    } catch (error) {
      const code = error instanceof ToolCallError ? error.code : describe(error).slice(0, 160);
      state.result.refused[code] = (state.result.refused[code] ?? 0) + 1;
    }
  }
}

function startExchange(command: Extract<WorkerCommand, { cmd: 'exchange' }>): void {
  if (exchange && !exchange.stopping) throw new Error('an exchange is already running');
  exchange = {
    tag: command.tag,
    stopping: false,
    acceptedAt: new Map(),
    early: new Map(),
    loopDelay: monitorEventLoopDelay({ resolution: 10 }),
    received: new Set(),
    result: { sent: 0, refused: {}, latencies: [], latenciesByKind: { poll: [], session: [], stateless: [] }, loopDelay: { p99: 0, max: 0 }, lost: 0, duplicates: 0, beforeAccepted: 0, pollLane: 0 },
    senders: [],
  };
  exchange.loopDelay.enable();
  for (const [a, b] of command.pairs) {
    const first = agents.get(a);
    const second = agents.get(b);
    if (!first || !second) throw new Error(`pair ${a}, ${b}: not both agents are connected in this worker`);
    exchange.senders.push(sendLoop(first, b, command.intervalMs), sendLoop(second, a, command.intervalMs));
  }
}

async function stopExchange(drainMs: number): Promise<ExchangeResult> {
  const state = exchange;
  if (!state) throw new Error('no exchange is running');
  state.stopping = true;
  await Promise.all(state.senders);
  const deadline = now() + drainMs;
  while (now() < deadline && [...state.acceptedAt.keys()].some((key) => !state.received.has(key))) await sleep(100);
  state.result.lost = [...state.acceptedAt.keys()].filter((key) => !state.received.has(key)).length;
  state.loopDelay.disable();
  state.result.loopDelay = { p99: state.loopDelay.percentile(99) / 1e6, max: state.loopDelay.max / 1e6 };
  return state.result;
}

// ------------------------------------------------------------------ agents

/** wait_for_messages with the previous cursor until the agent stops; a failed call is retried after 1 s. */
async function waitLoop(agent: Agent, timeoutMs: number): Promise<void> {
  let cursor: string | undefined;
  while (!agent.stopping) {
    waitStats.waiting++;
    try {
      const result = await agent.client.callToolJson<PollResult>('wait_for_messages', { timeout_ms: timeoutMs, ...(cursor ? { cursor } : {}) });
      cursor = result.cursor;
      waitStats.done++;
      for (const message of result.messages) received(message.content, agent.spec.kind, agent.spec.kind === 'stateless');
    } catch (error) {
      if (agent.stopping) return;
      waitStats.errors++;
      if (waitStats.messages.size < 5) waitStats.messages.add(`${agent.spec.kind}: ${describe(error)}`);
      await sleep(1_000);
    } finally {
      waitStats.waiting--;
    }
  }
}

async function connectOne(spec: AgentSpec, group: string, url: Record<AgentKind, string>, pollTimeoutMs: number): Promise<void> {
  let client: AnyAgentClient;
  if (spec.kind === 'session') {
    client = await connectModernAgent(url.session, spec.token, spec.id, { generation: 'sdk1', answer: (request) => answer(request.message, 'session') });
  } else if (spec.kind === 'stateless') {
    client = await connectAgent({ url: url.stateless, token: spec.token, name: spec.id, generation: '2026-07-28', onElicitation: (params) => answer(params.message, 'stateless') });
  } else {
    client = await connectAgent({ url: url.poll, token: spec.token, name: spec.id, generation: 'sdk1' });
  }
  const agent: Agent = { spec, group, client, stopping: false };
  agents.set(spec.id, agent);
  if (spec.kind !== 'session') agent.loop = waitLoop(agent, pollTimeoutMs);
}

async function connectGroup(command: Extract<WorkerCommand, { cmd: 'connect' }>): Promise<ConnectResult> {
  const result: ConnectResult = { connected: 0, failed: 0, retried: 0, errors: [] };
  let next = 0;
  const connector = async () => {
    while (next < command.agents.length) {
      const spec = command.agents[next++]!;
      // As an agent would, a failed connect is tried again (twice, 1 s apart); each failure is reported.
      for (let attempt = 1; ; attempt++) {
        try {
          await connectOne(spec, command.group, command.url, command.pollTimeoutMs);
          result.connected++;
          break;
        } catch (error) {
          const message = `${spec.kind} ${spec.id}: ${describe(error)}`;
          if (result.errors.length < 5) result.errors.push(message);
          if (attempt === CONNECT_ATTEMPTS) {
            result.failed++;
            break;
          }
          result.retried++;
          await sleep(1_000);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: command.concurrency }, connector));
  return result;
}

async function closeAgents(group: string | undefined): Promise<void> {
  const closing = [...agents.values()].filter((a) => group === undefined || a.group === group);
  for (let i = 0; i < closing.length; i += 50) {
    await Promise.all(
      closing.slice(i, i + 50).map(async (agent) => {
        agent.stopping = true;
        agents.delete(agent.spec.id);
        await agent.client.terminateSession().catch(() => undefined);
        await agent.client.close().catch(() => undefined);
        await agent.loop?.catch(() => undefined);
      }),
    );
  }
}

function status(): WorkerStatus {
  const counts: Record<AgentKind, number> = { poll: 0, session: 0, stateless: 0 };
  for (const agent of agents.values()) counts[agent.spec.kind]++;
  return { agents: counts, waiting: waitStats.waiting, waitsDone: waitStats.done, waitErrors: waitStats.errors, errors: [...waitStats.messages], rss: process.memoryUsage().rss };
}

async function handle(command: WorkerCommand): Promise<unknown> {
  switch (command.cmd) {
    case 'connect':
      return connectGroup(command);
    case 'exchange':
      return startExchange(command);
    case 'stopExchange':
      return stopExchange(command.drainMs);
    case 'status':
      return status();
    case 'close':
      return closeAgents(command.group);
  }
}

process.on('message', (message: { id: number } & WorkerCommand) => {
  handle(message).then(
    (result) => process.send?.({ id: message.id, ok: true, result: result ?? null }),
    (error: unknown) => process.send?.({ id: message.id, ok: false, error: error instanceof Error ? error.message : String(error) }),
  );
});
// The parent is gone (or stopped us): nothing here is worth keeping.
process.on('disconnect', () => process.exit(0));
