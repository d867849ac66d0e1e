import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AgentClient } from '@agent-bridge/testkit';
import { poll, startBridge, type Bridge } from '@agent-bridge/testkit/bridge';

describe('long-poll timing contract', () => {
  let bridge: Bridge;
  let bob: AgentClient;

  before(async () => {
    // Small clamps so the contract is observable in seconds, not minutes.
    bridge = await startBridge({ agents: ['alice', 'bob'], env: { POLL_TIMEOUT_MAX_MS: '1500', PROGRESS_INTERVAL_MS: '300' } });
    bob = await bridge.connect('bob');
  });
  after(async () => {
    await bob?.close();
    await bridge?.stop();
  });

  test('a timeout above the maximum is clamped below the client request timeout', async () => {
    const started = Date.now();
    const result = await poll(bob, { timeout_ms: 120_000 });
    const elapsed = Date.now() - started;
    assert.equal(result.messages.length, 0);
    assert.ok(elapsed >= 1_400, `waited the clamped 1.5 s (took ${elapsed} ms)`);
    assert.ok(elapsed < 10_000, `did not wait the requested 120 s (took ${elapsed} ms)`);
  });

  test('a poll with timeout 0 answers at once when nothing waits', async () => {
    const started = Date.now();
    const result = await poll(bob, { timeout_ms: 0 });
    assert.equal(result.messages.length, 0);
    assert.ok(Date.now() - started < 1_000);
  });

  test('a waiting poll sends progress notifications when the client asked for them', async () => {
    const progress: number[] = [];
    const result = await bob.client.callTool(
      { name: 'wait_for_messages', arguments: { timeout_ms: 1_400 } },
      {
        onprogress: (p) => progress.push(p.progress),
      },
    );
    assert.equal(result.isError, undefined);
    assert.ok(progress.length >= 2, `got ${progress.length} progress notifications during a 1.4 s wait`);
    assert.deepEqual(
      progress,
      [...progress].sort((a, b) => a - b),
      'progress only increases',
    );
  });
});
