/**
 * The SDK's cost per request by MCP generation (not part of `make bench`; docs/benchmarks.md,
 * "Requests per message, and what a 2026 request costs"): the no-op server of the throughput
 * benchmark (bench/noop-server.ts, every answer SSE), 16 closed-loop clients of each kind, 2025-era
 * (the SDK v2 client in legacy mode: the handler's stateless legacy leg) and pinned to 2026-07-28,
 * in 3 alternating 5 s windows; prints calls/s and CPU ms per call of the server and of this process.
 *
 *   node --conditions=agentbridge-source --import tsx bench/experiments/noop-generations.ts
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hashToken } from '@agent-bridge/service-kit';
import { connectAgent, freePort, startService, type AgentClient } from '@agent-bridge/testkit';
import { CpuMeter } from '../lib/cpu.js';

const N = 16;
const ids = Array.from({ length: N }, (_, i) => `noop-${i}`);
const dir = mkdtempSync(path.join(os.tmpdir(), 'noopgen-'));
const tokens = Object.fromEntries(ids.map((id) => [id, `tok-${id}-${Math.random().toString(36).slice(2)}`]));
writeFileSync(path.join(dir, 't.json'), JSON.stringify({ agents: ids.map((id) => ({ id, tokenSha256: hashToken(tokens[id]!) })) }));
const port = await freePort();
const server = await startService({ name: 'noop-server', entry: 'bench/noop-server.ts', env: { PORT: String(port), HOST: '127.0.0.1', AGENT_TOKENS_FILE: path.join(dir, 't.json') }, readyUrl: `http://127.0.0.1:${port}/readyz` });
const url = `http://127.0.0.1:${port}/mcp`;
const groups: Record<string, AgentClient[]> = { '2025 (legacy leg)': [], '2026-07-28': [] };
for (const id of ids) {
  groups['2025 (legacy leg)']!.push(await connectAgent({ url, token: tokens[id]!, name: id }));
  groups['2026-07-28']!.push(await connectAgent({ url, token: tokens[id]!, name: id, generation: '2026-07-28' }));
}
for (let round = 0; round < 3; round++) {
  for (const [name, clients] of Object.entries(groups)) {
    const end = Date.now() + 5000;
    let calls = 0;
    const meter = new CpuMeter([{ name: 'noop-server', pid: server.pid }]);
    await Promise.all(
      clients.slice(0, 2).map(async (c) => {
        for (let i = 0; i < 50; i++) await c.callToolJson('noop', {});
      }),
    );
    meter.start();
    await Promise.all(
      clients.map(async (c) => {
        while (Date.now() < end) {
          await c.callToolJson('noop', {});
          calls++;
        }
      }),
    );
    const r = meter.stop();
    const per = (name: string) => {
      const p = r.processes.find((x) => x.name.startsWith(name))!;
      return ((p.percent / 100) * r.seconds * 1000) / calls;
    };
    console.log(`${name}: ${(calls / r.seconds).toFixed(0)} calls/s; CPU ms per call: noop-server ${per('noop-server').toFixed(3)}, clients ${per('bench').toFixed(3)}`);
  }
}
for (const clients of Object.values(groups)) await Promise.all(clients.map((c) => c.close()));
await server.stop();
