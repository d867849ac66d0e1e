import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startRedis, type RedisServerHandle } from '@agent-bridge/testkit';
import { checkDurability } from './durability.js';

describe('checkDurability against real redis-servers', () => {
  const servers: Record<string, RedisServerHandle> = {};
  before(async () => {
    servers.always = await startRedis({ appendfsync: 'always' });
    servers.everysec = await startRedis({ appendfsync: 'everysec' });
    servers.noAof = await startRedis({ extraArgs: ['--appendonly', 'no'] });
    // A managed Redis that hides CONFIG, as some cloud services do.
    servers.noConfig = await startRedis({ appendfsync: 'always', extraArgs: ['--rename-command', 'CONFIG', '""'] });
  });
  after(async () => {
    await Promise.all(Object.values(servers).map((s) => s.cleanup()));
  });
  const check = async (name: string, required: Parameters<typeof checkDurability>[1]) => {
    const client = servers[name]!.client();
    try {
      return await checkDurability(client, required);
    } finally {
      client.disconnect();
    }
  };

  test('appendfsync always satisfies always and everysec', async () => {
    assert.deepEqual(await check('always', 'always'), { observed: { appendonly: true, appendfsync: 'always' } });
    assert.deepEqual(await check('always', 'everysec'), { observed: { appendonly: true, appendfsync: 'always' } });
  });

  test('everysec is refused where always is required, with a sentence saying what to change', async () => {
    const result = await check('everysec', 'always');
    assert.deepEqual(result.observed, { appendonly: true, appendfsync: 'everysec' });
    assert.match(result.problem ?? '', /appendfsync everysec, less durable than REDIS_REQUIRED_APPENDFSYNC always/);
    assert.match(result.problem ?? '', /CONFIG SET/);
    assert.equal((await check('everysec', 'everysec')).problem, undefined);
  });

  test('a Redis without AOF is refused unless no check is asked for', async () => {
    const result = await check('noAof', 'everysec');
    assert.equal(result.observed.appendonly, false);
    assert.match(result.problem ?? '', /without AOF \(appendonly no\)/);
    assert.deepEqual(await check('noAof', 'none'), { observed: {} });
  });

  test('a Redis that hides CONFIG is unverified, not refused', async () => {
    const result = await check('noConfig', 'always');
    assert.equal(result.problem, undefined);
    assert.deepEqual(result.observed, { appendonly: true });
    assert.match(result.unverified ?? '', /would not say its appendfsync .*cannot be checked/);
  });
});
