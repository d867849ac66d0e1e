import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { freePort, startRedis, startService, type RedisServerHandle } from '@agent-bridge/testkit';

// A real router process against real redis-servers: REDIS_REQUIRED_APPENDFSYNC decides whether it starts.
describe('a service checks Redis durability at start (REDIS_REQUIRED_APPENDFSYNC)', () => {
  let everysec: RedisServerHandle;
  let always: RedisServerHandle;
  before(async () => {
    [everysec, always] = await Promise.all([startRedis({ appendfsync: 'everysec' }), startRedis({ appendfsync: 'always' })]);
  });
  after(async () => {
    await Promise.all([everysec?.cleanup(), always?.cleanup()]);
  });
  const router = async (redisUrl: string, required: string) => {
    const port = await freePort();
    return startService({
      name: `router-${required}`,
      entry: 'services/router/src/main.ts',
      env: { REDIS_URL: redisUrl, REDIS_REQUIRED_APPENDFSYNC: required, HOST: '127.0.0.1', PORT: String(port), ROUTER_ID: `r-${port}`, SHARD_COUNT: '4', LOG_LEVEL: 'info' },
      readyUrl: `http://127.0.0.1:${port}/readyz`,
    });
  };

  test('appendfsync everysec where always is required: the router exits 1 with a sentence saying what to change', async () => {
    await assert.rejects(router(everysec.url, 'always'), (error: Error) => {
      assert.match(error.message, /Redis runs with appendfsync everysec, less durable than REDIS_REQUIRED_APPENDFSYNC always/);
      assert.match(error.message, /exit code 1/);
      return true;
    });
  });

  test('appendfsync always where always is required: the router starts and logs what it checked', async () => {
    const handle = await router(always.url, 'always');
    try {
      assert.match(await handle.waitForLog(/redis durability checked/), /"appendfsync":"always"/);
    } finally {
      await handle.stop();
    }
  });
});
