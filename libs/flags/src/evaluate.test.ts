import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadBucketVectors } from './bucket-vectors.js';
import { DEFAULT_FLAGS, compileAgentMatcher, evaluateProtocol } from './index.js';
import type { FlagSnapshot } from './index.js';

const vectors = loadBucketVectors();

function agentInBucket(bucket: number): string {
  const vector = vectors.find((candidate) => candidate.bucket === bucket);
  assert.ok(vector, `the fixture has no agent in bucket ${bucket}`);
  return vector.agentId;
}

function flagsWith(elicitation: Partial<FlagSnapshot['elicitation']>): FlagSnapshot {
  return {
    ...DEFAULT_FLAGS,
    version: 1,
    elicitation: { enabled: true, percentage: 0, agents: [], excludedAgents: [], ...elicitation },
  };
}

test('with the master switch off every agent is served legacy, even opted-in agents at 100 percent', () => {
  const flags = flagsWith({ enabled: false, percentage: 100, agents: ['test_agent_alpha', '*'] });
  for (const agentId of ['test_agent_alpha', 'anyone', agentInBucket(0)]) {
    assert.deepEqual(evaluateProtocol(flags, agentId), { protocol: 'legacy', reason: 'master_off' });
  }
});

test('the built-in defaults serve every agent legacy because the master switch is off', () => {
  assert.deepEqual(evaluateProtocol(DEFAULT_FLAGS, 'test_agent_alpha'), { protocol: 'legacy', reason: 'master_off' });
});

test('an excluded agent stays legacy even when opted in and inside the percentage', () => {
  const flags = flagsWith({ percentage: 100, agents: ['test_agent_alpha'], excludedAgents: ['test_agent_alpha'] });
  assert.deepEqual(evaluateProtocol(flags, 'test_agent_alpha'), { protocol: 'legacy', reason: 'excluded' });
  assert.deepEqual(evaluateProtocol(flags, 'test_agent_beta'), { protocol: 'elicitation', reason: 'percentage' });
});

test('an exclusion glob matches whole agent ids and beats an opt-in glob', () => {
  const flags = flagsWith({ percentage: 100, agents: ['canary_*'], excludedAgents: ['canary_*'] });
  assert.deepEqual(evaluateProtocol(flags, 'canary_7'), { protocol: 'legacy', reason: 'excluded' });
  assert.deepEqual(evaluateProtocol(flags, 'canary_'), { protocol: 'legacy', reason: 'excluded' });
  assert.equal(evaluateProtocol(flags, 'old_canary_7').reason, 'percentage');
  assert.equal(evaluateProtocol(flags, 'Canary_7').reason, 'percentage');
});

test('an opted-in agent gets elicitation even at percentage 0', () => {
  const flags = flagsWith({ percentage: 0, agents: ['test_agent_alpha', 'canary_*'] });
  assert.deepEqual(evaluateProtocol(flags, 'test_agent_alpha'), { protocol: 'elicitation', reason: 'opt_in' });
  assert.deepEqual(evaluateProtocol(flags, 'canary_eu-1'), { protocol: 'elicitation', reason: 'opt_in' });
  assert.deepEqual(evaluateProtocol(flags, 'test_agent_beta'), { protocol: 'legacy', reason: 'not_selected' });
});

test('opt-in wins over the percentage bucket', () => {
  const agentId = agentInBucket(99);
  assert.deepEqual(evaluateProtocol(flagsWith({ percentage: 100, agents: [agentId] }), agentId), {
    protocol: 'elicitation',
    reason: 'opt_in',
  });
});

test('glob patterns match the whole id, treat only * as a wildcard and everything else literally', () => {
  const matcher = compileAgentMatcher(['team.*.batch', 'a+b', '(x)', '*-early', 'pre*mid*post', 'エージェント*']);
  const matching = ['team.search.batch', 'team..batch', 'a+b', '(x)', 'eu-early', '-early', 'premidpost', 'pre-x-mid-y-post', 'エージェント1'];
  const notMatching = ['teamXsearchXbatch', 'team.search.batch2', 'xteam.a.batch', 'aab', 'ab', 'x', 'early', 'eu-early-2', 'premid', 'エージェン'];
  for (const agentId of matching) assert.ok(matcher.matches(agentId), `${agentId} should match`);
  for (const agentId of notMatching) assert.ok(!matcher.matches(agentId), `${agentId} should not match`);
});

