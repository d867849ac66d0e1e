import { createLogger } from '@agent-bridge/observability';
import { ConfigError, installShutdown } from '@agent-bridge/service-kit';
import { loadElicitationConfig } from './config.js';
import { SERVICE_NAME, startElicitationService } from './service.js';

const bootLogger = createLogger(SERVICE_NAME);
try {
  const config = loadElicitationConfig();
  const logger = createLogger(SERVICE_NAME, config.LOG_LEVEL).child({ replica: config.REPLICA_ID });
  const service = await startElicitationService(config, logger);
  const shutdown = installShutdown({ graceMs: config.SHUTDOWN_GRACE_MS, log: (message, error) => logger.info({ err: error }, message) });
  shutdown.add(() => service.close());
} catch (error) {
  // A bad setting is the operator's to fix: say which, without a stack trace.
  if (error instanceof ConfigError) bootLogger.fatal({ code: error.code }, error.message);
  else bootLogger.fatal({ err: error }, (error as Error).message);
  process.exit(1);
}
