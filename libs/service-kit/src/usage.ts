import { utcDay, type ActivityStore, type AgentActivity, type AgentUsageDelta, type UsageCounter, type UsageProtocol } from '@agent-bridge/event-store';
import type { Logger } from '@agent-bridge/observability';
import type { McpGeneration } from '@agent-bridge/protocol';

export interface UsageRecorderOptions {
  /** How often what was counted is written to the store, in one pipeline. */
  flushIntervalMs: number;
}

/**
 * Counts what the legacy inventory shows (last seen by protocol and MCP generation, tool calls and
 * messages per UTC day) in memory, and writes it every `flushIntervalMs` in one pipeline: a request
 * only updates a map, never waits on Redis. A failed flush keeps what it held for the next one.
 * Only authenticated agents are counted (the callers hold an agent id a token proved), so the map
 * holds at most the registered agents.
 */
export class UsageRecorder {
  private pending = new Map<string, AgentUsageDelta>();
  /** Per agent: the UTC day its keys' expiries were last set by this process (once a day is enough). */
  private readonly expiryDay = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly store: Pick<ActivityStore, 'recordUsage'>,
    private readonly logger: Logger,
    private readonly options: UsageRecorderOptions,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.options.flushIntervalMs);
    this.timer.unref();
  }

  /** A request of the agent: the same kinds as the census (ActivityRecorder), never throttled here. */
  saw(agentId: string, activity: AgentActivity, generation: McpGeneration | undefined, now = Date.now()): void {
    const { seen } = this.entry(agentId);
    const latest = (kind: keyof AgentUsageDelta['seen']) => (seen[kind] = Math.max(seen[kind] ?? 0, now));
    latest('any');
    if (activity !== 'other') latest(activity);
    if (generation !== undefined) latest(`generation:${generation}`);
  }

  /** One tool call (tools/call request) of the agent on the `protocol` endpoint. */
  call(agentId: string, protocol: UsageProtocol, now = Date.now()): void {
    this.add(agentId, `calls:${protocol}`, 1, now);
  }

  /** `count` messages the agent sent, or that were delivered to it, through the `protocol` endpoint. */
  messages(agentId: string, protocol: UsageProtocol, count: number, now = Date.now()): void {
    if (count > 0) this.add(agentId, `messages:${protocol}`, count, now);
  }

  /** Writes what was counted; on failure it is merged back and the next flush tries again. */
  flush(): Promise<void> {
    this.flushing ??= this.write().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  /** Stops the timer and writes what is left (a service's shutdown). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flushing;
    await this.flush();
  }

  private async write(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const today = utcDay(Date.now());
    const deltas: AgentUsageDelta[] = [];
    for (const delta of batch.values()) {
      // The keys' expiries are set on an agent's first write of the day here, not on every flush.
      deltas.push({ ...delta, refreshExpiry: this.expiryDay.get(delta.agentId) !== today });
    }
    try {
      await this.store.recordUsage(deltas);
    } catch (error) {
      for (const delta of batch.values()) this.mergeBack(delta);
      this.logger.warn({ err: error, agents: batch.size }, 'could not record agent usage; the next flush retries');
      return;
    }
    for (const { agentId } of deltas) this.expiryDay.set(agentId, today);
  }

  private mergeBack(delta: AgentUsageDelta): void {
    const entry = this.entry(delta.agentId);
    for (const [kind, at] of Object.entries(delta.seen) as Array<[keyof AgentUsageDelta['seen'], number]>) entry.seen[kind] = Math.max(entry.seen[kind] ?? 0, at);
    for (const [day, counters] of Object.entries(delta.days)) {
      const into = (entry.days[day] ??= {});
      for (const [counter, count] of Object.entries(counters) as Array<[UsageCounter, number]>) into[counter] = (into[counter] ?? 0) + count;
    }
  }

  private add(agentId: string, counter: UsageCounter, count: number, now: number): void {
    const day = (this.entry(agentId).days[utcDay(now)] ??= {});
    day[counter] = (day[counter] ?? 0) + count;
  }

  private entry(agentId: string): AgentUsageDelta {
    let entry = this.pending.get(agentId);
    if (!entry) this.pending.set(agentId, (entry = { agentId, seen: {}, days: {} }));
    return entry;
  }
}
