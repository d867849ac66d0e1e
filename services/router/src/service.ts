import { openEventStore, StoreFlagSource, withDeadline } from '@agent-bridge/event-store';
import { FlagWatcher } from '@agent-bridge/flags';
import { BridgeMetrics, type Logger } from '@agent-bridge/observability';
import { probeRoutes, startHttpServer } from '@agent-bridge/service-kit';
import type { RouterConfig } from './config.js';
import { Router } from './router.js';

export const SERVICE_NAME = 'router';

export interface RouterService {
  router: Router;
  url: string;
  close(): Promise<void>;
}

export async function startRouterService(config: RouterConfig, logger: Logger): Promise<RouterService> {
  const metrics = new BridgeMetrics(SERVICE_NAME);
  const opened = await openEventStore({
    url: config.REDIS_URL,
    name: `${SERVICE_NAME}:${config.ROUTER_ID}`,
    shardCount: config.SHARD_COUNT,
    keyPrefix: config.KEY_PREFIX,
    commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
    communicationLogMaxLength: config.COMMUNICATION_LOG_MAX_LENGTH,
    onConnectionEvent: (connection, event, detail) => {
      metrics.redisConnectionEvents.inc({ connection, event });
      if (event !== 'ready') logger.warn({ connection, event, err: detail }, 'redis connection event');
    },
  });
  const watcher = new FlagWatcher(new StoreFlagSource(opened.store, opened.doorbell, opened.keys), {
    pollIntervalMs: config.FLAGS_POLL_INTERVAL_MS,
    logger,
    onApplied: (snapshot) => {
      metrics.flagSnapshotVersion.set(snapshot.version);
      metrics.flagPercentage.set(snapshot.elicitation.percentage);
      router?.wakeAll();
    },
  });
  const initial = await watcher.start();
  metrics.flagSnapshotVersion.set(initial.version);
  metrics.flagPercentage.set(initial.elicitation.percentage);

  let router: Router | undefined;
  router = new Router(
    { store: opened.store, doorbell: opened.doorbell, keys: opened.keys, flags: () => watcher.current(), metrics, logger },
    {
      routerId: config.ROUTER_ID,
      leaseTtlMs: config.LEASE_TTL_MS,
      batchSize: config.ROUTE_BATCH_SIZE,
      idleRecheckMs: config.IDLE_RECHECK_MS,
      trimIntervalMs: config.TRIM_INTERVAL_MS,
    },
  );
  await router.start();

  const http = await startHttpServer({
    host: config.HOST,
    port: config.PORT,
    onError: (error, request) => logger.error({ err: error, path: request.url }, 'request failed'),
    routes: probeRoutes({
      ready: async () => {
        try {
          await withDeadline(opened.store.ping(), 1_000, 'redis ping');
          return { ok: true, detail: { shards: router.ownedShards(), flagsVersion: watcher.current().version } };
        } catch (error) {
          return { ok: false, detail: { redis: (error as Error).message } };
        }
      },
      metrics: async () => {
        metrics.flagSnapshotStale.set(watcher.isStale() ? 1 : 0);
        return metrics.render();
      },
    }),
  });
  logger.info({ url: http.url, routerId: config.ROUTER_ID, shards: router.ownedShards() }, 'router started');

  return {
    router,
    url: http.url,
    async close() {
      await router.stop();
      await http.close(1_000);
      watcher.stop();
      await opened.close();
    },
  };
}
