import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import { loadConfig } from './config.js';
import { RELAY_ASSERTION_LIFETIME_MS, RelayCredential, RelayRefusal, relayKeySettings } from './relay-credential.js';
import { z } from 'zod';

const KEY = Buffer.from('k'.repeat(48));
const OLD_KEY = Buffer.from('o'.repeat(48));
const body = Buffer.from('{"jsonrpc":"2.0","id":1,"method":"tools/call"}');
const request = { identity: 'alice', audience: 'elicitation/replica-b', method: 'POST', path: '/mcp', body };
const expected = { audience: 'elicitation/replica-b', method: 'POST', path: '/mcp' };

function refusal(run: () => unknown): RelayRefusal {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof RelayRefusal, `a RelayRefusal, got ${String(error)}`);
    return error;
  }
  assert.fail('the assertion was accepted');
}

/** A clock the test moves. */
function clock(start = 1_800_000_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('inter-replica credential (relay assertions)', () => {
  test('an assertion signed for a replica verifies there, names the identity, and matches only its own body', () => {
    const credential = new RelayCredential({ keys: [KEY] });
    const claims = credential.verify(credential.sign(request), expected);
    assert.equal(claims.identity, 'alice');
    assert.equal(claims.audience, 'elicitation/replica-b');
    assert.equal(claims.expiresAt - claims.issuedAt, RELAY_ASSERTION_LIFETIME_MS);
    assert.equal(credential.bodyMatches(claims, body), true);
    assert.equal(credential.bodyMatches(claims, Buffer.from('{"jsonrpc":"2.0","id":1,"method":"tools/list"}')), false);
  });

  test('an assertion is refused once it expired, and one issued in the future is refused', () => {
    const time = clock();
    const credential = new RelayCredential({ keys: [KEY], now: time.now });
    const assertion = credential.sign(request);
    time.advance(RELAY_ASSERTION_LIFETIME_MS);
    assert.equal(refusal(() => credential.verify(assertion, expected)).reason, 'expired');
    const ahead = clock(time.now() + 60_000);
    const future = new RelayCredential({ keys: [KEY], now: ahead.now }).sign(request);
    assert.equal(refusal(() => credential.verify(future, expected)).reason, 'expired');
  });

  test('an assertion for another replica, method or path is refused', () => {
    const credential = new RelayCredential({ keys: [KEY] });
    assert.equal(refusal(() => credential.verify(credential.sign(request), { ...expected, audience: 'elicitation/replica-c' })).reason, 'wrong_audience');
    assert.equal(refusal(() => credential.verify(credential.sign(request), { ...expected, audience: 'controller/replica-b' })).reason, 'wrong_audience');
    assert.equal(refusal(() => credential.verify(credential.sign(request), { ...expected, method: 'DELETE' })).reason, 'wrong_request');
    assert.equal(refusal(() => credential.verify(credential.sign(request), { ...expected, path: '/admin/rollback' })).reason, 'wrong_request');
  });

  test('a tampered assertion is refused: another identity, a longer lifetime, a cut signature', () => {
    const credential = new RelayCredential({ keys: [KEY] });
    const [version, keyId, payload, signature] = credential.sign(request).split('.') as [string, string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    const altered = (change: Record<string, unknown>) => `${version}.${keyId}.${Buffer.from(JSON.stringify({ ...claims, ...change })).toString('base64url')}.${signature}`;
    assert.equal(refusal(() => credential.verify(altered({ sub: 'admin' }), expected)).reason, 'bad_signature');
    assert.equal(refusal(() => credential.verify(altered({ exp: claims.exp + 3_600_000 }), expected)).reason, 'bad_signature');
    assert.equal(refusal(() => credential.verify(`${version}.${keyId}.${payload}.${signature.slice(0, -2)}`, expected)).reason, 'bad_signature');
    assert.equal(refusal(() => credential.verify('abr1.only-three.parts', expected)).reason, 'malformed');
  });

  test('an assertion is accepted once: a replay of the same one is refused', () => {
    const credential = new RelayCredential({ keys: [KEY] });
    const assertion = credential.sign(request);
    credential.verify(assertion, expected);
    const replay = refusal(() => credential.verify(assertion, expected));
    assert.equal(replay.reason, 'replayed');
    assert.match(replay.message, /already used/);
  });

  test('during a rotation an assertion signed with the previous key verifies; one with a key no replica holds does not', () => {
    const rotated = new RelayCredential({ keys: [KEY, OLD_KEY] });
    const stillOld = new RelayCredential({ keys: [OLD_KEY] });
    assert.equal(rotated.verify(stillOld.sign(request), expected).identity, 'alice', 'a replica not yet rotated is still understood');
    const afterRotation = new RelayCredential({ keys: [KEY] });
    const refused = refusal(() => afterRotation.verify(stillOld.sign(request), expected));
    assert.equal(refused.reason, 'unknown_key');
    assert.match(refused.message, /INTER_REPLICA_KEY/);
  });

  test('a header forged outside the bridge is refused: made up, or signed with a guessed key under a real key id', () => {
    const credential = new RelayCredential({ keys: [KEY] });
    assert.equal(refusal(() => credential.verify(undefined, expected)).reason, 'missing');
    assert.equal(refusal(() => credential.verify('elicitation-1', expected)).reason, 'malformed');
    const keyId = credential.sign(request).split('.')[1]!;
    const payload = Buffer.from(JSON.stringify({ sub: 'alice', aud: expected.audience, m: 'POST', p: '/mcp', b: 'x', iat: Date.now(), exp: Date.now() + 4_000, n: 'forged' })).toString('base64url');
    const head = `abr1.${keyId}.${payload}`;
    const forged = `${head}.${createHmac('sha256', Buffer.from('g'.repeat(48)))
      .update(head)
      .digest('base64url')}`;
    assert.equal(refusal(() => credential.verify(forged, expected)).reason, 'bad_signature');
  });

  test('keys shorter than 32 characters stop the service at start-up with a sentence naming the setting, without the value', () => {
    const schema = z.object(relayKeySettings);
    assert.throws(
      () => loadConfig('test', schema, { INTER_REPLICA_KEY: 'short-key' }),
      (error: Error) => {
        assert.match(error.message, /INTER_REPLICA_KEY must be at least 32 characters/);
        assert.match(error.message, /9 characters, value hidden/);
        assert.doesNotMatch(error.message, /short-key/);
        return true;
      },
    );
    assert.throws(() => loadConfig('test', schema, { INTER_REPLICA_KEY: 'k'.repeat(32), INTER_REPLICA_PREVIOUS_KEY: 'old' }), /INTER_REPLICA_PREVIOUS_KEY must be at least 32 characters/);
    assert.throws(() => new RelayCredential({ keys: [Buffer.from('short')] }), /at least 32 bytes/);
  });

  test('without a key, a service gets a random one and says so: its assertions verify only in the same process', () => {
    const warnings: string[] = [];
    const a = RelayCredential.fromSettings({}, (message) => warnings.push(message));
    const b = RelayCredential.fromSettings({}, (message) => warnings.push(message));
    assert.equal(warnings.length, 2);
    assert.match(warnings[0]!, /INTER_REPLICA_KEY is not set/);
    assert.equal(a.verify(a.sign(request), expected).identity, 'alice');
    assert.equal(refusal(() => b.verify(a.sign(request), expected)).reason, 'unknown_key');
  });
});
