/**
 * The no-op baseline of the throughput benchmark: N clients calling a no-op tool, closed loop, on a
 * stateless SDK v2 endpoint behind legacy-poll's HTTP front (bench/noop-server.ts, its own process).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hashToken } from '@agent-bridge/service-kit';
import { connectAgent, freePort, startService, type AgentClient, type ServiceHandle } from '@agent-bridge/testkit';
import { CpuMeter, type CpuReport } from './cpu.js';
import type { Profiler } from './profiling.js';
import type { NoopResult } from './results.js';
import { inWindow, meterWindow, now, planWindow } from './window.js';

export interface NoopTarget {
  server: ServiceHandle;
  clients: AgentClient[];
  close(): Promise<void>;
}

/** Starts the no-op server (its own agent tokens file) and connects one client per agent of `agentIds`. */
export async function startNoopTarget(agentIds: string[], profiler: Profiler): Promise<NoopTarget> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'agent-bridge-bench-'));
  const tokens = Object.fromEntries(agentIds.map((id) => [id, `bench-${id}-${Math.random().toString(36).slice(2)}`]));
  const tokensFile = path.join(dir, 'agent-tokens.json');
  writeFileSync(tokensFile, JSON.stringify({ agents: agentIds.map((id) => ({ id, tokenSha256: hashToken(tokens[id]!) })) }));
  const clients: AgentClient[] = [];
  let server: ServiceHandle | undefined;
  const close = async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const port = await freePort();
    server = await startService({
      name: 'noop-server',
      entry: 'bench/noop-server.ts',
      env: { PORT: String(port), HOST: '127.0.0.1', AGENT_TOKENS_FILE: tokensFile, ...profiler.env() },
      readyUrl: `http://127.0.0.1:${port}/readyz`,
    });
    for (const id of agentIds) clients.push(await connectAgent({ url: `http://127.0.0.1:${port}/mcp`, token: tokens[id]!, name: id }));
    return { server, clients, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** One measured window of no-op calls, every client in a closed loop; `profile`: profile the server over it. */
export async function runNoopWindow(target: NoopTarget, warmupSeconds: number, seconds: number, profiler: Profiler, profile: boolean): Promise<NoopResult> {
  const window = planWindow(warmupSeconds, seconds);
  const latencies: number[] = [];
  let calls = 0;
  let errors = 0;
  const loop = async (client: AgentClient) => {
    while (now() < window.end) {
      const started = now();
      try {
        await client.callToolJson('noop', {});
      } catch {
        errors++;
        continue;
      }
      const done = now();
      if (inWindow(window, done)) {
        calls++;
        latencies.push(done - started);
      }
    }
  };
  const meter = new CpuMeter([{ name: 'noop-server', pid: target.server.pid }]);
  const pids = profile ? profiler.claim([['noop-server', target.server.pid]]) : [];
  const [cpu] = await Promise.all([meterWindow(window, meter, profiler, pids), ...target.clients.map(loop)]);
  return { seconds, calls, latencies, errors, cpu: cpu as CpuReport };
}
