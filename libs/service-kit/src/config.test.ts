import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { ConfigError, commonSettings, loadConfig, settingHelpers } from './config.js';

const schema = z.object({ ...commonSettings, PORT: settingHelpers.int(1, 65535).default(8080), TOKENS: z.string().min(1) });

test('settings take their documented defaults when unset or empty', () => {
  const config = loadConfig('svc', schema, { TOKENS: 'x', SHARD_COUNT: '' });
  assert.equal(config.SHARD_COUNT, 16);
  assert.equal(config.PORT, 8080);
  assert.equal(config.REDIS_URL, 'redis://127.0.0.1:6379');
});

test('a bad config names every wrong setting, what it must be and what it got', () => {
  assert.throws(
    () => loadConfig('svc', schema, { PORT: 'eighty', REDIS_URL: 'http://nope' }),
    (error) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.code, 'CONFIG_INVALID');
      assert.match(error.message, /^Invalid configuration for svc: /);
      assert.match(error.message, /PORT .*\(got "eighty"\)/);
      assert.match(error.message, /REDIS_URL must be a redis:\/\/ or rediss:\/\/ url \(got "http:\/\/nope"\)/);
      assert.match(error.message, /TOKENS is required but not set/);
      return true;
    },
  );
});

test('numbers are range-checked', () => {
  assert.throws(() => loadConfig('svc', schema, { TOKENS: 'x', SHARD_COUNT: '0' }), /SHARD_COUNT .*>=1.*\(got "0"\)/);
});

test('a bad secret setting is named with its length, never its value', () => {
  const secrets = z.object({ REQUEST_STATE_KEY: z.string().min(32, 'must be at least 32 characters') });
  assert.throws(
    () => loadConfig('svc', secrets, { REQUEST_STATE_KEY: 'hunter2' }),
    (error) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /REQUEST_STATE_KEY must be at least 32 characters \(got 7 characters, value hidden\)/);
      assert.doesNotMatch(error.message, /hunter2/);
      return true;
    },
  );
});
