import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { OriginPolicy, originSettings } from './origin.js';
import { loadConfig } from './config.js';

const schema = z.object(originSettings);
const policy = (env: Record<string, string>) => OriginPolicy.fromSettings(loadConfig('test', schema, env));
const request = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

describe('Origin and Host checks of the MCP endpoints', () => {
  test('by default: no Origin passes, localhost origins on any port pass, a foreign origin is refused with a sentence', () => {
    const p = policy({});
    assert.equal(p.refusal(request({ host: 'agents.example.com' })), undefined, 'agents are programs: no Origin header');
    assert.equal(p.refusal(request({ origin: 'http://localhost:5173' })), undefined);
    assert.equal(p.refusal(request({ origin: 'http://127.0.0.1:8080' })), undefined);
    assert.equal(p.refusal(request({ origin: 'http://[::1]:3000' })), undefined);
    assert.equal(p.refusal(request({ origin: 'http://localhost' })), undefined, 'the default port too');
    const refused = p.refusal(request({ origin: 'http://evil.example' }));
    assert.match(refused ?? '', /Origin "http:\/\/evil\.example" is not allowed/);
    assert.match(refused ?? '', /MCP_ALLOWED_ORIGINS/);
    assert.ok(p.refusal(request({ origin: 'http://localhost.evil.example:80' })), 'a name that only starts like localhost');
    assert.ok(p.refusal(request({ origin: 'http://localhost:80x' })), 'a port that is not a number');
    assert.ok(p.refusal(request({ origin: 'null' })), 'an opaque origin (a sandboxed page, a file)');
  });

  test('configured origins match exactly, ignoring case; hosts are checked only when configured', () => {
    const p = policy({ MCP_ALLOWED_ORIGINS: 'https://Agents.example.com, https://console.example.com:8443', MCP_ALLOWED_HOSTS: 'agents.example.com,localhost:*' });
    assert.equal(p.refusal(request({ origin: 'https://agents.example.com', host: 'agents.example.com' })), undefined);
    assert.equal(p.refusal(request({ origin: 'https://console.example.com:8443', host: 'AGENTS.example.com' })), undefined);
    assert.ok(p.refusal(request({ origin: 'http://agents.example.com', host: 'agents.example.com' })), 'another scheme is another origin');
    assert.ok(p.refusal(request({ origin: 'http://localhost:3000', host: 'agents.example.com' })), 'the localhost default is replaced, not added to');
    assert.equal(p.refusal(request({ host: 'localhost:8701' })), undefined);
    assert.match(p.refusal(request({ host: 'rebound.evil.example' })) ?? '', /Host "rebound\.evil\.example" is not a name of this MCP endpoint/);
    assert.equal(p.refusal(request({ host: '10.0.0.7:8702' }), { relayed: true }), undefined, "a relayed request carries the owner's address as Host");
    assert.ok(p.refusal(request({ host: '10.0.0.7:8702', origin: 'http://evil.example' }), { relayed: true }), 'but its Origin is still checked');
    assert.equal(policy({}).refusal(request({ host: 'anything.example' })), undefined, 'no hosts configured: any Host');
  });

  test('`none` allows no page at all, `*` any host', () => {
    const p = policy({ MCP_ALLOWED_ORIGINS: 'none', MCP_ALLOWED_HOSTS: '*' });
    assert.match(p.refusal(request({ origin: 'http://localhost:3000' })) ?? '', /allowed: none/);
    assert.equal(p.refusal(request({ host: 'whatever.example:1' })), undefined);
  });

  test('a malformed list is a configuration error that names the setting', () => {
    assert.throws(() => policy({ MCP_ALLOWED_ORIGINS: 'agents.example.com' }), /MCP_ALLOWED_ORIGINS must be a comma-separated list of origins/);
    assert.throws(() => policy({ MCP_ALLOWED_HOSTS: 'https://agents.example.com' }), /MCP_ALLOWED_HOSTS must be a comma-separated list of host names/);
  });
});
