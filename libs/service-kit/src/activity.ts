import type { ActivitySighting, ActivityStore, AgentActivity } from '@agent-bridge/event-store';
import type { Logger } from '@agent-bridge/observability';
import type { McpGeneration } from '@agent-bridge/protocol';
import type { UsageRecorder } from './usage.js';

export interface ActivityRecorderOptions {
  /** Records an agent's activity at most this often per kind (the census window is minutes long). */
  intervalMs: number;
  /** Also told of every request, unthrottled (the legacy inventory's last-seen times, written in batches). */
  usage?: UsageRecorder;
}

/** A new sighting is written within this long (or the interval, if shorter), together with every other agent's of the same moment. */
const BATCH_DELAY_MS = 1_000;

/**
 * Notes which agents use which endpoint, and on which MCP generation, for the adoption and
 * legacy-usage numbers. Throttled per agent, kind and generation to one sighting per interval, and
 * written in batches: what was seen within a second goes to Redis as one ZADD per activity set, so
 * ten thousand idle agents cost a replica a handful of commands per second, not one per agent. Never
 * in the way of the request it observes: a failed write is logged and the next sighting tries again.
 */
export class ActivityRecorder {
  private readonly lastRecorded = new Map<string, number>();
  private batch = new Map<string, ActivitySighting>();
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;

  constructor(
    private readonly store: Pick<ActivityStore, 'recordActivities'>,
    private readonly logger: Logger,
    private readonly options: ActivityRecorderOptions,
  ) {}

  /** `generation`: the MCP generation the request spoke, when the caller knows it. */
  saw(agentId: string, activity: AgentActivity, generation?: McpGeneration, now = Date.now()): void {
    this.options.usage?.saw(agentId, activity, generation, now);
    const key = `${activity}\u0000${generation ?? ''}\u0000${agentId}`;
    const last = this.lastRecorded.get(key);
    if (last !== undefined && now - last < this.options.intervalMs) return;
    this.lastRecorded.set(key, now);
    if (this.lastRecorded.size > 10_000) this.forgetOlderThan(now - this.options.intervalMs);
    this.batch.set(key, { agentId, activity, at: now, ...(generation !== undefined ? { generation } : {}) });
    this.timer ??= setTimeout(() => void this.flush(), Math.min(BATCH_DELAY_MS, this.options.intervalMs));
    this.timer.unref();
  }

  /** Writes the sightings not written yet (the timer does; a shutdown and the tests call it). */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.writing;
    if (this.batch.size === 0) return;
    const batch = this.batch;
    this.batch = new Map();
    this.writing = this.store
      .recordActivities([...batch.values()])
      .catch((error: unknown) => {
        // Forgotten, so the agent's next sighting is written instead of waiting out the interval.
        for (const key of batch.keys()) this.lastRecorded.delete(key);
        this.logger.warn({ err: error, agents: batch.size }, 'could not record agent activity');
      })
      .finally(() => (this.writing = undefined));
    await this.writing;
  }

  private forgetOlderThan(cutoff: number): void {
    for (const [key, at] of this.lastRecorded) if (at < cutoff) this.lastRecorded.delete(key);
  }
}
