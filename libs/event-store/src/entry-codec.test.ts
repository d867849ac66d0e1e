/** Lane entries whose stored payload is damaged decode to an entry marked corrupt instead of throwing. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodePollLaneEntry, decodePushLaneEntry, LANE_FIELDS } from './entry-codec.js';

const flat = (payload: string | undefined): string[] => [LANE_FIELDS.messageId, 'm-1', LANE_FIELDS.sequence, '7', LANE_FIELDS.via, 'legacy', ...(payload === undefined ? [] : [LANE_FIELDS.payload, payload])];

describe('lane entry decoding', () => {
  test('an intact payload decodes, with no corrupt marker', () => {
    const poll = decodePollLaneEntry('1-0', flat(JSON.stringify({ message_id: 'm-1', content: 'hello' })));
    assert.equal(poll.corrupt, undefined);
    assert.equal(poll.message.content, 'hello');
    assert.equal(poll.message.sequence, 7);
    const push = decodePushLaneEntry('1-0', flat(JSON.stringify({ message_id: 'm-1', content: 'hello' })));
    assert.equal(push.corrupt, undefined);
    assert.equal((push.payload as unknown as { content: string }).content, 'hello');
  });

  test('a payload that no longer parses, or is not an object, gives an entry marked corrupt that keeps its message id and cursor', () => {
    for (const [payload, why] of [
      ['{"message_id":"m-1","cont', /does not parse as JSON/],
      ['42', /JSON but not an object \(number\)/],
      ['null', /JSON but not an object \(null\)/],
      ['["a"]', /JSON but not an object \(an array\)/],
    ] as const) {
      const poll = decodePollLaneEntry('5-1', flat(payload));
      assert.match(poll.corrupt ?? '', why, payload);
      assert.equal(poll.cursor, '5-1');
      assert.equal(poll.message.message_id, 'm-1');
      const push = decodePushLaneEntry('5-1', flat(payload));
      assert.match(push.corrupt ?? '', why, payload);
      assert.equal(push.messageId, 'm-1');
      assert.deepEqual(push.payload, {});
    }
  });
});
