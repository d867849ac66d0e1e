import { z } from 'zod';
import { AGENT_ID_PATTERN, AGENT_ID_RULE, MESSAGE_ID_PATTERN } from './ids.js';
import { ToolError, type ToolErrorCode } from './wire-errors.js';

/** Cursor = the poll-lane stream id of the last message the agent received. */
const CURSOR_PATTERN = /^\d{1,20}-\d{1,20}$/;
/** Idempotency keys end up inside Redis key names: keep them printable and bounded. */
const IDEMPOTENCY_KEY_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

const POLL_TIMEOUT_DEFAULT_MS = 30_000;
/** Below the MCP client's default 60 s request timeout, with room for the response to travel. */
export const POLL_TIMEOUT_MAX_MS = 55_000;
export const MAX_MESSAGES_DEFAULT = 100;
const MAX_MESSAGES_LIMIT = 1000;

export const sendMessageArgs = z
  .object({
    to: z.string().regex(AGENT_ID_PATTERN).describe('Recipient agent id.'),
    content: z.string().describe('Message text (UTF-8, at most the configured size, 64 KiB by default).'),
    metadata: z.record(z.string(), z.unknown()).optional().describe('Free-form JSON object delivered with the message.'),
    in_reply_to: z.string().regex(MESSAGE_ID_PATTERN).optional().describe('message_id of a message you received and are answering.'),
    idempotency_key: z.string().regex(IDEMPOTENCY_KEY_PATTERN).optional().describe('Retry-safe key: sending again with the same key and content returns the first message_id and stores nothing new.'),
  })
  .strict();

export const waitForMessagesArgs = z
  .object({
    cursor: z.string().regex(CURSOR_PATTERN).optional().describe('The cursor of your previous result. It acknowledges every message up to it; omit it to resume from the last acknowledged position.'),
    timeout_ms: z.number().int().min(0).optional().describe(`How long to wait when no message is waiting (default ${POLL_TIMEOUT_DEFAULT_MS}, at most ${POLL_TIMEOUT_MAX_MS}).`),
    max_messages: z.number().int().min(1).max(MAX_MESSAGES_LIMIT).optional().describe(`At most this many messages per result (default ${MAX_MESSAGES_DEFAULT}).`),
  })
  .strict();

export const ackMessagesArgs = z.object({ cursor: z.string().regex(CURSOR_PATTERN).describe('Acknowledge every message up to and including this cursor.') }).strict();

/**
 * The JSON Schema a tool advertises in tools/list, generated from the zod schema that validates
 * its arguments (one definition, two uses). Keywords that constrain nothing are left out: zod's
 * safe-integer bounds on an `int()`, `propertyNames: {type: string}` and `additionalProperties: {}`
 * on a record, the `$schema` line.
 */
function toolInputSchema(schema: z.ZodObject): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { io: 'input' }) as Record<string, unknown>;
  delete json.$schema;
  for (const property of Object.values((json.properties ?? {}) as Record<string, Record<string, unknown>>)) {
    if (property.maximum === Number.MAX_SAFE_INTEGER) delete property.maximum;
    if (property.minimum === Number.MIN_SAFE_INTEGER) delete property.minimum;
    if (JSON.stringify(property.propertyNames) === '{"type":"string"}') delete property.propertyNames;
    if (JSON.stringify(property.additionalProperties) === '{}') delete property.additionalProperties;
  }
  return json;
}

export const SEND_MESSAGE_INPUT_SCHEMA = toolInputSchema(sendMessageArgs);
export const WAIT_FOR_MESSAGES_INPUT_SCHEMA = toolInputSchema(waitForMessagesArgs);
export const ACK_MESSAGES_INPUT_SCHEMA = toolInputSchema(ackMessagesArgs);

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
    throw new ToolError('UNKNOWN_FIELD', `${tool} does not accept ${issue.keys.map((k) => `"${k}"`).join(', ')}; remove it. Accepted fields: ${allowed}.`, { details: { fields: issue.keys } });
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
    to: z.string().regex(AGENT_ID_PATTERN).describe('The agent to ask.'),
    message: z.string().min(1).describe('What you ask (shown to the agent with your id).'),
    requested_schema: z.record(z.string(), z.unknown()).describe('MCP form schema of the answer: a flat object of string, number, integer, boolean or enum properties, with titles, defaults and required.'),
    timeout_ms: z.number().int().min(1).optional().describe(`How long to wait for the answer (default ${ELICIT_TIMEOUT_DEFAULT_MS}, at most ${POLL_TIMEOUT_MAX_MS}).`),
    idempotency_key: z.string().regex(IDEMPOTENCY_KEY_PATTERN).optional().describe('Retry-safe key, as for send_message.'),
  })
  .strict();

export const ELICIT_INPUT_SCHEMA = toolInputSchema(elicitArgs);
