import { isStoreError } from '@agent-bridge/event-store';
import { ToolError } from '@agent-bridge/protocol';

/** Internal errors → the wire error an agent sees. Store trouble is retryable; anything else is INTERNAL. */
export function toWireError(error: unknown): ToolError {
  if (error instanceof ToolError) return error;
  if (isStoreError(error, 'STORE_UNAVAILABLE') || isStoreError(error, 'STORE_DEADLINE_EXCEEDED')) {
    return new ToolError('UNAVAILABLE', 'the bridge cannot reach its event store right now; retry in a moment (with the same idempotency_key, if you set one).', {
      cause: error,
    });
  }
  return new ToolError('INTERNAL', 'the bridge hit an unexpected error; retry, and report it to the operators if it persists.', { cause: error });
}
