import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { HttpError } from './http.js';

/** How often a refused agent is told to try again. */
const AGENT_REQUESTS_RETRY_SECONDS = 1;

export const agentRequestSettings = {
  /** Requests one agent may have open at once on one replica (held polls and session streams count). */
  MAX_REQUESTS_PER_AGENT: z.coerce.number().int().min(1).max(100_000).default(64),
};

/**
 * Counts each agent's open HTTP requests on this replica and refuses the one past the limit, so one
 * agent cannot make a replica hold thousands of polls or streams that the others then wait behind.
 * Agents with nothing open are forgotten: the map holds at most one entry per open request.
 */
export class AgentRequestLimiter {
  private readonly open = new Map<string, number>();

  constructor(
    private readonly limit: number,
    private readonly onRefused: () => void = () => undefined,
  ) {}

  /** How many requests the agent has open now. */
  openOf(agentId: string): number {
    return this.open.get(agentId) ?? 0;
  }

  /** Agents with at least one open request. */
  get agents(): number {
    return this.open.size;
  }

  /**
   * Counts one more request of the agent until the response closes, or throws a 429 HttpError
   * (TOO_MANY_REQUESTS, with Retry-After) when the agent already has `limit` open.
   */
  admit(agentId: string, response: ServerResponse): void {
    const held = this.openOf(agentId);
    if (held >= this.limit) {
      this.onRefused();
      throw new HttpError(
        429,
        `agent ${agentId} already has ${held} requests open on this replica, the most one agent may (MAX_REQUESTS_PER_AGENT); wait for some to finish (a held wait_for_messages, an open session stream) before sending more`,
        { 'retry-after': String(AGENT_REQUESTS_RETRY_SECONDS) },
        'TOO_MANY_REQUESTS',
      );
    }
    this.open.set(agentId, held + 1);
    let released = false;
    response.once('close', () => {
      if (released) return;
      released = true;
      const left = this.openOf(agentId) - 1;
      if (left > 0) this.open.set(agentId, left);
      else this.open.delete(agentId);
    });
  }
}
