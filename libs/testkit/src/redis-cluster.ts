/**
 * A real Redis Cluster per test: primaries and replicas as redis-server processes in cluster
 * mode on free loopback ports, each with its own data dir and AOF, created by the harness,
 * with graceful and forced failovers, kill -9 of a primary and restarts of killed nodes.
 *
 * The cluster is created with CLUSTER ADDSLOTSRANGE / SET-CONFIG-EPOCH / MEET / REPLICATE
 * rather than `redis-cli --cluster create`: the harness picks which replica follows which
 * primary, it must give every node a cluster bus port of its own (OS-assigned ports are above
 * 32768, so redis' default of port + 10000 could leave the range), and it waits on the
 * cluster's own state instead of redis-cli's fixed one-second sleeps. Creation takes about 2.1 s
 * here, nearly all of it the 2 s a new primary waits before it says cluster_state:ok (redis'
 * CLUSTER_WRITABLE_DELAY); docs/decisions/0026-redis-cluster-test-harness.md has the numbers.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Cluster, type Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { freePort } from './ports.js';
import { aofRewriteReason, CLUSTER_SLOTS, ownsSlot, parseClusterNodes, parseInfoFields, selfLine, unhealthyReason, type ClusterRole, type NodeReport, type SlotRange } from './redis-cluster-topology.js';
import { launchRedis, rawCommand, tailFile, terminateProcess, trackedNodeClient, type RunningProcess } from './redis-process.js';
import { waitFor } from './wait.js';

export interface StartRedisClusterOptions {
  /** Number of primaries; the slots are split evenly between them. Default 3. */
  primaries?: number;
  /** Replicas that follow each primary. Default 1. */
  replicasPerPrimary?: number;
  /** AOF fsync policy of every node. Default 'everysec'. */
  appendfsync?: 'always' | 'everysec';
  /** cluster-node-timeout: how long a primary may be unreachable before its replica takes over. Default 2000 ms. */
  nodeTimeoutMs?: number;
  /** Extra redis-server command-line arguments for every node, appended after the defaults. */
  extraArgs?: string[];
  /** redis-server binary. Default: env REDIS_SERVER_BIN, else `redis-server` on PATH. */
  binary?: string;
  /** How long creation, a failover, a restart or waitHealthy() may take. Default 30000 ms. */
  timeoutMs?: number;
}

export interface RedisClusterNode {
  readonly port: number;
  /** The cluster bus port (gossip and failover votes). */
  readonly busPort: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** Node id (kept across restarts in the node's nodes.conf). */
  readonly id: string;
  /** Holds `appendonlydir/`, `nodes.conf` and `redis.log`. */
  readonly dataDir: string;
  /** The role the node last gave itself in CLUSTER NODES; every call of the handle that reads the topology refreshes it. */
  readonly role: ClusterRole;
  /** Port of the primary a replica follows, as last read; undefined for a primary. */
  readonly primaryPort: number | undefined;
  /** Slots a primary owned, as last read; empty for a replica. */
  readonly slots: readonly SlotRange[];
  /** Pid of the current redis-server process; undefined when not running. */
  readonly pid: number | undefined;
  readonly running: boolean;
}

interface FailoverResult {
  /** The replica that is a primary now. */
  promoted: RedisClusterNode;
  /** From the command (or the kill) until the cluster was healthy again with the new roles seen by every running node. */
  elapsedMs: number;
}

export interface RedisClusterHandle {
  /** Every node the harness started, primaries first, in creation order. */
  readonly nodes: readonly RedisClusterNode[];
  /** `127.0.0.1:<port>` of every node: startup nodes for a cluster client. */
  readonly seeds: readonly string[];
  /** From creation until every node was healthy. */
  readonly startupMs: number;
  /** The running primaries, read now from each node's own CLUSTER NODES line. */
  primaries(): Promise<RedisClusterNode[]>;
  /** The running replicas, read now from each node's own CLUSTER NODES line. */
  replicas(): Promise<RedisClusterNode[]>;
  /** The running primary that owns this slot, or the slot of this key (CLUSTER KEYSLOT: hash tags count). */
  primaryOf(slotOrKey: number | string): Promise<RedisClusterNode>;
  /** New ioredis Cluster client seeded with every node; closed by cleanup(). */
  client(options?: ClusterOptions): Cluster;
  /** New plain ioredis client to one node (fail-fast defaults); closed by cleanup(). */
  nodeClient(port: number, options?: RedisOptions): Redis;
  /** CLUSTER FAILOVER (or FAILOVER FORCE) on a replica of this primary; resolves once the roles have swapped everywhere and the cluster is healthy. */
  failover(primaryPort: number, options?: { mode?: 'graceful' | 'force' }): Promise<FailoverResult>;
  /** SIGKILL this primary; resolves once one of its replicas was promoted and the cluster is healthy without it. */
  killPrimary(port: number): Promise<FailoverResult>;
  /** Start a killed node again on its ports and data dir; resolves once it rejoined as a replica and the cluster is healthy. */
  restartNode(port: number): Promise<RedisClusterNode>;
  /** Resolve once the running nodes form a healthy cluster (see unhealthyReason); throws with the last reason after the timeout. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Close tracked clients, stop every node, remove the data dirs. Idempotent. */
  cleanup(): Promise<void>;
  /** Last `lines` lines of one node's redis.log (for diagnostics). */
  logTail(port: number, lines?: number): Promise<string>;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const NODE_READY_TIMEOUT_MS = 10_000;
const MAX_BIND_ATTEMPTS = 5;
const POLL_INTERVAL_MS = 25;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A node as the harness keeps it: its process and what it last said about itself. */
class NodeState implements RedisClusterNode {
  id = '';
  role: ClusterRole = 'primary';
  primaryPort: number | undefined;
  slots: SlotRange[] = [];
  process: RunningProcess | undefined;

