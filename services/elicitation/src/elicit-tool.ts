import { doorbellTopics, ELICIT_END_STATES, isStoreError, type Doorbell, type ElicitAnswer, type EventStore, type LedgerState, type Waiter } from '@agent-bridge/event-store';
import { traceparentField, type BridgeMetrics } from '@agent-bridge/observability';
import { ELICIT_INPUT_SCHEMA, ToolError, elicitArgs, formAnswerProblems, formSchemaProblems, newMessageId, parseToolArguments, type Envelope, type FormSchema } from '@agent-bridge/protocol';
import type { SendGate } from '@agent-bridge/agent-tools';
import type { ToolCallContext, ToolDefinition, UsageRecorder } from '@agent-bridge/service-kit';

/** What `ask` needs of the parsed `elicit` arguments. */
type ElicitArgs = Pick<ReturnType<typeof parseToolArguments<typeof elicitArgs>>, 'to' | 'requested_schema' | 'idempotency_key'>;

export interface ElicitToolOptions {
  store: EventStore;
  doorbell: Doorbell;
  metrics: BridgeMetrics;
  knowsAgent: (agentId: string) => boolean;
  defaultTimeoutMs: number;
  maxTimeoutMs: number;
  progressIntervalMs: number;
  recheckMs: number;
  maxContentBytes: number;
  /** Admits the question before it is stored, like any send (rate, backlog, Redis memory). */
  sendGate: SendGate;
  shutdownSignal: AbortSignal;
  /** Counts each question asked for the legacy inventory (messages sent by the agent). */
  usage?: Pick<UsageRecorder, 'messages'>;
}

/**
 * `elicit(to, message, requested_schema, timeout_ms?)`: asks another agent and waits for its
 * structured answer, whichever protocol the other agent is on — an elicitation form for a modern
 * agent, a message with `reply_schema` for a legacy one (who answers with send_message(in_reply_to)).
 */
