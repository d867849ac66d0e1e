import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ElicitResult } from '@modelcontextprotocol/client';
import { waitFor, type AgentClient } from '@agent-bridge/testkit';
import { connectModernAgent, poll, receive, startBridge, startNginx, type Bridge, type ModernAgent, type NginxHandle } from '@agent-bridge/testkit/bridge';

const MODERN = ['m1', 'm2', 'm3', 'm4'];

describe('two elicitation replicas behind nginx (round robin)', () => {
  let bridge: Bridge;
  let nginx: NginxHandle;
  let legacy: AgentClient;
  const modern = new Map<string, ModernAgent>();
  /** While false, modern agents hold their answers (elicitations stay pending). */
  let answering = true;
  const held: Array<() => void> = [];

  const answer = async (): Promise<ElicitResult> => {
    if (!answering) await new Promise<void>((resolve) => held.push(resolve));
    return { action: 'accept', content: { response: 'ack' } };
  };
  const connect = (agent: string) => connectModernAgent(`${nginx.url}/mcp`, bridge.tokens[agent]!, agent, { answer });

  async function presentWithStream(agents: string[]): Promise<void> {
    await waitFor(
      async () => {
        const presence = await bridge.store.store.readPresence(agents);
        return agents.every((a) => presence.get(a)?.some((s) => s.streamOpen));
      },
      { timeoutMs: 15_000, description: `${agents.join(', ')} to be present with open streams` },
    );
  }

  before(async () => {
    bridge = await startBridge({
      agents: ['legacy', ...MODERN],
      elicitations: 2,
      flags: { 'elicitation.enabled': 'true', 'elicitation.agents': MODERN.join(','), elicitationTimeoutMs: '20000' },
      env: { PUSH_LEASE_TTL_MS: '1500', PRESENCE_TTL_MS: '3000', LEASE_TTL_MS: '1500' },
    });
    nginx = await startNginx(bridge.elicitationBaseUrls);
    legacy = await bridge.connect('legacy');
    for (const agent of MODERN) modern.set(agent, await connect(agent));
    await presentWithStream(MODERN);
  });
  after(async () => {
    answering = true;
    for (const release of held.splice(0)) release();
    await Promise.all([...modern.values()].map((m) => m.close().catch(() => undefined)));
    await legacy?.close();
    await nginx?.stop();
    await bridge?.stop();
  });

  test('every session works whichever replica each of its requests lands on', async () => {
    const owners = new Set([...modern.values()].map((m) => m.sessionId!.split('.')[0]));
    assert.deepEqual([...owners].sort(), ['elicitation-1', 'elicitation-2'], 'sessions were created on both replicas');
    // Tool calls and elicitation answers go through nginx round robin: half of them land on the other replica.
    for (const [agent, client] of modern) {
      for (let i = 0; i < 3; i++) await client.callToolJson('send_message', { to: 'legacy', content: `${agent} says ${i}` });
    }
    for (const agent of MODERN) await legacy.callToolJson('send_message', { to: agent, content: `ping ${agent}` });
    const { messages, cursor } = await receive(legacy, MODERN.length * 4, 30_000);
    await poll(legacy, { cursor, timeout_ms: 0 });
    const fromModern = messages.filter((m) => /says/.test(m.content));
    const answers = messages.filter((m) => m.content === 'ack');
    assert.equal(fromModern.length, MODERN.length * 3, 'every send_message from every session arrived');
    assert.equal(answers.length, MODERN.length, 'every modern agent answered its elicitation');
    for (const agent of MODERN) assert.equal(modern.get(agent)!.received.length, 1);
    let forwarded = 0;
    for (const base of bridge.elicitationBaseUrls) {
      const text = await (await fetch(`${base}/metrics`)).text();
      for (const match of text.matchAll(/^agentbridge_forwarded_requests_total\{[^}]*\} (\d+)/gm)) forwarded += Number(match[1]);
    }
    assert.ok(forwarded > 0, 'requests were forwarded to the owning replica');
  });

  test('kill -9 of one replica with elicitations pending loses nothing', async () => {
    answering = false;
    const sent = new Map<string, string>();
    for (const agent of MODERN) {
      const result = await legacy.callToolJson<{ message_id: string }>('send_message', { to: agent, content: `pending for ${agent}` });
      sent.set(result.message_id, agent);
    }
    await waitFor(() => held.length === MODERN.length, { timeoutMs: 15_000, description: 'every modern agent to hold an elicitation' });

    const victim = bridge.elicitations[0]!;
    await victim.kill9();
    // Agents whose session lived on the dead replica get "Session not found" and start a new session.
    const reconnected: string[] = [];
    for (const [agent, client] of modern) {
      if (!client.sessionId!.startsWith('elicitation-1.')) continue;
      await client.close().catch(() => undefined);
      modern.set(agent, await connect(agent));
      reconnected.push(agent);
    }
    assert.ok(reconnected.length > 0, 'some sessions lived on the killed replica');
    answering = true;
    for (const release of held.splice(0)) release();

    const { messages, cursor } = await receive(legacy, MODERN.length, 45_000);
    await poll(legacy, { cursor, timeout_ms: 0 });
    const replies = messages.filter((m) => m.reply_to && sent.has(m.reply_to));
    assert.deepEqual(new Set(replies.map((m) => m.reply_to)), new Set(sent.keys()), 'every pending message was answered');
    assert.equal(replies.length, sent.size, 'exactly one answer per message reached the sender');
    for (const agent of reconnected) {
      assert.equal(modern.get(agent)!.received.length, 1, `${agent}'s pending elicitation was pushed again to its new session`);
    }
    for (const [messageId, agent] of sent) {
      const record = await bridge.store.store.getMessage(messageId, agent);
      assert.ok(record && ['answered', 'delivered'].includes(record.state), `${messageId} is accounted for (${record?.state})`);
    }
  });
});
