import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { DEFAULT_CONTINGENCIES, DEFAULT_FLAGS, FlagsError, INITIAL_ROLLOUT, flagSettingsOf, parseFlagSnapshot, withRollback } from './index.js';
import type { FlagSnapshot } from './index.js';

function publishedSnapshot(): FlagSnapshot {
  return {
    version: 7,
    publishedAt: '2025-03-01T12:30:00.000Z',
    publishedBy: 'controller/rollout',
    rollout: {
      phase: 'rollout',
      stage: 2,
      rollbacks: [{ level: 'partial', trigger: 'alert', count: 1 }],
      lastRollback: { level: 'partial', trigger: 'alert', reason: 'ElicitationErrorSpike', at: '2025-03-01T11:00:00.000Z' },
    },
    contingencies: structuredClone(DEFAULT_CONTINGENCIES) as FlagSnapshot['contingencies'],
    elicitation: { enabled: true, percentage: 25, agents: ['test_agent_alpha', 'canary_*'], excludedAgents: ['*-legacy'] },
    autoFallback: true,
    dualMode: true,
    deprecation: { warnings: true, throttleMs: 250 },
    legacyDisabled: false,
    legacyTimeoutMs: 30_000,
    elicitationTimeoutMs: 5_000,
  };
}

function withChange(mutate: (snapshot: Record<string, any>) => void): unknown {
  const snapshot = structuredClone(publishedSnapshot()) as Record<string, any>;
  mutate(snapshot);
  return snapshot;
}

