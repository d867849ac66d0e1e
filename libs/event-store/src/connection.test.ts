import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startRedis, waitFor, type RedisServerHandle } from '@agent-bridge/testkit';
import { openConnection } from './connection.js';
import { isStoreError } from './errors.js';
import { Keys } from './keys.js';
import { RedisEventStore } from './open.js';

/**
 * A TCP proxy in front of Redis whose existing connections can be frozen: bytes stop flowing both
 * ways but the sockets stay open — the half-open connection that never errors by itself.
 */
class FreezingProxy {
  private server: Server | undefined;
  private readonly pairs: Array<{ client: Socket; upstream: Socket; frozen: boolean }> = [];
  port = 0;

  constructor(private readonly redisPort: number) {}

  async start(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(this.redisPort, '127.0.0.1');
      const pair = { client, upstream, frozen: false };
      this.pairs.push(pair);
      client.on('data', (chunk) => void (pair.frozen || upstream.write(chunk)));
      upstream.on('data', (chunk) => void (pair.frozen || client.write(chunk)));
      const close = () => (client.destroy(), upstream.destroy());
      client.on('close', close);
      upstream.on('close', close);
      client.on('error', close);
      upstream.on('error', close);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server!.address() as { port: number }).port;
  }

  freezeExisting(): number {
    const live = this.pairs.filter((p) => !p.client.destroyed);
    for (const pair of live) pair.frozen = true;
    return live.length;
  }

  liveConnections(): number {
    return this.pairs.filter((p) => !p.client.destroyed && !p.frozen).length;
  }

  async stop(): Promise<void> {
    for (const pair of this.pairs) pair.client.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

describe('a stuck Redis connection', () => {
  let redisServer: RedisServerHandle;
  let proxy: FreezingProxy;

  before(async () => {
    redisServer = await startRedis();
    proxy = new FreezingProxy(redisServer.port);
    await proxy.start();
  });
  after(async () => {
    await proxy.stop();
    await redisServer.cleanup();
  });

  test('a command on a frozen connection fails at its deadline, and the watchdog reconnects so later commands succeed', async () => {
    const events: string[] = [];
    const connection = openConnection(`redis://127.0.0.1:${proxy.port}`, {
      name: 'stuck-test',
      commandTimeoutMs: 300,
      watchdogIntervalMs: 200,
      watchdogTimeoutMs: 200,
      onEvent: (event) => events.push(event),
    });
    const store = new RedisEventStore(connection.redis, { keys: new Keys(2, 'stuck') });
    try {
      await store.ping();
      assert.equal(proxy.freezeExisting(), 1);
      const started = Date.now();
      await assert.rejects(store.mailboxState('bob'), (error) => isStoreError(error, 'STORE_DEADLINE_EXCEEDED'));
      assert.ok(Date.now() - started < 2_000, 'the call gave up at its deadline instead of hanging');
      await waitFor(() => events.includes('stuck'), { timeoutMs: 5_000, description: 'the watchdog to notice the stuck connection' });
      await waitFor(
        async () => {
          try {
            await store.ping();
            return true;
          } catch {
            return false;
          }
        },
        { timeoutMs: 5_000, description: 'commands to work again on a fresh connection' },
      );
      assert.equal(proxy.liveConnections(), 1, 'a new, unfrozen connection replaced the stuck one');
    } finally {
      await connection.close();
    }
  });
});
