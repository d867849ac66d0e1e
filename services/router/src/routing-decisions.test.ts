import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DeliveryFailedEvent, MessageEvent, PresenceSession } from '@agent-bridge/event-store';
import { DEFAULT_FLAGS, parseFlagSnapshot, type FlagSnapshot } from '@agent-bridge/flags';
import { newMessageId, toPollPayload, toPushPayload, type Envelope } from '@agent-bridge/protocol';
import { answerOf, decideFailedPush, decideMessage } from './routing-decisions.js';

const flags = (agents: string[], autoFallback = true): FlagSnapshot => parseFlagSnapshot({ ...DEFAULT_FLAGS, version: 1, autoFallback, elicitation: { ...DEFAULT_FLAGS.elicitation, enabled: true, agents } });
const reachable: PresenceSession = { sessionId: 's', replica: 'r', elicitation: { form: true, url: false }, streamOpen: true, expiresAt: Date.now() + 10_000 };

function envelope(extra: Partial<Envelope> = {}): Envelope {
  return { id: newMessageId(), kind: 'message', from: 'alice', to: 'bob', content: 'hello', metadata: {}, sourceProtocol: 'legacy', acceptedAt: 1_000, deadlineAt: 61_000, ...extra };
}
const messageEntry = (env: Envelope): MessageEvent => ({ id: '1-0', fields: {}, type: 'message', envelope: env });

test('a message to a reachable elicitation agent goes to its push lane, keeping the poll payload for a fallback', () => {
  const env = envelope();
  const { decision, fallback, adapterError } = decideMessage(messageEntry(env), flags(['bob']), [reachable], 5);
  assert.equal(decision.lane, 'push');
  assert.equal(decision.via, 'elicitation');
  assert.equal(decision.mode, 'route');
  assert.deepEqual(decision.payload, toPushPayload(env));
  assert.deepEqual(decision.pollPayload, toPollPayload(env));
  assert.equal(decision.communicationEvent.subtype, 'elicitation');
  assert.equal(decision.communicationEvent.timestamp, 5);
  assert.equal(fallback, undefined);
  assert.equal(adapterError, undefined);
});

test('a message to a legacy agent goes to its poll lane with no push payload', () => {
  const { decision, fallback } = decideMessage(messageEntry(envelope()), flags([]), [reachable]);
  assert.equal(decision.lane, 'poll');
  assert.equal(decision.via, 'legacy');
  assert.equal(decision.pollPayload, undefined);
  assert.equal(decision.communicationEvent.subtype, 'legacy_polling');
  assert.equal(fallback, undefined);
});

test('an elicitation agent with no session falls back to the poll lane and says why', () => {
  const { decision, fallback } = decideMessage(messageEntry(envelope()), flags(['bob']), []);
  assert.deepEqual([decision.lane, decision.via, fallback], ['poll', 'legacy_fallback', 'no_session']);
});

test('a message that cannot be shown as an elicitation goes to the poll lane, reporting the adapter error', () => {
  const { decision, fallback, adapterError } = decideMessage(messageEntry(envelope({ content: '' })), flags(['bob']), [reachable]);
  assert.deepEqual([decision.lane, decision.via, fallback], ['poll', 'legacy_fallback', 'no_elicitation_capability']);
  assert.match(adapterError?.message ?? '', /no content to show in an elicitation/);
});

test('a reply carries the answer its waiting elicit call gets', () => {
  const reply = envelope({ kind: 'reply', from: 'bob', to: 'alice', inReplyTo: 'msg_q', content: 'yes', answer: { action: 'accept', content: { ok: true } } });
  const { decision } = decideMessage(messageEntry(reply), flags([]), []);
  assert.deepEqual(decision.answer, answerOf(reply));
  assert.deepEqual(answerOf(reply), { in_reply_to: 'msg_q', message_id: reply.id, responder: 'bob', action: 'accept', text: 'yes', via: 'elicitation', answered_at: 1_000, content: { ok: true } });
  const legacyReply = envelope({ kind: 'reply', inReplyTo: 'msg_q', content: 'sure' });
  assert.deepEqual([answerOf(legacyReply).via, answerOf(legacyReply).action, answerOf(legacyReply).content], ['legacy', 'accept', undefined]);
});

test('a failed push goes to the poll lane with auto-fallback, or back to the push lane without it', () => {
  const env = envelope();
  const failed: DeliveryFailedEvent = { id: '2-0', fields: {}, type: 'delivery.failed', messageId: env.id, target: 'bob', reason: 'timeout', failedLaneEntryId: '1-5', pushPayload: toPushPayload(env), pollPayload: toPollPayload(env) };
  const toPoll = decideFailedPush(failed, flags(['bob'], true));
  assert.deepEqual([toPoll.decision.lane, toPoll.decision.via, toPoll.decision.mode, toPoll.decision.failedLaneEntryId, toPoll.fallback], ['poll', 'legacy_fallback', 'reroute', '1-5', 'push_timeout']);
  assert.deepEqual(toPoll.decision.payload, failed.pollPayload);
  const waits = decideFailedPush(failed, flags(['bob'], false));
  assert.deepEqual([waits.decision.lane, waits.decision.via, waits.fallback], ['push', 'elicitation', undefined]);
  assert.deepEqual(waits.decision.pollPayload, failed.pollPayload);
  const rolledBack = decideFailedPush(failed, flags([], false));
  assert.equal(rolledBack.decision.lane, 'poll', 'an agent moved back to legacy meanwhile gets it on the poll lane');
});
