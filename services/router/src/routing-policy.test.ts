import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_FLAGS, parseFlagSnapshot, type FlagSnapshot } from '@agent-bridge/flags';
import type { PresenceSession } from '@agent-bridge/event-store';
import { chooseLane } from './routing-policy.js';

const flags = (changes: Partial<FlagSnapshot['elicitation']> & { autoFallback?: boolean } = {}): FlagSnapshot => {
  const { autoFallback, ...elicitation } = changes;
  return parseFlagSnapshot({
    ...DEFAULT_FLAGS,
    version: 1,
    autoFallback: autoFallback ?? true,
    elicitation: { ...DEFAULT_FLAGS.elicitation, enabled: true, ...elicitation },
  });
};
const session = (form: boolean, streamOpen: boolean): PresenceSession => ({
  sessionId: 's',
  replica: 'r',
  elicitation: { form, url: false },
  streamOpen,
  expiresAt: Date.now() + 10_000,
});

test('a legacy agent goes to its poll lane', () => {
  assert.deepEqual(chooseLane(flags(), 'bob', [session(true, true)]), { lane: 'poll', via: 'legacy', reason: 'not_selected', fallback: undefined });
});

test('an elicitation agent with a reachable elicitation session goes to its push lane', () => {
  assert.deepEqual(chooseLane(flags({ agents: ['bob'] }), 'bob', [session(true, true)]), { lane: 'push', via: 'elicitation', reason: 'opt_in', fallback: undefined });
});

test('an elicitation agent that cannot be pushed to falls back to the poll lane, saying why', () => {
  const optIn = flags({ agents: ['bob'] });
  assert.equal(chooseLane(optIn, 'bob', []).fallback, 'no_session');
  assert.equal(chooseLane(optIn, 'bob', [session(false, true)]).fallback, 'no_elicitation_capability');
  assert.equal(chooseLane(optIn, 'bob', [session(true, false)]).fallback, 'no_stream');
  assert.equal(chooseLane(optIn, 'bob', []).via, 'legacy_fallback');
});

test('without auto-fallback an unreachable elicitation agent keeps its messages on the push lane', () => {
  assert.deepEqual(chooseLane(flags({ agents: ['bob'], autoFallback: false }), 'bob', []), { lane: 'push', via: 'elicitation', reason: 'opt_in', fallback: undefined });
});
