import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_FLAGS, FLAG_PATHS, FlagsError, applyFlagAssignment, diffFlags, flagSettingsOf, parseFlagFile, renderFlagFile } from './index.js';
import type { FlagSettings, FlagSnapshot } from './index.js';

const SOURCE = 'deploy/local/flags.yaml';

const DOCUMENTED_EXAMPLE = `# deploy/local/flags.yaml
elicitation:
  enabled: false
  percentage: 0
  agents: []
  excludedAgents: []
compatibility:
  dualMode: true
  autoFallback: true
  legacyTimeoutMs: 30000
  elicitationTimeoutMs: 5000
deprecation:
  warnings: false
  throttleMs: 0
legacyDisabled: false
`;

const defaults = (): FlagSettings => structuredClone(flagSettingsOf(DEFAULT_FLAGS));

function rolloutSettings(): FlagSettings {
  return {
    elicitation: {
      enabled: true,
      percentage: 25,
      agents: ['test_agent_alpha', 'canary_*', '*-early', 'エージェント'],
      excludedAgents: ['monitoring_agent', 'batch.*'],
    },
    autoFallback: false,
    dualMode: true,
    deprecation: { warnings: true, throttleMs: 1_500 },
    legacyDisabled: false,
    legacyTimeoutMs: 45_000,
    elicitationTimeoutMs: 120_000,
  };
}

