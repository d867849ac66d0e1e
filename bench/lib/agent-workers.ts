/**
 * Agents hosted in child processes, for the scale benchmark (bench/scale.ts): 10,000 MCP clients
 * in one event loop would measure the benchmark's own loop rather than the replica, so each worker
 * process (bench/scale-worker.ts) holds a share of them and the parent drives the workers over the
 * IPC channel, one request and one reply per command. A worker exits when that channel closes, so
 * none outlives the benchmark, even one killed with -9.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '@agent-bridge/testkit';

/** How an agent waits for its messages. */
export type AgentKind =
  /** SDK 1.x client looping wait_for_messages on the legacy endpoint (stateless). */
  | 'poll'
  /** SDK 1.x 2025-11-25 session on the elicitation endpoint, GET stream open, answering pushed elicitations. */
  | 'session'
  /** SDK v2 client pinned to 2026-07-28 looping wait_for_messages on the elicitation endpoint (input_required rounds). */
  | 'stateless';

export interface AgentSpec {
  id: string;
  token: string;
  kind: AgentKind;
}

/** What the parent asks a worker (each with a request id); the worker answers each with a WorkerReply. */
export type WorkerCommand =
  /** Connects the agents of `group` and starts their waits; answers when each connected or failed. */
  | { cmd: 'connect'; group: string; url: Record<AgentKind, string>; agents: AgentSpec[]; concurrency: number; pollTimeoutMs: number }
  /** Each agent of each pair sends to the other every `intervalMs` (first send at a random offset), marked with `tag`. */
  | { cmd: 'exchange'; pairs: Array<[string, string]>; intervalMs: number; tag: string }
  /** Stops sending, waits up to `drainMs` for what is in flight, answers with the exchange's deliveries. */
  | { cmd: 'stopExchange'; drainMs: number }
  | { cmd: 'status' }
  /** Closes the agents of `group` (every agent when absent). */
  | { cmd: 'close'; group?: string };

export interface ConnectResult {
  connected: number;
  /** Agents that did not connect at the last attempt. */
  failed: number;
  /** Failed attempts that were tried again. */
  retried: number;
  /** A few connect errors (of retried attempts too). */
  errors: string[];
}

export interface ExchangeResult {
  /** Sends accepted (send_message returned a message id). */
  sent: number;
  /** Refused sends by error code (e.g. LOAD_SHED, RATE_LIMITED), and other failed sends under their message. */
  refused: Record<string, number>;
  /** Send accepted → received by the target client, ms, one per accepted message that arrived. */
  latencies: number[];
  /** The same latencies by the kind of agent that received the message. */
  latenciesByKind: Record<AgentKind, number[]>;
  /** This worker's own event-loop delay over the exchange (perf_hooks), ms: how late the clients' clock could be. */
  loopDelay: { p99: number; max: number };
  /** Accepted messages that did not arrive within the drain. */
  lost: number;
  /** Messages received a second time. */
  duplicates: number;
  /** Messages received before their send_message returned (their latency counts as 0). */
  beforeAccepted: number;
  /** Of the deliveries, how many a 2026-07-28 agent got in `messages` (the poll lane) rather than in a round. */
  pollLane: number;
}

export interface WorkerStatus {
  /** Agents connected and not closed, by kind. */
  agents: Record<AgentKind, number>;
  /** wait_for_messages calls in flight now (poll and stateless agents). */
  waiting: number;
  /** wait_for_messages calls that returned since start / that failed. */
  waitsDone: number;
  waitErrors: number;
  /** A few distinct errors of the waits. */
  errors: string[];
  /** The worker's own memory (the client side), bytes. */
  rss: number;
}

type WorkerReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

/** The parent's handle on one worker process. */
export class AgentWorker {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private exited: string | undefined;

  private constructor(
    readonly index: number,
    private readonly child: ChildProcess,
  ) {
    child.on('message', (reply: WorkerReply) => {
      const waiter = this.pending.get(reply.id);
      if (!waiter) return;
      this.pending.delete(reply.id);
      if (reply.ok) waiter.resolve(reply.result);
      else waiter.reject(new Error(`agent worker ${index}: ${reply.error}`));
    });
    child.on('exit', (code, signal) => {
      this.exited = `agent worker ${index} exited (${signal ?? `code ${code}`})`;
      for (const waiter of this.pending.values()) waiter.reject(new Error(this.exited));
      this.pending.clear();
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  static start(index: number): AgentWorker {
    // fork() passes the parent's execArgv (--conditions=agentbridge-source --import tsx) to the child.
    const child = fork(path.join(REPO_ROOT, 'bench', 'scale-worker.ts'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    live.add(child);
    child.once('exit', () => live.delete(child));
    return new AgentWorker(index, child);
  }

  request(command: { cmd: 'connect' } & WorkerCommand): Promise<ConnectResult>;
  request(command: { cmd: 'stopExchange' } & WorkerCommand): Promise<ExchangeResult>;
  request(command: { cmd: 'status' }): Promise<WorkerStatus>;
  request(command: WorkerCommand): Promise<unknown>;
  request(command: WorkerCommand): Promise<unknown> {
    if (this.exited) return Promise.reject(new Error(this.exited));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ id, ...command });
    });
  }

  /** Closes every agent, then ends the process (SIGKILL when it does not exit within 10 s). */
  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    await Promise.race([this.request({ cmd: 'close' }).catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 20_000))]);
    this.child.disconnect();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  }
}

/** Workers still running: killed if the benchmark exits without stopping them. */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});
