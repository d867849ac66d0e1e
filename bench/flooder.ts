/**
 * A hostile agent for the noisy-neighbour benchmark (bench/noisy-neighbour.ts), in its own process
 * so its CPU shows apart and does not slow the benchmark's own clients. FLOOD_LOOPS send loops, each
 * its own MCP client of agent FLOOD_AGENT, call send_message to FLOOD_TO as fast as they can. A
 * refusal (RATE_LIMITED, BACKLOG_FULL, STORE_FULL) is counted and ignored: the loop sends again at
 * once (FLOOD_RETRY=at-once, the default), or after the refusal's retryAfterMs (FLOOD_RETRY=after).
 * With FLOOD_SINK_TOKEN set, a wait_for_messages loop of FLOOD_TO drains what was accepted (so the
 * flood keeps its whole rate quota instead of filling its backlog and stopping there).
 *
 * Prints "flooding" once every client is connected; on SIGTERM stops and prints one line
 * "flood-result {json}" (counts over its whole life and how long it flooded), then exits.
 *
 * Environment: FLOOD_URL (the legacy endpoint's /mcp URL), FLOOD_AGENT, FLOOD_TOKEN, FLOOD_TO,
 * FLOOD_LOOPS (8), FLOOD_RETRY (at-once | after), FLOOD_CONTENT_BYTES (200), FLOOD_SINK_TOKEN.
 */
import { connectAgent, ToolCallError, type AgentClient } from '@agent-bridge/testkit';
import type { PollResult } from '@agent-bridge/testkit/bridge';

const required = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} must be set (the noisy-neighbour benchmark sets it)`);
  return value;
};
const url = required('FLOOD_URL');
const agent = required('FLOOD_AGENT');
const token = required('FLOOD_TOKEN');
const to = required('FLOOD_TO');
const loops = Number(process.env.FLOOD_LOOPS ?? '8');
if (!Number.isInteger(loops) || loops < 1) throw new Error(`FLOOD_LOOPS must be a whole number ≥ 1 (got "${process.env.FLOOD_LOOPS}")`);
const retry = process.env.FLOOD_RETRY ?? 'at-once';
if (retry !== 'at-once' && retry !== 'after') throw new Error(`FLOOD_RETRY must be "at-once" or "after" (got "${retry}")`);
const contentBytes = Number(process.env.FLOOD_CONTENT_BYTES ?? '200');
const sinkToken = process.env.FLOOD_SINK_TOKEN;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const counts = { calls: 0, admitted: 0, refused: {} as Record<string, number>, otherErrors: 0, drained: 0, drainErrors: 0 };
let stopping = false;

const clients: AgentClient[] = [];
for (let i = 0; i < loops; i++) clients.push(await connectAgent({ url, token, name: `${agent}-${i + 1}` }));
const sink = sinkToken ? await connectAgent({ url, token: sinkToken, name: to }) : undefined;

const content = `flood|${'x'.repeat(Math.max(0, contentBytes - 6))}`;
async function floodLoop(client: AgentClient): Promise<void> {
  while (!stopping) {
    counts.calls++;
    try {
      await client.callToolJson('send_message', { to, content });
      counts.admitted++;
    } catch (error) {
      if (stopping) return;
      if (!(error instanceof ToolCallError)) {
        counts.otherErrors++;
        await sleep(10); // a broken connection must not become a busy loop of this process
        continue;
      }
      counts.refused[error.code] = (counts.refused[error.code] ?? 0) + 1;
      const details = (error.result.structuredContent as { error?: { details?: { retryAfterMs?: number } } } | undefined)?.error?.details;
      if (retry === 'after' && typeof details?.retryAfterMs === 'number') await sleep(details.retryAfterMs);
    }
  }
}

async function drainLoop(client: AgentClient): Promise<void> {
  let cursor: string | undefined;
  while (!stopping) {
    try {
      const result = await client.callToolJson<PollResult>('wait_for_messages', { ...(cursor ? { cursor } : {}), max_messages: 100, timeout_ms: 1_000 });
      cursor = result.cursor;
      counts.drained += result.messages.length;
    } catch {
      if (stopping) return;
      counts.drainErrors++;
      await sleep(50);
    }
  }
}

const startedAt = performance.now();
const running = [...clients.map(floodLoop), ...(sink ? [drainLoop(sink)] : [])];
process.stdout.write('flooding\n');

process.once('SIGTERM', () => {
  stopping = true;
  const seconds = (performance.now() - startedAt) / 1000;
  process.stdout.write(`flood-result ${JSON.stringify({ ...counts, seconds, loops, retry })}\n`);
  // Calls in flight are abandoned: the counts above are final.
  void Promise.race([Promise.allSettled(running), sleep(500)]).then(() => process.exit(0));
});
