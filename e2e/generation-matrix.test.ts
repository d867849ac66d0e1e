/**
 * Every kind of sender against every kind of receiver, on one bridge: agents on the legacy endpoint
 * (any client), 2025-11-25 sessions with pushes (SDK v2 in legacy mode, SDK 1.x) and 2026-07-28
 * agents taking rounds (SDK v2 pinned). Messages and `elicit` round trips, both ways.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '@agent-bridge/testkit';
import { connectParticipant, sleep, startBridge, type Bridge, type ClientKind, type Delivery, type Participant, type Role, type ServedAs } from '@agent-bridge/testkit/bridge';

/** Every way an agent can be served, with every client that can be served that way. */
const KINDS: Array<[ServedAs, ClientKind]> = [
  ['legacy', 'v2-legacy'],
  ['legacy', 'v2-2026'],
  ['legacy', 'sdk1'],
  ['session', 'v2-legacy'],
  ['session', 'sdk1'],
  ['round', 'v2-2026'],
];
const rolesNamed = (prefix: string): Role[] => KINDS.map(([servedAs, client]) => ({ id: `${prefix}-${servedAs}-${client}`, servedAs, client }));
const SENDERS = rolesNamed('s');
const RECEIVERS = rolesNamed('r');
const ROLES = [...SENDERS, ...RECEIVERS];
/** elicit is a tool of the elicitation endpoint only. */
const onElicitationEndpoint = (role: Role) => role.servedAs !== 'legacy';

interface Pair {
  from: Role;
  to: Role;
  name: string;
}
const pair = (from: Role, to: Role): Pair => ({ from, to, name: `${from.id} → ${to.id}` });
const MESSAGE_PAIRS = [...SENDERS.flatMap((s) => RECEIVERS.map((r) => pair(s, r))), ...RECEIVERS.flatMap((r) => SENDERS.map((s) => pair(r, s)))];
const ELICIT_PAIRS = MESSAGE_PAIRS.filter((p) => onElicitationEndpoint(p.from));
const MESSAGES_PER_PAIR = 5;

/** Multi-byte and combining characters, quotes, backslashes, CR/LF and tabs: must arrive byte-identical. */
function content({ name }: Pair, i: number): string {
  return `${name} #${i} ünïcødé ✓ ${'é'.normalize('NFD')} "double" 'single' \\back\\slash\nsecond line\r\n\ttabbed 🙂 <&> {"json":"ish"}`;
}
function metadata({ name }: Pair, i: number): Record<string, unknown> {
  return { pair: name, i, nested: { quote: '"', newline: 'a\nb', emoji: '🙂' }, list: [1, 'two', null, true] };
}

const ANSWER_SCHEMA = {
  type: 'object',
  properties: { answer: { type: 'string', title: 'Answer' }, n: { type: 'integer', minimum: 0 } },
  required: ['answer'],
};
const question = ({ from, to }: Pair) => `${from.id} asks ${to.id}: ready? ünïcødé "q"\nline 2 🙂`;
const formContent = (self: Role, asker: string) => ({ answer: `${self.id} answers ${asker}: "ja" ✓\nzweite Zeile`, n: 7 });

/**
 * How each agent answers a question. Form agents fill in the form. Legacy agents reply by
 * send_message, one for each of elicit's rules: JSON that fits the schema, plain text, and JSON
 * that does not fit.
 */
function answerQuestion(self: Role, asked: Delivery): Record<string, unknown> | string {
  if (self.servedAs !== 'legacy' || self.client === 'v2-legacy') return formContent(self, asked.from);
  if (self.client === 'v2-2026') return `${self.id}: sure — "why not" ✓\nbye`;
  return JSON.stringify({ answer: 42 });
}
/** What elicit returns for that answer (elicit-tool.ts shapeResult). */
function expectedElicitContent(target: Role, asker: string): Record<string, unknown> {
  const reply = answerQuestion(target, { from: asker } as Delivery);
  return typeof reply === 'string' ? { response: reply } : reply;
}

/** The form text of a pushed message (adapter.ts elicitationMessageText). */
const formText = (from: string, verb: 'says' | 'asks', text: string, messageId: string) => `${from} ${verb}:\n\n${text}\n\n(message ${messageId})`;
const laneOf = (receiver: Role) => (receiver.servedAs === 'legacy' ? 'poll' : 'push');

interface ElicitOutcome {
  message_id: string;
  action: string;
  content?: Record<string, unknown>;
  responder: string;
  via?: string;
  reply_id?: string;
}

