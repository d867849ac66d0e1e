import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { agentBucket } from '@agent-bridge/flags';
import { waitFor, type AgentClient } from '@agent-bridge/testkit';
import { receive, startBridge, type Bridge } from '@agent-bridge/testkit/bridge';

const AGENTS = Array.from({ length: 100 }, (_, i) => `agent_${i}`);
const TOKEN = /hello-\d+-to-\d+/;

describe('100 agents, half on each protocol (percentage 50)', () => {
  let bridge: Bridge;
  const clients = new Map<string, AgentClient>();
  const modern = new Set(AGENTS.filter((agent) => agentBucket(agent) < 50));
  const elicited = new Map<string, string[]>();

  before(async () => {
    bridge = await startBridge({
      agents: AGENTS,
      elicitations: 1,
      flags: { 'elicitation.enabled': 'true', 'elicitation.percentage': '50' },
    });
    for (const agent of AGENTS) {
      if (modern.has(agent)) {
        elicited.set(agent, []);
        clients.set(
          agent,
          await bridge.connectModern(agent, {
            answer: (request) => {
              elicited.get(agent)!.push(TOKEN.exec(request.message)?.[0] ?? request.message);
              return { action: 'accept', content: {} };
            },
          }),
        );
      } else {
        clients.set(agent, await bridge.connect(agent));
      }
    }
    await waitFor(
      async () => {
        const presence = await bridge.store.store.readPresence([...modern]);
        return [...modern].every((agent) => presence.get(agent)?.some((s) => s.streamOpen));
      },
      { timeoutMs: 20_000, description: 'every modern agent to be present with an open stream' },
    );
  });
  after(async () => {
    await Promise.all([...clients.values()].map((c) => c.close().catch(() => undefined)));
    await bridge?.stop();
  });

  test('each agent sends to a random agent: all communications succeed and the ledger accounts for every message', async (t) => {
    assert.ok(modern.size >= 35 && modern.size <= 65, `about half the agents are in the 50 % cohort (${modern.size})`);
    t.diagnostic(`${modern.size} agents on elicitation, ${AGENTS.length - modern.size} on legacy`);
    const sent = new Map<string, { id: string; to: string }>();
    await Promise.all(
      AGENTS.map(async (from, i) => {
        const toIndex = (i * 37 + 11) % AGENTS.length === i ? (i + 1) % AGENTS.length : (i * 37 + 11) % AGENTS.length;
        const to = AGENTS[toIndex]!;
        const token = `hello-${i}-to-${toIndex}`;
        const result = await clients.get(from)!.callToolJson<{ message_id: string }>('send_message', { to, content: token });
        sent.set(token, { id: result.message_id, to });
      }),
    );
    assert.equal(sent.size, AGENTS.length, 'every send succeeded');

    // Legacy targets poll; modern targets get elicitations.
    const received = new Map<string, number>();
    const expectedBy = new Map<string, number>();
    for (const { to } of sent.values()) expectedBy.set(to, (expectedBy.get(to) ?? 0) + 1);
    await Promise.all(
      [...expectedBy]
        .filter(([agent]) => !modern.has(agent))
        .map(async ([agent, count]) => {
          const { messages, cursor } = await receive(clients.get(agent)!, count, 30_000);
          await clients.get(agent)!.callToolJson('ack_messages', { cursor: cursor! });
          for (const message of messages) received.set(message.content, (received.get(message.content) ?? 0) + 1);
        }),
    );
    await waitFor(() => [...modern].reduce((n, agent) => n + elicited.get(agent)!.length, 0) >= [...sent.values()].filter((s) => modern.has(s.to)).length, {
      timeoutMs: 30_000,
      description: 'every elicitation to be answered',
    });
    for (const tokens of elicited.values()) for (const token of tokens) received.set(token, (received.get(token) ?? 0) + 1);
    assert.deepEqual(
      [...sent.keys()].filter((token) => received.get(token) !== 1),
      [],
      'every message delivered exactly once',
    );

    // The ledger accounts for every message: each reached a terminal state, through the lane its target's protocol implies.
    await waitFor(
      async () => {
        for (const { id, to } of sent.values()) {
          const record = await bridge.store.store.getMessage(id, to);
          if (!record || !['delivered', 'answered'].includes(record.state)) return false;
        }
        return true;
      },
      { timeoutMs: 10_000, description: 'every ledger record to reach a terminal state' },
    );
    for (const { id, to } of sent.values()) {
      const record = (await bridge.store.store.getMessage(id, to))!;
      assert.equal(record.via, modern.has(to) ? 'elicitation' : 'legacy', `${id} to ${to} went ${record.via}`);
    }
    const redis = bridge.redis.client();
    let open = 0;
    for (const shard of bridge.store.keys.allShards()) open += await redis.zcard(bridge.store.keys.openMessages(shard));
    await redis.quit();
    assert.equal(open, 0, 'no message is left without a terminal state');
  });
});
