/**
 * Redis round trips of 2026-07-28 rounds, by process (`node --conditions=agentbridge-source --import
 * tsx bench/round-trace.ts`): what the throughput benchmark's "Redis commands per delivered message"
 * sums up, split by the connection that sent each command (MONITOR; commands run inside Lua scripts
 * are listed under "lua").
 *
 * One bridge (redis-server, router, legacy-poll, elicitation), one sender on the legacy endpoint,
 * one 2026-07-28 target looping wait_for_messages on the elicitation endpoint and answering every
 * elicitation with accept {}. Three phases: idle (the background work of the services, to subtract),
 * messages one at a time (each round carries one), bursts of ROUND_MAX_MESSAGES (8) messages.
 *
 * Environment: TRACE_SINGLE=20 messages of the one-at-a-time phase, TRACE_BURSTS=10 bursts.
 */
import { startBridge } from '@agent-bridge/testkit/bridge';
import { connectAgent, waitFor } from '@agent-bridge/testkit';
import { envNumber } from './lib/env.js';

const SINGLE = Math.floor(envNumber('TRACE_SINGLE', 20, 1));
const BURSTS = Math.floor(envNumber('TRACE_BURSTS', 10, 1));
const BURST_SIZE = 8;
/** Quiet time after each delivery, so one round's retry and the next wait are in the same phase. */
const SETTLE_MS = 250;
const IDLE_MS = 5_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const bridge = await startBridge({
  agents: ['trace-sender', 'trace-target'],
  elicitations: 1,
  shardCount: 16,
  env: { LOG_LEVEL: 'warn', LEASE_TTL_MS: '5000', FLAGS_POLL_INTERVAL_MS: '500' },
  flags: { 'elicitation.enabled': 'true', 'elicitation.agents': 'trace-target' },
});
const admin = bridge.redis.client();
const monitor = await bridge.redis.client().monitor();
let stopping = false;
let loop: Promise<void> | undefined;
try {
  let received = 0;
  const target = await connectAgent({
    url: `${bridge.elicitationBaseUrls[0]}/mcp`,
    token: bridge.tokens['trace-target']!,
    name: 'trace-target',
    generation: '2026-07-28',
    onElicitation: () => {
      received++;
      return { action: 'accept', content: {} };
    },
  });
  const sender = await bridge.connect('trace-sender');
  let calls = 0;
  loop = (async () => {
    let cursor: string | undefined;
    while (!stopping) {
      const result = await target.callToolJson<{ cursor: string }>('wait_for_messages', { ...(cursor ? { cursor } : {}), timeout_ms: 5_000 }).catch(() => undefined);
      calls++;
      if (result) cursor = result.cursor;
    }
  })();
  await waitFor(async () => (await bridge.store.store.readPresence(['trace-target'])).get('trace-target')?.some((s) => s.streamOpen) ?? false, {
    timeoutMs: 10_000,
    description: 'the 2026 agent to be present for push',
  });

  const names = new Map<string, string>();
  const refreshNames = async () => {
    for (const line of String(await admin.client('LIST')).split('\n')) {
      const addr = /addr=(\S+)/.exec(line)?.[1];
      if (addr) names.set(addr, /name=(\S*)/.exec(line)?.[1] || '?');
    }
  };
  let commands: Array<{ who: string; command: string }> = [];
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    commands.push({ who: names.get(source.replace(/^\d+ /, '')) ?? source, command: String(args[0]).toLowerCase() });
  });
  const phase = async (title: string, per: number, run: () => Promise<void>) => {
    await refreshNames();
    commands = [];
    calls = 0;
    const started = Date.now();
    await run();
    const seconds = (Date.now() - started) / 1000;
    const byWho = new Map<string, Map<string, number>>();
    for (const { who, command } of commands) {
      const counts = byWho.get(who) ?? new Map<string, number>();
      counts.set(command, (counts.get(command) ?? 0) + 1);
      byWho.set(who, counts);
    }
    process.stdout.write(`\n${title}: ${seconds.toFixed(1)} s, ${calls} wait_for_messages results; Redis commands per ${per === 1 ? 'phase' : 'message'} by connection\n`);
    for (const [who, counts] of [...byWho].sort((a, b) => b[0].localeCompare(a[0]))) {
      const total = [...counts.values()].reduce((sum, n) => sum + n, 0);
      if (total / per < 0.05) continue;
      const top = [...counts].sort((a, b) => b[1] - a[1]).map(([command, n]) => `${command} ${(n / per).toFixed(1)}`);
      process.stdout.write(`  ${who}: ${(total / per).toFixed(1)} (${top.join(', ')})\n`);
    }
  };
  const deliver = async (count: number, tag: string) => {
    const before = received;
    await Promise.all(Array.from({ length: count }, (_, i) => sender.callToolJson('send_message', { to: 'trace-target', content: `${tag}-${i}` })));
    while (received < before + count) await sleep(2);
    await sleep(SETTLE_MS);
  };

  await sleep(1_000);
  await phase(`idle ${IDLE_MS / 1000} s`, 1, () => sleep(IDLE_MS));
  await phase(`${SINGLE} messages one at a time (one per round)`, SINGLE, async () => {
    for (let i = 0; i < SINGLE; i++) await deliver(1, `single-${i}`);
  });
  await phase(`${BURSTS} bursts of ${BURST_SIZE} messages`, BURSTS * BURST_SIZE, async () => {
    for (let k = 0; k < BURSTS; k++) await deliver(BURST_SIZE, `burst-${k}`);
  });
  stopping = true;
  await Promise.all([target.close(), sender.close()]);
} finally {
  stopping = true;
  monitor.disconnect();
  admin.disconnect();
  await loop?.catch(() => undefined);
  await bridge.stop();
}
