import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadBucketVectors } from './bucket-vectors.js';
import { agentBucket } from './index.js';

const vectors = loadBucketVectors();

test("agentBucket matches the strategy's Python bucket for every fixture agent id", () => {
  const mismatches = vectors.filter(({ agentId, bucket }) => agentBucket(agentId) !== bucket).map(({ agentId, bucket }) => ({ agentId, expected: bucket, actual: agentBucket(agentId) }));
  assert.deepEqual(mismatches, []);
});

test('the bucket fixture is broad enough to pin the hash: 250+ ids, non-ASCII and long ids, every bucket', () => {
  assert.ok(vectors.length >= 250, `only ${vectors.length} vectors`);
  const ids = vectors.map((vector) => vector.agentId);
  for (const required of ['test_agent_alpha', 'test_agent_beta', 'monitoring_agent', 'agent-ü', 'エージェント', 'a'.repeat(128)]) {
    assert.ok(ids.includes(required), `fixture lacks ${required}`);
  }
  assert.equal(new Set(vectors.map((vector) => vector.bucket)).size, 100);
});

test('agentBucket is always an integer from 0 to 99', () => {
  for (const { agentId } of vectors) {
    const bucket = agentBucket(agentId);
    assert.ok(Number.isInteger(bucket) && bucket >= 0 && bucket <= 99, `${agentId} → ${bucket}`);
  }
});
