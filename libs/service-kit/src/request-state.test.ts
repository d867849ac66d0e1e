import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { ToolError } from '@agent-bridge/protocol';
import { RequestStateSealer } from './request-state.js';

const key = randomBytes(32);
const sealer = new RequestStateSealer({ keys: [key], maxBytes: 2048 });
const future = Date.now() + 60_000;

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ToolError, `a ToolError, got ${String(error)}`);
    return error.code;
  }
  assert.fail('expected a ToolError');
}

test('a sealed state opens for its agent before its expiry, with the data it was sealed with', () => {
  const sealed = sealer.seal({ entries: ['1-0', '2-0'] }, { agentId: 'alice', expiresAt: future });
  assert.deepEqual(sealer.open(sealed, 'alice'), { entries: ['1-0', '2-0'] });
});

test('any replica with the same key opens it (the state is all a retry needs)', () => {
  const sealed = sealer.seal({ n: 1 }, { agentId: 'alice', expiresAt: future });
  assert.deepEqual(new RequestStateSealer({ keys: [key], maxBytes: 2048 }).open(sealed, 'alice'), { n: 1 });
});

test('a tampered state is REQUEST_STATE_INVALID: payload, signature, version or key id changed', () => {
  const sealed = sealer.seal({ entries: ['1-0'] }, { agentId: 'alice', expiresAt: future });
  const [version, keyId, payload, signature] = sealed.split('.') as [string, string, string, string];
  const forged = Buffer.from(JSON.stringify({ a: 'alice', x: future, d: { entries: ['9-0'] } })).toString('base64url');
  assert.equal(
    codeOf(() => sealer.open(`${version}.${keyId}.${forged}.${signature}`, 'alice')),
    'REQUEST_STATE_INVALID',
  );
  assert.equal(
    codeOf(() => sealer.open(`${version}.${keyId}.${payload}.${signature.slice(1)}A`, 'alice')),
    'REQUEST_STATE_INVALID',
  );
  assert.equal(
    codeOf(() => sealer.open(`ab0.${keyId}.${payload}.${signature}`, 'alice')),
    'REQUEST_STATE_INVALID',
  );
  assert.equal(
    codeOf(() => sealer.open(`${version}.AAAAAAAA.${payload}.${signature}`, 'alice')),
    'REQUEST_STATE_INVALID',
  );
  assert.equal(
    codeOf(() => sealer.open('not a state', 'alice')),
    'REQUEST_STATE_INVALID',
  );
  assert.equal(
    codeOf(() => sealer.open(42, 'alice')),
    'REQUEST_STATE_INVALID',
  );
});

test('a state signed with another key is REQUEST_STATE_INVALID', () => {
  const other = new RequestStateSealer({ keys: [randomBytes(32)], maxBytes: 2048 });
  assert.equal(
    codeOf(() => sealer.open(other.seal({}, { agentId: 'alice', expiresAt: future }), 'alice')),
    'REQUEST_STATE_INVALID',
  );
});

test('an oversized state is refused before any work: REQUEST_STATE_INVALID', () => {
  assert.equal(
    codeOf(() => sealer.open('ab1.' + 'A'.repeat(5000), 'alice')),
    'REQUEST_STATE_INVALID',
  );
});

test('a state issued to another agent is REQUEST_STATE_FOREIGN', () => {
  const sealed = sealer.seal({}, { agentId: 'alice', expiresAt: future });
  assert.equal(
    codeOf(() => sealer.open(sealed, 'mallory')),
    'REQUEST_STATE_FOREIGN',
  );
});

test('an expired state is REQUEST_STATE_EXPIRED', () => {
  const sealed = sealer.seal({}, { agentId: 'alice', expiresAt: Date.now() + 10 });
  assert.equal(
    codeOf(() => sealer.open(sealed, 'alice', Date.now() + 11)),
    'REQUEST_STATE_EXPIRED',
  );
});

test('during a key rotation the previous key still verifies, and the new key signs', () => {
  const next = randomBytes(32);
  const rotated = new RequestStateSealer({ keys: [next, key], maxBytes: 2048 });
  const old = sealer.seal({ n: 1 }, { agentId: 'alice', expiresAt: future });
  assert.deepEqual(rotated.open(old, 'alice'), { n: 1 });
  const fresh = rotated.seal({ n: 2 }, { agentId: 'alice', expiresAt: future });
  assert.equal(
    codeOf(() => sealer.open(fresh, 'alice')),
    'REQUEST_STATE_INVALID',
    'a replica without the new key cannot open it',
  );
  assert.deepEqual(new RequestStateSealer({ keys: [next], maxBytes: 2048 }).open(fresh, 'alice'), { n: 2 });
});

test('keys shorter than 32 bytes and sealing beyond the size bound are programming errors', () => {
  assert.throws(() => new RequestStateSealer({ keys: [randomBytes(16)], maxBytes: 2048 }), /at least 32 bytes/);
  assert.throws(() => new RequestStateSealer({ keys: [key], maxBytes: 64 }).seal({ big: 'x'.repeat(100) }, { agentId: 'a', expiresAt: future }), /limit is 64/);
});
