import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadElicitationConfig } from './config.js';

describe('elicitation settings that depend on each other', () => {
  const env = { AGENT_TOKENS_FILE: '/dev/null' };

  test('MAX_REQUESTS_PER_AGENT must leave room beside each session stream: a sentence naming both, and what to set', () => {
    assert.throws(() => loadElicitationConfig({ ...env, MAX_SESSIONS_PER_AGENT: '100' }), /MAX_REQUESTS_PER_AGENT \(64\) must be larger than MAX_SESSIONS_PER_AGENT \(100\).*raise MAX_REQUESTS_PER_AGENT \(e\.g\. to 148\)/);
  });

  test('the defaults, and both raised together, are accepted', () => {
    assert.equal(loadElicitationConfig(env).MAX_REQUESTS_PER_AGENT, 64);
    const raised = loadElicitationConfig({ ...env, MAX_SESSIONS_PER_AGENT: '1000', MAX_REQUESTS_PER_AGENT: '1064' });
    assert.deepEqual([raised.MAX_SESSIONS_PER_AGENT, raised.MAX_REQUESTS_PER_AGENT], [1000, 1064]);
  });
});