export function elicitTool(options: ElicitToolOptions): ToolDefinition {
  const { store, doorbell, metrics } = options;
  return {
    name: 'elicit',
    title: 'Ask another agent',
    description: 'Ask another agent a question and wait for its structured answer (a form it fills in, following requested_schema). Returns action accept (with content), decline, cancel, or timeout.',
    inputSchema: ELICIT_INPUT_SCHEMA,
    holds: true,
    async handler(rawArgs, context) {
      const args = parseToolArguments('elicit', elicitArgs, rawArgs);
      const problems = formSchemaProblems(args.requested_schema);
      if (problems.length > 0) {
        throw new ToolError('INVALID_SCHEMA', `requested_schema is not an MCP form schema: ${problems.join('; ')}. Use a flat object of string, number, integer, boolean or enum properties.`, {
          details: { problems },
        });
      }
      const bytes = Buffer.byteLength(args.message, 'utf8');
      if (bytes > options.maxContentBytes) {
        throw new ToolError('CONTENT_TOO_LARGE', `message is ${bytes} bytes; the limit is ${options.maxContentBytes} bytes. Shorten the question.`, {
          details: { bytes, limit: options.maxContentBytes },
        });
      }
      if (!options.knowsAgent(args.to)) {
        throw new ToolError('UNKNOWN_RECIPIENT', `there is no agent "${args.to}" on this bridge; check the recipient id.`, { details: { to: args.to } });
      }
      const timeoutMs = Math.min(args.timeout_ms ?? options.defaultTimeoutMs, options.maxTimeoutMs);
      if (options.shutdownSignal.aborted) throw shuttingDown(undefined, args.idempotency_key);
      const now = Date.now();
      const envelope: Envelope = {
        id: newMessageId(now),
        kind: 'elicitation',
        from: context.agentId,
        to: args.to,
        content: args.message,
        metadata: {},
        replySchema: args.requested_schema,
        sourceProtocol: 'elicitation',
        acceptedAt: now,
        deadlineAt: now + timeoutMs,
        ...traceparentField(context.span),
      };
      // The admission opens the wait record, before the question can be routed, so no answer can miss it.
      await options.sendGate.admit(envelope, args.idempotency_key, timeoutMs + 60_000);
      // Registered before the question is stored: its answer, which cannot exist before, rings it,
      // so a new question's wait need not look for an answer first.
      const waiter = doorbell.register(doorbellTopics.answer(envelope.id));
      try {
        return await ask(envelope, timeoutMs, args, context, waiter);
      } finally {
        waiter.dispose();
      }
    },
  };

  /** Stores the question and waits for its answer (or how the call it replays ended). */
  async function ask(envelope: Envelope, timeoutMs: number, args: ElicitArgs, context: ToolCallContext, waiter: Waiter): Promise<Record<string, unknown>> {
    let messageId: string;
    let duplicate: boolean;
    try {
      const result = await store.append({ envelope, awaitsReply: true, ...(args.idempotency_key !== undefined ? { idempotencyKey: args.idempotency_key } : {}) });
      messageId = result.messageId;
      duplicate = result.duplicate;
      if (result.duplicate && messageId !== envelope.id) await store.beginElicitWait(context.agentId, messageId, timeoutMs + 60_000);
    } catch (error) {
      if (isStoreError(error, 'IDEMPOTENCY_CONFLICT')) {
        throw new ToolError('IDEMPOTENCY_CONFLICT', `idempotency_key "${args.idempotency_key}" was already used for a different question; use a new key. Nothing was sent.`, { cause: error });
      }
      throw error;
    }
    if (duplicate) {
      // The replay waits its own timeout: until then its question does not count as abandoned.
      await store.extendElicitDeadline(messageId, args.to, Date.now() + timeoutMs);
      // A replay of an elicit that already ended returns how it ended; it does not wait again.
      const ended = await endedBefore(messageId, args.to, args.requested_schema as FormSchema, false);
      if (ended) return ended;
    } else {
      metrics.messagesSent.inc({ protocol: 'elicitation' });
      options.usage?.messages(context.agentId, 'elicitation', 1);
    }

    const answer = await waitForAnswer(messageId, timeoutMs, context, messageId === envelope.id && !duplicate ? waiter : undefined);
    if (answer === 'shutting_down') throw shuttingDown(messageId, args.idempotency_key);
    if (!answer) {
      // An answer recorded meanwhile (by the call this one replays) wins over the timeout.
      const state = await store.closeMessage(messageId, args.to, 'expired');
      if (state !== 'expired' && state !== null) return (await endedBefore(messageId, args.to, args.requested_schema as FormSchema, true)) ?? { message_id: messageId, action: 'timeout', responder: args.to };
      return { message_id: messageId, action: 'timeout', responder: args.to };
    }
    const state = answer.action === 'accept' ? 'answered' : answer.action === 'decline' ? 'declined' : 'cancelled';
    await store.closeMessage(messageId, args.to, state, answer);
    return shapeResult(messageId, answer, args.requested_schema as FormSchema);
  }

  /**
   * How an elicit ended, from its ledger record: its recorded answer, or a timeout (expired, or
   * abandoned by the census with no answer); null while it has not ended. A question settled whose
   * answer is on its way (not recorded, not held yet) has not ended for a replay, which then waits
   * for it; `final` (the wait is over) answers with the state alone.
   */
  async function endedBefore(messageId: string, target: string, schema: FormSchema, final: boolean): Promise<Record<string, unknown> | null> {
    const record = await store.getMessage(messageId, target);
    if (!record || !isEnd(record.state)) return null;
    if (record.answer) return shapeResult(messageId, record.answer, schema);
    if (record.state === 'expired' || record.state === 'abandoned') return { message_id: messageId, action: 'timeout', responder: target };
    const held = await store.readElicitAnswer(record.from, messageId);
    if (held) return shapeResult(messageId, held, schema);
    if (!final) return null;
    return { message_id: messageId, action: record.state === 'answered' ? 'accept' : record.state === 'declined' ? 'decline' : 'cancel', responder: target };
  }

  /**
   * The answer, or null at the timeout. On shutdown ('shutting_down') the question stays open: a
   * retry with the same idempotency key, on any replica, waits on for it (and the census closes
   * it as abandoned if nobody does).
   */
  async function waitForAnswer(messageId: string, timeoutMs: number, context: ToolCallContext, newQuestion?: Waiter): Promise<ElicitAnswer | null | 'shutting_down'> {
    const deadline = Date.now() + timeoutMs;
    const signal = AbortSignal.any([context.signal, options.shutdownSignal]);
    // `newQuestion`: registered before a question of our own was stored, so nothing was answered before it; the caller disposes of it.
    const waiter = newQuestion ?? doorbell.register(doorbellTopics.answer(messageId));
    let look = newQuestion === undefined;
    const startedAt = Date.now();
    let nextProgressAt = startedAt + options.progressIntervalMs;
    try {
      for (;;) {
        const answer = look ? await store.readElicitAnswer(context.agentId, messageId) : null;
        look = true;
        if (answer) return answer;
        const remaining = deadline - Date.now();
        if (remaining <= 0 || signal.aborted) break;
        const slice = Math.min(remaining, options.recheckMs, context.reportProgress ? Math.max(1, nextProgressAt - Date.now()) : Infinity);
        await waiter.wait(slice, signal);
        if (context.reportProgress && Date.now() >= nextProgressAt) {
          nextProgressAt += options.progressIntervalMs;
          await context.reportProgress(Date.now() - startedAt, timeoutMs, 'waiting for the answer').catch(() => undefined);
        }
      }
    } finally {
      if (!newQuestion) waiter.dispose();
    }
    if (options.shutdownSignal.aborted && !context.signal.aborted) return 'shutting_down';
    // Settles the race with an answer arriving right now: either we get it, or it becomes a message.
    return store.finishElicitWait(context.agentId, messageId);
  }
}

/** What an elicit held (or arriving) while its replica shuts down answers: retry, and resume the same question. */
function shuttingDown(messageId: string | undefined, idempotencyKey: string | undefined): ToolError {
  const retry =
    idempotencyKey !== undefined
      ? `retry the call with the same idempotency_key ("${idempotencyKey}"): another replica waits on for the same question's answer`
      : messageId === undefined
        ? 'retry the call: another replica serves it'
        : 'retry the call: another replica serves it (this call had no idempotency_key, so a retry asks a new question; set one to resume the same question)';
  return new ToolError('SHUTTING_DOWN', `the replica serving this elicit is shutting down; ${retry}.`, {
    details: { retryAfterMs: 0, ...(messageId !== undefined ? { message_id: messageId } : {}) },
  });
}

/**
 * The elicit result. An elicitation answer carries structured content; a legacy reply is
 * structured when its text is a JSON object that fits the schema, and `{ response: text }` otherwise.
 */
function shapeResult(messageId: string, answer: ElicitAnswer, schema: FormSchema): Record<string, unknown> {
  const result: Record<string, unknown> = { message_id: messageId, action: answer.action, responder: answer.responder, via: answer.via, reply_id: answer.message_id };
  if (answer.action !== 'accept') return result;
  let content = answer.content;
  if (content === undefined) {
    const parsed = tryParseObject(answer.text);
    content = parsed && formAnswerProblems(schema, parsed).length === 0 ? parsed : { response: answer.text };
  }
  result.content = content;
  return result;
}

function isEnd(state: LedgerState): boolean {
  return (ELICIT_END_STATES as readonly string[]).includes(state);
}

function tryParseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
