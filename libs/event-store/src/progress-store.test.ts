import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startRedis, type RedisServerHandle } from '@agent-bridge/testkit';
import { openEventStore, type OpenedEventStore } from './open.js';
import type { AdoptionSample } from './types.js';

let redis: RedisServerHandle;
let opened: OpenedEventStore;

before(async () => {
  redis = await startRedis();
});
after(async () => {
  await opened?.close();
  await redis.cleanup();
});
beforeEach(async () => {
  await opened?.close();
  await redis.client().flushall();
  opened = await openEventStore({ url: redis.url, name: 'progress-test', shardCount: 4 });
});

const sample = (at: number, elicitationOnly: number): AdoptionSample => ({ at: new Date(at).toISOString(), active: 10, elicitationOnly, legacyOnly: 10 - elicitationOnly, both: 0 });

describe('progress store: adoption samples and owner feedback', () => {
  test('adoption samples come back oldest first, from a given time, at most the newest `limit`', async () => {
    let cut = 0;
    for (let i = 0; i < 5; i++) {
      if (i === 2) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        cut = Date.now();
      }
      await opened.store.appendAdoptionSample(sample(Date.now(), i), 3_600_000, 100);
    }
    const all = await opened.store.readAdoptionSamples(0, 100);
    assert.deepEqual(
      all.map((s) => s.elicitationOnly),
      [0, 1, 2, 3, 4],
    );
    assert.deepEqual(
      (await opened.store.readAdoptionSamples(cut, 100)).map((s) => s.elicitationOnly),
      [2, 3, 4],
    );
    assert.deepEqual(
      (await opened.store.readAdoptionSamples(0, 2)).map((s) => s.elicitationOnly),
      [3, 4],
    );
  });

  test('samples older than the retention are trimmed when a new one is appended, and the stream stays bounded by length', async () => {
    const retention = 60_000;
    const key = opened.keys.adoptionSamples();
    // Entries written as if taken long ago (ids are times): the next append trims them by age.
    const client = redis.client();
    for (let i = 0; i < 200; i++) await client.xadd(key, `${1_000 + i}-0`, 's', JSON.stringify(sample(1_000 + i, 1)));
    await opened.store.appendAdoptionSample(sample(Date.now(), 7), retention, 1000);
    const left = await opened.store.readAdoptionSamples(0, 1000);
    assert.ok(left.length < 200, `old samples trimmed by age: ${left.length} left`);
    assert.equal(left.at(-1)!.elicitationOnly, 7);
    // MAXLEN ~ keeps it near the cap even when every sample is young.
    for (let i = 0; i < 300; i++) await opened.store.appendAdoptionSample(sample(Date.now(), 1), 3_600_000, 100);
    assert.ok((await client.xlen(key)) <= 200, `length capped near 100: ${await client.xlen(key)}`);
  });

  test('the latest answer per agent counts: a second answer moves the agent from its old score to its new one', async () => {
    const at = new Date().toISOString();
    assert.deepEqual(await opened.store.recordOwnerFeedback({ agentId: 'alice', score: 2, comment: 'slow', at }, 10), { status: 'recorded', previousScore: null });
    await opened.store.recordOwnerFeedback({ agentId: 'bob', score: 5, comment: '', at }, 10);
    assert.deepEqual(await opened.store.ownerFeedbackSummary(), { byScore: { 1: 0, 2: 1, 3: 0, 4: 0, 5: 1 }, total: 2 });
    assert.deepEqual(await opened.store.recordOwnerFeedback({ agentId: 'alice', score: 4, comment: 'better now', at }, 10), { status: 'recorded', previousScore: 2 });
    assert.deepEqual(await opened.store.ownerFeedbackSummary(), { byScore: { 1: 0, 2: 0, 3: 0, 4: 1, 5: 1 }, total: 2 });
    const answers = await opened.store.readOwnerFeedback(10);
    assert.deepEqual(
      answers.find((a) => a.agentId === 'alice'),
      { agentId: 'alice', score: 4, comment: 'better now', at },
    );
  });

  test('a full feedback store refuses new agents and keeps the answers it has (no eviction), while known agents may still change theirs', async () => {
    const at = new Date().toISOString();
    await opened.store.recordOwnerFeedback({ agentId: 'a1', score: 5, comment: '', at }, 2);
    await opened.store.recordOwnerFeedback({ agentId: 'a2', score: 5, comment: '', at }, 2);
    assert.deepEqual(await opened.store.recordOwnerFeedback({ agentId: 'a3', score: 1, comment: '', at }, 2), { status: 'full' });
    assert.deepEqual(await opened.store.recordOwnerFeedback({ agentId: 'a1', score: 3, comment: '', at }, 2), { status: 'recorded', previousScore: 5 });
    assert.equal((await opened.store.ownerFeedbackSummary()).total, 2);
  });
});
