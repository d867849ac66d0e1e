import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { test } from 'node:test';
import { BridgeMetrics, createLogger } from '@agent-bridge/observability';
import { RELAY_ASSERTION_HEADER, RELAYED_BY_HEADER, RelayCredential } from './relay-credential.js';
import { InboundRelay, relayHeaders } from './relay-inbound.js';

const credential = new RelayCredential({ keys: [Buffer.from('k'.repeat(48))] });
const body = Buffer.from('{"jsonrpc":"2.0","id":1}');
const expected = { audience: 'elicitation/replica-b', method: 'POST', path: '/mcp' };

function inbound() {
  const metrics = new BridgeMetrics('elicitation', { defaultMetrics: false });
  const answered: string[] = [];
  const relay = new InboundRelay({ credential, metrics, logger: createLogger('elicitation', 'silent'), answerRefusal: (_response, why) => answered.push(why) });
  const refused = async () => (await metrics.registry.getSingleMetric('agentbridge_relays_refused_total')!.get()).values.filter((v) => v.labels.direction === 'inbound').map((v) => `${v.labels.reason}=${v.value}`);
  return { relay, answered, refused };
}

const requestWith = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;
const response = {} as ServerResponse;

test('a valid assertion gives its claims; its body must be the one it was signed for', async () => {
  const { relay, answered, refused } = inbound();
  const assertion = credential.sign({ identity: 'alice', ...expected, body });
  const request = requestWith(relayHeaders('replica-a', assertion));
  const claims = relay.verify(request, response, expected);
  assert.equal(claims?.identity, 'alice');
  assert.equal(relay.bodyMatches(request, response, claims!, body), true);
  assert.deepEqual(answered, []);
  assert.equal(relay.bodyMatches(request, response, claims!, Buffer.from('{}')), false);
  assert.deepEqual(answered, ['the body is not the one the relay assertion was signed for']);
  assert.deepEqual(await refused(), ['wrong_body=1']);
});

test('a missing or forged assertion is refused: counted by reason, answered in the service shape, null', async () => {
  const { relay, answered, refused } = inbound();
  assert.equal(relay.verify(requestWith({ [RELAYED_BY_HEADER]: 'replica-a' }), response, expected), null);
  assert.equal(relay.verify(requestWith({ [RELAY_ASSERTION_HEADER]: 'abr1.forged.value' }), response, expected), null);
  assert.equal(answered.length, 2);
  assert.deepEqual((await refused()).sort(), ['malformed=1', 'missing=1']);
});

test('relayHeaders names the relaying process and carries the assertion, nothing else', () => {
  assert.deepEqual(relayHeaders('ctl-a', 'abr1.x'), { [RELAYED_BY_HEADER]: 'ctl-a', [RELAY_ASSERTION_HEADER]: 'abr1.x' });
});
