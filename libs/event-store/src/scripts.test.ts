import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startRedis, type RedisServerHandle } from '@agent-bridge/testkit';
import type { Redis } from 'ioredis';
import { EVENT_FIELDS, LANE_FIELDS, LOG_FIELDS } from './entry-codec.js';
import { expandIncludes, fieldsInclude, loadScripts, SCRIPT_NAMES } from './scripts.js';

let redisServer: RedisServerHandle;
let redis: Redis;

before(async () => {
  redisServer = await startRedis();
  redis = redisServer.client();
});
after(async () => {
  await redisServer.cleanup();
});

describe('Lua includes', () => {
  test('the generated fields include names, in Lua, exactly the stream fields of entry-codec.ts', async () => {
    const json = (await redis.eval(`${fieldsInclude()}\nreturn cjson.encode({EVENT = EVENT, LANE = LANE, LOG = LOG})`, 0)) as string;
    assert.deepEqual(JSON.parse(json), { EVENT: EVENT_FIELDS, LANE: LANE_FIELDS, LOG: LOG_FIELDS });
  });

  test('every script compiles in Redis with its includes expanded, and none is left unexpanded', async () => {
    const scripts = loadScripts();
    for (const name of SCRIPT_NAMES) {
      assert.doesNotMatch(scripts[name].source, /@include/, `${name} still has an include line`);
      assert.equal(await redis.script('LOAD', scripts[name].source), scripts[name].sha, `${name} loads under its sha`);
    }
    assert.match(scripts.append_answer.source, /^#!lua flags=allow-oom\n/, 'the allow-oom variant keeps its flag line first');
  });

  test('the lease include refuses a caller whose lease value is not the one held, naming the lease', async () => {
    const { source } = loadScripts().settle_push;
    assert.match(source, /local function fenced_unless_held/);
    await redis.set('lease', 'owner-a|7');
    const script = `${expandIncludes('t', '--- @include lease')}\nlocal f = fenced_unless_held(KEYS[1], ARGV[1], 'push') if f then return f end return 'ok'`;
    assert.equal(await redis.eval(script, 1, 'lease', 'owner-a|7'), 'ok');
    await assert.rejects(redis.eval(script, 1, 'lease', 'owner-a|6'), /^ReplyError: FENCED the push lease is no longer held by owner-a\|6/);
  });

  test('stream id comparison and the id after another stay exact beyond float precision', async () => {
    const script = `${expandIncludes('t', '--- @include stream_ids')}\nreturn {tostring(id_less(ARGV[1], ARGV[2])), tostring(id_less(ARGV[2], ARGV[1])), id_after(ARGV[1])}`;
    assert.deepEqual(await redis.eval(script, 0, '1733212345678-9', '1733212345678-10'), ['true', 'false', '1733212345678-10']);
    assert.deepEqual(await redis.eval(script, 0, '999-0', '1000-0'), ['true', 'false', '999-1']);
  });

  test('an include that does not exist fails with a sentence naming the script and the include', () => {
    assert.throws(() => expandIncludes('route_message', 'x\n--- @include nope\ny'), /lua\/route_message\.lua includes "nope", which is not a file in lua-includes\//);
  });
});