  constructor(
    readonly port: number,
    readonly busPort: number,
    readonly dataDir: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.process !== undefined && this.process.exitInfo() === undefined;
  }

  get pid(): number | undefined {
    return this.running ? this.process?.child.pid : undefined;
  }

  get logFile(): string {
    return path.join(this.dataDir, 'redis.log');
  }
}

function nodeArgs(node: NodeState, options: Required<Pick<StartRedisClusterOptions, 'appendfsync' | 'nodeTimeoutMs'>> & { extraArgs: string[] }): string[] {
  return [
    ...['--port', String(node.port), '--bind', '127.0.0.1', '--dir', node.dataDir, '--logfile', node.logFile],
    ...['--daemonize', 'no', '--protected-mode', 'no', '--save', '', '--maxmemory-policy', 'noeviction'],
    ...['--appendonly', 'yes', '--appendfsync', options.appendfsync],
    ...['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-port', String(node.busPort)],
    ...['--cluster-node-timeout', String(options.nodeTimeoutMs), '--cluster-announce-ip', '127.0.0.1'],
    // Replicas sync at once instead of after the default 5 s wait for more replicas to share a transfer.
    ...['--repl-diskless-sync-delay', '0'],
    ...options.extraArgs,
  ];
}

/**
 * Make the started nodes one cluster: the first `primaryCount` share the slots, the others follow
 * them in turn. Resolves once the commands are given; the caller waits for the cluster to settle.
 */
async function joinCluster(nodes: NodeState[], primaryCount: number, timeoutMs: number): Promise<void> {
  const primaries = nodes.slice(0, primaryCount);
  const replicas = nodes.slice(primaryCount);
  await Promise.all(
    nodes.map(async (node, index) => {
      node.id = await rawCommand(node.port, ['CLUSTER', 'MYID']);
      // Distinct epochs up front, as redis-cli does: otherwise the nodes settle the collision themselves, slowly.
      await rawCommand(node.port, ['CLUSTER', 'SET-CONFIG-EPOCH', String(index + 1)]);
    }),
  );
  await Promise.all(
    primaries.map((node, index) => {
      const first = Math.floor((index * CLUSTER_SLOTS) / primaryCount);
      const last = Math.floor(((index + 1) * CLUSTER_SLOTS) / primaryCount) - 1;
      return rawCommand(node.port, ['CLUSTER', 'ADDSLOTSRANGE', String(first), String(last)]);
    }),
  );
  const meet = (from: NodeState, to: NodeState): Promise<string> => rawCommand(from.port, ['CLUSTER', 'MEET', '127.0.0.1', String(to.port), String(to.busPort)]);
  const primaryOfReplica = (index: number): NodeState => primaries[index % primaryCount] as NodeState;
  // Each replica meets its primary alone first and follows it before the full mesh forms: a MEET
  // handshake carries the sender's role, so every node learns the replicas as replicas first-hand
  // instead of waiting up to a second for gossip to bring the change.
  await Promise.all(replicas.map((node, index) => meet(node, primaryOfReplica(index))));
  const knowsItsPrimary = async (node: NodeState, index: number): Promise<boolean> => parseClusterNodes(await rawCommand(node.port, ['CLUSTER', 'NODES'])).some((line) => line.id === primaryOfReplica(index).id);
  await waitFor(async () => (await Promise.all(replicas.map(knowsItsPrimary))).every(Boolean), {
    timeoutMs,
    intervalMs: POLL_INTERVAL_MS,
    description: 'every replica to know its primary after CLUSTER MEET',
  });
  await Promise.all(replicas.map((node, index) => rawCommand(node.port, ['CLUSTER', 'REPLICATE', primaryOfReplica(index).id])));
  await Promise.all(nodes.flatMap((from, index) => nodes.slice(index + 1).map((to) => meet(from, to))));
}

export async function startRedisCluster(options: StartRedisClusterOptions = {}): Promise<RedisClusterHandle> {
  const startedAt = Date.now();
  const primaryCount = options.primaries ?? 3;
  const replicasPerPrimary = options.replicasPerPrimary ?? 1;
  if (!Number.isInteger(primaryCount) || primaryCount < 1) throw new Error(`startRedisCluster: primaries must be a whole number of at least 1, got ${primaryCount}`);
  if (!Number.isInteger(replicasPerPrimary) || replicasPerPrimary < 0) throw new Error(`startRedisCluster: replicasPerPrimary must be a whole number of at least 0, got ${replicasPerPrimary}`);
  const binary = options.binary ?? process.env.REDIS_SERVER_BIN ?? 'redis-server';
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const argOptions = { appendfsync: options.appendfsync ?? 'everysec', nodeTimeoutMs: options.nodeTimeoutMs ?? 2000, extraArgs: options.extraArgs ?? [] };
  const rootDir = await mkdtemp(path.join(os.tmpdir(), 'agent-bridge-redis-cluster-'));
  const nodeCount = primaryCount * (1 + replicasPerPrimary);

  const nodes: NodeState[] = [];
  /** Every node that got a process, also while creation is still under way (stopped if it fails). */
  const launched = new Set<NodeState>();
  const clients = new Set<Cluster | Redis>();
  let cleanedUp = false;

  /** Launch on the node's ports; true when it is ready, false when a port was taken. */
  const launch = async (node: NodeState): Promise<boolean> => {
    const result = await launchRedis({ binary, args: nodeArgs(node, argOptions), port: node.port, logFile: node.logFile, readyTimeoutMs: NODE_READY_TIMEOUT_MS });
    if (result === 'bind-failed') return false;
    node.process = result;
    launched.add(node);
    return true;
  };

  /** Start node `index` on free ports, asking for new ones when another process took them first. */
  const startNode = async (index: number): Promise<NodeState> => {
    const dataDir = path.join(rootDir, `node-${index}`);
    await mkdir(dataDir);
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      let busPort = await freePort();
      // The OS may hand the just-closed port out again.
      while (busPort === port) busPort = await freePort();
      const node = new NodeState(port, busPort, dataDir);
      if (await launch(node)) return node;
      if (attempt >= MAX_BIND_ATTEMPTS) throw new Error(`redis-server for cluster node ${index} could not bind free ports after ${attempt} attempts`);
      await rm(path.join(dataDir, 'nodes.conf'), { force: true });
    }
  };

