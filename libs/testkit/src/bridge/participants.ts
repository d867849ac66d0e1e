/**
 * The agents of the generation matrix: one connector per way an agent can be served (a legacy
 * long-poller, a 2025-11-25 session with pushes, a 2026-07-28 agent taking rounds), each with any
 * client that can be served that way. Every participant records each message it is handed, on
 * whichever lane, in one shape, and answers questions (messages with a reply schema, or
 * elicitations of kind `elicitation`) with what the test tells it to.
 */
import type { ElicitRequestParams, ElicitResult } from '@modelcontextprotocol/client';
import { MESSAGE_META_KEY, type MessageMeta } from '@agent-bridge/protocol';
import { connectAgent, waitFor, type AnyAgentClient, type ClientGeneration } from '../index.js';
import { poll, type Bridge, type PolledMessage } from './bridge.js';
import { waitForPushReady } from './modern.js';
import { connectStateless, type RoundElicitation, type StatelessAgent } from './stateless.js';

/** How an agent is served: which endpoint, and how messages reach it there. */
export type ServedAs = 'legacy' | 'session' | 'round';
/** The MCP client an agent is built on. */
export type ClientKind = 'v2-2026' | 'v2-legacy' | 'sdk1';

const GENERATION_OF: Record<ClientKind, ClientGeneration> = { 'v2-2026': '2026-07-28', 'v2-legacy': '2025-11-25', sdk1: 'sdk1' };

export interface Role {
  id: string;
  servedAs: ServedAs;
  client: ClientKind;
}

/** One message as its recipient was handed it. */
export interface Delivery {
  /** `poll`: a wait_for_messages result; `push`: an elicitation (pushed on a session, or in a round). */
  lane: 'poll' | 'push';
  messageId: string;
  from: string;
  kind: MessageMeta['kind'];
  /** The poll lane's `content`, or the elicitation's form message text. */
  text: string;
  metadata: Record<string, unknown>;
  /** The reply schema (poll) or the requested schema (push); for a plain push, the default form. */
  schema: Record<string, unknown> | undefined;
}

/** A question's answer: form content on the push lane, the send_message reply text on the poll lane. */
export type Answerer = (self: Role, question: Delivery) => Record<string, unknown> | string;

export interface Participant {
  readonly role: Role;
  /** Everything handed to this agent, in the order it was handed. */
  readonly deliveries: Delivery[];
  /** Failures of its receive loop (the loop goes on). */
  readonly errors: string[];
  callJson<T = Record<string, unknown>>(tool: string, args: Record<string, unknown>): Promise<T>;
  stop(): Promise<void>;
}

export async function connectParticipant(bridge: Bridge, role: Role, answer: Answerer): Promise<Participant> {
  if (role.servedAs === 'legacy') return connectLegacyPoller(bridge, role, answer);
  if (role.servedAs === 'session') return connectSession(bridge, role, answer);
  return connectRoundTaker(bridge, role, answer);
}

/** A form answer: questions get the test's content; plain messages are accepted without any, so no reply is sent. */
function formAnswer(self: Role, delivery: Delivery, answer: Answerer): ElicitResult {
  if (delivery.kind !== 'elicitation') return { action: 'accept' };
  const content = answer(self, delivery);
  if (typeof content === 'string') throw new Error(`the answerer gave ${self.id} text for a form`);
  return { action: 'accept', content: content as ElicitResult['content'] };
}

function pushed(params: { message: string; requestedSchema?: Record<string, unknown>; _meta?: Record<string, unknown> }): Delivery {
  const meta = params._meta?.[MESSAGE_META_KEY] as MessageMeta | undefined;
  return {
    lane: 'push',
    messageId: meta?.message_id ?? '(no _meta message_id)',
    from: meta?.from ?? '(no _meta from)',
    kind: meta?.kind ?? 'message',
    text: params.message,
    metadata: meta?.metadata ?? {},
    schema: params.requestedSchema,
  };
}

function polled(message: PolledMessage): Delivery {
  return {
    lane: 'poll',
    messageId: message.message_id,
    from: message.from,
    kind: message.reply_schema ? 'elicitation' : message.reply_to ? 'reply' : 'message',
    text: message.content,
    metadata: message.metadata,
    schema: message.reply_schema,
  };
}

