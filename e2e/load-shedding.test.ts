/**
 * Load shedding on a running bridge under a real latency injection: one legacy-poll replica reaches
 * Redis through a TCP proxy that delays every chunk (libs/testkit latency-proxy.ts); the router and
 * the receiving endpoint reach it directly. While the replica's Redis latency is far above its
 * baseline, about the configured share of new sends is refused with LOAD_SHED and a retry-after;
 * every accepted message is delivered; shedding stops when the latency is back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_CONTINGENCIES, publishFlags, readPublishedFlags } from '@agent-bridge/flags';
import { connectAgent, freePort, startLatencyProxy, startService, ToolCallError, waitFor, type AgentClient, type LatencyProxy, type ServiceHandle } from '@agent-bridge/testkit';
import { receive, startBridge, type Bridge } from '@agent-bridge/testkit/bridge';

const SENDERS = ['s0', 's1', 's2', 's3'];

describe('load shedding under a real latency injection', () => {
  let bridge: Bridge;
  let proxy: LatencyProxy;
  let slow: ServiceHandle;
  let slowUrl: string;
  let senders: AgentClient[];
  let receiver: AgentClient;

  before(async () => {
    bridge = await startBridge({ agents: [...SENDERS, 'receiver'], shardCount: 4 });
    await publishFlags(bridge.store.store, (current) => current, {
      actor: 'e2e',
      reason: 'load shedding on',
      trigger: 'test',
      contingencies: { ...structuredClone(DEFAULT_CONTINGENCIES), loadShedding: { enabled: true, latencyMultiple: 10, share: 0.5, retryAfterMs: 1_000, minSamples: 20 } } as typeof DEFAULT_CONTINGENCIES,
    });
    proxy = await startLatencyProxy({ port: bridge.redis.port });
    const port = await freePort();
    slowUrl = `http://127.0.0.1:${port}`;
    slow = await startService({ name: 'legacy-poll-slow', entry: 'services/legacy-poll/src/main.ts', env: { ...bridge.env, REDIS_URL: proxy.url, PORT: String(port), REPLICA_ID: 'legacy-poll-slow' }, readyUrl: `${slowUrl}/readyz` });
    senders = await Promise.all(SENDERS.map((agent) => connectAgent({ url: `${slowUrl}/mcp`, token: bridge.tokens[agent]!, name: agent })));
    receiver = await bridge.connect('receiver');
    await waitFor(async () => (await readPublishedFlags(bridge.store.store)).contingencies.loadShedding.enabled, { timeoutMs: 5_000, description: 'the snapshot to carry load shedding' });
  });
  after(async () => {
    await Promise.all([...(senders ?? []), receiver].filter(Boolean).map((client) => client.close()));
    await slow?.stop();
    await proxy?.close();
    await bridge?.stop();
  });

  const metric = async (name: string) =>
    (await (await fetch(`${slowUrl}/metrics`)).text())
      .split('\n')
      .filter((line) => line.startsWith(name))
      .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);

  /** Every message accepted and every send shed in the test, whatever the phase. */
  const acceptedAll: string[] = [];
  let shedAll = 0;
  /** Each sender sends `perSender` messages one after the other; the senders run side by side. */
  async function sendAll(perSender: number, label: string) {
    const accepted: string[] = [];
    const shed: Array<{ retryAfterMs: number }> = [];
    await Promise.all(
      senders.map(async (sender, s) => {
        for (let i = 0; i < perSender; i++) {
          try {
            const id = (await sender.callToolJson<{ message_id: string }>('send_message', { to: 'receiver', content: `${label} ${s}.${i}` })).message_id;
            accepted.push(id);
            acceptedAll.push(id);
          } catch (error) {
            if (!(error instanceof ToolCallError) || error.code !== 'LOAD_SHED') throw error;
            shedAll += 1;
            shed.push((error.result.structuredContent as { error: { details: { retryAfterMs: number } } }).error.details);
          }
        }
      }),
    );
    return { accepted, shed };
  }

  test('about half of the new sends are shed with LOAD_SHED and a retry-after while latency is high, none of the accepted ones is lost, and shedding stops when latency returns', async (t) => {
    const baseline = await sendAll(10, 'baseline');
    assert.equal(baseline.shed.length, 0, 'nothing is shed at baseline');

    // 250 ms per chunk each way: every Redis round trip of the replica takes 500 ms or more, far above
    // its baseline (a few ms, up to some tens on a loaded test machine: the measure includes the
    // replica's own event loop).
    proxy.setDelay(250);
    // The smoothed latency needs a few samples (about a second) to cross the multiple.
    await waitFor(async () => (await sendAll(1, 'warm-up'), (await metric('agentbridge_load_shedding')) === 1), { timeoutMs: 30_000, intervalMs: 10, description: 'the replica to start shedding' });
    const probesBefore = await metric('agentbridge_load_shed_probes_total');
    const during = await sendAll(15, 'during');
    // While shedding, one send a second goes through whatever its hash (the latency probe): the share
    // applies to the others. Slow sends leave more seconds with a probe, so a loaded machine has more.
    const probes = (await metric('agentbridge_load_shed_probes_total')) - probesBefore;
    assert.ok(probes <= during.accepted.length, `${probes} probes among ${during.accepted.length} admitted sends`);
    const share = during.shed.length / (during.shed.length + during.accepted.length - probes);
    t.diagnostic(
      `250 ms per chunk each way, latency ratio ${(await metric('agentbridge_load_latency_ratio')).toFixed(1)}: ${during.shed.length} of ${during.shed.length + during.accepted.length} new sends shed, ${probes} admitted as probes (${(share * 100).toFixed(1)} % of the others, configured 50 %)`,
    );
    assert.ok(share > 0.3 && share < 0.7, `shed ${(share * 100).toFixed(1)} %`);
    assert.ok(
      during.shed.every((details) => details.retryAfterMs === 1_000),
      'each refusal says when to retry',
    );
    assert.equal(await metric('agentbridge_load_shedding'), 1);
    assert.ok((await metric('agentbridge_load_latency_ratio')) >= 10);

    proxy.setDelay(0);
    await waitFor(async () => (await sendAll(2, 'recovering')).shed.length === 0 && (await metric('agentbridge_load_shedding')) === 0, { timeoutMs: 30_000, intervalMs: 10, description: 'shedding to stop' });
    const afterwards = await sendAll(10, 'after');
    assert.equal(afterwards.shed.length, 0, 'nothing is shed once the latency is back at its baseline');

    // Every accepted message is delivered; none of the shed ones was stored.
    const expected = new Set(acceptedAll);
    const { messages } = await receive(receiver, expected.size, 60_000);
    const got = new Set(messages.map((m) => m.message_id));
    for (const id of expected) assert.ok(got.has(id), `accepted message ${id} delivered`);
    assert.equal(got.size, expected.size, 'and nothing else: no shed send was stored');
    t.diagnostic(`${expected.size} accepted in all, every one delivered; ${shedAll} shed`);
    assert.equal(await metric('agentbridge_sends_refused_total{reason="load_shed"'), shedAll, 'every shed send is counted');
  });
});
