/**
 * Starts a whole bridge for a black-box test: a real redis-server, router replicas and
 * legacy-poll replicas as their own OS processes, agent tokens, and published flags.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEventStore, type OpenedEventStore } from '@agent-bridge/event-store';
import { applyFlagAssignment, publishFlags } from '@agent-bridge/flags';
import type { LegacyMessage } from '@agent-bridge/protocol';
import { hashToken, type AgentOwner } from '@agent-bridge/service-kit';
import type { ElicitResult } from '@modelcontextprotocol/client';
import { connectAgent, freePort, startRedis, startRedisCluster, startService, type AgentClient, type AnyAgentClient, type ClientGeneration, type RedisClusterHandle, type RedisServerHandle, type ServiceHandle } from '../index.js';

export interface BridgeOptions {
  agents: string[];
  /** Owners written beside the agents' token hashes in the registry file (the legacy inventory reads them). */
  owners?: Record<string, AgentOwner>;
  routers?: number;
  legacyPolls?: number;
  /** Elicitation replicas to start (default 0). */
  elicitations?: number;
  shardCount?: number;
  appendfsync?: 'always' | 'everysec';
  /** Extra environment for every service. */
  env?: Record<string, string>;
  /** Flag assignments published before the services start, e.g. { 'deprecation.warnings': 'true' }. */
  flags?: Record<string, string>;
}

export interface Bridge {
  /** The one redis-server (startBridge); on a cluster (startClusterBridge) `cluster` instead. */
  redis: RedisServerHandle;
  /** A store handle for assertions (ledger, lanes, audit). */
  store: OpenedEventStore;
  routers: ServiceHandle[];
  /** Base URLs (http://127.0.0.1:PORT) of the routers' probe and metrics server, in start order. */
  routerUrls: string[];
  legacyPolls: ServiceHandle[];
  legacyUrls: string[];
  elicitations: ServiceHandle[];
  /** Base URLs (http://127.0.0.1:PORT) of the elicitation replicas. */
  elicitationBaseUrls: string[];
  startElicitation(replicaId: string, port?: number): Promise<ServiceHandle>;
  /**
   * Starts one more legacy-poll replica (e.g. the replacement in a rolling restart, on the port of
   * the one it replaces); `env` adds to or overrides the bridge's environment for it alone.
   */
  startLegacyPoll(replicaId: string, port?: number, env?: Record<string, string>): Promise<ServiceHandle>;
  /** A modern agent: an MCP client of an elicitation replica, answering elicitations with `answer`. */
  connectModern<G extends ClientGeneration = '2025-11-25'>(agent: string, options?: ModernAgentOptions<G>): Promise<ModernAgent<G>>;
  tokens: Record<string, string>;
  env: Record<string, string>;
  startRouter(id: string): Promise<ServiceHandle>;
  connect(agent: string, replica?: number): Promise<AgentClient>;
  setFlags(assignments: Record<string, string>, reason?: string): Promise<number>;
  stop(): Promise<void>;
}

export interface ClusterBridge extends Omit<Bridge, 'redis'> {
  /** The Redis Cluster (3 primaries, 3 replicas) every service and the assertion store run on. */
  cluster: RedisClusterHandle;
}

export async function startBridge(options: BridgeOptions): Promise<Bridge> {
  const redis = await startRedis({ appendfsync: options.appendfsync ?? 'everysec' });
  const bridge = await startBridgeOn({ env: { REDIS_URL: redis.url }, store: { url: redis.url }, cleanup: () => redis.cleanup() }, options);
  return { ...bridge, redis };
}

/** The bridge on a real Redis Cluster of 3 primaries and 3 replicas: every service gets REDIS_CLUSTER_NODES. */
export async function startClusterBridge(options: BridgeOptions): Promise<ClusterBridge> {
  const cluster = await startRedisCluster({ appendfsync: options.appendfsync ?? 'everysec' });
  const url = `redis://${cluster.seeds[0]!}`;
  try {
    const bridge = await startBridgeOn({ env: { REDIS_URL: url, REDIS_CLUSTER_NODES: cluster.seeds.join(',') }, store: { url, clusterNodes: cluster.seeds }, cleanup: () => cluster.cleanup() }, options);
    return { ...bridge, cluster };
  } catch (error) {
    await cluster.cleanup();
    throw error;
  }
}

interface Backend {
  env: Record<string, string>;
  store: { url: string; clusterNodes?: readonly string[] };
  cleanup(): Promise<void>;
}

