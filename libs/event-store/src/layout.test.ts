import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startRedis, type RedisServerHandle } from '@agent-bridge/testkit';
import { isStoreError } from './errors.js';
import { openEventStore } from './open.js';

let redis: RedisServerHandle;
before(async () => (redis = await startRedis()));
after(async () => redis?.cleanup());

test('the first process records the shard count; one with another SHARD_COUNT is refused with what to do, one with the same opens', async () => {
  const first = await openEventStore({ url: redis.url, name: 'layout-a', shardCount: 16, keyPrefix: 'lay' });
  await first.close();
  await assert.rejects(openEventStore({ url: redis.url, name: 'layout-b', shardCount: 32, keyPrefix: 'lay' }), (error) => {
    assert.ok(isStoreError(error, 'STORE_LAYOUT_MISMATCH'));
    assert.match(error.message, /created with SHARD_COUNT=16, but this process has SHARD_COUNT=32/);
    assert.match(error.message, /Start it with SHARD_COUNT=16; to change the shard count, follow docs\/operations\.md/);
    return true;
  });
  const again = await openEventStore({ url: redis.url, name: 'layout-c', shardCount: 16, keyPrefix: 'lay' });
  await again.close();
  const other = await openEventStore({ url: redis.url, name: 'layout-d', shardCount: 32, keyPrefix: 'other' });
  await other.close();
  assert.equal(await redis.client().hget('lay:{control}:layout', 'shard_count'), '16');
});
