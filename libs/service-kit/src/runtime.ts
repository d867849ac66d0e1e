import { checkDurability, openEventStore, withDeadline, type OpenedEventStore, type OpenEventStoreOptions } from '@agent-bridge/event-store';
import { FlagWatcher, MIGRATION_PHASES, type FlagSnapshot } from '@agent-bridge/flags';
import { BridgeMetrics, TracingConfigError, createLogger, startTracing, type Logger } from '@agent-bridge/observability';
import type { commonSettings } from './config.js';
import { ConfigError } from './config.js';
import { StoreFlagSource } from './flag-source.js';
import type { RouteHandler } from './http.js';
import { probeRoutes } from './probes.js';
import { installShutdown } from './shutdown.js';

/** How often a process repeats which flag snapshot it applies (readers treat older reports as gone). */
const APPLIED_REPORT_INTERVAL_MS = 5_000;

type CommonConfig = { [K in keyof typeof commonSettings]: ReturnType<(typeof commonSettings)[K]['parse']> };

/** What every service runs on: its metrics, the event store (two connections) and the flag watcher. */
export interface ServiceRuntime {
  metrics: BridgeMetrics;
  opened: OpenedEventStore;
  watcher: FlagWatcher;
  /** `/healthz`, `/readyz` (Redis answers within 1 s) and `/metrics`; `detail` adds to the readiness answer. */
  probes(detail?: () => Record<string, unknown>): Record<string, RouteHandler>;
  close(): Promise<void>;
}

export async function startServiceRuntime(options: {
  service: string;
  replica: string;
  config: CommonConfig;
  logger: Logger;
  store?: Partial<Pick<OpenEventStoreOptions, 'communicationLogMaxLength' | 'listen' | 'memoryLimitBytes'>>;
  onFlagsApplied?: (snapshot: FlagSnapshot) => void;
}): Promise<ServiceRuntime> {
  const { config, logger } = options;
  const metrics = new BridgeMetrics(options.service);
  const opened = await openEventStore({
    url: config.REDIS_URL,
    ...(config.REDIS_CLUSTER_NODES ? { clusterNodes: config.REDIS_CLUSTER_NODES } : {}),
    waitReplicas: config.REDIS_WAIT_REPLICAS,
    waitTimeoutMs: config.REDIS_WAIT_TIMEOUT_MS,
    name: `${options.service}:${options.replica}`,
    shardCount: config.SHARD_COUNT,
    keyPrefix: config.KEY_PREFIX,
    commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
    ...options.store,
    onConnectionEvent: (connection, event, detail) => {
      metrics.redisConnectionEvents.inc({ connection, event });
      if (event !== 'ready') logger.warn({ connection, event, err: detail }, 'redis connection event');
    },
  });
  const durability = await checkDurability(opened.redis, config.REDIS_REQUIRED_APPENDFSYNC).catch(async (error: unknown) => {
    await opened.close();
    throw error;
  });
  if (durability.problem) {
    await opened.close();
    throw new ConfigError(durability.problem);
  }
  if (durability.unverified) logger.warn({ observed: durability.observed }, durability.unverified);
  else logger.info({ observed: durability.observed, required: config.REDIS_REQUIRED_APPENDFSYNC }, 'redis durability checked');
  // The controller measures how fast a change takes effect from these reports (and they show which
  // processes lag): one HSET per change, and a refresh every few seconds as a liveness signal.
  const reportApplied = (version: number) => opened.store.recordFlagsApplied(options.service, options.replica, version).catch((error: unknown) => logger.debug({ err: error }, 'could not report the applied flag version'));
  const applied = (snapshot: FlagSnapshot) => {
    metrics.applyFlagSnapshot(snapshot, MIGRATION_PHASES);
    void reportApplied(snapshot.version);
  };
  const watcher = new FlagWatcher(new StoreFlagSource(opened.store, opened.doorbell, opened.keys), {
    pollIntervalMs: config.FLAGS_POLL_INTERVAL_MS,
    logger,
    onApplied: (snapshot) => {
      applied(snapshot);
      options.onFlagsApplied?.(snapshot);
    },
  });
  applied(await watcher.start());
  const appliedHeartbeat = setInterval(() => void reportApplied(watcher.current().version), APPLIED_REPORT_INTERVAL_MS);
  appliedHeartbeat.unref();

  return {
    metrics,
    opened,
    watcher,
    probes: (detail) =>
      probeRoutes({
        ready: async () => {
          try {
            await withDeadline(opened.store.ping(), 1_000, 'redis ping');
            return { ok: true, detail: { flagsVersion: watcher.current().version, flagsStale: watcher.isStale(), ...detail?.() } };
          } catch (error) {
            return { ok: false, detail: { redis: (error as Error).message } };
          }
        },
        metrics: async () => {
          metrics.flagSnapshotStale.set(watcher.isStale() ? 1 : 0);
          return metrics.render();
        },
      }),
    async close() {
      clearInterval(appliedHeartbeat);
      watcher.stop();
      await opened.close();
    },
  };
}

/**
 * A service's `main`: reads its config, starts it, and stops it cleanly on SIGTERM/SIGINT. A bad
 * setting ends the process with one sentence naming it, without a stack trace.
 */
export async function runService<C extends { LOG_LEVEL: string; SHUTDOWN_GRACE_MS: number }>(
  service: string,
  loadServiceConfig: () => C,
  start: (config: C, logger: Logger) => Promise<{ close(): Promise<void> }>,
  childBindings: (config: C) => Record<string, unknown> = () => ({}),
): Promise<void> {
  const bootLogger = createLogger(service);
  try {
    const config = loadServiceConfig();
    const bindings = childBindings(config);
    // Traces are configured by the standard OTEL_* variables, before anything can start a span.
    const instance = bindings.replica ?? bindings.routerId ?? bindings.controllerId;
    const tracing = startTracing({ service, ...(typeof instance === 'string' ? { instance } : {}) });
    const logger = createLogger(service, config.LOG_LEVEL as Parameters<typeof createLogger>[1]).child(bindings);
    if (tracing.enabled) logger.info('tracing on (OTEL_* environment)');
    const running = await start(config, logger);
    const shutdown = installShutdown({ graceMs: config.SHUTDOWN_GRACE_MS, log: (message, error) => logger.info({ err: error }, message) });
    shutdown.add(() => running.close());
    shutdown.add(() => tracing.shutdown());
  } catch (error) {
    if (error instanceof ConfigError || error instanceof TracingConfigError) bootLogger.fatal({ code: error.code }, error.message);
    else bootLogger.fatal({ err: error }, (error as Error).message);
    process.exit(1);
  }
}
