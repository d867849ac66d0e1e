import { runService } from '@agent-bridge/service-kit';
import { loadLegacyPollConfig } from './config.js';
import { SERVICE_NAME, startLegacyPollService } from './service.js';

await runService(SERVICE_NAME, loadLegacyPollConfig, startLegacyPollService, (config) => ({ replica: config.REPLICA_ID }));
