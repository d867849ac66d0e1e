import { z } from 'zod';
import { AGENT_ID_PATTERN, AGENT_ID_RULE, MESSAGE_ID_PATTERN } from './ids.js';
import { ToolError, type ToolErrorCode } from './wire-errors.js';

/** Cursor = the poll-lane stream id of the last message the agent received. */
export const CURSOR_PATTERN = /^\d{1,20}-\d{1,20}$/;
/** Idempotency keys end up inside Redis key names: keep them printable and bounded. */
export const IDEMPOTENCY_KEY_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export const POLL_TIMEOUT_DEFAULT_MS = 30_000;
/** Below the MCP client's default 60 s request timeout, with room for the response to travel. */
export const POLL_TIMEOUT_MAX_MS = 55_000;
export const MAX_MESSAGES_DEFAULT = 100;
export const MAX_MESSAGES_LIMIT = 1000;

export const sendMessageArgs = z
  .object({
    to: z.string().regex(AGENT_ID_PATTERN),
    content: z.string(),
    metadata: z.record(z.string(), z.unknown()).optional(),
    in_reply_to: z.string().regex(MESSAGE_ID_PATTERN).optional(),
    idempotency_key: z.string().regex(IDEMPOTENCY_KEY_PATTERN).optional(),
  })
  .strict();
export type SendMessageArgs = z.infer<typeof sendMessageArgs>;

export const waitForMessagesArgs = z
  .object({
    cursor: z.string().regex(CURSOR_PATTERN).optional(),
    timeout_ms: z.number().int().min(0).optional(),
    max_messages: z.number().int().min(1).max(MAX_MESSAGES_LIMIT).optional(),
  })
  .strict();
export type WaitForMessagesArgs = z.infer<typeof waitForMessagesArgs>;

export const ackMessagesArgs = z.object({ cursor: z.string().regex(CURSOR_PATTERN) }).strict();
export type AckMessagesArgs = z.infer<typeof ackMessagesArgs>;

/** JSON Schemas advertised in tools/list (kept beside the zod schemas they describe). */
export const SEND_MESSAGE_INPUT_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['to', 'content'],
  properties: {
    to: { type: 'string', pattern: AGENT_ID_PATTERN.source, description: 'Recipient agent id.' },
    content: { type: 'string', description: 'Message text (UTF-8, at most the configured size, 64 KiB by default).' },
    metadata: { type: 'object', description: 'Free-form JSON object delivered with the message.' },
    in_reply_to: { type: 'string', pattern: MESSAGE_ID_PATTERN.source, description: 'message_id of a message you received and are answering.' },
    idempotency_key: {
      type: 'string',
      pattern: IDEMPOTENCY_KEY_PATTERN.source,
      description: 'Retry-safe key: sending again with the same key and content returns the first message_id and stores nothing new.',
    },
  },
} as const;

export const WAIT_FOR_MESSAGES_INPUT_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    cursor: {
      type: 'string',
      pattern: CURSOR_PATTERN.source,
      description: 'The cursor of your previous result. It acknowledges every message up to it; omit it to resume from the last acknowledged position.',
    },
    timeout_ms: {
      type: 'integer',
      minimum: 0,
      description: `How long to wait when no message is waiting (default ${POLL_TIMEOUT_DEFAULT_MS}, at most ${POLL_TIMEOUT_MAX_MS}).`,
    },
    max_messages: { type: 'integer', minimum: 1, maximum: MAX_MESSAGES_LIMIT, description: `At most this many messages per result (default ${MAX_MESSAGES_DEFAULT}).` },
  },
} as const;

export const ACK_MESSAGES_INPUT_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['cursor'],
  properties: {
    cursor: { type: 'string', pattern: CURSOR_PATTERN.source, description: 'Acknowledge every message up to and including this cursor.' },
  },
} as const;

const FIELD_CODES: Record<string, { code: ToolErrorCode; rule: string }> = {
  to: { code: 'INVALID_AGENT_ID', rule: `an agent id (${AGENT_ID_RULE})` },
  in_reply_to: { code: 'INVALID_ARGUMENT', rule: 'the message_id of a message you received (msg_ followed by 26 characters)' },
  cursor: { code: 'INVALID_CURSOR', rule: 'the cursor string returned by your previous wait_for_messages call' },
  idempotency_key: { code: 'INVALID_ARGUMENT', rule: '1 to 128 characters: letters, digits, ".", "_", ":" or "-"' },
};

/**
 * Validates tool arguments and turns the first problem into a ToolError whose message names the
 * field, what it must be, and what was received.
 */
export function parseToolArguments<S extends z.ZodType>(tool: string, schema: S, args: unknown): z.infer<S> {
  const result = schema.safeParse(args ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const allowed = schema instanceof z.ZodObject ? Object.keys(schema.shape).join(', ') : '';
    throw new ToolError(
      'UNKNOWN_FIELD',
      `${tool} does not accept ${issue.keys.map((k) => `"${k}"`).join(', ')}; remove it. Accepted fields: ${allowed}.`,
      { details: { fields: issue.keys } },
    );
  }
  const field = issue.path.map(String).join('.') || '(arguments)';
  const known = FIELD_CODES[issue.path[0] as string];
  const received = describeValue(pathValue(args, issue.path));
  if (issue.code === 'invalid_format' && known) {
    throw new ToolError(known.code, `${tool}: "${field}" must be ${known.rule}; got ${received}.`, { details: { field } });
  }
  if (issue.code === 'invalid_type' && received === 'nothing') {
    throw new ToolError('INVALID_ARGUMENT', `${tool}: "${field}" is required.`, { details: { field } });
  }
  throw new ToolError('INVALID_ARGUMENT', `${tool}: "${field}" is invalid: ${issue.message.toLowerCase()}; got ${received}.`, {
    details: { field },
  });
}

function pathValue(value: unknown, path: PropertyKey[]): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value);
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

export const ELICIT_TIMEOUT_DEFAULT_MS = 30_000;

export const elicitArgs = z
  .object({
    to: z.string().regex(AGENT_ID_PATTERN),
    message: z.string().min(1),
    requested_schema: z.record(z.string(), z.unknown()),
    timeout_ms: z.number().int().min(1).optional(),
    idempotency_key: z.string().regex(IDEMPOTENCY_KEY_PATTERN).optional(),
  })
  .strict();
export type ElicitArgs = z.infer<typeof elicitArgs>;

export const ELICIT_INPUT_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['to', 'message', 'requested_schema'],
  properties: {
    to: { type: 'string', pattern: AGENT_ID_PATTERN.source, description: 'The agent to ask.' },
    message: { type: 'string', description: 'What you ask (shown to the agent with your id).' },
    requested_schema: {
      type: 'object',
      description: 'MCP form schema of the answer: a flat object of string, number, integer, boolean or enum properties, with titles, defaults and required.',
    },
    timeout_ms: { type: 'integer', minimum: 1, description: `How long to wait for the answer (default ${ELICIT_TIMEOUT_DEFAULT_MS}, at most ${POLL_TIMEOUT_MAX_MS}).` },
    idempotency_key: { type: 'string', pattern: IDEMPOTENCY_KEY_PATTERN.source, description: 'Retry-safe key, as for send_message.' },
  },
} as const;