  /**
   * SIGKILL, not SIGTERM: the data dirs go right after, and a node that is writing the AOF it
   * starts from ignores SIGTERM (see aofRewriteReason), which would hold cleanup for the 15 s
   * stop timeout.
   */
  const stopAll = async (): Promise<void> => {
    for (const c of clients) c.disconnect();
    clients.clear();
    await Promise.all([...launched].map((node) => (node.process ? terminateProcess(node.process, 'SIGKILL') : undefined)));
    await rm(rootDir, { recursive: true, force: true });
  };

  const byPort = (port: number): NodeState => {
    const node = nodes.find((candidate) => candidate.port === port);
    if (!node) throw new Error(`no cluster node on port ${port}; the nodes are on ${nodes.map((n) => n.port).join(', ')}`);
    return node;
  };

  /** Ask every running node about itself and the cluster; refreshes each node's role, primary and slots. */
  const readReports = async (): Promise<NodeReport[]> => {
    const running = nodes.filter((node) => node.running);
    const reports = await Promise.all(
      running.map(async (node): Promise<NodeReport> => {
        const [clusterInfo, clusterNodes, replication, persistence] = await Promise.all(
          [
            ['CLUSTER', 'INFO'],
            ['CLUSTER', 'NODES'],
            ['INFO', 'replication'],
            ['INFO', 'persistence'],
          ].map((command) => rawCommand(node.port, command)),
        );
        return {
          port: node.port,
          clusterInfo: parseInfoFields(clusterInfo ?? ''),
          nodes: parseClusterNodes(clusterNodes ?? ''),
          replication: parseInfoFields(replication ?? ''),
          persistence: parseInfoFields(persistence ?? ''),
        };
      }),
    );
    for (const report of reports) {
      const self = selfLine(report);
      const node = byPort(report.port);
      if (!self) continue;
      node.role = self.role;
      node.slots = self.slots;
      node.primaryPort = self.primaryId === undefined ? undefined : nodes.find((candidate) => candidate.id === self.primaryId)?.port;
    }
    return reports;
  };

