import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toPollPayload, toPushPayload } from './adapter.js';
import { envelopeChecksum, lanePayloadIntact } from './checksum.js';
import type { Envelope } from './envelope.js';

const envelope: Envelope = {
  id: 'msg_01J0000000000000000000000A',
  kind: 'message',
  from: 'alice',
  to: 'bob',
  content: 'the quarterly numbers',
  metadata: { priority: 'high', tags: ['finance', { region: 'eu', year: 2026 }] },
  inReplyTo: 'msg_01J0000000000000000000000B',
  sourceProtocol: 'legacy',
  acceptedAt: 1_764_000_000_000,
  deadlineAt: 1_764_086_400_000,
};

test('the envelope checksum is over what the receiver gets, whatever the key order of the metadata', () => {
  const checksum = envelopeChecksum(envelope);
  assert.match(checksum, /^[0-9a-f]{64}$/);
  const reordered = { ...envelope, metadata: { tags: ['finance', { year: 2026, region: 'eu' }], priority: 'high' } };
  assert.equal(envelopeChecksum(reordered), checksum);
  const later: Envelope = { ...envelope, acceptedAt: 1 };
  assert.equal(envelopeChecksum(later), checksum, 'timestamps are not covered');
  for (const changed of [{ content: 'the quarterly numbers!' }, { from: 'mallory' }, { to: 'carol' }, { id: 'msg_01J0000000000000000000000C' }, { inReplyTo: undefined }, { metadata: { priority: 'low', tags: [] } }]) {
    assert.notEqual(envelopeChecksum({ ...envelope, ...changed }), checksum, JSON.stringify(changed));
  }
});

test('both lane renderings verify against the envelope checksum; a changed payload does not; an entry without a checksum (stored before checksums) is delivered as before', () => {
  const checksum = envelopeChecksum(envelope);
  const poll = toPollPayload(envelope);
  const push = toPushPayload(envelope);
  assert.equal(lanePayloadIntact(poll, 'bob', checksum), true);
  assert.equal(lanePayloadIntact(push, 'bob', checksum), true);
  assert.equal(lanePayloadIntact({ ...poll, content: 'pay the attacker' }, 'bob', checksum), false);
  assert.equal(lanePayloadIntact({ ...push, message: 'pay the attacker' }, 'bob', checksum), false);
  assert.equal(lanePayloadIntact(poll, 'carol', checksum), false, 'delivered to another agent than the target');
  assert.equal(lanePayloadIntact({ ...poll, content: 'anything' }, 'bob', undefined), true);
});
