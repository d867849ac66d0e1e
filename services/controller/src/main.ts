import { runService } from '@agent-bridge/service-kit';
import { loadControllerConfig } from './config.js';
import { SERVICE_NAME, startControllerService } from './service.js';

await runService(SERVICE_NAME, loadControllerConfig, (config, logger) => startControllerService(config, logger), (config) => ({ controllerId: config.CONTROLLER_ID }));