function invalidityOf(input: unknown): FlagsError {
  try {
    parseFlagSnapshot(input);
  } catch (error) {
    assert.ok(error instanceof FlagsError, `expected a FlagsError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the snapshot to be rejected');
}

test('DEFAULT_FLAGS is a valid snapshot with version 0 and the documented defaults', () => {
  assert.deepEqual(parseFlagSnapshot(DEFAULT_FLAGS), DEFAULT_FLAGS);
  assert.equal(DEFAULT_FLAGS.version, 0);
  assert.deepEqual(flagSettingsOf(DEFAULT_FLAGS), {
    elicitation: { enabled: false, percentage: 0, agents: [], excludedAgents: [] },
    autoFallback: true,
    dualMode: true,
    deprecation: { warnings: false, throttleMs: 0 },
    legacyDisabled: false,
    legacyTimeoutMs: 30_000,
    elicitationTimeoutMs: 5_000,
  });
});

test('DEFAULT_FLAGS cannot be modified by a consumer', () => {
  assert.throws(() => {
    (DEFAULT_FLAGS.elicitation as { percentage: number }).percentage = 50;
  }, TypeError);
  assert.throws(() => {
    DEFAULT_FLAGS.elicitation.agents.push('sneaky');
  }, TypeError);
  assert.equal(DEFAULT_FLAGS.elicitation.percentage, 0);
});

test('a valid published snapshot parses to an equal snapshot', () => {
  assert.deepEqual(parseFlagSnapshot(publishedSnapshot()), publishedSnapshot());
});

test('unknown keys are rejected at every level, naming the field', () => {
  const topLevel = invalidityOf(withChange((s) => (s.rolloutStage = 3)));
  assert.equal(topLevel.code, 'FLAGS_INVALID');
  assert.match(topLevel.message, /rolloutStage: unknown field/);

  const nested = invalidityOf(withChange((s) => (s.elicitation.percent = 3)));
  assert.match(nested.message, /elicitation\.percent: unknown field \(allowed here: enabled, percentage, agents, excludedAgents\)/);

  const deprecation = invalidityOf(withChange((s) => (s.deprecation.enabled = true)));
  assert.match(deprecation.message, /deprecation\.enabled: unknown field/);
});

test('every wrong field is named together with what is expected', () => {
  const error = invalidityOf(
    withChange((s) => {
      s.version = -1;
      s.elicitation.percentage = 150;
      s.dualMode = 'yes';
      s.legacyTimeoutMs = 70_000;
    }),
  );
  assert.deepEqual(error.issues, [
    'version: expected a non-negative integer, got -1',
    'elicitation.percentage: expected an integer from 0 to 100, got 150',
    'dualMode: expected true or false, got "yes"',
    'legacyTimeoutMs: expected an integer from 1000 to 55000, got 70000',
  ]);
  for (const issue of error.issues) assert.ok(error.message.includes(issue), `message lacks: ${issue}`);
});

test('a snapshot missing a field is rejected, naming the missing field', () => {
  const error = invalidityOf(withChange((s) => delete s.elicitation.excludedAgents));
  assert.match(error.message, /elicitation\.excludedAgents: expected a list of agent ids or glob patterns, got nothing \(missing\)/);
});

test('input that is not an object is rejected with FLAGS_INVALID', () => {
  for (const input of [null, undefined, 'flags', 42, []]) {
    assert.equal(invalidityOf(input).code, 'FLAGS_INVALID');
  }
});

test('the FlagsError keeps the validation error as its cause', () => {
  const error = invalidityOf(withChange((s) => (s.version = 'one')));
  assert.ok(error.cause instanceof z.ZodError);
  assert.equal(error.name, 'FlagsError');
  assert.ok(error instanceof Error);
});

test('numeric flags accept their bounds and reject values just outside them', () => {
  const cases: Array<{ set: (s: Record<string, any>, value: number) => void; valid: number[]; invalid: number[] }> = [
    { set: (s, v) => (s.version = v), valid: [0, 1, 2 ** 40], invalid: [-1, 1.5] },
    { set: (s, v) => (s.elicitation.percentage = v), valid: [0, 100, 37], invalid: [-1, 101, 50.5] },
    { set: (s, v) => (s.deprecation.throttleMs = v), valid: [0, 10_000], invalid: [-1, 10_001, 0.5] },
    { set: (s, v) => (s.legacyTimeoutMs = v), valid: [1_000, 55_000], invalid: [999, 55_001, Number.NaN] },
    { set: (s, v) => (s.elicitationTimeoutMs = v), valid: [1_000, 600_000], invalid: [999, 600_001, Infinity] },
  ];
  for (const { set, valid, invalid } of cases) {
    for (const value of valid) parseFlagSnapshot(withChange((s) => set(s, value)));
    for (const value of invalid) {
      assert.throws(() => parseFlagSnapshot(withChange((s) => set(s, value))), FlagsError, `accepted ${value}`);
    }
  }
});

test('agent lists accept ids and globs up to 128 characters and reject empty or longer entries', () => {
  const longest = 'a'.repeat(128);
  const accepted = parseFlagSnapshot(
    withChange((s) => {
      s.elicitation.agents = [longest, 'canary_*', '*', 'エージェント'];
      s.elicitation.excludedAgents = ['*-legacy', 'team.*.batch'];
    }),
  );
  assert.deepEqual(accepted.elicitation.agents, [longest, 'canary_*', '*', 'エージェント']);

  const tooLong = invalidityOf(withChange((s) => (s.elicitation.agents = ['ok', `${longest}b`])));
  assert.match(tooLong.message, /elicitation\.agents\[1\]: expected an agent id or glob pattern/);
  const empty = invalidityOf(withChange((s) => (s.elicitation.excludedAgents = [''])));
  assert.match(empty.message, /elicitation\.excludedAgents\[0\]: expected an agent id or glob pattern/);
  const notAList = invalidityOf(withChange((s) => (s.elicitation.agents = 'alpha,beta')));
  assert.match(notAList.message, /elicitation\.agents: expected a list/);
});

test('publishedAt must be an ISO 8601 timestamp', () => {
  for (const valid of ['2025-03-01T12:30:00Z', '2025-03-01T12:30:00.123Z', '2025-03-01T14:30:00+02:00']) {
    parseFlagSnapshot(withChange((s) => (s.publishedAt = valid)));
  }
  for (const invalid of ['2025-03-01', 'yesterday', '', 1_740_000_000_000]) {
    const error = invalidityOf(withChange((s) => (s.publishedAt = invalid)));
    assert.match(error.message, /publishedAt: expected an ISO 8601 timestamp/);
  }
});

test('publishedBy must be a non-empty string', () => {
  assert.match(invalidityOf(withChange((s) => (s.publishedBy = ''))).message, /publishedBy: expected a non-empty string/);
  assert.match(invalidityOf(withChange((s) => (s.publishedBy = null))).message, /publishedBy: expected a non-empty string, got null/);
});

test('flagSettingsOf drops exactly the publication metadata', () => {
  const settings = flagSettingsOf(publishedSnapshot());
  assert.deepEqual(Object.keys(settings).sort(), ['autoFallback', 'deprecation', 'dualMode', 'elicitation', 'elicitationTimeoutMs', 'legacyDisabled', 'legacyTimeoutMs']);
  assert.equal(settings.elicitation.percentage, 25);
});

test('a snapshot published before the rollout state existed reads as the initial rollout state', () => {
  const { rollout: _rollout, ...older } = publishedSnapshot();
  assert.deepEqual(parseFlagSnapshot(older).rollout, INITIAL_ROLLOUT);
});

test('the rollout state rejects an unknown phase and a rollback level the controller does not know, naming the field', () => {
  const phase = invalidityOf(withChange((s) => (s.rollout.phase = 'week-8')));
  assert.match(phase.message, /rollout\.phase/);
  assert.match(phase.message, /preparation, canary, rollout, stabilization, completion/);
  const level = invalidityOf(withChange((s) => (s.rollout.lastRollback.level = 'everything')));
  assert.match(level.message, /rollout\.lastRollback\.level/);
});

test('withRollback counts rollbacks per level and trigger and replaces the last rollback', () => {
  const once = withRollback(publishedSnapshot().rollout, { level: 'partial', trigger: 'alert', reason: 'again', at: '2025-03-02T00:00:00.000Z' });
  const twice = withRollback(once, { level: 'full', trigger: 'cli', reason: 'drill', at: '2025-03-03T00:00:00.000Z' });
  assert.deepEqual(twice.rollbacks, [
    { level: 'partial', trigger: 'alert', count: 2 },
    { level: 'full', trigger: 'cli', count: 1 },
  ]);
  assert.deepEqual(twice.lastRollback, { level: 'full', trigger: 'cli', reason: 'drill', at: '2025-03-03T00:00:00.000Z' });
  assert.equal(publishedSnapshot().rollout.rollbacks[0]!.count, 1, 'the input state is not modified');
});

test('flagSettingsOf drops the rollout state with the other publication metadata', () => {
  assert.equal('rollout' in flagSettingsOf(publishedSnapshot()), false);
});

test('a snapshot published before the contingencies existed reads as none in force (rolling upgrade)', () => {
  const old = withChange((snapshot) => delete snapshot.contingencies);
  assert.deepEqual(parseFlagSnapshot(old).contingencies, DEFAULT_CONTINGENCIES);
  assert.equal(parseFlagSnapshot(old).contingencies.readOnly.enabled, false);
});

test('the published contingencies are checked: a share above 1 or an unknown read-only trigger is refused with the field named', () => {
  assert.throws(
    () => parseFlagSnapshot(withChange((snapshot) => (snapshot.contingencies.loadShedding.share = 1.5))),
    (error: unknown) => error instanceof FlagsError && /contingencies\.loadShedding\.share/.test(error.message),
  );
  assert.throws(
    () => parseFlagSnapshot(withChange((snapshot) => (snapshot.contingencies.readOnly.trigger = 'gremlins'))),
    (error: unknown) => error instanceof FlagsError && /contingencies\.readOnly\.trigger/.test(error.message),
  );
});
