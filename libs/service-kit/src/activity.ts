import type { ActivityStore, AgentActivity } from '@agent-bridge/event-store';
import type { Logger } from '@agent-bridge/observability';
import type { McpGeneration } from '@agent-bridge/protocol';
import type { UsageRecorder } from './usage.js';

export interface ActivityRecorderOptions {
  /** Records an agent's activity at most this often per kind (the census window is minutes long). */
  intervalMs: number;
  /** Also told of every request, unthrottled (the legacy inventory's last-seen times, written in batches). */
  usage?: UsageRecorder;
}

/**
 * Notes which agents use which endpoint, and on which MCP generation, for the adoption and
 * legacy-usage numbers. Throttled per agent, kind and generation so a busy agent costs one Redis
 * write per interval, and never in the way of the request it observes: a failed write is logged and
 * the next request tries again.
 */
export class ActivityRecorder {
  private readonly lastRecorded = new Map<string, number>();

  constructor(
    private readonly store: Pick<ActivityStore, 'recordActivity'>,
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
    this.store.recordActivity(agentId, activity, now, generation).catch((error: unknown) => {
      this.lastRecorded.delete(key);
      this.logger.warn({ err: error, agentId, generation }, 'could not record agent activity');
    });
  }

  private forgetOlderThan(cutoff: number): void {
    for (const [key, at] of this.lastRecorded) if (at < cutoff) this.lastRecorded.delete(key);
  }
}
