import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseFeatureFlags } from '@agent-bridge/flags';
import type { PrometheusClient } from '../prometheus.js';
import { initialStatus } from '../status.js';
import { evaluateScorecard } from './scorecard.js';

const specOf = (attestations: unknown[] = []) =>
  parseFeatureFlags({ apiVersion: 'agentbridge.io/v1alpha1', kind: 'FeatureFlags', metadata: { name: 'agent-bridge' }, spec: { phase: 'stabilization', flags: { elicitation: { enabled: true } }, attestations } }).spec;

/** Prometheus answering the owner feedback query with `ratio` (null: no answer yet) and nothing else. */
const prometheus = (ratio: number | null): PrometheusClient => ({
  query: async (expr) => (expr.includes('agentbridge_owner_feedback_positive_ratio') ? ratio : expr.includes('agentbridge_flag_snapshot_version') ? 1 : null),
  vector: async () => [],
  range: async () => [],
});

const ownerFeedback = async (ratio: number | null, attestations: unknown[] = []) => (await evaluateScorecard(specOf(attestations), initialStatus(), prometheus(ratio), Date.now())).criteria.find((c) => c.id === 'owner-feedback')!;

describe('scorecard: owner feedback from the progress page', () => {
  test('measured once owners answered: pass at 90 % positive or more, fail below', async () => {
    assert.deepEqual(await ownerFeedback(0.92), { ...(await ownerFeedback(0.92)), value: 0.92, result: 'pass', source: 'prometheus', display: '92.0 % of answers positive' });
    const below = await ownerFeedback(0.75);
    assert.equal(below.result, 'fail');
    assert.equal(below.source, 'prometheus');
  });

  test('before any answer, or without Prometheus, an attestation counts; without one it is pending', async () => {
    assert.equal((await ownerFeedback(null)).result, 'pending');
    const spec = specOf([{ criterion: 'owner-feedback', result: 'fail', by: 'pm-lee', at: '2026-12-01T00:00:00Z', evidence: 'https://survey.example.com/41' }]);
    const withoutPrometheus = (await evaluateScorecard(spec, initialStatus(), undefined, Date.now())).criteria.find((c) => c.id === 'owner-feedback')!;
    assert.equal(withoutPrometheus.result, 'fail');
    assert.equal(withoutPrometheus.source, 'attestation');
    const attested = await ownerFeedback(null, [{ criterion: 'owner-feedback', by: 'pm-lee', at: '2026-12-01T00:00:00Z', evidence: 'https://survey.example.com/42' }]);
    assert.equal(attested.result, 'pass');
    assert.equal(attested.source, 'attestation');
  });
});
