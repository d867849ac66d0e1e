import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_REPLY_SCHEMA, MESSAGE_META_KEY, answerToLegacyContent, elicitationMessageText, elicitationRequest, toPollPayload, toPushPayload } from './adapter.js';
import type { Envelope } from './envelope.js';
import { derivedMessageId, isMessageId, newMessageId } from './ids.js';

const envelope: Envelope = {
  id: newMessageId(),
  kind: 'message',
  from: 'alice',
  to: 'bob',
  content: 'Hello from legacy',
  metadata: { topic: 'greeting' },
  sourceProtocol: 'legacy',
  acceptedAt: Date.UTC(2026, 10, 26, 1, 2, 3),
  deadlineAt: Date.UTC(2026, 10, 27),
};

test('a message becomes the legacy wait_for_messages shape', () => {
  assert.deepEqual(toPollPayload({ ...envelope, inReplyTo: envelope.id, replySchema: { type: 'object' } }), {
    message_id: envelope.id,
    from: 'alice',
    content: 'Hello from legacy',
    metadata: { topic: 'greeting' },
    timestamp: '2026-11-26T01:02:03.000Z',
    reply_to: envelope.id,
    reply_schema: { type: 'object' },
  });
});

test('a plain message is pushed with the default reply schema; a question with its own schema; the text names the sender', () => {
  const plain = toPushPayload(envelope);
  assert.deepEqual(plain.requestedSchema, DEFAULT_REPLY_SCHEMA);
  assert.equal(elicitationMessageText(plain), `alice says:\n\nHello from legacy\n\n(message ${envelope.id})`);
  const schema = { type: 'object', properties: { ok: { type: 'boolean' } } };
  const question = toPushPayload({ ...envelope, kind: 'elicitation', replySchema: schema });
  assert.deepEqual(question.requestedSchema, schema);
  assert.match(elicitationMessageText(question), /^alice asks:/);
});

test('every delivered elicitation names its message in _meta and in its text', () => {
  const payload = toPushPayload({ ...envelope, inReplyTo: 'm_earlier' });
  const request = elicitationRequest(payload, 7);
  assert.equal(request.mode, 'form');
  assert.deepEqual(request.requestedSchema, DEFAULT_REPLY_SCHEMA);
  assert.deepEqual(request._meta[MESSAGE_META_KEY], {
    message_id: envelope.id,
    from: 'alice',
    kind: 'message',
    sequence: 7,
    timestamp: '2026-11-26T01:02:03.000Z',
    metadata: { topic: 'greeting' },
    in_reply_to: 'm_earlier',
  });
  assert.ok(request.message.startsWith('alice says:'));
  assert.ok(request.message.endsWith(`(message ${envelope.id})`));
});

test('an elicitation answer becomes legacy content: the response text, JSON of a form, or the action', () => {
  assert.equal(answerToLegacyContent({ action: 'accept', content: { response: 'Hello from modern' } }), 'Hello from modern');
  assert.equal(answerToLegacyContent({ action: 'accept', content: { approved: true } }), '{"approved":true}');
  assert.equal(answerToLegacyContent({ action: 'decline' }), '[declined]');
  assert.equal(answerToLegacyContent({ action: 'cancel' }), '[cancelled]');
});

test('a derived message id is a valid id and the same every time', () => {
  const a = derivedMessageId(envelope.id, 'answer');
  assert.ok(isMessageId(a));
  assert.equal(derivedMessageId(envelope.id, 'answer'), a);
  assert.notEqual(derivedMessageId(envelope.id, 'other'), a);
});
