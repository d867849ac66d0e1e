import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openEventStore, type OpenedEventStore, type ShardLease } from '@agent-bridge/event-store';
import { DEFAULT_FLAGS } from '@agent-bridge/flags';
import { BridgeMetrics, createLogger } from '@agent-bridge/observability';
import { newMessageId } from '@agent-bridge/protocol';
import { startRedis, waitFor, type RedisServerHandle } from '@agent-bridge/testkit';
import { ShardWorker } from './shard-worker.js';

describe('shard worker census gauges', () => {
  let redis: RedisServerHandle;
  let opened: OpenedEventStore;

  before(async () => {
    redis = await startRedis();
    opened = await openEventStore({ url: redis.url, name: 'router-test', shardCount: 2, listen: 'events' });
  });
  after(async () => {
    await opened?.close();
    await redis?.cleanup();
  });

  /** The gauge's values for one shard, by their non-shard labels (`generation=2025-11-25` → 1). */
  async function gaugeOf(metrics: BridgeMetrics, name: string, shard: number): Promise<Record<string, number>> {
    const metric = await metrics.registry.getSingleMetric(name)!.get();
    const values = metric.values.filter((v) => v.labels.shard === String(shard));
    return Object.fromEntries(
      values.map((v) => [
        Object.entries(v.labels)
          .filter(([label]) => label !== 'shard')
          .map(([label, value]) => `${label}=${value}`)
          .join(','),
        v.value,
      ]),
    );
  }

  /** A census-only shard worker (census every 50 ms) owning `shard`, started. */
  async function startWorker(shard: number, metrics: BridgeMetrics): Promise<{ worker: ShardWorker; lease: ShardLease }> {
    const { store, doorbell } = opened;
    const lease = await store.acquireShardLease(shard, 'router-1', 10_000);
    assert.ok(lease, 'the shard lease is free');
    const worker = new ShardWorker(
      lease,
      { store, doorbell, flags: () => DEFAULT_FLAGS, metrics, logger: createLogger('router', 'silent'), consumer: 'router-1', onLeaseLost: () => undefined },
      { batchSize: 10, censusIntervalMs: 50, activeAgentWindowMs: 60_000, idleRecheckMs: 50, trimIntervalMs: 60_000 },
    );
    worker.start();
    return { worker, lease };
  }

  test('the owner of a shard reports its active agents by MCP generation, 0 for a generation nobody spoke, and drops the series when it gives the shard up', async () => {
    const { store, keys } = opened;
    const shard = 1;
    const agents = Array.from({ length: 20 }, (_, i) => `agent-${i}`).filter((agent) => keys.shardOf(agent) === shard);
    assert.ok(agents.length >= 2, 'the fixture needs two agents in the shard');
    const now = Date.now();
    await store.recordActivity(agents[0]!, 'legacy', now, '2025-11-25');
    await store.recordActivity(agents[1]!, 'other', now, '2025-11-25');

    const metrics = new BridgeMetrics('router', { defaultMetrics: false });
    const { worker, lease } = await startWorker(shard, metrics);
    try {
      const expected = { 'generation=2025-11-25': 2, 'generation=2026-07-28': 0 };
      let seen: Record<string, number> = {};
      await waitFor(async () => JSON.stringify((seen = await gaugeOf(metrics, 'agentbridge_active_agents_by_generation', shard))) === JSON.stringify(expected), {
        timeoutMs: 5_000,
        description: 'the census to set agentbridge_active_agents_by_generation',
      }).catch((error: Error) => assert.fail(`${error.message}; saw ${JSON.stringify(seen)}`));

      await store.recordActivity(agents[0]!, 'elicitation', Date.now(), '2026-07-28');
      await waitFor(async () => (await gaugeOf(metrics, 'agentbridge_active_agents_by_generation', shard))['generation=2026-07-28'] === 1, {
        timeoutMs: 5_000,
        description: 'the next census to count the 2026-07-28 agent',
      });
      assert.deepEqual(await gaugeOf(metrics, 'agentbridge_active_agents', shard), { '': 2 }, 'an agent on both generations is one active agent');
    } finally {
      await worker.stop();
      await store.releaseShardLease(lease);
    }
    assert.deepEqual(await gaugeOf(metrics, 'agentbridge_active_agents_by_generation', shard), {}, 'the next owner reports the shard: no series left behind');
    assert.deepEqual(await gaugeOf(metrics, 'agentbridge_active_agents_by_protocol', shard), {});
  });

  test('an elicit whose caller crashed before the answer is closed abandoned by the census and never counts as unaccounted; a message nobody received still does', async () => {
    const { store, keys } = opened;
    const shard = 0;
    const target = Array.from({ length: 20 }, (_, i) => `agent-${i}`).find((agent) => keys.shardOf(agent) === shard)!;
    // The asking side, with a short grace for the caller to record how its elicit ended.
    const asker = await openEventStore({ url: redis.url, name: 'elicitation-test', shardCount: 2, listen: 'lanes', elicitCloseGraceMs: 100 });
    const metrics = new BridgeMetrics('router', { defaultMetrics: false });
    const { worker, lease } = await startWorker(shard, metrics);
    try {
      const now = Date.now();
      const base = { metadata: {}, sourceProtocol: 'elicitation' as const, acceptedAt: now, deadlineAt: now + 200 };
      const question = { ...base, id: newMessageId(now), kind: 'elicitation' as const, from: 'caller', to: target, content: 'May I?', replySchema: { type: 'object' as const, properties: {} } };
      await asker.store.beginElicitWait('caller', question.id, 60_000);
      await asker.store.append({ envelope: question, awaitsReply: true });
      // ...and the caller's process dies: nobody finishes its wait or closes the question.
      const unread = { ...base, id: newMessageId(now), kind: 'message' as const, from: 'caller', to: target, content: 'never read' };
      await asker.store.append({ envelope: unread });

      const seen = new Set<string>();
      await waitFor(
        async () => {
          seen.add(JSON.stringify(await gaugeOf(metrics, 'agentbridge_messages_unaccounted', shard)));
          return (await store.getMessage(question.id, target))?.state === 'abandoned';
        },
        { timeoutMs: 5_000, intervalMs: 10, description: 'the census to close the question abandoned' },
      );
      await waitFor(async () => (await gaugeOf(metrics, 'agentbridge_messages_unaccounted', shard))[''] === 1, { timeoutMs: 5_000, description: 'the next census' });
      seen.add(JSON.stringify(await gaugeOf(metrics, 'agentbridge_messages_unaccounted', shard)));
      assert.ok(![...seen].some((values) => (JSON.parse(values) as Record<string, number>)[''] === 2), `the question was never counted: ${[...seen].join(' ')}`);
      assert.deepEqual((await store.unaccountedMessages(shard, Date.now(), 10)).sample, [unread.id]);
    } finally {
      await worker.stop();
      await store.releaseShardLease(lease);
      await asker.close();
    }
  });
});