describe('generation matrix: every sender kind reaches every receiver kind, messages and elicit, both ways', () => {
  let bridge: Bridge;
  const agents = new Map<string, Participant>();
  const agent = (role: Role) => agents.get(role.id)!;
  /** The ids send_message returned, per pair, in sending order. */
  const sent = new Map<string, string[]>();
  /** Each elicit's result (or its failure), per pair. */
  const elicited = new Map<string, ElicitOutcome | Error>();

  before(async () => {
    bridge = await startBridge({
      agents: ROLES.map((r) => r.id),
      elicitations: 1,
      flags: {
        'elicitation.enabled': 'true',
        'elicitation.agents': ROLES.filter(onElicitationEndpoint)
          .map((r) => r.id)
          .join(','),
      },
    });
    const connected = await Promise.all(ROLES.map((role) => connectParticipant(bridge, role, answerQuestion)));
    for (const participant of connected) agents.set(participant.role.id, participant);
  });
  after(async () => {
    await Promise.all([...agents.values()].map((a) => a.stop()));
    await bridge?.stop();
  });

  /** The deliveries of `kind` from the pair's sender to its receiver. */
  const handed = (p: Pair, kind: Delivery['kind']) => agent(p.to).deliveries.filter((d) => d.from === p.from.id && d.kind === kind);

  test(`${MESSAGES_PER_PAIR} messages on each of the ${MESSAGE_PAIRS.length} sender → receiver pairs are each handed over exactly once, in order, content and metadata byte-identical`, async (t) => {
    await Promise.all(
      MESSAGE_PAIRS.map(async (p) => {
        const ids: string[] = [];
        sent.set(p.name, ids);
        for (let i = 0; i < MESSAGES_PER_PAIR; i++) {
          const result = await agent(p.from).callJson<{ message_id: string; status: string }>('send_message', { to: p.to.id, content: content(p, i), metadata: metadata(p, i) });
          assert.equal(result.status, 'accepted', `${p.name}: send_message #${i} accepted`);
          ids.push(result.message_id);
        }
      }),
    );
    await waitFor(() => MESSAGE_PAIRS.every((p) => handed(p, 'message').length >= MESSAGES_PER_PAIR), { timeoutMs: 30_000, description: 'every message to arrive' }).catch(() => undefined);
    await sleep(500); // a duplicate would show up by now

    for (const p of MESSAGE_PAIRS) {
      await t.test(p.name, () => {
        const ids = sent.get(p.name)!;
        const got = handed(p, 'message');
        assert.deepEqual(
          got.map((d) => d.messageId),
          ids,
          `${p.name}: each of the ${MESSAGES_PER_PAIR} messages handed over exactly once, in the order sent`,
        );
        got.forEach((d, i) => {
          const what = `${p.name} #${i} (${d.messageId})`;
          assert.equal(d.lane, laneOf(p.to), `${what}: on the ${laneOf(p.to)} lane`);
          assert.deepEqual(d.metadata, metadata(p, i), `${what}: metadata intact`);
          if (d.lane === 'poll') {
            assert.equal(d.text, content(p, i), `${what}: content byte-identical`);
          } else {
            assert.ok(d.text.includes(content(p, i)), `${what}: the form text contains the content verbatim: ${JSON.stringify(d.text)}`);
            assert.equal(d.text, formText(p.from.id, 'says', content(p, i), d.messageId), `${what}: the form text names sender and message`);
          }
        });
      });
    }
  });

  test(`elicit on each of the ${ELICIT_PAIRS.length} pairs whose asker is on the elicitation endpoint returns the answer the target gave`, async (t) => {
    await Promise.all(
      ELICIT_PAIRS.map(async (p) => {
        const outcome = await agent(p.from)
          .callJson<ElicitOutcome>('elicit', { to: p.to.id, message: question(p), requested_schema: ANSWER_SCHEMA, timeout_ms: 20_000 })
          .catch((error: unknown) => error as Error);
        elicited.set(p.name, outcome);
      }),
    );

    for (const p of ELICIT_PAIRS) {
      await t.test(p.name, () => {
        const outcome = elicited.get(p.name)!;
        if (outcome instanceof Error) assert.fail(`${p.name}: elicit failed: ${outcome.message}`);
        const asked = handed(p, 'elicitation');
        assert.deepEqual(
          asked.map((d) => d.messageId),
          [outcome.message_id],
          `${p.name}: the target was asked once, with the question elicit reports`,
        );
        const [d] = asked as [Delivery];
        assert.equal(d.lane, laneOf(p.to), `${p.name}: the question on the ${laneOf(p.to)} lane`);
        assert.deepEqual(d.schema, ANSWER_SCHEMA, `${p.name}: the target was shown the requested schema`);
        const text = d.lane === 'poll' ? question(p) : formText(p.from.id, 'asks', question(p), d.messageId);
        assert.equal(d.text, text, `${p.name}: the question's text`);
        assert.deepEqual(
          { action: outcome.action, content: outcome.content, responder: outcome.responder, via: outcome.via },
          { action: 'accept', content: expectedElicitContent(p.to, p.from.id), responder: p.to.id, via: p.to.servedAs === 'legacy' ? 'legacy' : 'elicitation' },
          `${p.name}: elicit returns the target's answer`,
        );
        assert.ok(outcome.reply_id, `${p.name}: names the reply`);
      });
    }
  });

  test("no agent is handed anything but the matrix's messages and questions, and no receive loop fails", () => {
    const expected = new Set([...sent.values()].flat());
    for (const outcome of elicited.values()) if (!(outcome instanceof Error)) expected.add(outcome.message_id);
    for (const participant of agents.values()) {
      const stray = participant.deliveries.filter((d) => !expected.has(d.messageId));
      assert.deepEqual(stray, [], `${participant.role.id} was handed only the matrix's messages and questions`);
      assert.deepEqual(participant.errors, [], `${participant.role.id}'s receive loop did not fail`);
    }
  });
});
