import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import type { Cluster } from 'ioredis';
import { isProcessAlive } from './reaper.js';
import { startRedisCluster, type RedisClusterHandle, type RedisClusterNode, type StartRedisClusterOptions } from './index.js';
import { sleep, waitFor } from './wait.js';

const started: RedisClusterHandle[] = [];
after(async () => {
  await Promise.all(started.map((cluster) => cluster.cleanup()));
});

async function start(options?: StartRedisClusterOptions): Promise<RedisClusterHandle> {
  const cluster = await startRedisCluster(options);
  started.push(cluster);
  return cluster;
}

interface TrafficResult {
  attempts: number;
  /** Keys whose SET answered OK. */
  acknowledged: string[];
  /** Keys whose SET answered OK and whose WAIT counted a replica (only with `wait`). */
  replicated: Set<string>;
  /** Error messages (up to the first number) and how often each came back. */
  errors: Map<string, number>;
  /** Longest time between two acknowledged writes. */
  longestStallMs: number;
}

/**
 * Sequential writes to keys of one hash tag (so one primary) until stopped, each on a key of its
 * own; bounded in count and time. With `wait`, each SET is pipelined with WAIT 1 on the same
 * connection, which tells whether a replica had it before the reply.
 */
function startTraffic(client: Cluster, tag: string, options: { wait: boolean }): { stop(): Promise<TrafficResult> } {
  let stopped = false;
  const result: TrafficResult = { attempts: 0, acknowledged: [], replicated: new Set(), errors: new Map(), longestStallMs: 0 };
  const deadline = Date.now() + 60_000;
  const running = (async () => {
    let lastAcknowledged = Date.now();
    while (!stopped && Date.now() < deadline && result.attempts < 50_000) {
      const key = `{${tag}}:write:${result.attempts++}`;
      try {
        let replicas = 0;
        if (options.wait) {
          const replies = await client.pipeline().set(key, key).wait(1, 500).exec();
          const [setError] = replies?.[0] ?? [];
          if (setError) {
            // ioredis retries a pipeline after MOVED only when all its other commands are
            // read-only, and WAIT is not: the error comes back and the slot map stays stale
            // until its periodic refresh. A plain command on the key follows MOVED and updates it.
            if (/^MOVED /.test(setError.message)) await client.exists(key).catch(() => 0);
            throw setError;
          }
          replicas = Number(replies?.[1]?.[1] ?? 0);
        } else {
          await client.set(key, key);
        }
        result.acknowledged.push(key);
        if (replicas >= 1) result.replicated.add(key);
        const now = Date.now();
        result.longestStallMs = Math.max(result.longestStallMs, now - lastAcknowledged);
        lastAcknowledged = now;
      } catch (err) {
        const message = (err instanceof Error ? err.message : String(err)).replace(/ \d[\s\S]*$/, '');
        result.errors.set(message, (result.errors.get(message) ?? 0) + 1);
        await sleep(20);
      }
    }
  })();
  return {
    async stop() {
      stopped = true;
      await running;
      return result;
    },
  };
}

/** Keys of `keys` that do not read back as written (each key's value is its name). */
async function missingKeys(client: Cluster, keys: readonly string[]): Promise<string[]> {
  const values = await Promise.all(keys.map((key) => client.get(key)));
  return keys.filter((key, index) => values[index] !== key);
}

function describeTraffic(result: TrafficResult): string {
  const errors = [...result.errors].map(([message, count]) => `${count}× ${message}`).join(', ');
  return `${result.attempts} writes tried, ${result.acknowledged.length} acknowledged, longest stall ${result.longestStallMs} ms, errors: ${errors || 'none'}`;
}

/** A hash tag starting with `prefix` whose slot this primary owns. */
async function tagOwnedBy(cluster: RedisClusterHandle, primary: RedisClusterNode, prefix: string): Promise<string> {
  for (let index = 0; index < 100; index++) {
    if ((await cluster.primaryOf(`{${prefix}-${index}}`)).port === primary.port) return `${prefix}-${index}`;
  }
  throw new Error(`no hash tag of 100 starting with ${prefix} landed on the primary ${primary.port}`);
}

/** Keys spread over many slots (so over every primary), each with its name as value. */
const SPREAD_KEYS = Array.from({ length: 60 }, (_, index) => `spread:${index}`);