async function startBridgeOn(backend: Backend, options: BridgeOptions): Promise<Omit<Bridge, 'redis'>> {
  const dir = mkdtempSync(join(tmpdir(), 'agent-bridge-e2e-'));
  const tokens: Record<string, string> = {};
  for (const agent of options.agents) tokens[agent] = `token-${agent}-${Math.random().toString(36).slice(2)}`;
  const tokensFile = join(dir, 'agent-tokens.json');
  writeFileSync(tokensFile, JSON.stringify({ agents: Object.entries(tokens).map(([id, token]) => ({ id, tokenSha256: hashToken(token), ...(options.owners?.[id] ? { owner: options.owners[id] } : {}) })) }));
  const shardCount = options.shardCount ?? 8;
  const env: Record<string, string> = {
    ...backend.env,
    SHARD_COUNT: String(shardCount),
    HOST: '127.0.0.1',
    LOG_LEVEL: process.env.TEST_VERBOSE ? 'debug' : 'warn',
    AGENT_TOKENS_FILE: tokensFile,
    LEASE_TTL_MS: '1500',
    FLAGS_POLL_INTERVAL_MS: '200',
    // One requestState key for every elicitation replica, as the chart's Secret gives them.
    REQUEST_STATE_KEY: randomBytes(32).toString('base64'),
    // One inter-replica key for every elicitation replica and controller (relayed requests are
    // signed with it), as the chart's Secret gives them.
    INTER_REPLICA_KEY: randomBytes(32).toString('base64'),
    // A controller's public progress page on a free port, so several controllers never collide.
    PROGRESS_PORT: '0',
    ...options.env,
  };
  const store = await openEventStore({ ...backend.store, name: 'e2e-assert', shardCount });

  const setFlags = async (assignments: Record<string, string>, reason = 'e2e test') => {
    const result = await publishFlags(store.store, (current) => Object.entries(assignments).reduce((settings, [path, value]) => applyFlagAssignment(settings, path, value), current), { actor: 'e2e', reason, trigger: 'test' });
    return result.snapshot.version;
  };
  await setFlags(options.flags ?? {}, 'initial flags');

  const routers: ServiceHandle[] = [];
  const routerUrls: string[] = [];
  const legacyPolls: ServiceHandle[] = [];
  const legacyUrls: string[] = [];
  const elicitations: ServiceHandle[] = [];
  const elicitationBaseUrls: string[] = [];
  /** Starts one service as its own process on a free port and waits until it is ready. */
  const startProcess = async (name: string, entry: string, extraEnv: Record<string, string>, fixedPort?: number) => {
    const port = fixedPort ?? (await freePort());
    const baseUrl = `http://127.0.0.1:${port}`;
    const handle = await startService({ name, entry, env: { ...env, ...extraEnv, PORT: String(port) }, readyUrl: `${baseUrl}/readyz` });
    return { handle, baseUrl };
  };
  const startElicitation = async (replicaId: string, fixedPort?: number) => {
    const { handle, baseUrl } = await startProcess(replicaId, 'services/elicitation/src/main.ts', { REPLICA_ID: replicaId }, fixedPort);
    elicitations.push(handle);
    elicitationBaseUrls.push(baseUrl);
    return handle;
  };
  const startLegacyPoll = async (replicaId: string, fixedPort?: number, extraEnv: Record<string, string> = {}) => {
    const { handle, baseUrl } = await startProcess(replicaId, 'services/legacy-poll/src/main.ts', { ...extraEnv, REPLICA_ID: replicaId }, fixedPort);
    legacyPolls.push(handle);
    legacyUrls.push(`${baseUrl}/mcp`);
    return handle;
  };
  const startRouter = async (id: string) => {
    const { handle, baseUrl } = await startProcess(id, 'services/router/src/main.ts', { ROUTER_ID: id });
    routers.push(handle);
    routerUrls.push(baseUrl);
    return handle;
  };
  try {
    for (let i = 0; i < (options.routers ?? 1); i++) await startRouter(`router-${i + 1}`);
    for (let i = 0; i < (options.legacyPolls ?? 1); i++) await startLegacyPoll(`legacy-poll-${i + 1}`);
    for (let i = 0; i < (options.elicitations ?? 0); i++) await startElicitation(`elicitation-${i + 1}`);
  } catch (error) {
    await Promise.all([...routers, ...legacyPolls, ...elicitations].map((s) => s.stop()));
    await store.close();
    await backend.cleanup();
    throw error;
  }

  return {
    store,
    routers,
    routerUrls,
    legacyPolls,
    legacyUrls,
    elicitations,
    elicitationBaseUrls,
    startElicitation,
    startLegacyPoll,
    connectModern: (agent, modernOptions = {}) => connectModernAgent(modernOptions.url ?? `${elicitationBaseUrls[modernOptions.replica ?? 0]}/mcp`, tokens[agent]!, agent, modernOptions),
    tokens,
    env,
    startRouter,
    setFlags,
    connect: (agent, replica = 0) => connectAgent({ url: legacyUrls[replica]!, token: tokens[agent]!, name: agent }),
    async stop() {
      await Promise.all([...routers, ...legacyPolls, ...elicitations].filter((s) => s.running).map((s) => s.stop()));
      await store.close();
      await backend.cleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One message of a `wait_for_messages` result (the legacy shape). */
export type PolledMessage = LegacyMessage;

export interface PollResult {
  messages: PolledMessage[];
  has_more: boolean;
  cursor: string;
  deprecation?: { message: string; migrate_to: string };
}

export function poll(agent: AnyAgentClient, args: Record<string, unknown> = {}): Promise<PollResult> {
  return agent.callToolJson<PollResult>('wait_for_messages', args);
}

/** Polls until `count` messages arrived (acknowledging as it goes) or the deadline passes. */
export async function receive(agent: AnyAgentClient, count: number, deadlineMs = 60_000, startCursor?: string): Promise<{ messages: PolledMessage[]; cursor: string | undefined }> {
  const messages: PolledMessage[] = [];
  let cursor = startCursor;
  const deadline = Date.now() + deadlineMs;
  while (messages.length < count && Date.now() < deadline) {
    const result = await poll(agent, { ...(cursor ? { cursor } : {}), timeout_ms: 2_000, max_messages: 500 });
    messages.push(...result.messages);
    cursor = result.cursor;
  }
  return { messages, cursor };
}

/**
 * An agent's mailbox read across calls: each call returns its next `count` messages, acknowledging
 * as it goes (the cursor is kept between calls). `agent` is read at each call, so it may be
 * connected after the reader is made.
 */
export function mailboxReader(agent: () => AnyAgentClient, defaultDeadlineMs = 20_000): (count: number, deadlineMs?: number) => Promise<PolledMessage[]> {
  let cursor: string | undefined;
  return async (count, deadlineMs = defaultDeadlineMs) => {
    const result = await receive(agent(), count, deadlineMs, cursor);
    cursor = result.cursor;
    return result.messages;
  };
}

export interface ReceivedElicitation {
  message: string;
  requestedSchema: Record<string, unknown>;
  receivedAt: number;
}

export interface ModernAgentOptions<G extends ClientGeneration = ClientGeneration> {
  /** Which elicitation replica to connect to (index), unless `url` is given. */
  replica?: number;
  url?: string;
  /** Declare the elicitation capability (default true). */
  elicitation?: boolean;
  /** How to answer each elicitation (default: accept with { response: "ok" }). Return a never-settling promise to never answer. */
  answer?: (request: ReceivedElicitation) => Promise<ElicitResult> | ElicitResult;
  /** Which client (see connectAgent). Default '2025-11-25'. */
  generation?: G;
}

export interface ModernAgent<G extends ClientGeneration = '2025-11-25' | '2026-07-28'> extends AgentClient<G> {
  /** Every elicitation this agent received, in order. */
  received: ReceivedElicitation[];
}

export async function connectModernAgent<G extends ClientGeneration = '2025-11-25'>(url: string, token: string, name: string, options: ModernAgentOptions<G> = {}): Promise<ModernAgent<G>> {
  const received: ReceivedElicitation[] = [];
  const answer = options.answer ?? (() => ({ action: 'accept' as const, content: { response: 'ok' } }));
  const client = await connectAgent<G>({
    url,
    token,
    name,
    ...(options.generation ? { generation: options.generation } : {}),
    capabilities: options.elicitation === false ? {} : { elicitation: {} },
    ...(options.elicitation === false
      ? {}
      : {
          onElicitation: async (params) => {
            const item = { message: params.message, requestedSchema: 'requestedSchema' in params ? params.requestedSchema : {}, receivedAt: Date.now() };
            received.push(item);
            return answer(item);
          },
        }),
  });
  return Object.assign(client, { received });
}
