/**
 * Where a waiting legacy poll's memory goes (issue 16 item 4): a bridge with one legacy-poll, a heap
 * snapshot of it with no agent, N SDK 1.x agents looping wait_for_messages (bench/scale-worker.ts),
 * a second snapshot, and the difference by object type and constructor, per poll.
 *
 *   POLL_MEMORY_AGENTS=1000 npx tsx --conditions=agentbridge-source bench/experiments/poll-memory.ts
 *
 * Also prints the memory probe's "held" bytes per poll (RSS less free heap), as the scale bench does.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT, waitFor } from '@agent-bridge/testkit';
import { startBridge } from '@agent-bridge/testkit/bridge';
import { AgentWorker, type AgentSpec } from '../lib/agent-workers.js';
import { BENCH_SERVICE_ENV } from '../lib/run.js';
import { heapDiff, summarizeSnapshot } from './heap-diff.js';

const agents = Number(process.env.POLL_MEMORY_AGENTS ?? 1000);
const workerCount = 2;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'poll-memory-'));
const preload = path.join(REPO_ROOT, 'bench', 'experiments', 'heap-snapshot-preload.mjs');
const ids = Array.from({ length: agents }, (_, i) => `pm-${i + 1}`);
const bridge = await startBridge({
  agents: ids,
  shardCount: 16,
  elicitations: 0,
  env: { ...BENCH_SERVICE_ENV, HEAP_SNAPSHOT_DIR: dir, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --expose-gc --import ${preload}`.trim() },
});
const replica = bridge.legacyPolls[0]!;
const metricsUrl = bridge.legacyUrls[0]!.replace(/\/mcp$/, '/metrics');
const waiting = async () => Number(/^agentbridge_waiting_polls(?:\{[^}]*\})? (\d+)/m.exec(await (await fetch(metricsUrl)).text())?.[1] ?? 0);

async function snapshot(): Promise<string> {
  const line = replica.waitForLog(/^heap-snapshot /, 120_000, { includeExisting: false });
  process.kill(replica.pid, 'SIGUSR2');
  return (await line).slice('heap-snapshot '.length).trim();
}

const workers = Array.from({ length: workerCount }, (_, i) => AgentWorker.start(i));
try {
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const before = summarizeSnapshot(fs.readFileSync(await snapshot(), 'utf8'));
  const perWorker: AgentSpec[][] = Array.from({ length: workerCount }, () => []);
  ids.forEach((id, i) => perWorker[i % workerCount]!.push({ id, token: bridge.tokens[id]!, kind: 'poll' }));
  const url = { poll: bridge.legacyUrls[0]!, session: '', stateless: '' };
  await Promise.all(workers.map((w, i) => w.request({ cmd: 'connect', group: 'pm', url, agents: perWorker[i]!, concurrency: 8, pollTimeoutMs: 30_000 })));
  await waitFor(async () => (await waiting()) >= agents - Math.floor(agents / 200), { timeoutMs: 120_000, intervalMs: 500, description: `${agents} waiting polls` });
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const held = await waiting();
  const after = summarizeSnapshot(fs.readFileSync(await snapshot(), 'utf8'));
  console.log(`waiting polls at the snapshot: ${held}`);
  console.log(heapDiff(before, after, held, Number(process.env.POLL_MEMORY_TOP ?? 45)));
} finally {
  await Promise.all(workers.map((w) => w.stop()));
  await bridge.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