describe('startRedisCluster', () => {
  test('a cluster of 3 primaries and 3 replicas forms with all 16384 slots covered and every replica linked', async (t) => {
    const cluster = await start();
    t.diagnostic(`cluster creation: ${cluster.startupMs} ms`);
    assert.equal(cluster.nodes.length, 6);
    assert.deepEqual(
      cluster.seeds,
      cluster.nodes.map((node) => `127.0.0.1:${node.port}`),
    );
    assert.equal(new Set(cluster.nodes.map((node) => node.dataDir)).size, 6, 'each node has a data dir of its own');
    for (const node of cluster.nodes) assert.ok(node.running && node.pid !== undefined && isProcessAlive(node.pid), `node ${node.port} runs`);

    const primaries = await cluster.primaries();
    const replicas = await cluster.replicas();
    assert.equal(primaries.length, 3);
    assert.equal(replicas.length, 3);
    assert.equal(
      primaries.reduce((sum, node) => sum + node.slots.reduce((count, [first, last]) => count + last - first + 1, 0), 0),
      16384,
    );
    assert.deepEqual(new Set(replicas.map((node) => node.primaryPort)), new Set(primaries.map((node) => node.port)), 'every primary has a replica of its own');

    for (const node of cluster.nodes) {
      const client = cluster.nodeClient(node.port);
      const info = await client.cluster('INFO');
      assert.match(info, /^cluster_state:ok\r?$/m, `node ${node.port}`);
      assert.match(info, /^cluster_slots_ok:16384\r?$/m, `node ${node.port}`);
      assert.match(info, /^cluster_known_nodes:6\r?$/m, `node ${node.port}`);
      assert.equal(await client.cluster('MYID'), node.id);
      assert.deepEqual(await client.config('GET', 'cluster-node-timeout'), ['cluster-node-timeout', '2000']);
      assert.deepEqual(await client.config('GET', 'appendonly'), ['appendonly', 'yes']);
      assert.deepEqual(await client.config('GET', 'appendfsync'), ['appendfsync', 'everysec']);
      assert.deepEqual(await client.config('GET', 'cluster-announce-ip'), ['cluster-announce-ip', '127.0.0.1']);
      if (node.role === 'replica') assert.match(await client.info('replication'), /^master_link_status:up\r?$/m, `replica ${node.port}`);
    }
  });

  test('a key written through the Cluster client is read back from the node that owns its slot, and the others redirect', async () => {
    const cluster = await start();
    const client = cluster.client();
    await Promise.all(SPREAD_KEYS.map((key) => client.set(key, key)));
    const owners = new Set<number>();
    for (const key of SPREAD_KEYS) {
      const owner = await cluster.primaryOf(key);
      owners.add(owner.port);
      assert.equal(await cluster.nodeClient(owner.port).get(key), key, `${key} on its owner ${owner.port}`);
    }
    assert.equal(owners.size, 3, 'the keys landed on all three primaries');
    const key = SPREAD_KEYS[0] as string;
    const owner = await cluster.primaryOf(key);
    const other = (await cluster.primaries()).find((node) => node.port !== owner.port);
    assert.ok(other);
    await assert.rejects(cluster.nodeClient(other.port).get(key), new RegExp(`^ReplyError: MOVED \\d+ 127\\.0\\.0\\.1:${owner.port}$`));
    assert.equal((await cluster.primaryOf(await cluster.nodeClient(owner.port).cluster('KEYSLOT', key))).port, owner.port, 'primaryOf takes a slot too');
  });

  test('SSUBSCRIBE and SPUBLISH work through the client with shardedSubscribers, across a graceful and a forced failover', async (t) => {
    const cluster = await start();
    const publisher = cluster.client();
    // One connection per primary for sharded subscriptions; a subscription follows its slot's primary.
    const subscriber = cluster.client({ shardedSubscribers: true });
    const received: string[] = [];
    subscriber.on('smessage', (channel: string, message: string) => received.push(`${channel} ${message}`));
    const channels = ['{doorbell-a}', '{doorbell-b}', '{doorbell-c}'];
    assert.equal(new Set(await Promise.all(channels.map(async (channel) => (await cluster.primaryOf(channel)).port))).size, 3, 'one channel per primary');
    for (const channel of channels) await subscriber.ssubscribe(channel);
    await assert.rejects(subscriber.ssubscribe('{doorbell-a}', '{doorbell-b}'), /CROSSSLOT/, 'channels of two slots in one SSUBSCRIBE are refused');

    const publishRound = async (round: string): Promise<number[]> => {
      const counts = await Promise.all(channels.map(async (channel) => Number(await publisher.spublish(channel, round))));
      await waitFor(() => channels.every((channel) => received.includes(`${channel} ${round}`)), { timeoutMs: 10_000, description: `round ${round} to arrive on every channel` });
      return counts;
    };
    assert.deepEqual(await publishRound('before'), [1, 1, 1], 'each channel had its one subscriber');
    const graceful = await cluster.failover((await cluster.primaryOf(channels[0] as string)).port, { mode: 'graceful' });
    const forced = await cluster.failover((await cluster.primaryOf(channels[1] as string)).port, { mode: 'force' });
    // The subscriber connection of the old primary is told to go (SUNSUBSCRIBE) and ioredis
    // subscribes again at the new owner. A message published before it is back is lost (pub/sub
    // keeps nothing), so the round waits for the subscriptions at the new primaries first.
    const nodeClients = new Map(cluster.nodes.map((node) => [node.port, cluster.nodeClient(node.port)]));
    const resubscribing = Date.now();
    await waitFor(
      async () => {
        const counts = await Promise.all(channels.map(async (channel) => (await nodeClients.get((await cluster.primaryOf(channel)).port)?.call('PUBSUB', 'SHARDNUMSUB', channel)) as [string, number]));
        return counts.every(([, count]) => count === 1);
      },
      { timeoutMs: 10_000, description: 'every channel to be subscribed at its primary again' },
    );
    const resubscribedMs = Date.now() - resubscribing;
    // The publisher gets no MOVED for SPUBLISH from the demoted node (redis 7.0 takes it on a
    // replica and passes it on within the shard), so its count says 0 there while the message
    // still arrives: delivery is what this asserts.
    const countsAfter = await publishRound('after');
    t.diagnostic(`failovers under subscriptions: graceful ${graceful.elapsedMs} ms, force ${forced.elapsedMs} ms; subscribed at the new primaries ${resubscribedMs} ms after; SPUBLISH counts after them: ${countsAfter.join(', ')}`);
  });

  test('a graceful and a forced failover during traffic end with a healthy cluster that still reads every key written before', async (t) => {
    const cluster = await start();
    const client = cluster.client();
    await Promise.all(SPREAD_KEYS.map((key) => client.set(key, key)));

    for (const mode of ['graceful', 'force'] as const) {
      const primary = await cluster.primaryOf(`{${mode}}`);
      const waited = startTraffic(client, mode, { wait: true });
      const unwaited = startTraffic(client, await tagOwnedBy(cluster, primary, `${mode}-unwaited`), { wait: false });
      await sleep(200);
      const { promoted, elapsedMs } = await cluster.failover(primary.port, { mode });
      await sleep(300);
      const [withWait, withoutWait] = await Promise.all([waited.stop(), unwaited.stop()]);
      const lostWaited = await missingKeys(client, withWait.acknowledged);
      const lostReplicated = lostWaited.filter((key) => withWait.replicated.has(key));
      const lostUnwaited = await missingKeys(client, withoutWait.acknowledged);
      t.diagnostic(`${mode} failover: ${elapsedMs} ms until every node saw the new roles`);
      t.diagnostic(`${mode}, SET + WAIT 1: ${describeTraffic(withWait)}; ${lostWaited.length} acknowledged writes lost, ${lostReplicated.length} of them counted a replica`);
      t.diagnostic(`${mode}, SET alone: ${describeTraffic(withoutWait)}; ${lostUnwaited.length} acknowledged writes lost`);

      assert.equal(promoted.role, 'primary');
      assert.equal(primary.role, 'replica');
      assert.equal(primary.primaryPort, promoted.port, 'the old primary follows the promoted replica');
      assert.equal((await cluster.primaryOf(`{${mode}}`)).port, promoted.port);
      assert.deepEqual(await missingKeys(client, SPREAD_KEYS), [], 'keys written before the failover');
      assert.ok(withWait.replicated.size > 0 && withoutWait.acknowledged.length > 0, 'traffic went on');
      assert.deepEqual(lostReplicated, [], 'writes a replica acknowledged survive either failover');
      // A graceful failover pauses the primary's clients until the replica has caught up, so even
      // writes without WAIT survive. FORCE promotes without the primary's agreement: until the old
      // primary hears of it, it takes writes that no replica gets (WAIT says 0 for them) and drops
      // them when it resyncs as a replica; those are counted above, not asserted.
      if (mode === 'graceful') assert.deepEqual([...lostWaited, ...lostUnwaited], [], 'a graceful failover loses no acknowledged write');
    }
    assert.equal((await cluster.primaries()).length, 3);
    assert.equal((await cluster.replicas()).length, 3);
  });

  test('kill -9 of a primary during traffic: a replica takes over, writes a replica acknowledged (WAIT 1) survive, the killed node rejoins as a replica', async (t) => {
    const cluster = await start({ appendfsync: 'everysec' });
    const client = cluster.client();
    await Promise.all(SPREAD_KEYS.map((key) => client.set(key, key)));
    const victim = await cluster.primaryOf('{waited}');
    const waited = startTraffic(client, 'waited', { wait: true });
    const unwaited = startTraffic(client, await tagOwnedBy(cluster, victim, 'unwaited'), { wait: false });
    await sleep(500);

    const { promoted, elapsedMs } = await cluster.killPrimary(victim.port);
    assert.equal(victim.running, false);
    assert.equal(victim.pid, undefined);
    await sleep(500);
    const [withWait, withoutWait] = await Promise.all([waited.stop(), unwaited.stop()]);

    const lostReplicated = await missingKeys(client, [...withWait.replicated]);
    const lostWaited = await missingKeys(client, withWait.acknowledged);
    const lostUnwaited = await missingKeys(client, withoutWait.acknowledged);
    t.diagnostic(`kill -9 failover: ${elapsedMs} ms from SIGKILL until a replica was primary and every node agreed (cluster-node-timeout 2000 ms, appendfsync everysec)`);
    t.diagnostic(`SET + WAIT 1: ${describeTraffic(withWait)}; ${withWait.replicated.size} counted a replica, ${lostReplicated.length} of those lost, ${lostWaited.length} of all acknowledged lost`);
    t.diagnostic(`SET alone: ${describeTraffic(withoutWait)}; ${lostUnwaited.length} acknowledged writes lost`);

    assert.equal(promoted.role, 'primary');
    assert.equal((await cluster.primaryOf('{waited}')).port, promoted.port);
    assert.ok(withWait.errors.size > 0 && withoutWait.errors.size > 0, 'the kill was felt by both streams');
    assert.ok(withWait.replicated.size > 0 && withoutWait.acknowledged.length > 0, 'both streams wrote');
    assert.deepEqual(lostReplicated, [], 'a write a replica acknowledged before the kill is on the promoted replica');
    assert.deepEqual(await missingKeys(client, SPREAD_KEYS), [], 'keys written before the kill');
    assert.equal((await cluster.primaries()).length, 3);
    assert.equal((await cluster.replicas()).length, 2);

    const restartedAt = Date.now();
    const rejoined = await cluster.restartNode(victim.port);
    t.diagnostic(`restartNode: ${Date.now() - restartedAt} ms until the killed primary was a synced replica`);
    assert.equal(rejoined.role, 'replica');
    assert.equal(rejoined.primaryPort, promoted.port);
    assert.ok(rejoined.running && rejoined.pid !== undefined && isProcessAlive(rejoined.pid));
    const replicaClient = cluster.nodeClient(victim.port);
    await replicaClient.readonly();
    const sample = [...withWait.replicated].slice(-20);
    assert.deepEqual(await Promise.all(sample.map((key) => replicaClient.get(key))), sample, 'the rejoined replica has the writes made while it was down');
    assert.equal((await cluster.replicas()).length, 3);
  });

  test('cleanup() stops every node, closes the clients, removes the data dirs, and can be called twice', async (t) => {
    const cluster = await startRedisCluster();
    const client = cluster.client();
    const nodeClient = cluster.nodeClient(cluster.nodes[0]?.port ?? 0);
    await client.set('goodbye', '1');
    const pids = cluster.nodes.map((node) => node.pid);
    assert.ok(pids.every((pid) => pid !== undefined && isProcessAlive(pid)));

    const cleanupStartedAt = Date.now();
    await cluster.cleanup();
    t.diagnostic(`cleanup: ${Date.now() - cleanupStartedAt} ms`);
    assert.deepEqual(
      pids.filter((pid) => pid !== undefined && isProcessAlive(pid)),
      [],
      'no redis-server left',
    );
    assert.ok(cluster.nodes.every((node) => !node.running && !existsSync(node.dataDir)));
    // ioredis 6 leaves a disconnected Cluster at 'close' (its 'end' comes only after a reconnect attempt); no node connection is left.
    await waitFor(() => ['close', 'end'].includes(client.status) && client.nodes('all').length === 0 && nodeClient.status === 'end', { timeoutMs: 2000, description: 'the clients to close' });
    await cluster.cleanup();
    await assert.rejects(cluster.restartNode(cluster.nodes[0]?.port ?? 0), /after cleanup/);
  });

  test('a failover or kill of a node that is not a primary, and a cluster that cannot start, are refused with a sentence', async () => {
    const cluster = await start({ primaries: 3, replicasPerPrimary: 1 });
    const [replica] = await cluster.replicas();
    assert.ok(replica);
    await assert.rejects(cluster.failover(replica.port), /is a replica now; pick a primary/);
    await assert.rejects(cluster.killPrimary(replica.port), /is a replica now; pick a primary/);
    await assert.rejects(cluster.restartNode(replica.port), /still running; only a killed node/);
    await assert.rejects(cluster.primaryOf(16384), /outside 0\.\.16383/);
    assert.throws(() => cluster.nodeClient(1), /no cluster node on port 1/);
    await assert.rejects(startRedisCluster({ primaries: 0 }), /primaries must be a whole number of at least 1, got 0/);
    await assert.rejects(startRedisCluster({ extraArgs: ['--no-such-option', 'x'] }), /exited during startup[\s\S]*no-such-option/i, 'a node that cannot start is reported with its output');
  });
});
