import { runService } from '@agent-bridge/service-kit';
import { loadRouterConfig } from './config.js';
import { SERVICE_NAME, startRouterService } from './service.js';

await runService(SERVICE_NAME, loadRouterConfig, startRouterService, (config) => ({ routerId: config.ROUTER_ID }));
