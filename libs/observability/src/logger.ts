import { pino, type DestinationStream, type Logger, type LevelWithSilent, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * JSON logs on stdout, one line per event, with the service name on every line. Lines about a traced
 * operation add its `trace_id` and `span_id` (`traceIds(span)` from tracing.ts).
 */
export function createLogger(service: string, level: LevelWithSilent = 'info', destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    base: { service, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  return destination ? pino(options, destination) : pino(options);
}
