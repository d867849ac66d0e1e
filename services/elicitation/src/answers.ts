import type { EventStore, PushLaneEntry, PushLease } from '@agent-bridge/event-store';
import { traceparentField, type BridgeMetrics, type Span } from '@agent-bridge/observability';
import type { UsageRecorder } from '@agent-bridge/service-kit';
import { answerToLegacyContent, derivedMessageId, formAnswerProblems, type Envelope, type FormSchema } from '@agent-bridge/protocol';

export type Answer = { action: 'accept' | 'decline' | 'cancel'; content?: Record<string, unknown> };

export interface AnswerDeps {
  store: EventStore;
  metrics: BridgeMetrics;
  messageDeadlineMs: number;
  /** Counts each delivery for the legacy inventory (messages delivered to the agent). */
  usage?: Pick<UsageRecorder, 'messages'>;
}

/**
 * Whether an entry handed out before (a redelivery) was already answered: a predecessor that
 * stored the reply and died before settling. Its successor settles without asking again.
 */
export async function answeredBefore(store: EventStore, entry: PushLaneEntry): Promise<boolean> {
  return (await store.getMessage(derivedMessageId(entry.messageId, 'answer'), entry.payload.from)) !== null;
}

/**
 * Records the target's answer to a delivered elicitation, the same way on both MCP generations:
 * the reply (for a question, or an accepted form with content) is appended to the sender's shard
 * first, with an id derived from the message id so the append is idempotent; only then is the lane
 * entry settled. A crash between the two leaves the entry pending and `answeredBefore` true.
 * Fenced by the push lease: throws LEASE_LOST when it was taken over.
 */
export async function recordAnswer(deps: AnswerDeps, lease: PushLease, entry: PushLaneEntry, answer: Answer, span: Span): Promise<'answered' | 'declined' | 'cancelled'> {
  const state = await storeReply(deps, lease, entry, answer, span);
  await deps.store.settlePush(lease, entry, state);
  return state;
}

/**
 * The first half of recordAnswer: counts the delivery and appends the reply the answer makes (if
 * any); returns the state the entry is to be settled with. A 2026 round settles all its entries
 * in one step after this ran for each.
 */
export async function storeReply(deps: AnswerDeps, lease: PushLease, entry: PushLaneEntry, answer: Answer, span: Span): Promise<'answered' | 'declined' | 'cancelled'> {
  const { store, metrics } = deps;
  const payload = entry.payload;
  metrics.messagesDelivered.inc({ protocol: 'elicitation', via: entry.via });
  deps.usage?.messages(lease.agentId, 'elicitation', 1);
  metrics.deliveryLatency.observe({ protocol: 'elicitation' }, Math.max(0, Date.now() - Date.parse(payload.timestamp)) / 1000);
  if (payload.kind === 'elicitation' || (answer.action === 'accept' && answer.content && Object.keys(answer.content).length > 0)) {
    const now = Date.now();
    const reply: Envelope = {
      id: derivedMessageId(entry.messageId, 'answer'),
      kind: 'reply',
      from: lease.agentId,
      to: payload.from,
      content: answerToLegacyContent(answer),
      metadata: {},
      inReplyTo: entry.messageId,
      answer: answer.content === undefined ? { action: answer.action } : { action: answer.action, content: answer.content },
      sourceProtocol: 'elicitation',
      acceptedAt: now,
      deadlineAt: now + deps.messageDeadlineMs,
      ...traceparentField(span),
    };
    await store.append({ envelope: reply, answer: true });
    metrics.messagesSent.inc({ protocol: 'elicitation' });
  }
  span.setAttribute('agentbridge.answer.action', answer.action);
  return answer.action === 'accept' ? 'answered' : answer.action === 'decline' ? 'declined' : 'cancelled';
}

/**
 * An elicitation result received from a client (untrusted): the answer it makes, or why it is not
 * one (a wrong shape, or accepted content that does not fit the requested schema).
 */
export function parseAnswer(value: unknown, schema: Record<string, unknown>): { answer: Answer } | { problem: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { problem: 'the answer is not an object' };
  const { action, content } = value as { action?: unknown; content?: unknown };
  if (action === 'decline' || action === 'cancel') return { answer: { action } };
  if (action !== 'accept') return { problem: `action must be accept, decline or cancel, not ${JSON.stringify(action)}` };
  if (content === undefined) return { answer: { action } };
  if (typeof content !== 'object' || content === null || Array.isArray(content)) return { problem: 'content must be an object' };
  const problems = formAnswerProblems(schema as FormSchema, content as Record<string, unknown>);
  if (problems.length > 0) return { problem: problems.join('; ') };
  return { answer: { action, content: content as Record<string, unknown> } };
}
