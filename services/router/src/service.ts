import type { Logger } from '@agent-bridge/observability';
import { startHttpServer, startServiceRuntime } from '@agent-bridge/service-kit';
import type { RouterConfig } from './config.js';
import { ShardBalancer } from './shard-balancer.js';

export const SERVICE_NAME = 'router';

export interface RouterService {
  balancer: ShardBalancer;
  url: string;
  close(): Promise<void>;
}

export async function startRouterService(config: RouterConfig, logger: Logger): Promise<RouterService> {
  let balancer: ShardBalancer | undefined;
  const runtime = await startServiceRuntime({
    service: SERVICE_NAME,
    replica: config.ROUTER_ID,
    config,
    logger,
    store: { communicationLogMaxLength: config.COMMUNICATION_LOG_MAX_LENGTH, listen: 'events' },
    // A rollback must reach routing (and the push-lane drain) within a second: wake every shard.
    onFlagsApplied: () => balancer?.wakeAll(),
  });
  const { metrics, watcher, opened } = runtime;

  balancer = new ShardBalancer(
    { store: opened.store, doorbell: opened.doorbell, keys: opened.keys, flags: () => watcher.current(), metrics, logger },
    {
      routerId: config.ROUTER_ID,
      leaseTtlMs: config.LEASE_TTL_MS,
      batchSize: config.ROUTE_BATCH_SIZE,
      idleRecheckMs: config.IDLE_RECHECK_MS,
      trimIntervalMs: config.TRIM_INTERVAL_MS,
      censusIntervalMs: config.AUDIT_INTERVAL_MS,
      activeAgentWindowMs: config.ACTIVE_AGENT_WINDOW_MS,
    },
  );
  await balancer.start();

  const http = await startHttpServer({
    host: config.HOST,
    port: config.PORT,
    onError: (error, request) => logger.error({ err: error, path: request.url }, 'request failed'),
    routes: runtime.probes(() => ({ shards: balancer.ownedShards() })),
  });
  logger.info({ url: http.url, routerId: config.ROUTER_ID, shards: balancer.ownedShards() }, 'router started');

  return {
    balancer,
    url: http.url,
    async close() {
      http.drain();
      // Leases released here go to the other routers at their next tick, not at expiry.
      await balancer.stop();
      await http.close(1_000);
      await runtime.close();
    },
  };
}
