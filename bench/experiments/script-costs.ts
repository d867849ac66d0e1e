/**
 * Redis work of each store call on a message's path (not part of `make bench`; issue 16 item 5):
 * PERMSG_MESSAGES (300) messages, one at a time, through the store alone — admitted, appended,
 * read by a router, routed to a poll lane (read, acknowledged) or a push lane (read, settled) —
 * with INFO commandstats diffed around every step; then the same messages to bob in batches of 10
 * (routed in one call, acknowledged with one cursor). Prints per message and step: the commands
 * (each redis.call is one, EVALSHA one more) and the µs inside Redis as the throughput benchmark
 * sums them (EVALSHA's own time includes its calls'), then the EVALSHA time alone.
 *
 *   node --conditions=agentbridge-source --import tsx bench/experiments/script-costs.ts
 */
import { newMessageId, toPollPayload, toPushPayload, type Envelope } from '@agent-bridge/protocol';
import { startBridge } from '@agent-bridge/testkit/bridge';

const MESSAGES = Number(process.env.PERMSG_MESSAGES ?? 300);
const BATCH = 10;
const bridge = await startBridge({ agents: ['alice', 'bob', 'pia'], routers: 0, legacyPolls: 0, elicitations: 0, shardCount: 16 });
const store = bridge.store.store;
const redis = bridge.redis.client();

type Stats = Map<string, { calls: number; usec: number }>;
async function stats(): Promise<Stats> {
  const info = await redis.info('commandstats');
  const out: Stats = new Map();
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) if (m[1] !== 'info') out.set(m[1]!, { calls: Number(m[2]), usec: Number(m[3]) });
  return out;
}
const totals = new Map<string, Stats>();
const runs = new Map<string, number>();
/** Runs `run` as `units` messages' worth of step `name` (a batch of 10 counts 10). */
async function step<T>(name: string, run: () => Promise<T>, units = 1): Promise<T> {
  runs.set(name, (runs.get(name) ?? 0) + units);
  const before = await stats();
  const result = await run();
  const after = await stats();
  const into = totals.get(name) ?? new Map();
  for (const [command, c] of after) {
    const b = before.get(command) ?? { calls: 0, usec: 0 };
    const t = into.get(command) ?? { calls: 0, usec: 0 };
    into.set(command, { calls: t.calls + c.calls - b.calls, usec: t.usec + c.usec - b.usec });
  }
  totals.set(name, into);
  return result;
}

function envelope(from: string, to: string): Envelope {
  const now = Date.now();
  return { id: newMessageId(now), kind: 'message', from, to, content: 'x'.repeat(200), metadata: {}, sourceProtocol: 'legacy', acceptedAt: now, deadlineAt: now + 60_000 };
}
const quota = { ratePerSecond: 100_000, burst: 100_000, backlogMax: 100_000 };

async function oneMessage(lane: 'poll' | 'push'): Promise<void> {
  const to = lane === 'poll' ? 'bob' : 'pia';
  const env = envelope('alice', to);
  const shard = store.keys.shardOf(to);
  await step('admitSend', () => store.admitSend({ from: env.from, to, messageId: env.id, deadlineAt: env.deadlineAt }, quota));
  await step('append', () => store.append({ envelope: env }));
  const lease = (await store.acquireShardLease(shard, 'r1', 60_000))!;
  const [entry] = await step('readShardEntries', () => store.readShardEntries(shard, 'r1', 'new', 100));
  const communicationEvent = { type: 'communication', subtype: lane === 'poll' ? 'legacy_polling' : 'elicitation', agent_id: to, data: { message_id: env.id }, timestamp: Date.now() } as const;
  const decision =
    lane === 'poll'
      ? { entryId: entry!.id, messageId: env.id, target: to, mode: 'route' as const, lane, via: 'legacy' as const, payload: toPollPayload(env), communicationEvent }
      : { entryId: entry!.id, messageId: env.id, target: to, mode: 'route' as const, lane, via: 'elicitation' as const, payload: toPushPayload(env), pollPayload: toPollPayload(env), communicationEvent };
  await step(`route (${lane})`, () => store.route(lease, [decision]));
  if (lane === 'poll') {
    const acked = (await store.mailboxState(to)).acked;
    const page = await step('readPollLane', () => store.readPollLane(to, acked, 100));
    await step('ackPollLane', () => store.ackPollLane(to, page.entries.at(-1)!.cursor));
  } else {
    const pushLease = (await store.acquirePushLease(to, 'd1', 60_000))!;
    const [pushed] = await step('readPushLane', () => store.readPushLane(to, 'd1', 'new', 100));
    await step('settlePush', () => store.settlePush(pushLease, pushed!, 'answered'));
  }
}

/** BATCH messages to bob routed in one call, then read and acknowledged with one cursor. */
async function oneBatch(): Promise<void> {
  const shard = store.keys.shardOf('bob');
  for (let i = 0; i < BATCH; i++) await store.append({ envelope: envelope('alice', 'bob') });
  const lease = (await store.acquireShardLease(shard, 'r1', 60_000))!;
  const entries = await step(`readShardEntries ×${BATCH}`, () => store.readShardEntries(shard, 'r1', 'new', 100), BATCH);
  const decisions = entries.map((entry) => {
    const env = entry.type === 'message' ? entry.envelope : undefined;
    if (!env) throw new Error('expected a message entry');
    const communicationEvent = { type: 'communication', subtype: 'legacy_polling', agent_id: 'bob', data: { message_id: env.id }, timestamp: Date.now() } as const;
    return { entryId: entry.id, messageId: env.id, target: 'bob', mode: 'route' as const, lane: 'poll' as const, via: 'legacy' as const, payload: toPollPayload(env), communicationEvent };
  });
  await step(`route (poll) ×${BATCH}`, () => store.route(lease, decisions), BATCH);
  const page = await store.readPollLane('bob', (await store.mailboxState('bob')).acked, 100);
  await step(`ackPollLane ×${BATCH}`, () => store.ackPollLane('bob', page.entries.at(-1)!.cursor), BATCH);
}

try {
  for (const shard of [store.keys.shardOf('bob'), store.keys.shardOf('pia')]) await store.ensureShardGroup(shard);
  const pushLease = (await store.acquirePushLease('pia', 'd1', 60_000))!;
  await store.claimPushLane(pushLease, 'd1');
  for (let i = 0; i < MESSAGES; i++) await oneMessage('poll');
  for (let i = 0; i < MESSAGES; i++) await oneMessage('push');
  for (let i = 0; i < MESSAGES / BATCH; i++) await oneBatch();
  for (const [name, commands] of totals) {
    const per = runs.get(name)!;
    const calls = [...commands.values()].reduce((a, c) => a + c.calls, 0) / per;
    const usec = [...commands.values()].reduce((a, c) => a + c.usec, 0) / per;
    const evalsha = (commands.get('evalsha')?.usec ?? 0) / per;
    const list = [...commands]
      .filter(([, c]) => c.calls / per >= 0.01)
      .sort((a, b) => b[1].calls - a[1].calls)
      .map(([n, c]) => `${n} ${(c.calls / per).toFixed(2)}`)
      .join(', ');
    console.log(`${name.padEnd(18)} ${calls.toFixed(2).padStart(6)} commands ${usec.toFixed(1).padStart(6)} µs (evalsha ${evalsha.toFixed(1)} µs)  ${list}`);
  }
} finally {
  redis.disconnect();
  await bridge.stop();
}
