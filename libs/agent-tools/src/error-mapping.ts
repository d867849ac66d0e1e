import { isStoreError } from '@agent-bridge/event-store';
import { traceIds, type BridgeMetrics, type Logger, type Span } from '@agent-bridge/observability';
import { ToolError } from '@agent-bridge/protocol';
import type { UsageRecorder } from '@agent-bridge/service-kit';
import { STORE_FULL_RETRY_MS } from './send-gate.js';

/** Internal errors → the wire error an agent sees. Store trouble is retryable; anything else is INTERNAL. */
function toWireError(error: unknown): ToolError {
  if (error instanceof ToolError) return error;
  if (isStoreError(error, 'STORE_UNAVAILABLE') || isStoreError(error, 'STORE_DEADLINE_EXCEEDED')) {
    return new ToolError('UNAVAILABLE', 'the bridge cannot reach its event store right now; retry in a moment (with the same idempotency_key, if you set one).', {
      cause: error,
    });
  }
  if (isStoreError(error, 'STORE_NOT_REPLICATED')) {
    return new ToolError(
      'UNAVAILABLE',
      'the bridge stored your message but its event store could not confirm a copy on a replica in time; retry in a moment with the same idempotency_key (it is not stored twice; without one, a retry may be).',
      { cause: error },
    );
  }
  if (isStoreError(error, 'STORE_FULL')) {
    return new ToolError('STORE_FULL', `the bridge's event store is full; nothing was stored. Messages already accepted are still delivered: retry in ${STORE_FULL_RETRY_MS / 1000} s (with the same idempotency_key, if you set one).`, {
      details: { retryAfterMs: STORE_FULL_RETRY_MS },
      cause: error,
    });
  }
  return new ToolError('INTERNAL', 'the bridge hit an unexpected error; retry, and report it to the operators if it persists.', { cause: error });
}

/** The MCP tool host hooks every endpoint uses: wire errors, error metrics and logs, call counts. */
export function toolHostHooks(options: { service: string; protocol: 'legacy' | 'elicitation'; metrics: BridgeMetrics; logger: Logger; usage?: Pick<UsageRecorder, 'call'> }) {
  const { service, protocol, metrics, logger, usage } = options;
  return {
    mapError(error: unknown, tool: string, agentId: string, span?: Span): ToolError {
      const wire = toWireError(error);
      metrics.errors.inc({ component: service, protocol, code: wire.code });
      logger.error({ err: error, tool, agentId, code: wire.code, ...traceIds(span) }, 'tool call failed');
      return wire;
    },
    onCall(tool: string, outcome: string, agentId: string): void {
      metrics.toolCalls.inc({ tool, outcome });
      // The inventory's calls per day: every tools/call request, whatever its outcome.
      usage?.call(agentId, protocol);
    },
  };
}
