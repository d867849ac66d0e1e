/** Internal store errors. Endpoints map them to wire errors (libs/protocol ToolError); they never cross the wire as-is. */
export type StoreErrorCode =
  | 'STORE_UNAVAILABLE'
  | 'STORE_DEADLINE_EXCEEDED'
  /** Redis refused a write that could grow its memory (maxmemory reached, noeviction): nothing was written. */
  | 'STORE_FULL'
  | 'LEASE_LOST'
  | 'IDEMPOTENCY_CONFLICT'
  /** Stored on the primary, but fewer replicas than required confirmed it in time (REDIS_WAIT_REPLICAS). */
  | 'STORE_NOT_REPLICATED'
  /** The store was created with another SHARD_COUNT (or key layout) than this process's: opening it would look for agents in the wrong shards. */
  | 'STORE_LAYOUT_MISMATCH';

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StoreError';
    this.code = code;
    this.details = options?.details;
  }
}

export function isStoreError(error: unknown, code?: StoreErrorCode): error is StoreError {
  return error instanceof StoreError && (code === undefined || error.code === code);
}
