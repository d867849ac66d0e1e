/** The agent registry file: tokens by hash, and who owns each agent (the legacy inventory reads it). */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { AgentRegistry, hashToken } from './auth.js';
import { ConfigError } from './config.js';

const dir = mkdtempSync(join(tmpdir(), 'ab-registry-'));
let files = 0;
function registryFile(agents: unknown[]): string {
  const path = join(dir, `tokens-${files++}.json`);
  writeFileSync(path, JSON.stringify({ agents }));
  return path;
}
const hash = hashToken('t');

describe('agent registry owners', () => {
  test('an entry may carry its owner (name, contact, team); owner() and entries() give it back, null without one', () => {
    const registry = AgentRegistry.fromFile(
      registryFile([
        { id: 'alice', tokenSha256: hash, owner: { name: 'Alice Doe', contact: 'alice@example.com', team: 'search' } },
        { id: 'bob', tokenSha256: hashToken('b'), owner: { name: 'Bob', contact: 'https://chat.example.com/c/bots' } },
        { id: 'carol', tokenSha256: hashToken('c') },
      ]),
    );
    assert.deepEqual(registry.owner('alice'), { name: 'Alice Doe', contact: 'alice@example.com', team: 'search' });
    assert.deepEqual(registry.owner('bob'), { name: 'Bob', contact: 'https://chat.example.com/c/bots' });
    assert.equal(registry.owner('carol'), null);
    assert.equal(registry.owner('nobody'), null);
    assert.deepEqual(
      registry.entries().map((e) => [e.id, e.owner?.team ?? null]),
      [
        ['alice', 'search'],
        ['bob', null],
        ['carol', null],
      ],
    );
  });

  test('an agent listed twice (a token rotation) is one entry, with the owner one of its lines gives', () => {
    const registry = AgentRegistry.fromFile(
      registryFile([
        { id: 'alice', tokenSha256: hashToken('old') },
        { id: 'alice', tokenSha256: hashToken('new'), owner: { name: 'Alice' } },
      ]),
    );
    assert.equal(registry.size, 1);
    assert.deepEqual(registry.entries(), [{ id: 'alice', owner: { name: 'Alice' } }]);
  });

  const refused: Array<[string, unknown, RegExp]> = [
    ['an owner without a name', { contact: 'a@example.com' }, /agents\[0\] \(alice\).*owner\.name/],
    ['an empty name', { name: '  ' }, /owner\.name must not be empty/],
    ['a name longer than 200 characters', { name: 'x'.repeat(201) }, /owner\.name must be at most 200 characters/],
    ['a contact that is neither an email address nor a URL', { name: 'A', contact: 'call me' }, /owner\.contact must be an email address .* or an http\(s\) URL/],
    ['a contact URL that is not http(s)', { name: 'A', contact: 'javascript:alert(1)' }, /owner\.contact must be an email address/],
    ['a team with a line break', { name: 'A', team: 'a\nb' }, /owner\.team must be one line/],
    ['an unknown owner key', { name: 'A', phone: '123' }, /agents\[0\] \(alice\).*phone/],
    ['an owner that is a text', 'Alice', /owner must be an object/],
  ];
  for (const [what, owner, expected] of refused) {
    test(`${what} stops the process with a sentence naming the entry and the field`, () => {
      const path = registryFile([{ id: 'alice', tokenSha256: hash, owner }]);
      assert.throws(
        () => AgentRegistry.fromFile(path),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError);
          assert.match(error.message, new RegExp(`^AGENT_TOKENS_FILE ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
          assert.match(error.message, expected);
          return true;
        },
      );
    });
  }

  test('a bad token hash names the entry by index and id', () => {
    const path = registryFile([
      { id: 'alice', tokenSha256: hash },
      { id: 'bob', tokenSha256: 'nope' },
    ]);
    assert.throws(() => AgentRegistry.fromFile(path), /agents\[1\] \(bob\) tokenSha256: must be the lowercase hex SHA-256 of the token/);
  });
});
