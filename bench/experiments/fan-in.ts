/**
 * Fan-in (not part of `make bench`; docs/benchmarks.md): 16 closed-loop senders on the legacy
 * endpoint, FANIN_TARGETS (4) targets, so several messages wait per target; legacy pollers and
 * 2026-07-28 targets take turns in 3 × 2 windows of 8 s. Prints msgs/s, CPU ms per message by
 * process and the 2026 ÷ legacy ratio of each pair.
 *
 *   node --conditions=agentbridge-source --import tsx bench/experiments/fan-in.ts
 */
import { connectAgent, type AgentClient } from '@agent-bridge/testkit';
import { startBridge } from '@agent-bridge/testkit/bridge';
import { CpuMeter } from '../lib/cpu.js';
import { PollingReceivers, RoundReceivers, type Receivers } from '../lib/receivers.js';

const SENDERS = 16;
const TARGETS = Number(process.env.FANIN_TARGETS ?? 4);
const senderIds = Array.from({ length: SENDERS }, (_, i) => `fan-sender-${i}`);
const legacyTargets = Array.from({ length: TARGETS }, (_, i) => `fan-legacy-${i}`);
const statelessTargets = Array.from({ length: TARGETS }, (_, i) => `fan-stateless-${i}`);
const bridge = await startBridge({
  agents: [...senderIds, ...legacyTargets, ...statelessTargets],
  shardCount: 16,
  env: { LOG_LEVEL: 'warn', LEASE_TTL_MS: '5000', FLAGS_POLL_INTERVAL_MS: '500' },
  elicitations: 1,
  flags: { 'elicitation.enabled': 'true', 'elicitation.agents': statelessTargets.join(',') },
});
const clients: AgentClient[] = [];
const senders: AgentClient[] = [];
for (const id of senderIds) senders.push(await bridge.connect(id));
const mailboxes = [];
for (const id of legacyTargets) mailboxes.push({ client: await bridge.connect(id), cursor: undefined });
const legacy = new PollingReceivers(mailboxes, 100, 5000);
const rounds = new RoundReceivers(100, 5000);
for (const id of statelessTargets) clients.push(await rounds.add((onElicitation) => connectAgent({ url: `${bridge.elicitationBaseUrls[0]}/mcp`, token: bridge.tokens[id]!, name: id, generation: '2026-07-28', onElicitation })));
rounds.start('presence', () => undefined);
await new Promise((r) => setTimeout(r, 1500));
await rounds.stop();
let windowNo = 0;
async function window(name: string, receivers: Receivers, targets: string[], seconds: number) {
  const tag = `f${++windowNo}`;
  let received = 0;
  let counting = false;
  receivers.start(tag, () => {
    if (counting) received++;
  });
  let stop = false;
  const loops = senders.map(async (s, i) => {
    let seq = 0;
    while (!stop) {
      const prefix = `bench|${tag}|${i}:${seq++}|`;
      await s.callToolJson('send_message', { to: targets[i % targets.length]!, content: prefix + 'x'.repeat(200 - prefix.length) }).catch(() => undefined);
    }
  });
  await new Promise((r) => setTimeout(r, 2000));
  const meter = new CpuMeter([
    { name: 'legacy-poll', pid: bridge.legacyPolls[0]!.pid },
    { name: 'router', pid: bridge.routers[0]!.pid },
    { name: 'elicitation', pid: bridge.elicitations[0]!.pid },
    { name: 'redis', pid: bridge.redis.pid },
  ]);
  counting = true;
  meter.start();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  counting = false;
  const cpu = meter.stop();
  stop = true;
  await Promise.all(loops);
  await new Promise((r) => setTimeout(r, 1500));
  const counts = await receivers.stop();
  const per = cpu.processes.map((p) => `${p.name.split(' ')[0]} ${(((p.percent / 100) * cpu.seconds * 1000) / Math.max(1, received)).toFixed(2)}`).join(', ');
  const total = cpu.processes.reduce((s, p) => s + ((p.percent / 100) * cpu.seconds * 1000) / Math.max(1, received), 0);
  console.log(`${name}: ${(received / cpu.seconds).toFixed(0)} msgs/s (results ${counts.deliveries}); CPU ms/msg ${per}; total ${total.toFixed(2)}`);
  return received / cpu.seconds;
}
for (let i = 0; i < 3; i++) {
  const l = await window(`legacy, ${SENDERS} senders → ${TARGETS} targets`, legacy, legacyTargets, 8);
  const r = await window(`2026,   ${SENDERS} senders → ${TARGETS} targets`, rounds, statelessTargets, 8);
  console.log(`  2026 ÷ legacy: ${((100 * r) / l).toFixed(0)} %`);
}
await Promise.all([...senders, ...clients, ...mailboxes.map((m) => m.client)].map((c) => c.close().catch(() => undefined)));
await bridge.stop();
