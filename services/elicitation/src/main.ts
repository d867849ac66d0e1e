import { runService } from '@agent-bridge/service-kit';
import { loadElicitationConfig } from './config.js';
import { SERVICE_NAME, startElicitationService } from './service.js';

await runService(SERVICE_NAME, loadElicitationConfig, startElicitationService, (config) => ({ replica: config.REPLICA_ID }));
