import type { Logger } from '@agent-bridge/observability';
import { startHttpServer, startServiceRuntime } from '@agent-bridge/service-kit';
import type { RouterConfig } from './config.js';
import { Router } from './router.js';

export const SERVICE_NAME = 'router';

export interface RouterService {
  router: Router;
  url: string;
  close(): Promise<void>;
}

export async function startRouterService(config: RouterConfig, logger: Logger): Promise<RouterService> {
  let router: Router | undefined;
  const runtime = await startServiceRuntime({
    service: SERVICE_NAME,
    replica: config.ROUTER_ID,
    config,
    logger,
    store: { communicationLogMaxLength: config.COMMUNICATION_LOG_MAX_LENGTH, listen: 'events' },
    // A rollback must reach routing (and the push-lane drain) within a second: wake every shard.
    onFlagsApplied: () => router?.wakeAll(),
  });
  const { metrics, watcher, opened } = runtime;

  router = new Router(
    { store: opened.store, doorbell: opened.doorbell, keys: opened.keys, flags: () => watcher.current(), metrics, logger },
    {
      routerId: config.ROUTER_ID,
      leaseTtlMs: config.LEASE_TTL_MS,
      batchSize: config.ROUTE_BATCH_SIZE,
      idleRecheckMs: config.IDLE_RECHECK_MS,
      trimIntervalMs: config.TRIM_INTERVAL_MS,
      auditIntervalMs: config.AUDIT_INTERVAL_MS,
      activeAgentWindowMs: config.ACTIVE_AGENT_WINDOW_MS,
    },
  );
  await router.start();

  const http = await startHttpServer({
    host: config.HOST,
    port: config.PORT,
    onError: (error, request) => logger.error({ err: error, path: request.url }, 'request failed'),
    routes: runtime.probes(() => ({ shards: router.ownedShards() })),
  });
  logger.info({ url: http.url, routerId: config.ROUTER_ID, shards: router.ownedShards() }, 'router started');

  return {
    router,
    url: http.url,
    async close() {
      http.drain();
      // Leases released here go to the other routers at their next tick, not at expiry.
      await router.stop();
      await http.close(1_000);
      await runtime.close();
    },
  };
}
