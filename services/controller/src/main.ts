import { runService } from '@agent-bridge/service-kit';
import { loadControllerConfig } from './config.js';
import { SERVICE_NAME, startControllerService } from './service.js';

await runService(
  SERVICE_NAME,
  loadControllerConfig,
  // The Kubernetes client takes seconds to load: only SOURCE=kubernetes pays for it.
  async (config, logger) => startControllerService(config, logger, config.SOURCE === 'kubernetes' ? (await import('./kube.js')).kubernetesParts(config, logger) : undefined),
  (config) => ({ controllerId: config.CONTROLLER_ID }),
);
