import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AGENT_ID_PATTERN, MESSAGE_ID_PATTERN } from './ids.js';
import { ACK_MESSAGES_INPUT_SCHEMA, ELICIT_INPUT_SCHEMA, SEND_MESSAGE_INPUT_SCHEMA, WAIT_FOR_MESSAGES_INPUT_SCHEMA, ackMessagesArgs, elicitArgs, parseToolArguments, sendMessageArgs, waitForMessagesArgs } from './tool-schemas.js';

const CURSOR = '^\\d{1,20}-\\d{1,20}$';
const IDEMPOTENCY_KEY = '^[A-Za-z0-9._:-]{1,128}$';

/**
 * What tools/list advertised when these schemas were written by hand (before they were generated
 * from zod): agents and the MCP SDK read them, so a change to the wire fails here.
 */
test('the generated send_message schema is the one on the wire', () => {
  assert.deepEqual(SEND_MESSAGE_INPUT_SCHEMA, {
    type: 'object',
    additionalProperties: false,
    required: ['to', 'content'],
    properties: {
      to: { type: 'string', pattern: AGENT_ID_PATTERN.source, description: 'Recipient agent id.' },
      content: { type: 'string', description: 'Message text (UTF-8, at most the configured size, 64 KiB by default).' },
      metadata: { type: 'object', description: 'Free-form JSON object delivered with the message.' },
      in_reply_to: { type: 'string', pattern: MESSAGE_ID_PATTERN.source, description: 'message_id of a message you received and are answering.' },
      idempotency_key: { type: 'string', pattern: IDEMPOTENCY_KEY, description: 'Retry-safe key: sending again with the same key and content returns the first message_id and stores nothing new.' },
    },
  });
});

test('the generated wait_for_messages and ack_messages schemas are the ones on the wire', () => {
  assert.deepEqual(WAIT_FOR_MESSAGES_INPUT_SCHEMA, {
    type: 'object',
    additionalProperties: false,
    properties: {
      cursor: { type: 'string', pattern: CURSOR, description: 'The cursor of your previous result. It acknowledges every message up to it; omit it to resume from the last acknowledged position.' },
      timeout_ms: { type: 'integer', minimum: 0, description: 'How long to wait when no message is waiting (default 30000, at most 55000).' },
      max_messages: { type: 'integer', minimum: 1, maximum: 1000, description: 'At most this many messages per result (default 100).' },
    },
  });
  assert.deepEqual(ACK_MESSAGES_INPUT_SCHEMA, {
    type: 'object',
    additionalProperties: false,
    required: ['cursor'],
    properties: { cursor: { type: 'string', pattern: CURSOR, description: 'Acknowledge every message up to and including this cursor.' } },
  });
});

test('the generated elicit schema is the one on the wire, and now also says the message may not be empty (zod always required it)', () => {
  assert.deepEqual(ELICIT_INPUT_SCHEMA, {
    type: 'object',
    additionalProperties: false,
    required: ['to', 'message', 'requested_schema'],
    properties: {
      to: { type: 'string', pattern: AGENT_ID_PATTERN.source, description: 'The agent to ask.' },
      message: { type: 'string', minLength: 1, description: 'What you ask (shown to the agent with your id).' },
      requested_schema: { type: 'object', description: 'MCP form schema of the answer: a flat object of string, number, integer, boolean or enum properties, with titles, defaults and required.' },
      timeout_ms: { type: 'integer', minimum: 1, description: 'How long to wait for the answer (default 30000, at most 55000).' },
      idempotency_key: { type: 'string', pattern: IDEMPOTENCY_KEY, description: 'Retry-safe key, as for send_message.' },
    },
  });
});

test('what the schema advertises is what the arguments are validated against', () => {
  assert.throws(() => parseToolArguments('send_message', sendMessageArgs, { to: 'bob', content: 'x', colour: 'red' }), /does not accept "colour"/);
  assert.throws(() => parseToolArguments('wait_for_messages', waitForMessagesArgs, { max_messages: 1001 }), /"max_messages" is invalid/);
  assert.throws(() => parseToolArguments('ack_messages', ackMessagesArgs, {}), /"cursor" is required/);
  assert.throws(() => parseToolArguments('elicit', elicitArgs, { to: 'bob', message: '', requested_schema: {} }), /"message" is invalid/);
  assert.deepEqual(parseToolArguments('wait_for_messages', waitForMessagesArgs, { timeout_ms: 0 }), { timeout_ms: 0 });
});