  /** Wait until the cluster is healthy and `also` holds (both judged on one reading of every node). */
  const waitUntil = async (description: string, also: (reports: NodeReport[]) => string | undefined, waitMs = timeoutMs): Promise<void> => {
    let reason: string | undefined = 'no reading yet';
    try {
      await waitFor(
        async () => {
          const reports = await readReports();
          reason = unhealthyReason(reports) ?? also(reports);
          return reason === undefined;
        },
        { timeoutMs: waitMs, intervalMs: POLL_INTERVAL_MS, description },
      );
    } catch (err) {
      const logs = await Promise.all(nodes.map(async (node) => `--- node ${node.port} (${node.running ? node.role : 'not running'}) ---\n${await tailFile(node.logFile, 8)}`));
      throw new Error(`${err instanceof Error ? err.message : String(err)}; last problem: ${reason}\n${logs.join('\n')}`, { cause: err });
    }
  };

  const runningWithRole = async (role: ClusterRole): Promise<RedisClusterNode[]> => {
    await readReports();
    return nodes.filter((node) => node.running && node.role === role);
  };

  try {
    nodes.push(...(await Promise.all(Array.from({ length: nodeCount }, (_, index) => startNode(index)))));
    await joinCluster(nodes, primaryCount, timeoutMs);
    const replicaTotal = nodeCount - primaryCount;
    await waitUntil(`a cluster of ${primaryCount} primaries and ${replicaTotal} replicas to form`, (reports) => {
      const replicaCount = nodes.filter((node) => node.role === 'replica').length;
      return replicaCount === replicaTotal ? aofRewriteReason(reports) : `${replicaCount} of ${replicaTotal} nodes are replicas so far`;
    });
  } catch (err) {
    await stopAll();
    throw err;
  }
  const startupMs = Date.now() - startedAt;

  const requireRunningPrimary = async (port: number, caller: string): Promise<NodeState> => {
    const node = byPort(port);
    if (!node.running) throw new Error(`${caller}(${port}): that node is not running; restartNode(${port}) first`);
    await readReports();
    if (node.role !== 'primary') throw new Error(`${caller}(${port}): that node is a replica now; pick a primary from primaries()`);
    return node;
  };

  /** Wait until one of `candidates` says it is a primary and the cluster is healthy. */
  const waitForPromotion = async (description: string, candidates: NodeState[], since: number): Promise<FailoverResult> => {
    await waitUntil(description, () => (candidates.some((node) => node.running && node.role === 'primary') ? undefined : 'no replica of it was promoted yet'));
    const promoted = candidates.find((node) => node.running && node.role === 'primary') as NodeState;
    return { promoted, elapsedMs: Date.now() - since };
  };

