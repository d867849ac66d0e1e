/**
 * The progress page's own listener (PROGRESS_PORT), apart from the admin API's: an Ingress can
 * route to it without reaching /admin/*. Started by the controller service when PROGRESS_ENABLED.
 */
import { readFileSync } from 'node:fs';
import type { BridgeMetrics, Logger } from '@agent-bridge/observability';
import { startHttpServer } from '@agent-bridge/service-kit';
import { progressRoutes } from './routes.js';
import { AdoptionSampler } from './sampler.js';
import { progressPort, type ProgressSettings } from './settings.js';
import type { ProgressSource } from './source.js';

export interface ProgressPage {
  url: string;
  close(): Promise<void>;
}

export async function startProgressPage(config: ProgressSettings & { HOST: string; PORT: number }, source: ProgressSource, metrics: BridgeMetrics, logger: Logger): Promise<ProgressPage> {
  const token = config.PROGRESS_TOKEN ?? (config.PROGRESS_TOKEN_FILE ? readFileSync(config.PROGRESS_TOKEN_FILE, 'utf8').trim() : undefined);
  const sampler = new AdoptionSampler(source, { intervalMs: config.PROGRESS_SAMPLE_INTERVAL_MS, retentionMs: config.PROGRESS_SAMPLE_RETENTION_MS }, metrics, logger);
  const http = await startHttpServer({
    host: config.HOST,
    port: progressPort(config),
    onError: (error, request) => logger.error({ err: error, path: request.url }, 'progress page request failed'),
    routes: progressRoutes(
      source,
      {
        basePath: config.PROGRESS_BASE_PATH,
        ...(token ? { token } : {}),
        lookup: config.PROGRESS_LOOKUP_ENABLED,
        feedback: config.PROGRESS_FEEDBACK_ENABLED,
        ...(config.PROGRESS_MIGRATION_GUIDE_URL ? { guideUrl: config.PROGRESS_MIGRATION_GUIDE_URL } : {}),
        commentMaxLength: config.PROGRESS_COMMENT_MAX_LENGTH,
        ratePerMinute: config.PROGRESS_RATE_LIMIT_PER_MINUTE,
        trustedProxyHops: config.PROGRESS_TRUSTED_PROXY_HOPS,
        feedbackMaxAgents: config.PROGRESS_FEEDBACK_MAX_AGENTS,
        chartWindowMs: config.PROGRESS_SAMPLE_RETENTION_MS,
      },
      metrics,
      logger,
    ),
  });
  sampler.start();
  logger.info({ url: `${http.url}${config.PROGRESS_BASE_PATH}/`, token: token ? 'required' : 'none' }, 'progress page started');
  return {
    url: `${http.url}${config.PROGRESS_BASE_PATH}/`,
    async close() {
      await sampler.stop();
      await http.close(1_000);
    },
  };
}
