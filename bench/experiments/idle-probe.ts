/**
 * Where idle Redis commands come from: N legacy agents long-polling and N 2025 sessions with GET
 * streams, idle; MONITOR for a window, grouped by command and key shape. A development probe.
 * IDLE_PROBE_AGENTS (200), IDLE_PROBE_SECONDS (30), IDLE_PROBE_KINDS=polls,sessions
 */
import { Redis } from 'ioredis';
import type { AnyAgentClient } from '@agent-bridge/testkit';
import { startBridge } from '@agent-bridge/testkit/bridge';
import { sleep } from '../lib/window.js';

const n = Number(process.env.IDLE_PROBE_AGENTS ?? 200);
const seconds = Number(process.env.IDLE_PROBE_SECONDS ?? 30);
const kinds = (process.env.IDLE_PROBE_KINDS ?? 'polls').split(',');
const agents = Array.from({ length: n }, (_, i) => `idle-${i}`);
const bridge = await startBridge({ agents, legacyPolls: 1, elicitations: 1, flags: { 'elicitation.enabled': 'true', 'elicitation.percentage': '100' } });
const stop = new AbortController();
const cursors = new Map<string, string>();
const cursorArgs = (agent: string) => ({ timeout_ms: 30_000, ...(cursors.has(agent) ? { cursor: cursors.get(agent) } : {}) });
const keepCursor = (agent: string, result: { structuredContent?: unknown }) => {
  const cursor = (result.structuredContent as { cursor?: string } | undefined)?.cursor;
  if (cursor) cursors.set(agent, cursor);
};
const monitorWindow = async (): Promise<Map<string, number>> => {
  const monitor = await new Redis(bridge.redis.port, '127.0.0.1').monitor();
  const counts = new Map<string, number>();
  monitor.on('monitor', (_time: string, args: string[]) => {
    const shape = args
      .slice(0, 3)
      .map((a) =>
        a
          .replace(/idle-\d+/g, '<agent>')
          .replace(/\{s\d+\}/g, '{s}')
          .replace(/\b[0-9a-f]{8,}\b/g, '<hex>')
          .replace(/\d{4,}/g, '<n>'),
      )
      .join(' ');
    counts.set(shape, (counts.get(shape) ?? 0) + 1);
  });
  await sleep(seconds * 1000);
  monitor.disconnect();
  return counts;
};
try {
  await sleep(5_000);
  const baseline = await monitorWindow();
  const loops: Promise<unknown>[] = [];
  /** The agent long-polls in a loop, passing its cursor, until the probe ends. */
  const pollForever = (agent: string, client: { callTool: AnyAgentClient['callTool'] }) =>
    loops.push(
      (async () => {
        while (!stop.signal.aborted)
          await client
            .callTool('wait_for_messages', cursorArgs(agent), { timeout: 60_000 })
            .then((r) => keepCursor(agent, r))
            .catch(() => sleep(1000));
      })(),
    );
  if (kinds.includes('polls')) for (const agent of agents) pollForever(agent, await bridge.connect(agent));
  if (kinds.includes('sessions')) for (const agent of agents) await bridge.connectModern(agent);
  if (kinds.includes('waits')) for (const agent of agents) pollForever(agent, await bridge.connectModern(agent, { generation: '2026-07-28' }));
  await sleep(12_000);
  const loaded = await monitorWindow();
  const total = (counts: Map<string, number>) => [...counts.values()].reduce((a, b) => a + b, 0) / seconds;
  console.log(
    `agents ${n} (${kinds.join('+')}), windows of ${seconds}s: baseline ${total(baseline).toFixed(1)} cmds/s, loaded ${total(loaded).toFixed(1)} cmds/s; added per 1000 agents: ${(((total(loaded) - total(baseline)) / n) * 1000).toFixed(1)}`,
  );
  const shapes = new Set([...baseline.keys(), ...loaded.keys()]);
  const rows = [...shapes].map((shape) => [shape, ((loaded.get(shape) ?? 0) - (baseline.get(shape) ?? 0)) / seconds] as const).sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]));
  for (const [shape, perSecond] of rows.slice(0, 30)) console.log(`${perSecond.toFixed(2).padStart(9)}/s  ${((perSecond / n) * 1000).toFixed(1).padStart(7)}/1000  ${shape.slice(0, 140)}`);
} finally {
  stop.abort();
  await bridge.stop();
  process.exit(0);
}