function flagsErrorFrom(action: () => unknown): FlagsError {
  try {
    action();
  } catch (error) {
    assert.ok(error instanceof FlagsError, `expected a FlagsError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a FlagsError');
}

test('the documented example file parses to the default settings', () => {
  assert.deepEqual(parseFlagFile(DOCUMENTED_EXAMPLE, SOURCE), defaults());
});

test('missing keys in the flag file take their defaults', () => {
  const settings = parseFlagFile('elicitation:\n  enabled: true\n  percentage: 25\ndeprecation:\n  warnings: true\n', SOURCE);
  const expected = defaults();
  expected.elicitation.enabled = true;
  expected.elicitation.percentage = 25;
  expected.deprecation.warnings = true;
  assert.deepEqual(settings, expected);
});

test('an empty or comment-only flag file means all defaults', () => {
  assert.deepEqual(parseFlagFile('', SOURCE), defaults());
  assert.deepEqual(parseFlagFile('# nothing configured yet\n', SOURCE), defaults());
});

test("a section whose keys are all commented out takes that section's defaults", () => {
  assert.deepEqual(parseFlagFile('compatibility:\n  # dualMode: false\nlegacyDisabled: true\n', SOURCE), {
    ...defaults(),
    legacyDisabled: true,
  });
});

test('parsed settings do not share lists with DEFAULT_FLAGS', () => {
  const settings = parseFlagFile('', SOURCE);
  settings.elicitation.agents.push('alpha');
  assert.deepEqual(DEFAULT_FLAGS.elicitation.agents, []);
});

test('an unknown key in the flag file is an error naming the key, its line and the file', () => {
  const topLevel = flagsErrorFrom(() => parseFlagFile('legacyDisabled: false\nrolloutPlan: []\n', SOURCE));
  assert.equal(topLevel.code, 'FLAGS_INVALID');
  assert.match(topLevel.message, /^deploy\/local\/flags\.yaml: invalid flag file/);
  assert.match(topLevel.message, /deploy\/local\/flags\.yaml:2: rolloutPlan: unknown field/);

  const nested = flagsErrorFrom(() => parseFlagFile('compatibility:\n  dualMode: true\n  fallback: true\n', SOURCE));
  assert.match(nested.message, /deploy\/local\/flags\.yaml:3: compatibility\.fallback: unknown field \(allowed here: dualMode, autoFallback, legacyTimeoutMs, elicitationTimeoutMs\)/);
});

test("snapshot-only key layouts and the strategy's snake_case names are rejected with a pointer to the right key", () => {
  const snakeCase = flagsErrorFrom(() => parseFlagFile('compatibility:\n  dual_mode: true\n', SOURCE));
  assert.match(snakeCase.message, /compatibility\.dual_mode: unknown field \(.*did you mean dualMode\?\)/);

  const wrapped = flagsErrorFrom(() => parseFlagFile('migration:\n  phase: canary\n', SOURCE));
  assert.match(wrapped.message, /migration: unknown field \(.*no migration: wrapper/);

  const snapshotLayout = flagsErrorFrom(() => parseFlagFile('dualMode: true\n', SOURCE));
  assert.match(snapshotLayout.message, /:1: dualMode: unknown field/);
});

test('an invalid value in the flag file names the file, line, field and what is expected', () => {
  const text = 'elicitation:\n  enabled: true\n  percentage: 250\n  agents:\n    - alpha\n    - ""\ncompatibility:\n  legacyTimeoutMs: 90000\n';
  const error = flagsErrorFrom(() => parseFlagFile(text, SOURCE));
  assert.deepEqual(error.issues, [
    'deploy/local/flags.yaml:3: elicitation.percentage: expected an integer from 0 to 100, got 250',
    'deploy/local/flags.yaml:6: elicitation.agents[1]: expected an agent id or glob pattern: a non-empty string of at most 128 characters, got ""',
    'deploy/local/flags.yaml:8: compatibility.legacyTimeoutMs: expected an integer from 1000 to 55000, got 90000',
  ]);
});

test('YAML 1.1 words such as yes and on are not booleans in the flag file', () => {
  for (const word of ['yes', 'on', 'True1', '"true"']) {
    const error = flagsErrorFrom(() => parseFlagFile(`legacyDisabled: ${word}\n`, SOURCE));
    assert.match(error.message, /legacyDisabled: expected true or false/);
  }
});

test('a flag file whose top level is not a mapping is rejected', () => {
  const error = flagsErrorFrom(() => parseFlagFile('- elicitation\n', SOURCE));
  assert.equal(error.code, 'FLAGS_INVALID');
  assert.match(error.message, /deploy\/local\/flags\.yaml:1: \(top level\): expected a mapping, got a list/);
});

test('a flag file that is not well-formed YAML is a FLAGS_FILE_SYNTAX error naming the file', () => {
  const unclosed = flagsErrorFrom(() => parseFlagFile('elicitation:\n  agents: [alpha\n', SOURCE));
  assert.equal(unclosed.code, 'FLAGS_FILE_SYNTAX');
  assert.match(unclosed.message, /^deploy\/local\/flags\.yaml: not valid YAML/);
  assert.ok(unclosed.cause instanceof Error);

  const duplicate = flagsErrorFrom(() => parseFlagFile('legacyDisabled: false\nlegacyDisabled: true\n', SOURCE));
  assert.equal(duplicate.code, 'FLAGS_FILE_SYNTAX');
  assert.match(duplicate.message, /unique/);
});

test('a rendered flag file parses back to the same settings', () => {
  for (const settings of [defaults(), rolloutSettings()]) {
    assert.deepEqual(parseFlagFile(renderFlagFile(settings), SOURCE), settings);
  }
});

test('renderFlagFile writes the documented layout', () => {
  const documentedWithoutComment = DOCUMENTED_EXAMPLE.split('\n').slice(1).join('\n');
  assert.equal(renderFlagFile(defaults()), documentedWithoutComment);
});

test('renderFlagFile accepts a snapshot and leaves its publication metadata out', () => {
  const snapshot: FlagSnapshot = { ...DEFAULT_FLAGS, version: 9, publishedBy: 'operator', publishedAt: '2025-03-01T00:00:00Z' };
  const text = renderFlagFile(snapshot);
  assert.doesNotMatch(text, /version|publishedBy|publishedAt/);
  assert.deepEqual(parseFlagFile(text, SOURCE), defaults());
});

test('renderFlagFile refuses settings that could not be read back', () => {
  const invalid = defaults();
  invalid.elicitation.percentage = 101;
  const error = flagsErrorFrom(() => renderFlagFile(invalid));
  assert.match(error.message, /elicitation\.percentage: expected an integer from 0 to 100, got 101/);
});

test('the settable flag paths are exactly the flags of the brief', () => {
  assert.deepEqual(
    [...FLAG_PATHS],
    [
      'elicitation.enabled',
      'elicitation.percentage',
      'elicitation.agents',
      'elicitation.excludedAgents',
      'autoFallback',
      'dualMode',
      'deprecation.warnings',
      'deprecation.throttleMs',
      'legacyDisabled',
      'legacyTimeoutMs',
      'elicitationTimeoutMs',
    ],
  );
});

test('every settable flag can be set from its command-line text', () => {
  const cases: Array<[string, string, (settings: FlagSettings) => unknown, unknown]> = [
    ['elicitation.enabled', 'true', (s) => s.elicitation.enabled, true],
    ['elicitation.percentage', '25', (s) => s.elicitation.percentage, 25],
    ['elicitation.agents', 'alpha,canary_*', (s) => s.elicitation.agents, ['alpha', 'canary_*']],
    ['elicitation.excludedAgents', 'batch.*', (s) => s.elicitation.excludedAgents, ['batch.*']],
    ['autoFallback', 'false', (s) => s.autoFallback, false],
    ['dualMode', 'false', (s) => s.dualMode, false],
    ['deprecation.warnings', 'true', (s) => s.deprecation.warnings, true],
    ['deprecation.throttleMs', '750', (s) => s.deprecation.throttleMs, 750],
    ['legacyDisabled', 'true', (s) => s.legacyDisabled, true],
    ['legacyTimeoutMs', '55000', (s) => s.legacyTimeoutMs, 55_000],
    ['elicitationTimeoutMs', '600000', (s) => s.elicitationTimeoutMs, 600_000],
  ];
  assert.deepEqual(cases.map(([path]) => path).sort(), [...FLAG_PATHS].sort());
  for (const [path, raw, read, expected] of cases) {
    const updated = applyFlagAssignment(defaults(), path, raw);
    assert.deepEqual(read(updated), expected, path);
    assert.deepEqual(
      diffFlags(defaults(), updated).map((change) => change.flag),
      [path],
      `${path} changed something else`,
    );
  }
});

test('boolean flags accept only true and false', () => {
  for (const raw of ['yes', 'TRUE', 'True', '1', 'on', '']) {
    const error = flagsErrorFrom(() => applyFlagAssignment(defaults(), 'elicitation.enabled', raw));
    assert.equal(error.code, 'FLAGS_INVALID');
    assert.match(error.message, /elicitation\.enabled: expected true or false/);
  }
});

test('numeric flag values are validated by the schema', () => {
  for (const raw of ['101', '-1', '25.5', 'abc', '', '0x10', '1e1', '25%']) {
    const error = flagsErrorFrom(() => applyFlagAssignment(defaults(), 'elicitation.percentage', raw));
    assert.equal(error.code, 'FLAGS_INVALID', raw);
    assert.match(error.message, /elicitation\.percentage: expected an integer from 0 to 100/, raw);
  }
  assert.match(flagsErrorFrom(() => applyFlagAssignment(defaults(), 'legacyTimeoutMs', '60000')).message, /legacyTimeoutMs: expected an integer from 1000 to 55000, got 60000/);
  assert.equal(applyFlagAssignment(defaults(), 'elicitation.percentage', ' 25 ').elicitation.percentage, 25);
});

test('list flags are comma-separated with blanks trimmed, and an empty value clears the list', () => {
  const set = applyFlagAssignment(defaults(), 'elicitation.agents', ' alpha , canary_* ,beta');
  assert.deepEqual(set.elicitation.agents, ['alpha', 'canary_*', 'beta']);
  assert.deepEqual(applyFlagAssignment(set, 'elicitation.agents', '').elicitation.agents, []);
  const error = flagsErrorFrom(() => applyFlagAssignment(defaults(), 'elicitation.excludedAgents', 'alpha,,beta'));
  assert.match(error.message, /elicitation\.excludedAgents\[1\]: expected an agent id or glob pattern/);
});

test('an unknown flag path is FLAGS_UNKNOWN_FLAG listing the valid paths', () => {
  for (const path of ['elicitation.percent', 'elicitation', 'version', 'compatibility.dualMode', 'toString', '']) {
    const error = flagsErrorFrom(() => applyFlagAssignment(defaults(), path, 'true'));
    assert.equal(error.code, 'FLAGS_UNKNOWN_FLAG', path);
    for (const valid of FLAG_PATHS) assert.ok(error.message.includes(valid), `${path}: message lacks ${valid}`);
  }
});

test('a flag assignment leaves the settings it was given unchanged', () => {
  const original = rolloutSettings();
  applyFlagAssignment(original, 'elicitation.agents', 'someone-else');
  applyFlagAssignment(original, 'deprecation.throttleMs', '0');
  assert.deepEqual(original, rolloutSettings());
});

test('a flag assignment on a snapshot returns settings without publication metadata', () => {
  const updated = applyFlagAssignment(DEFAULT_FLAGS, 'legacyDisabled', 'true');
  assert.equal('version' in updated, false);
  assert.equal(updated.legacyDisabled, true);
});

test('diffFlags reports nothing for equal settings', () => {
  assert.deepEqual(diffFlags(rolloutSettings(), rolloutSettings()), []);
});

test('diffFlags lists every changed flag path with its old and new value', () => {
  const after = rolloutSettings();
  after.elicitation.percentage = 50;
  after.elicitation.agents = ['test_agent_alpha'];
  after.deprecation.throttleMs = 0;
  after.legacyDisabled = true;
  assert.deepEqual(diffFlags(rolloutSettings(), after), [
    { flag: 'elicitation.percentage', oldValue: 25, newValue: 50 },
    {
      flag: 'elicitation.agents',
      oldValue: ['test_agent_alpha', 'canary_*', '*-early', 'エージェント'],
      newValue: ['test_agent_alpha'],
    },
    { flag: 'deprecation.throttleMs', oldValue: 1_500, newValue: 0 },
    { flag: 'legacyDisabled', oldValue: false, newValue: true },
  ]);
});

test('diffFlags ignores publication metadata', () => {
  const next: FlagSnapshot = { ...DEFAULT_FLAGS, version: 12, publishedAt: '2025-03-01T00:00:00Z', publishedBy: 'controller' };
  assert.deepEqual(diffFlags(DEFAULT_FLAGS, next), []);
});