/**
 * Loops wait_for_messages with its cursor until stopped; answers each question (a message with a
 * reply schema) by send_message(in_reply_to) before it polls again, as a legacy agent does.
 */
function pollLoop(agent: AnyAgentClient, self: Role, deliveries: Delivery[], errors: string[], holdMs: number, answer: Answerer): { stop(): Promise<void> } {
  let stopping = false;
  const running = (async () => {
    let cursor: string | undefined;
    while (!stopping) {
      try {
        const page = await poll(agent, { ...(cursor ? { cursor } : {}), timeout_ms: holdMs, max_messages: 100 });
        cursor = page.cursor;
        for (const message of page.messages) {
          const delivery = polled(message);
          deliveries.push(delivery);
          if (delivery.kind === 'elicitation') {
            const reply = answer(self, delivery);
            const content = typeof reply === 'string' ? reply : JSON.stringify(reply);
            await agent.callToolJson('send_message', { to: delivery.from, content, in_reply_to: delivery.messageId });
          }
        }
      } catch (error) {
        if (!stopping) errors.push((error as Error).message);
      }
    }
  })();
  return {
    async stop() {
      stopping = true;
      await agent.close().catch(() => undefined);
      await running;
    },
  };
}

async function connectLegacyPoller(bridge: Bridge, role: Role, answer: Answerer): Promise<Participant> {
  const deliveries: Delivery[] = [];
  const errors: string[] = [];
  const agent = await connectAgent({ url: bridge.legacyUrls[0]!, token: bridge.tokens[role.id]!, name: role.id, generation: GENERATION_OF[role.client] });
  const loop = pollLoop(agent, role, deliveries, errors, 1_000, answer);
  return { role, deliveries, errors, callJson: (tool, args) => agent.callToolJson(tool, args), stop: () => loop.stop() };
}

/**
 * A 2025-11-25 session on the elicitation endpoint: pushes arrive as `elicitation/create` on its GET
 * stream. It also polls its poll lane, so a message routed there instead is seen (and reported) too,
 * and a question there is answered as a legacy agent would.
 */
async function connectSession(bridge: Bridge, role: Role, answer: Answerer): Promise<Participant> {
  const deliveries: Delivery[] = [];
  const errors: string[] = [];
  const agent = await connectAgent({
    url: `${bridge.elicitationBaseUrls[0]}/mcp`,
    token: bridge.tokens[role.id]!,
    name: role.id,
    generation: GENERATION_OF[role.client],
    onElicitation: (params: ElicitRequestParams) => {
      const delivery = pushed(params as Parameters<typeof pushed>[0]);
      deliveries.push(delivery);
      return formAnswer(role, delivery, answer);
    },
  });
  await waitForPushReady(bridge, role.id);
  const loop = pollLoop(agent, role, deliveries, errors, 5_000, answer);
  return { role, deliveries, errors, callJson: (tool, args) => agent.callToolJson(tool, args), stop: () => loop.stop() };
}

/** A 2026-07-28 agent looping wait_for_messages on the elicitation endpoint: messages come as rounds. */
async function connectRoundTaker(bridge: Bridge, role: Role, answer: Answerer): Promise<Participant> {
  const deliveries: Delivery[] = [];
  const agent: StatelessAgent = await connectStateless(`${bridge.elicitationBaseUrls[0]}/mcp`, bridge.tokens[role.id]!, role.id, {
    answer: (request: RoundElicitation) => {
      const delivery = pushed({ message: request.message, requestedSchema: request.requestedSchema, _meta: request.meta ? { [MESSAGE_META_KEY]: request.meta } : {} });
      deliveries.push(delivery);
      return formAnswer(role, delivery, answer);
    },
    onPolled: (messages) => deliveries.push(...messages.map(polled)),
  });
  agent.run(5_000);
  await waitFor(async () => (await bridge.store.store.readPresence([role.id])).get(role.id)?.some((s) => s.elicitation.form && s.streamOpen) ?? false, {
    timeoutMs: 10_000,
    description: `${role.id} to be present for push while its wait_for_messages waits`,
  });
  return { role, deliveries, errors: agent.errors, callJson: (tool, args) => agent.callJson(tool, args), stop: () => agent.stop() };
}
