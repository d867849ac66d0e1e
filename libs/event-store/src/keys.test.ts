/** Cluster slots as Redis computes them (CLUSTER KEYSLOT), hash tags included. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { clusterSlot, Keys } from './keys.js';

describe('clusterSlot', () => {
  test('matches CLUSTER KEYSLOT for plain keys and hash tags', () => {
    // Values Redis 7.0.15 answered to CLUSTER KEYSLOT.
    assert.equal(clusterSlot('foo'), 12182);
    assert.equal(clusterSlot('123456789'), 12739);
    assert.equal(clusterSlot('{s3}x'), 6970);
    assert.equal(clusterSlot('ab:{s3}:events'), clusterSlot('s3'));
    // An empty tag does not count: the whole key is hashed; only the first tag does.
    assert.equal(clusterSlot('foo{}bar'), 14292);
    assert.equal(clusterSlot('foo{bar}{zap}'), 5061);
    assert.equal(clusterSlot('foo{bar}{zap}'), clusterSlot('bar'));
  });

  test('every key of one agent is in the slot of its shard', () => {
    const keys = new Keys(16, 'ab');
    const slot = clusterSlot(keys.events(keys.shardOf('alice')));
    for (const key of [keys.lane('alice', 'poll'), keys.lane('alice', 'push'), keys.mailbox('alice'), keys.presence('alice'), keys.sendQuota('alice'), keys.pushLease('alice'), keys.lanesBell(keys.shardOf('alice'))]) {
      assert.equal(clusterSlot(key), slot, key);
    }
  });
});
