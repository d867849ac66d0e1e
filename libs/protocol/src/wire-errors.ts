/**
 * Errors that cross the wire to agents. Each has a stable `code` agents can branch on and a
 * sentence a person can act on. Internal errors never reach an agent as-is: the endpoint maps them
 * to one of these (usually UNAVAILABLE or INTERNAL) and logs the cause.
 */
export const TOOL_ERROR_CODES = {
  INVALID_ARGUMENT: 'a field has the wrong type or value',
  UNKNOWN_FIELD: 'the call carried a field the tool does not define',
  INVALID_AGENT_ID: 'an agent id does not follow the agent id rule',
  UNKNOWN_RECIPIENT: 'the recipient is not an agent of this bridge',
  CONTENT_TOO_LARGE: 'content or metadata exceeds the configured size limit',
  INVALID_CURSOR: 'the cursor is malformed or was not issued for this mailbox',
  CURSOR_EXPIRED: 'the cursor is older than the acknowledged position of the mailbox',
  IDEMPOTENCY_CONFLICT: 'an idempotency key was reused with different content',
  UNKNOWN_MESSAGE: 'in_reply_to names a message this agent never received',
  INVALID_SCHEMA: 'requested_schema is not an MCP form schema',
  LEGACY_DISABLED: 'the legacy protocol is switched off; connect to the elicitation endpoint',
  USE_ELICITATION: 'the agent is served by elicitation and dual mode is off',
  ELICITATION_REQUIRED: 'a 2026-07-28 call to wait_for_messages did not declare the elicitation (form) capability the agent is served with',
  REQUEST_STATE_INVALID: 'requestState of a retried call is malformed, too large, or its signature does not verify',
  REQUEST_STATE_EXPIRED: 'requestState of a retried call is past its expiry (or its round was taken back); nothing was settled',
  REQUEST_STATE_FOREIGN: 'requestState of a retried call was issued to another agent',
  RATE_LIMITED: 'the sender sends faster than its rate allows; nothing was stored, retry after details.retryAfterMs',
  BACKLOG_FULL: "too many of the sender's messages are not delivered yet; nothing was stored, retry after details.retryAfterMs",
  STORE_FULL: 'the event store is above its memory high-water mark; nothing was stored, retry after details.retryAfterMs',
  READ_ONLY: 'the bridge is in read-only mode: new sends are refused, replies, answers and delivery go on; retry after details.retryAfterMs',
  LOAD_SHED: 'the bridge is shedding load (its latency is far above its baseline); nothing was stored, retry after details.retryAfterMs',
  UNAVAILABLE: 'the event store could not be reached; retry with the same idempotency key',
  SHUTTING_DOWN: 'the replica serving the call is shutting down; retry at once (with the same idempotency key): another replica serves it',
  INTERNAL: 'an unexpected error; retry, and report it if it persists',
} as const;

export type ToolErrorCode = keyof typeof TOOL_ERROR_CODES;

export class ToolError extends Error {
  readonly code: ToolErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ToolErrorCode, message: string, options?: { details?: Record<string, unknown>; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ToolError';
    this.code = code;
    this.details = options?.details;
  }

  /** The MCP `CallToolResult` for this error: text for people, structured content for programs. */
  toToolResult(): { isError: true; content: Array<{ type: 'text'; text: string }>; structuredContent: Record<string, unknown> } {
    const error: Record<string, unknown> = { code: this.code, message: this.message };
    if (this.details !== undefined) error.details = this.details;
    return {
      isError: true,
      content: [{ type: 'text', text: `${this.code}: ${this.message}` }],
      structuredContent: { error },
    };
  }
}
