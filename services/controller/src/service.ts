import { readFileSync } from 'node:fs';
import type { Logger } from '@agent-bridge/observability';
import { AgentRegistry, RelayCredential, RelayTargetPolicy, startHttpServer, startServiceRuntime } from '@agent-bridge/service-kit';
import { prometheusClient, type PrometheusClient } from './analysis.js';
import type { ControllerConfig } from './config.js';
import { Controller } from './controller.js';
import { httpApiRoutes } from './http-api.js';
import { StoreLeaderElector, type LeadershipGate } from './leader.js';
import { startProgressPage, type ProgressPage } from './progress/server.js';
import { channelsFromConfig } from './notify/channels.js';
import { notificationRoutes } from './notify/http-route.js';
import { Notifier } from './notify/notifier.js';
import { notifierOptions } from './notify/settings.js';
import { FileResourceSource } from './sources/file-source.js';
import type { ResourceSource } from './sources/source.js';

export const SERVICE_NAME = 'controller';

export interface ControllerService {
  controller: Controller;
  /** Owner notifications (notify/): the deprecation schedule's notices go through it. */
  notifier: Notifier;
  url: string;
  /** The public progress page (its own listener), when PROGRESS_ENABLED. */
  progressUrl?: string;
  close(): Promise<void>;
}

function secret(value: string | undefined, file: string | undefined): string {
  return value ?? readFileSync(file!, 'utf8').trim();
}

/** Parts that differ in Kubernetes mode (the API source and the Lease gate); see kube/. */
export interface KubernetesParts {
  source: ResourceSource;
  gate: LeadershipGate;
}

export async function startControllerService(config: ControllerConfig, logger: Logger, kubernetes?: (elector: () => StoreLeaderElector) => Promise<KubernetesParts>): Promise<ControllerService> {
  // Read before anything starts: a bad registry file stops the controller with a sentence naming the entry.
  const registry = config.AGENT_TOKENS_FILE ? AgentRegistry.fromFile(config.AGENT_TOKENS_FILE) : undefined;
  const runtime = await startServiceRuntime({ service: SERVICE_NAME, replica: config.CONTROLLER_ID, config, logger });
  const { metrics } = runtime;
  const { store, keys } = runtime.opened;
  let elector: StoreLeaderElector;
  let source: ResourceSource;
  let gate: LeadershipGate | undefined;
  if (config.SOURCE === 'kubernetes') {
    if (!kubernetes) throw new Error('SOURCE=kubernetes needs the Kubernetes parts (main.ts wires them)');
    ({ source, gate } = await kubernetes(() => elector));
  } else {
    source = new FileResourceSource(config.FEATURE_FLAGS_FILE!, store, () => elector.lease(), logger);
  }
  elector = new StoreLeaderElector(store, config.CONTROLLER_ID, config.LEADER_LEASE_TTL_MS, logger, gate);
  const clients = new Map<string, PrometheusClient>();
  // Owner notifications: sent by the leader beside the reconcile loop; the schedule enqueues them.
  const notifier = new Notifier({ store, keys, logger, metrics, channels: channelsFromConfig(config), leaseValue: () => elector.lease()?.value, ...notifierOptions(config) });
  const controller = new Controller(
    {
      store,
      keys,
      source,
      elector,
      metrics,
      logger,
      healthUrls: config.ELICITATION_HEALTH_URLS,
      ...(config.ELICITATION_ENDPOINT_URL ? { elicitationEndpointUrl: config.ELICITATION_ENDPOINT_URL } : {}),
      ...(registry ? { registry } : {}),
      notifier,
      prometheus: (url) => {
        let client = clients.get(url);
        if (!client) clients.set(url, (client = prometheusClient(url, config.PROMETHEUS_TIMEOUT_MS)));
        return client;
      },
    },
    {
      controllerId: config.CONTROLLER_ID,
      reconcileIntervalMs: config.RECONCILE_INTERVAL_MS,
      effectTimeoutMs: config.EFFECT_TIMEOUT_MS,
      activeAgentWindowMs: config.ACTIVE_AGENT_WINDOW_MS,
      inventory: { windowMs: config.INVENTORY_WINDOW_MS, maxAgents: config.INVENTORY_MAX_AGENTS, metricIntervalMs: config.INVENTORY_METRIC_INTERVAL_MS },
    },
  );

  const http = await startHttpServer({
    host: config.HOST,
    port: config.PORT,
    onError: (error, request) => logger.error({ err: error, path: request.url }, 'request failed'),
    routes: {
      ...httpApiRoutes({
        controller,
        adminToken: secret(config.ADMIN_TOKEN, config.ADMIN_TOKEN_FILE),
        webhookToken: secret(config.WEBHOOK_TOKEN, config.WEBHOOK_TOKEN_FILE),
        controllerId: config.CONTROLLER_ID,
        metrics,
        logger,
        adminRequests: store,
        relayCredential: RelayCredential.fromSettings(config, (message) => logger.warn(message)),
        relayTargets: RelayTargetPolicy.fromSettings(config),
        leader: async () => {
          const leader = await store.controllerLeaseHolder();
          if (!leader || leader === config.CONTROLLER_ID) return null;
          const url = await store.lookupReplica(SERVICE_NAME, leader);
          return url ? { id: leader, url } : null;
        },
      }),
      ...notificationRoutes({ notifier, adminToken: secret(config.ADMIN_TOKEN, config.ADMIN_TOKEN_FILE) }),
      ...runtime.probes(() => ({ leader: controller.isLeader() })),
    },
  });
  const advertise = config.ADVERTISE_URL ?? http.url;
  // Other controllers relay admin requests here while this one leads.
  const heartbeat = () => store.heartbeatReplica(SERVICE_NAME, config.CONTROLLER_ID, advertise, config.LEADER_LEASE_TTL_MS * 2).catch(() => undefined);
  await heartbeat();
  const heartbeatTimer = setInterval(() => void heartbeat(), Math.floor(config.LEADER_LEASE_TTL_MS / 2));
  heartbeatTimer.unref();

  await controller.start();
  let progress: ProgressPage | undefined;
  if (config.PROGRESS_ENABLED) {
    progress = await startProgressPage(config, { report: () => controller.report(), inventory: () => controller.inventory(), isLeader: () => controller.isLeader(), store }, metrics, logger);
  }
  notifier.start();
  logger.info({ url: http.url, source: source.kind, controllerId: config.CONTROLLER_ID, registeredAgents: registry?.size ?? null }, 'controller started');

  return {
    controller,
    notifier,
    url: http.url,
    ...(progress ? { progressUrl: progress.url } : {}),
    async close() {
      // Admin requests go to another controller from now on (bridgectl retries a 503 SHUTTING_DOWN);
      // the leader lease is released, not left to expire.
      http.drain();
      clearInterval(heartbeatTimer);
      await progress?.close();
      await notifier.stop(); // before the lease is released: a send in flight is settled by its own claim
      await controller.stop();
      await store.removeReplica(SERVICE_NAME, config.CONTROLLER_ID).catch(() => undefined);
      await http.close(1_000);
      await runtime.close();
    },
  };
}
