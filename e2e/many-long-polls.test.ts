import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitFor, type AgentClient } from '@agent-bridge/testkit';
import { poll, startBridge, type Bridge, type PollResult } from '@agent-bridge/testkit/bridge';

const AGENTS = 1000;

describe('1,000 agents long-polling at once on one legacy-poll process', () => {
  let bridge: Bridge;
  const clients: AgentClient[] = [];

  before(async () => {
    const agents = Array.from({ length: AGENTS }, (_, i) => `poller-${i}`);
    // One sender for a thousand agents: faster than the default per-agent rate on purpose.
    bridge = await startBridge({ agents: [...agents, 'sender'], env: { SEND_RATE_PER_SECOND: '10000', SEND_BURST: '10000', SEND_BACKLOG_MAX: '100000' } });
    for (let i = 0; i < AGENTS; i += 100) {
      clients.push(...(await Promise.all(agents.slice(i, i + 100).map((agent) => bridge.connect(agent)))));
    }
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await bridge?.stop();
  });

  test('the process holds at most 8 Redis connections and each poll returns when its message arrives', async (t) => {
    const polls = clients.map((client, i) => poll(client, { timeout_ms: 50_000 }).then((result): [number, PollResult, number] => [i, result, Date.now()]));
    const metricsUrl = bridge.legacyUrls[0]!.replace('/mcp', '/metrics');
    await waitFor(
      async () => {
        const text = await (await fetch(metricsUrl)).text();
        const match = /^agentbridge_waiting_polls\{[^}]*\} (\d+)/m.exec(text);
        return Number(match?.[1] ?? 0) === AGENTS;
      },
      { timeoutMs: 30_000, intervalMs: 200, description: `${AGENTS} polls to be waiting` },
    );

    const admin = bridge.redis.client();
    const clientList = (await admin.client('LIST')) as string;
    const mine = clientList.split('\n').filter((line) => /name=legacy-poll:/.test(line));
    assert.ok(mine.length >= 1, 'legacy-poll connections are named in CLIENT LIST');
    t.diagnostic(`legacy-poll Redis connections with ${AGENTS} polls waiting: ${mine.length}`);
    assert.ok(mine.length <= 8, `legacy-poll holds ${mine.length} Redis connections for ${AGENTS} waiting polls`);
    await admin.quit();

    const sender = await bridge.connect('sender');
    const sentAt: number[] = [];
    for (let i = 0; i < AGENTS; i++) {
      await sender.callToolJson('send_message', { to: `poller-${i}`, content: `for poller-${i}` });
      sentAt[i] = Date.now();
    }
    const results = await Promise.all(polls);
    for (const [i, result, returnedAt] of results) {
      assert.deepEqual(
        result.messages.map((m) => m.content),
        [`for poller-${i}`],
        `poller-${i} got exactly its own message`,
      );
      assert.ok(returnedAt - sentAt[i]! < 45_000, `poller-${i} returned on arrival, not at its timeout`);
    }
    await sender.close();
  });
});
