/**
 * The 2026 ring alone (not part of `make bench`; docs/benchmarks.md): 16 senders on the legacy
 * endpoint, 16 2026-07-28 targets, each window at a fixed open-loop rate (AB_RATE, 200 msgs/s)
 * then at closed-loop peak, AB_REPEATS times (3). Prints msgs/s, CPU ms per delivered message by
 * process, Redis commands per message, and the elicitation replica's rounds and wait_for_messages
 * requests per sent message. To compare two builds, run it in each checkout in turn and compare
 * elicitation CPU ÷ legacy-poll CPU (the senders' cost) within each window: the host's speed
 * drifts too much between runs for absolute figures. AB_ROUNDS_PER_CALL sets ROUNDS_PER_CALL.
 *
 *   node --conditions=agentbridge-source --import tsx bench/experiments/rounds-ring.ts
 */
import { connectAgent, type AgentClient } from '@agent-bridge/testkit';
import { startBridge } from '@agent-bridge/testkit/bridge';
import { runDeliveryWindow } from '../lib/load.js';
import { RoundReceivers } from '../lib/receivers.js';
import { Profiler } from '../lib/profiling.js';
import type { BridgeResult } from '../lib/results.js';

const N = 16;
const RATE = Number(process.env.AB_RATE ?? 200);
const REPEATS = Number(process.env.AB_REPEATS ?? 3);
const ids = Array.from({ length: N }, (_, i) => `bench-stateless-${String(i + 1).padStart(2, '0')}`);
const profiler = new Profiler(undefined);

function summary(label: string, r: BridgeResult): string {
  const per = (pct: number) => ((pct / 100) * r.cpu.seconds * 1000) / Math.max(1, r.delivered);
  const parts = r.cpu.processes.map((p) => `${p.name.split(' ')[0]} ${per(p.percent).toFixed(2)}`);
  const total = r.cpu.processes.reduce((s, p) => s + per(p.percent), 0);
  const redisCalls = r.redis ? (r.redis.totalCalls / Math.max(1, r.delivered)).toFixed(1) : '?';
  const top = r.redis
    ? [...r.redis.commands]
        .sort((a, b) => b[1].calls - a[1].calls)
        .slice(0, 6)
        .map(([k, v]) => `${k} ${(v.calls / r.delivered).toFixed(1)}`)
        .join(', ')
    : '';
  return `${label}: ${(r.delivered / r.seconds).toFixed(0)} msgs/s, per result ${(r.polledMessages / Math.max(1, r.polls)).toFixed(2)}; CPU ms/msg ${parts.join(', ')}; total ${total.toFixed(2)}; redis cmds/msg ${redisCalls} (${top})`;
}

async function main() {
  const bridge = await startBridge({
    agents: ids,
    shardCount: 16,
    env: { LOG_LEVEL: 'warn', LEASE_TTL_MS: '5000', FLAGS_POLL_INTERVAL_MS: '500' },
    elicitations: 1,
    flags: { 'elicitation.enabled': 'true', 'elicitation.agents': ids.join(',') },
  });
  const clients: AgentClient[] = [];
  try {
    const receivers = new RoundReceivers(100, 5000);
    const senders: AgentClient[] = [];
    for (const agent of ids) {
      const sender = await bridge.connect(agent);
      senders.push(sender);
      clients.push(sender);
      clients.push(await receivers.add((onElicitation) => connectAgent({ url: `${bridge.elicitationBaseUrls[0]}/mcp`, token: bridge.tokens[agent]!, name: agent, generation: '2026-07-28', onElicitation })));
    }
    receivers.start('presence', () => undefined);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await receivers.stop();
    const services: Array<[string, number | undefined]> = [
      ['legacy-poll', bridge.legacyPolls[0]?.pid],
      ['router', bridge.routers[0]?.pid],
      ['elicitation', bridge.elicitations[0]?.pid],
    ];
    const window = (targetRate: number | undefined, seconds: number) => runDeliveryWindow({ bridge, ids, senders, receivers, targetRate, warmupSeconds: 2, seconds, contentBytes: 200, drainSeconds: 10, services, profiler, profile: false });
    const scrape = async () => {
      const text = await (await fetch(`${bridge.elicitationBaseUrls[0]}/metrics`)).text();
      const pick = (re: RegExp) =>
        text
          .split('\n')
          .filter((l) => re.test(l) && !l.startsWith('#'))
          .reduce((s, l) => s + Number(l.split(' ').pop()), 0);
      return { rounds: pick(/^agentbridge_elicitation_rounds_total/), calls: pick(/^agentbridge_tool_calls_total.*wait_for_messages/), inputRequired: pick(/^agentbridge_tool_calls_total.*wait_for_messages.*input_required/) };
    };
    for (let i = 0; i < REPEATS; i++) {
      for (const [label, rate, seconds] of [
        [`fixed ${RATE}`, RATE, 12],
        ['peak', undefined, 10],
      ] as const) {
        const before = await scrape();
        const r = await window(rate, seconds);
        const after = await scrape();
        const d = (k: keyof typeof before) => ((after[k] - before[k]) / Math.max(1, r.sent)).toFixed(3);
        console.log(summary(label, r), `| per sent msg: rounds ${d('rounds')}, wait calls ${d('calls')}, input_required ${d('inputRequired')}`);
      }
    }
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await bridge.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