test('a lone * selects every agent', () => {
  const flags = flagsWith({ agents: ['*'] });
  for (const { agentId } of vectors) assert.equal(evaluateProtocol(flags, agentId).reason, 'opt_in', agentId);
});

test('an agent is selected by percentage exactly when its bucket is below the percentage', () => {
  for (let percentage = 0; percentage <= 100; percentage++) {
    const flags = flagsWith({ percentage });
    for (const { agentId, bucket } of vectors) {
      const expected = bucket < percentage ? { protocol: 'elicitation', reason: 'percentage' } : { protocol: 'legacy', reason: 'not_selected' };
      assert.deepEqual(evaluateProtocol(flags, agentId), expected, `${agentId} (bucket ${bucket}) at ${percentage}%`);
    }
  }
});

test('percentage 0 selects no agent and percentage 100 selects every agent', () => {
  const nobody = flagsWith({ percentage: 0 });
  const everybody = flagsWith({ percentage: 100 });
  assert.equal(evaluateProtocol(nobody, agentInBucket(0)).protocol, 'legacy');
  assert.equal(evaluateProtocol(everybody, agentInBucket(99)).protocol, 'elicitation');
  for (const { agentId } of vectors) {
    assert.deepEqual(evaluateProtocol(nobody, agentId), { protocol: 'legacy', reason: 'not_selected' }, agentId);
    assert.deepEqual(evaluateProtocol(everybody, agentId), { protocol: 'elicitation', reason: 'percentage' }, agentId);
  }
});

test('raising the percentage never moves an elicitation agent back to legacy', () => {
  for (const { agentId } of vectors) {
    let migratedAt: number | undefined;
    for (let percentage = 0; percentage <= 100; percentage++) {
      const { protocol } = evaluateProtocol(flagsWith({ percentage }), agentId);
      if (protocol === 'elicitation') migratedAt ??= percentage;
      else assert.equal(migratedAt, undefined, `${agentId} went back to legacy at ${percentage}% after migrating at ${migratedAt}%`);
    }
    assert.notEqual(migratedAt, undefined, `${agentId} never migrated`);
  }
});

test("the strategy's agents land where the strategy puts them", () => {
  // Buckets from Python: test_agent_alpha 68, test_agent_beta 30, monitoring_agent 65.
  const at50 = flagsWith({ percentage: 50 });
  assert.equal(evaluateProtocol(at50, 'test_agent_beta').protocol, 'elicitation');
  assert.equal(evaluateProtocol(at50, 'monitoring_agent').protocol, 'legacy');
  assert.equal(evaluateProtocol(flagsWith({ percentage: 68 }), 'test_agent_alpha').protocol, 'legacy');
  assert.equal(evaluateProtocol(flagsWith({ percentage: 69 }), 'test_agent_alpha').protocol, 'elicitation');
});

test('each snapshot object is evaluated against its own agent lists', () => {
  const before = flagsWith({ percentage: 100, excludedAgents: ['canary_*'] });
  assert.equal(evaluateProtocol(before, 'canary_1').reason, 'excluded');
  const after = { ...before, elicitation: { ...before.elicitation, excludedAgents: [], agents: ['canary_*'] } };
  assert.equal(evaluateProtocol(after, 'canary_1').reason, 'opt_in');
  assert.equal(evaluateProtocol(before, 'canary_1').reason, 'excluded');
});

test('agent lists are compiled once per snapshot, not once per evaluation', () => {
  let listReads = 0;
  const countingList = (items: string[]): string[] => {
    const list = [...items];
    const iterate = list[Symbol.iterator].bind(list);
    Object.defineProperty(list, Symbol.iterator, {
      value: () => {
        listReads++;
        return iterate();
      },
    });
    return list;
  };
  const flags = flagsWith({ agents: countingList(['canary_*']), excludedAgents: countingList(['batch.*']) });
  for (const { agentId } of vectors) evaluateProtocol(flags, agentId);
  assert.equal(listReads, 2);
});
