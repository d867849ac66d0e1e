/**
 * The message path on a real Redis Cluster (3 primaries, 3 replicas; REDIS_CLUSTER_NODES): legacy
 * and modern agents each way, and a primary failover during traffic.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitFor, type AgentClient } from '@agent-bridge/testkit';
import { receive, startClusterBridge, type ClusterBridge, type ModernAgent } from '@agent-bridge/testkit/bridge';
import { ToolCallError } from '@agent-bridge/testkit';

describe('the message path on a Redis Cluster', () => {
  let bridge: ClusterBridge;
  let alice: AgentClient;
  let bob: AgentClient;
  let carol: ModernAgent;

  before(async () => {
    bridge = await startClusterBridge({
      agents: ['alice', 'bob', 'carol'],
      elicitations: 1,
      // A replica has every accepted message before its sender hears so: a primary's failover keeps it.
      env: { REDIS_WAIT_REPLICAS: '1' },
      flags: { 'elicitation.enabled': 'true', 'elicitation.agents': 'carol' },
    });
    alice = await bridge.connect('alice');
    bob = await bridge.connect('bob');
    carol = await bridge.connectModern('carol', { answer: (request) => ({ action: 'accept', content: { response: request.message.includes('hello carol') ? 'carol read: hello carol' : 'carol: ok' } }) });
    await waitFor(async () => (await bridge.store.store.readPresence(['carol'])).get('carol')?.some((s) => s.streamOpen) ?? false, { timeoutMs: 10_000, description: 'carol present with an open stream' });
  });
  after(async () => {
    await Promise.all([alice, bob, carol].filter(Boolean).map((client) => client.close()));
    await bridge?.stop();
  });

  test('legacy to legacy, both ways, in order', async () => {
    for (let i = 0; i < 5; i++) {
      await alice.callToolJson('send_message', { to: 'bob', content: `a→b ${i}` });
      await bob.callToolJson('send_message', { to: 'alice', content: `b→a ${i}` });
    }
    const [toBob, toAlice] = await Promise.all([receive(bob, 5, 20_000), receive(alice, 5, 20_000)]);
    assert.deepEqual(
      toBob.messages.map((m) => m.content),
      [0, 1, 2, 3, 4].map((i) => `a→b ${i}`),
    );
    assert.deepEqual(
      toAlice.messages.map((m) => m.content),
      [0, 1, 2, 3, 4].map((i) => `b→a ${i}`),
    );
    await alice.callToolJson('ack_messages', { cursor: toAlice.cursor! });
    await bob.callToolJson('ack_messages', { cursor: toBob.cursor! });
  });

  test('legacy to modern by push (elicitation), and the answer back to legacy', async () => {
    await alice.callToolJson('send_message', { to: 'carol', content: 'hello carol' });
    const { messages, cursor } = await receive(alice, 1, 20_000);
    assert.equal(messages[0]!.from, 'carol');
    assert.match(messages[0]!.content, /carol read: .*hello carol/);
    assert.equal(carol.received.length, 1);
    await alice.callToolJson('ack_messages', { cursor: cursor! });
  });

  test('a modern agent elicits from a legacy one; the legacy reply completes it', async () => {
    const asking = carol.callToolJson<{ action: string; content: Record<string, unknown>; responder: string }>('elicit', {
      to: 'bob',
      message: 'Ship it?',
      requested_schema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] },
      timeout_ms: 20_000,
    });
    const { messages, cursor } = await receive(bob, 1, 15_000);
    await bob.callToolJson('send_message', { to: 'carol', content: JSON.stringify({ ok: true }), in_reply_to: messages[0]!.message_id });
    const result = await asking;
    assert.deepEqual([result.action, result.content, result.responder], ['accept', { ok: true }, 'bob']);
    await bob.callToolJson('ack_messages', { cursor: cursor! });
  });

  /**
   * alice sends to bob without pause while the primary that holds bob's shard fails over; a send the
   * bridge could not take is retried with the same idempotency key, as the agent guide says.
   * Returns what was accepted, in order, and what bob received.
   */
  async function trafficThrough(label: string, event: (port: number) => Promise<{ elapsedMs: number }>) {
    const primary = await bridge.cluster.primaryOf(bridge.store.keys.lane('bob', 'poll'));
    const accepted: string[] = [];
    let retries = 0;
    const errors = new Map<string, number>();
    let stop = false;
    const sending = (async () => {
      for (let i = 0; !stop || i < 20; i++) {
        for (;;) {
          try {
            const sent = await alice.callToolJson<{ message_id: string }>('send_message', { to: 'bob', content: `${label} ${i}`, idempotency_key: `${label}-${i}` });
            if (accepted.at(-1) !== sent.message_id) accepted.push(sent.message_id);
            break;
          } catch (error) {
            if (!(error instanceof ToolCallError)) throw error;
            retries += 1;
            errors.set(error.message.slice(0, 160), (errors.get(error.message.slice(0, 160)) ?? 0) + 1);
            if (retries > 300) throw new Error(`sends kept failing: ${JSON.stringify([...errors])}`, { cause: error });
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        }
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const { elapsedMs } = await event(primary.port);
    stop = true;
    await sending;
    const { messages, cursor } = await receive(bob, accepted.length, 60_000);
    await bob.callToolJson('ack_messages', { cursor: cursor! });
    return { accepted, received: messages.map((m) => m.message_id), retries, errors: [...errors], elapsedMs, primaryPort: primary.port };
  }

  test('connections per process stay a few per node, whatever the agents; no command spanned slots', async (t) => {
    const perProcess = new Map<string, number>();
    for (const node of bridge.cluster.nodes.filter((n) => n.running)) {
      const list = (await bridge.cluster.nodeClient(node.port).client('LIST')) as string;
      for (const line of list.split('\n').filter(Boolean)) {
        const name = /(?:^| )name=(\S*)/.exec(line)?.[1] ?? '';
        const service = /(legacy-poll-\d+|elicitation-\d+|router-\d+)/.exec(name)?.[1];
        if (service) perProcess.set(service, (perProcess.get(service) ?? 0) + 1);
      }
    }
    t.diagnostic(`Redis connections per process over ${bridge.cluster.nodes.length} nodes: ${JSON.stringify(Object.fromEntries(perProcess))}`);
    assert.ok(perProcess.size >= 3, `every process is connected: ${[...perProcess.keys()].join(', ')}`);
    // At most one per node (commands, slot map refreshes) and one sharded subscriber per primary.
    const primaries = (await bridge.cluster.primaries()).length;
    for (const [service, count] of perProcess) assert.ok(count <= bridge.cluster.nodes.length + primaries, `${service}: ${count} connections`);
    const crossSlot = [...bridge.legacyPolls, ...bridge.elicitations, ...bridge.routers].flatMap((service) => service.logs().filter((line) => /CROSSSLOT|same slots allocation group|non local key/i.test(line)));
    assert.deepEqual(crossSlot, [], 'no command or pipeline spanned slots');
  });

  test('a router killed with -9 during traffic: its shards are taken over, nothing lost or twice, order kept', async (t) => {
    const run = await trafficThrough('router', async () => {
      const started = Date.now();
      const exit = await bridge.routers[0]!.kill9();
      assert.equal(exit.signal, 'SIGKILL');
      await bridge.startRouter('router-2');
      return { elapsedMs: Date.now() - started };
    });
    t.diagnostic(`router kill -9 and a new router in ${run.elapsedMs} ms: ${run.accepted.length} accepted, ${run.received.length} received`);
    assert.deepEqual(run.received, run.accepted);
  });

  test('a graceful primary failover during traffic: every accepted message delivered once, in order', async (t) => {
    const run = await trafficThrough('graceful', (port) => bridge.cluster.failover(port, { mode: 'graceful' }));
    t.diagnostic(`failover of :${run.primaryPort} in ${run.elapsedMs} ms: ${run.accepted.length} accepted, ${run.retries} sends retried, ${run.received.length} received`);
    assert.deepEqual(run.received, run.accepted);
  });

  test('a kill -9 of the primary during traffic: nothing delivered twice, order kept; what was lost is counted', async (t) => {
    // As Kubernetes would, the killed node is started again (it rejoins as a replica): until then its
    // promoted replica has no replica of its own, so WAIT 1 cannot be met and sends to its shards are
    // refused with UNAVAILABLE, then retried.
    const run = await trafficThrough('killed', async (port) => {
      const failover = await bridge.cluster.killPrimary(port);
      await bridge.cluster.restartNode(port);
      return failover;
    });
    const lost = run.accepted.filter((id) => !run.received.includes(id));
    t.diagnostic(
      `kill -9 of :${run.primaryPort}, a replica promoted in ${run.elapsedMs} ms: ${run.accepted.length} accepted, ${run.retries} sends retried (${JSON.stringify(run.errors)}), ${run.received.length} received, ${lost.length} lost`,
    );
    assert.equal(new Set(run.received).size, run.received.length, 'nothing twice');
    assert.deepEqual(
      run.received,
      run.accepted.filter((id) => run.received.includes(id)),
      'in the order accepted',
    );
    assert.deepEqual(lost, [], 'REDIS_WAIT_REPLICAS=1: a replica had every accepted message before the kill');
  });
});
