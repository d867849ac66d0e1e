/**
 * The receiving side of a ring, one class per protocol: wait_for_messages loops (legacy), pushed
 * elicitation/create requests (elicitation) and 2026-07-28 input_required rounds. Each reports the
 * benchmark messages of the current window with the time they arrived.
 */
import type { AgentClient } from '@agent-bridge/testkit';
import type { ElicitRequestParams, ElicitResult } from '@modelcontextprotocol/client';
import type { PollResult, ReceivedElicitation } from '@agent-bridge/testkit/bridge';
import type { DeliveryProtocol } from './results.js';
import { now, sleep } from './window.js';

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