  const handle: RedisClusterHandle = {
    nodes,
    seeds: nodes.map((node) => `127.0.0.1:${node.port}`),
    startupMs,
    primaries: () => runningWithRole('primary'),
    replicas: () => runningWithRole('replica'),
    async primaryOf(slotOrKey) {
      const running = nodes.find((node) => node.running);
      if (!running) throw new Error('primaryOf: no cluster node is running');
      const slot = typeof slotOrKey === 'number' ? slotOrKey : Number(await rawCommand(running.port, ['CLUSTER', 'KEYSLOT', slotOrKey]));
      if (!Number.isInteger(slot) || slot < 0 || slot >= CLUSTER_SLOTS) throw new Error(`primaryOf: slot ${slot} is outside 0..${CLUSTER_SLOTS - 1}`);
      const owner = (await runningWithRole('primary')).find((node) => ownsSlot(node.slots, slot));
      if (!owner) throw new Error(`primaryOf: no running primary owns slot ${slot} now; call waitHealthy() first`);
      return owner;
    },
    client(overrides) {
      const defaults: ClusterOptions = {
        // disconnectTimeout is a runtime option of ioredis missing from its typings (see redis-server.ts).
        redisOptions: { connectTimeout: 2000, disconnectTimeout: 200 } as RedisOptions,
      };
      const c = new Cluster(
        nodes.map((node) => ({ host: '127.0.0.1', port: node.port })),
        { ...defaults, ...overrides, redisOptions: { ...defaults.redisOptions, ...overrides?.redisOptions } },
      );
      // Node errors during a failover surface through the rejected commands.
      c.on('error', () => {});
      clients.add(c);
      c.once('end', () => clients.delete(c));
      return c;
    },
    nodeClient(port, overrides) {
      byPort(port);
      return trackedNodeClient(port, clients, overrides);
    },
    async failover(primaryPort, failoverOptions = {}) {
      const mode = failoverOptions.mode ?? 'graceful';
      const primary = await requireRunningPrimary(primaryPort, 'failover');
      const replica = nodes.find((node) => node.running && node.role === 'replica' && node.primaryPort === primaryPort);
      if (!replica) throw new Error(`failover(${primaryPort}): that primary has no running replica to take over`);
      const since = Date.now();
      await rawCommand(replica.port, ['CLUSTER', 'FAILOVER', ...(mode === 'force' ? ['FORCE'] : [])]);
      const result = await waitForPromotion(`replica ${replica.port} to take over from primary ${primaryPort} (${mode} failover)`, [replica], since);
      await waitUntil(`the old primary ${primaryPort} to follow ${replica.port}`, () => (primary.role === 'replica' && primary.primaryPort === replica.port ? undefined : `node ${primaryPort} is still a ${primary.role}`));
      return { promoted: result.promoted, elapsedMs: Date.now() - since };
    },
    async killPrimary(port) {
      const primary = await requireRunningPrimary(port, 'killPrimary');
      const replicasOfIt = nodes.filter((node) => node.running && node.role === 'replica' && node.primaryPort === port);
      if (replicasOfIt.length === 0) throw new Error(`killPrimary(${port}): that primary has no running replica, so its slots would stay down`);
      const since = Date.now();
      if (primary.process) await terminateProcess(primary.process, 'SIGKILL');
      return waitForPromotion(`a replica of the killed primary ${port} to be promoted`, replicasOfIt, since);
    },
    async restartNode(port) {
      if (cleanedUp) throw new Error('restartNode() after cleanup()');
      const node = byPort(port);
      if (node.running) throw new Error(`restartNode(${port}): that node is still running; only a killed node is started again`);
      // The port is ours (nobody else asked the OS for it); a bind failure right after the kill is retried briefly.
      for (let attempt = 1; !(await launch(node)); attempt++) {
        if (attempt >= MAX_BIND_ATTEMPTS) throw new Error(`redis-server could not re-bind port ${port} or bus port ${node.busPort} after ${attempt} attempts`);
        await sleep(200);
      }
      await waitUntil(`the restarted node ${port} to rejoin as a replica`, (reports) => (node.role === 'replica' ? aofRewriteReason(reports) : `node ${port} is still a ${node.role}`));
      return node;
    },
    waitHealthy: (waitMs = timeoutMs) => waitUntil('the cluster to be healthy', () => undefined, waitMs),
    async cleanup() {
      if (cleanedUp) return;
      cleanedUp = true;
      await stopAll();
    },
    logTail: (port, lines = 50) => tailFile(byPort(port).logFile, lines),
  };
  return handle;
}
