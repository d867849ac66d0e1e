import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitFor, type AgentClient } from '@agent-bridge/testkit';
import { receive, startBridge, startOtlpReceiver, waitForPushReady, type Bridge, type ModernAgent, type OtlpReceiver, type ReceivedSpan } from '@agent-bridge/testkit/bridge';

/**
 * Traces: every service exports to an OTLP/HTTP endpoint named by the standard OTEL_* variables;
 * the receiver keeps the spans in memory so a test sees whole traces.
 */
describe('one trace follows a message across services', () => {
  let receiver: OtlpReceiver;
  let bridge: Bridge;
  let alice: AgentClient;
  let bob: AgentClient;
  let carol: ModernAgent;

  before(async () => {
    receiver = await startOtlpReceiver();
    bridge = await startBridge({
      agents: ['alice', 'bob', 'carol'],
      elicitations: 1,
      flags: { 'elicitation.enabled': 'true', 'elicitation.agents': 'carol' },
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '100' },
    });
    alice = await bridge.connect('alice');
    bob = await bridge.connect('bob');
    carol = await bridge.connectModern('carol', { answer: () => ({ action: 'accept', content: { response: 'on it' } }) });
    await waitForPushReady(bridge, 'carol');
  });
  after(async () => {
    await Promise.all([alice?.close(), bob?.close(), carol?.close()]);
    await bridge?.stop();
    await receiver?.close();
  });

  /** The spans of the trace whose routing span is about `messageId`, once `names` are all there. */
  async function traceOf(messageId: string, names: string[]): Promise<ReceivedSpan[]> {
    let spans: ReceivedSpan[] = [];
    await waitFor(
      () => {
        const routing = receiver.spans.find((span) => span.name === 'route message' && span.attributes['agentbridge.message.id'] === messageId);
        spans = routing ? receiver.spans.filter((span) => span.traceId === routing.traceId) : [];
        const missing = [...names];
        for (const span of spans) {
          const at = missing.indexOf(span.name);
          if (at >= 0) missing.splice(at, 1);
        }
        return missing.length === 0;
      },
      { timeoutMs: 15_000, description: `a trace of ${messageId} with spans ${names.join(', ')} (have: ${spans.map((s) => `${s.service}/${s.name}`).join(', ') || 'none'})` },
    );
    return spans;
  }

  function single(spans: ReceivedSpan[], predicate: (span: ReceivedSpan) => boolean, what: string): ReceivedSpan {
    const found = spans.filter(predicate);
    assert.equal(found.length, 1, `exactly one ${what} span in the trace; spans: ${spans.map((s) => `${s.service}/${s.name}`).join(', ')}`);
    return found[0]!;
  }

  test('a legacy message: the send, route and poll delivery spans form one trace, each the parent of the next', async () => {
    const sent = await alice.callToolJson<{ message_id: string }>('send_message', { to: 'bob', content: 'traced hello' });
    const { messages } = await receive(bob, 1, 15_000);
    assert.equal(messages[0]?.message_id, sent.message_id);

    const spans = await traceOf(sent.message_id, ['tools/call send_message', 'route message', 'deliver poll']);
    const send = single(spans, (s) => s.name === 'tools/call send_message', 'send');
    const route = single(spans, (s) => s.name === 'route message', 'route');
    const deliver = single(spans, (s) => s.name === 'deliver poll', 'delivery');
    assert.deepEqual([send.service, route.service, deliver.service], ['legacy-poll', 'router', 'legacy-poll'], 'each step is reported by the service that did it');
    assert.equal(send.parentSpanId, undefined, 'the send starts the trace');
    assert.equal(route.parentSpanId, send.spanId, "routing continues the sender's span (context from the events stream entry)");
    assert.equal(deliver.parentSpanId, route.spanId, 'delivery continues the routing span (context from the lane entry)');
    assert.equal(send.attributes['agentbridge.agent.id'], 'alice');
    assert.equal(route.attributes['agentbridge.lane'], 'poll');
    assert.equal(deliver.attributes['agentbridge.agent.id'], 'bob');
    const poll = receiver.spans.find((s) => s.spanId === deliver.links[0]?.spanId);
    assert.equal(poll?.name, 'tools/call wait_for_messages', 'the delivery links to the poll that handed the message over');
  });

  test("a pushed message and its answer: send, route, push delivery, the reply's routing and its poll delivery are one trace", async () => {
    const sent = await alice.callToolJson<{ message_id: string }>('send_message', { to: 'carol', content: 'traced question' });
    const { messages } = await receive(alice, 1, 15_000);
    assert.equal(messages[0]?.reply_to, sent.message_id, "alice got carol's answer");

    const spans = await traceOf(sent.message_id, ['tools/call send_message', 'route message', 'deliver push', 'route message', 'deliver poll']);
    const send = single(spans, (s) => s.name === 'tools/call send_message', 'send');
    const route = single(spans, (s) => s.name === 'route message' && s.attributes['agentbridge.message.id'] === sent.message_id, 'route');
    const push = single(spans, (s) => s.name === 'deliver push', 'push');
    const replyRoute = single(spans, (s) => s.name === 'route message' && s.attributes['agentbridge.message.id'] === messages[0]!.message_id, 'reply route');
    const replyDelivery = single(spans, (s) => s.name === 'deliver poll' && s.attributes['agentbridge.message.id'] === messages[0]!.message_id, 'reply delivery');
    assert.equal(route.attributes['agentbridge.lane'], 'push');
    assert.equal(route.parentSpanId, send.spanId);
    assert.equal(push.service, 'elicitation');
    assert.equal(push.parentSpanId, route.spanId, 'the push continues the routing span');
    assert.equal(push.attributes['agentbridge.answer.action'], 'accept');
    assert.equal(replyRoute.parentSpanId, push.spanId, "the reply carries the push span's context");
    assert.equal(replyDelivery.parentSpanId, replyRoute.spanId);
    assert.equal(replyDelivery.attributes['agentbridge.agent.id'], 'alice');
  });
});
