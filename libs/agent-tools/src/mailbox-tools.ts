import { evaluateProtocol, type FlagSnapshot } from '@agent-bridge/flags';
import { doorbellTopics, isStoreError, type Doorbell, type IntegrityStore, type LedgerStore, type MailboxStore, type MessageLog, type PollLanePage, type PushLaneStore, type Waiter } from '@agent-bridge/event-store';
import { SpanKind, linksTo, startSpan, traceparentField, type BridgeMetrics, type Logger } from '@agent-bridge/observability';
import {
  ACK_MESSAGES_INPUT_SCHEMA,
  MAX_MESSAGES_DEFAULT,
  SEND_MESSAGE_INPUT_SCHEMA,
  ToolError,
  WAIT_FOR_MESSAGES_INPUT_SCHEMA,
  jsonDepthExceeds,
  ackMessagesArgs,
  newMessageId,
  parseToolArguments,
  sendMessageArgs,
  waitForMessagesArgs,
  type Envelope,
  type LegacyMessage,
  type Protocol,
} from '@agent-bridge/protocol';
import { InputRequired, type ToolCallContext, type ToolDefinition, type UsageRecorder } from '@agent-bridge/service-kit';
import { DeprecationLog, deprecationMessage } from './deprecation.js';
import { deliverable } from './delivery-integrity.js';
import type { RoundCarry, RoundDelivery } from './round-delivery.js';
import type { SendGate } from './send-gate.js';

/** metadata may nest objects and arrays this deep at most. */
const MAX_METADATA_DEPTH = 32;

export interface MailboxToolsOptions {
  /** Which endpoint serves these tools: the legacy one applies the deprecation and cut-over flags. */
  endpoint: Protocol;
  store: MessageLog & MailboxStore & LedgerStore & Pick<PushLaneStore, 'pushLaneState'> & Pick<IntegrityStore, 'deadLetterLaneEntry'>;
  doorbell: Doorbell;
  flags: () => FlagSnapshot;
  /** Whether an agent id belongs to this bridge (recipients must). */
  knowsAgent: (agentId: string) => boolean;
  metrics: BridgeMetrics;
  logger: Logger;
  limits: MailboxLimits;
  /** Admits each send before it is stored: rate, backlog, Redis memory (shared with `elicit`). */
  sendGate: SendGate;
  /** Where agents should connect once legacy is deprecated or disabled (shown in notices and errors). */
  elicitationEndpointUrl: string;
  /** Aborted when the service shuts down: waiting polls then answer at once with what they have. */
  shutdownSignal?: AbortSignal;
  /**
   * Elicitation endpoint: when this returns a notice, the agent's messages are pushed to it as
   * elicitations, so `wait_for_messages` answers at once (with what its poll lane still holds).
   */
  pushDeliveryNotice?: (agentId: string, sessionId: string | undefined) => string | undefined;
  /** Elicitation endpoint: delivery of push-lane messages to 2026-07-28 calls as `input_required` rounds. */
  rounds?: RoundDelivery;
  /** Counts messages sent and returned by polls for the legacy inventory. */
  usage?: Pick<UsageRecorder, 'messages'>;
}

export interface MailboxLimits {
  maxContentBytes: number;
  maxMetadataBytes: number;
  /** A message not delivered within this long counts as unaccounted. */
  messageDeadlineMs: number;
  /** Upper bound of a long poll, below the MCP client's 60 s default request timeout. */
  pollTimeoutMaxMs: number;
  /** Waits are cut into slices this long, re-checking the lane each time (guards against a lost doorbell ring). */
  pollRecheckMs: number;
  /** How often a waiting poll sends a progress notification when the client asked for progress. */
  progressIntervalMs: number;
}

/** send_message, wait_for_messages and ack_messages: one implementation for every endpoint. */
export function mailboxTools(options: MailboxToolsOptions): ToolDefinition[] {
  const { store, doorbell, metrics, limits } = options;
  const legacyEndpoint = options.endpoint === 'legacy';

  function refuseIfLegacyDisabled(flags: FlagSnapshot): void {
    if (legacyEndpoint && flags.legacyDisabled) {
      throw new ToolError(
        'LEGACY_DISABLED',
        `The legacy protocol has been switched off. Connect to the elicitation endpoint at ${options.elicitationEndpointUrl} with the same token; your undelivered messages are kept and will reach you there.`,
        { details: { elicitation_endpoint: options.elicitationEndpointUrl } },
      );
    }
  }

  async function throttle(flags: FlagSnapshot, signal: AbortSignal): Promise<void> {
    if (!legacyEndpoint || flags.deprecation.throttleMs <= 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, flags.deprecation.throttleMs);
      signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
    });
  }

  const deprecationLog = new DeprecationLog(options.logger);
  function deprecationNotice(flags: FlagSnapshot, tool: string, agentId: string): Record<string, unknown> {
    if (!legacyEndpoint || !flags.deprecation.warnings) return {};
    metrics.deprecationWarnings.inc({ tool });
    deprecationLog.saw(agentId, tool, flags);
    const notice = flags.deprecationNotice;
    return {
      deprecation: {
        message: deprecationMessage(flags, tool, options.elicitationEndpointUrl),
        migrate_to: options.elicitationEndpointUrl,
        ...(notice ? { sunset: notice.sunsetAt, final_notice: notice.final, ...(notice.link ? { migration_guide: notice.link } : {}) } : {}),
      },
    };
  }

  const sendMessage: ToolDefinition = {
    name: 'send_message',
    title: 'Send a message',
    description: 'Send a message to another agent. Returns once the bridge has stored it (it is then never lost). Pass idempotency_key to make retries safe; pass in_reply_to to answer a message you received.',
    inputSchema: SEND_MESSAGE_INPUT_SCHEMA,
    async handler(rawArgs, context) {
      const flags = options.flags();
      refuseIfLegacyDisabled(flags);
      const args = parseToolArguments('send_message', sendMessageArgs, rawArgs);
      const contentBytes = Buffer.byteLength(args.content, 'utf8');
      if (contentBytes > limits.maxContentBytes) {
        throw new ToolError('CONTENT_TOO_LARGE', `content is ${contentBytes} bytes; the limit is ${limits.maxContentBytes} bytes. Split it into several messages or send a reference to the data.`, {
          details: { bytes: contentBytes, limit: limits.maxContentBytes },
        });
      }
      const metadata = args.metadata ?? {};
      // Checked before it is serialized: JSON.parse accepts any depth, JSON.stringify does not.
      if (jsonDepthExceeds(metadata, MAX_METADATA_DEPTH)) {
        throw new ToolError('INVALID_ARGUMENT', `metadata nests objects or arrays deeper than ${MAX_METADATA_DEPTH} levels; flatten it, or move structured data into content.`, {
          details: { field: 'metadata', max_depth: MAX_METADATA_DEPTH },
        });
      }
      const metadataBytes = Buffer.byteLength(JSON.stringify(metadata), 'utf8');
      if (metadataBytes > limits.maxMetadataBytes) {
        throw new ToolError('CONTENT_TOO_LARGE', `metadata is ${metadataBytes} bytes of JSON; the limit is ${limits.maxMetadataBytes} bytes. Move large data into content or a reference.`, {
          details: { bytes: metadataBytes, limit: limits.maxMetadataBytes },
        });
      }
      if (!options.knowsAgent(args.to)) {
        throw new ToolError('UNKNOWN_RECIPIENT', `there is no agent "${args.to}" on this bridge; check the recipient id.`, { details: { to: args.to } });
      }
      if (args.in_reply_to !== undefined) {
        const original = await store.getMessage(args.in_reply_to, context.agentId);
        if (!original || original.to !== context.agentId) {
          throw new ToolError('UNKNOWN_MESSAGE', `in_reply_to "${args.in_reply_to}" is not a message you received; use the message_id from your wait_for_messages result.`, {
            details: { in_reply_to: args.in_reply_to },
          });
        }
      }
      await throttle(flags, context.signal);
      const now = Date.now();
      const envelope: Envelope = {
        id: newMessageId(now),
        kind: args.in_reply_to === undefined ? 'message' : 'reply',
        from: context.agentId,
        to: args.to,
        content: args.content,
        metadata,
        ...(args.in_reply_to !== undefined ? { inReplyTo: args.in_reply_to } : {}),
        sourceProtocol: options.endpoint,
        acceptedAt: now,
        deadlineAt: now + limits.messageDeadlineMs,
        ...traceparentField(context.span),
      };
      await options.sendGate.admit(envelope, args.idempotency_key);
      try {
        const result = await store.append({ envelope, ...(args.idempotency_key !== undefined ? { idempotencyKey: args.idempotency_key } : {}) });
        if (!result.duplicate) {
          metrics.messagesSent.inc({ protocol: options.endpoint });
          options.usage?.messages(context.agentId, options.endpoint, 1);
        }
        return {
          message_id: result.messageId,
          status: 'accepted',
          duplicate: result.duplicate,
          accepted_at: new Date(now).toISOString(),
          ...deprecationNotice(flags, 'send_message', context.agentId),
        };
      } catch (error) {
        if (isStoreError(error, 'IDEMPOTENCY_CONFLICT')) {
          throw new ToolError('IDEMPOTENCY_CONFLICT', `idempotency_key "${args.idempotency_key}" was already used for a different message (${String(error.details?.messageId)}). Use a new key for new content; nothing was stored.`, {
            details: { message_id: error.details?.messageId },
            cause: error,
          });
        }
        throw error;
      }
    },
  };

  const waitForMessages: ToolDefinition = {
    name: 'wait_for_messages',
    title: 'Wait for messages',
    description: 'Return the messages waiting for you, or wait for the next one (up to timeout_ms). Pass the cursor of your previous result: it acknowledges what you received. has_more=true means call again at once.',
    inputSchema: WAIT_FOR_MESSAGES_INPUT_SCHEMA,
    // Streamed (it may wait) unless something is there for it now: then one cheaper JSON body.
    holds: ({ agentId, args, answers }) => nothingWaiting(agentId, typeof args.cursor === 'string' ? args.cursor : undefined, answers),
    // The hold's bound, as the handler computes it (a retry's hold ends no later than its first call's).
    holdsAtMostMs: (args) => {
      const flags = options.flags();
      const asked = args.timeout_ms === undefined ? flags.legacyTimeoutMs : typeof args.timeout_ms === 'number' ? args.timeout_ms : Infinity;
      return (legacyEndpoint ? Math.max(0, flags.deprecation.throttleMs) : 0) + Math.min(asked, limits.pollTimeoutMaxMs);
    },
    async handler(rawArgs, context) {
      const flags = options.flags();
      refuseIfLegacyDisabled(flags);
      const args = parseToolArguments('wait_for_messages', waitForMessagesArgs, rawArgs);
      const agentId = context.agentId;
      const rounds = options.rounds?.serves(flags, context) ? options.rounds : undefined;
      const maxMessages = args.max_messages ?? MAX_MESSAGES_DEFAULT;
      if (context.requestState !== undefined && options.rounds) {
        // A round's retry: its cursor was acknowledged by the first call already.
        const done = await options.rounds.complete(context);
        // The hold counts from the call's first request; a retry's own timeout_ms (or an answer sent as one JSON body) can only shorten it.
        const until = done.carry ? Math.min(done.carry.deadline, args.timeout_ms === undefined ? Infinity : Date.now() + args.timeout_ms, context.mayHold ? Infinity : Date.now()) : 0;
        const remaining = until - Date.now();
        if (!rounds || !done.carry || (remaining <= 0 && !done.has_more)) return { messages: [], answered: done.answered, has_more: done.has_more, cursor: done.cursor };
        // The call goes on: the next round now if messages wait, or when one arrives before its hold ends.
        options.rounds.present(context, remaining);
        const page = await waitForPage(agentId, done.cursor, maxMessages, Math.max(0, remaining), context, { rounds, carry: done.carry });
        if (page instanceof InputRequired) return page;
        return { ...(await pageResult(page, done.cursor, context, rounds, done.carry)), answered: done.answered };
      }
      // Checked before acknowledging anything: a refused call has no effect.
      if (legacyEndpoint && !flags.dualMode && evaluateProtocol(flags, agentId).protocol === 'elicitation' && (await store.laneLength(agentId, 'poll')) === 0) {
        throw new ToolError('USE_ELICITATION', `You are served by elicitation and dual mode is off. Connect to ${options.elicitationEndpointUrl}; your messages arrive there as elicitations.`, {
          details: { elicitation_endpoint: options.elicitationEndpointUrl },
        });
      }
      // Registered before acknowledging: an acknowledgement that found nothing after the cursor spares
      // the first read of the lane, and a message routed after it still rings this waiter.
      const waiter = registerWaiter(agentId, rounds !== undefined);
      try {
        const { start, nothingAfter } = args.cursor !== undefined ? await acknowledgeUnlessCurrent(agentId, args.cursor) : { start: (await store.mailboxState(agentId)).acked, nothingAfter: false };
        await throttle(flags, context.signal);
        const notice = options.pushDeliveryNotice?.(agentId, context.sessionId);
        const timeoutMs = notice || !context.mayHold ? 0 : Math.min(args.timeout_ms ?? flags.legacyTimeoutMs, limits.pollTimeoutMaxMs);
        options.rounds?.present(context, timeoutMs);
        const carry: RoundCarry = { deadline: Date.now() + timeoutMs, round: 0, answered: [] };
        const page = await waitForPage(agentId, start, maxMessages, timeoutMs, context, rounds && { rounds, carry }, { waiter, nothingAfter });
        if (page instanceof InputRequired) return page;
        return {
          ...(await pageResult(page, start, context, rounds, carry)),
          ...(notice ? { notice } : {}),
          ...deprecationNotice(flags, 'wait_for_messages', agentId),
        };
      } finally {
        waiter.dispose();
      }
    },
  };

  /**
   * Whether a wait_for_messages call may find nothing to take now, so that it may wait: no
   * poll-lane message after its cursor (or the acknowledged position) and, with rounds, no
   * push-lane entry it could take. A retry (`answers` > 0) holds its round's lease and frees it
   * before the next round; a first call can take entries only while nobody holds the lease (a
   * round waiting for its retry, a session's deliverer). Decides only how the answer is sent
   * (streamed, or one body that must not wait), never what it says.
   */
  async function nothingWaiting(agentId: string, cursor: string | undefined, answers: number): Promise<boolean> {
    // Going on from an empty page this process answered: stream (always safe) without looking.
    if (answers === 0 && cursor !== undefined && emptyPageCursor.get(agentId) === cursor) return true;
    const [mailbox, push] = await Promise.all([store.mailboxState(agentId), options.rounds ? store.pushLaneState(agentId) : undefined]);
    if (mailbox.last !== (cursor ?? mailbox.acked)) return false;
    if (!push) return true;
    return answers > 0 ? push.length <= answers : push.leased || push.length === 0;
  }

  /** The legacy result shape of a poll-lane page; with rounds, has_more also counts the push lane. */
  async function pageResult(page: PollLanePage, start: string, context: ToolCallContext, rounds: RoundDelivery | undefined, carry?: RoundCarry) {
    const messages: LegacyMessage[] = page.entries.map((entry) => entry.message);
    const now = Date.now();
    options.usage?.messages(context.agentId, options.endpoint, page.entries.length, now);
    for (const entry of page.entries) {
      metrics.messagesDelivered.inc({ protocol: 'legacy', via: entry.via });
      metrics.deliveryLatency.observe({ protocol: 'legacy' }, Math.max(0, now - Date.parse(entry.message.timestamp)) / 1000);
      // The delivery joins the message's trace (its parent is the routing span), linked to this poll.
      if (entry.traceparent) {
        startSpan('deliver poll', {
          kind: SpanKind.CONSUMER,
          parent: entry.traceparent,
          links: linksTo(context.span),
          attributes: { 'agentbridge.message.id': entry.message.message_id, 'agentbridge.agent.id': context.agentId, 'agentbridge.via': entry.via, 'agentbridge.endpoint': options.endpoint },
        }).end();
      }
    }
    const hasMore = page.hasMore || (rounds !== undefined && !(page.entries.length === 0 && carry?.pushLaneEmpty) && (await store.laneLength(context.agentId, 'push')) > 0);
    const cursor = page.entries.at(-1)?.cursor ?? start;
    if (page.entries.length === 0) emptyPageCursor.set(context.agentId, cursor);
    else emptyPageCursor.delete(context.agentId);
    return { messages, has_more: hasMore, cursor };
  }

  const ackMessages: ToolDefinition = {
    name: 'ack_messages',
    title: 'Acknowledge messages',
    description: 'Acknowledge every message up to and including cursor without waiting for new ones (wait_for_messages with a cursor does this too).',
    inputSchema: ACK_MESSAGES_INPUT_SCHEMA,
    async handler(rawArgs, context) {
      refuseIfLegacyDisabled(options.flags());
      const args = parseToolArguments('ack_messages', ackMessagesArgs, rawArgs);
      const acked = await acknowledge(context.agentId, args.cursor);
      emptyPageCursor.delete(context.agentId);
      return { acknowledged_through: acked.start };
    },
  };

  /**
   * Per agent, the cursor of the empty page this process answered last: an idle agent polls again
   * with it, and it is still the acknowledged position unless the agent acknowledged further
   * elsewhere. Then one read of the mailbox confirms there is nothing to acknowledge, instead of
   * the acknowledging script (a command less per idle poll); anything else takes the script.
   * Bounded by the agents that polled here (only authenticated agents reach a handler).
   */
  const emptyPageCursor = new Map<string, string>();

  async function acknowledgeUnlessCurrent(agentId: string, cursor: string): Promise<{ start: string; nothingAfter: boolean }> {
    if (emptyPageCursor.get(agentId) === cursor) {
      const state = await store.mailboxState(agentId);
      if (state.acked === cursor) return { start: cursor, nothingAfter: state.last === cursor };
    }
    emptyPageCursor.delete(agentId);
    return acknowledge(agentId, cursor);
  }

  /** Acknowledges up to `cursor`; `nothingAfter`: the lane had no entry after it at that moment. */
  async function acknowledge(agentId: string, cursor: string): Promise<{ start: string; nothingAfter: boolean }> {
    const outcome = await store.ackPollLane(agentId, cursor);
    if (outcome.status === 'expired') {
      throw new ToolError('CURSOR_EXPIRED', `cursor ${cursor} is older than your acknowledged position ${outcome.acked}: those messages were already received. Continue with cursor ${outcome.acked}, or omit the cursor.`, {
        details: { acknowledged: outcome.acked },
      });
    }
    if (outcome.status === 'unknown') {
      throw new ToolError('INVALID_CURSOR', `cursor ${cursor} was never issued for your mailbox (the newest is ${outcome.last}). Use the cursor from your previous wait_for_messages result, or omit it.`, {
        details: { newest: outcome.last },
      });
    }
    return { start: cursor, nothingAfter: outcome.last === cursor };
  }

  /** The doorbell of the agent's poll lane (and push lane, with rounds), registered before the first look at the lane: a message routed after that look still rings it. */
  function registerWaiter(agentId: string, withRounds: boolean): Waiter {
    return withRounds ? doorbell.register(doorbellTopics.lane(agentId, 'poll'), doorbellTopics.lane(agentId, 'push')) : doorbell.register(doorbellTopics.lane(agentId, 'poll'));
  }

  /**
   * The next page of the poll lane, waiting up to `timeoutMs` for one. With `rounds`, a message on
   * the push lane ends the wait too: it is handed out as a round (an InputRequired answer).
   * `registered`: a waiter the caller registered before it learnt that nothing waited after
   * `start` (`nothingAfter`), so the first read is skipped; the caller disposes of it.
   */
  async function waitForPage(
    agentId: string,
    start: string,
    maxMessages: number,
    timeoutMs: number,
    context: ToolCallContext,
    roundSource: { rounds: RoundDelivery; carry: RoundCarry } | undefined,
    registered?: { waiter: Waiter; nothingAfter: boolean },
  ): Promise<PollLanePage | InputRequired> {
    const deadline = Date.now() + timeoutMs;
    const signal = options.shutdownSignal ? AbortSignal.any([context.signal, options.shutdownSignal]) : context.signal;
    const waiter = registered?.waiter ?? registerWaiter(agentId, roundSource !== undefined);
    let skipRead = registered?.nothingAfter ?? false;
    metrics.waitingPolls.inc();
    const startedAt = Date.now();
    let nextProgressAt = startedAt + limits.progressIntervalMs;
    // The lane is read again only when the doorbell rings or a recheck is due (a ring can be lost:
    // across a subscriber reconnect, or a Redis Cluster slot move); a wake to report progress, or
    // the hold's end, reads nothing: an idle waiting poll costs Redis one read per POLL_RECHECK_MS.
    let page: PollLanePage = { entries: [], hasMore: false };
    let readAt = 0;
    let mustRead = true;
    try {
      for (;;) {
        if (!mustRead) {
          const remaining = deadline - Date.now();
          if (remaining <= 0 || signal.aborted) return page;
          const untilRecheck = readAt + limits.pollRecheckMs - Date.now();
          const slice = Math.min(remaining, Math.max(1, untilRecheck), context.reportProgress ? Math.max(1, nextProgressAt - Date.now()) : Infinity);
          const reason = await waiter.wait(slice, signal);
          if (reason === 'aborted') return page;
          if (context.reportProgress && Date.now() >= nextProgressAt) {
            nextProgressAt += limits.progressIntervalMs;
            await context.reportProgress(Date.now() - startedAt, timeoutMs, 'waiting for messages').catch(() => undefined);
          }
          // At the hold's end only a ring is worth a last read: a missed one is read by the next poll.
          mustRead = reason === 'rung' || (Date.now() - readAt >= limits.pollRecheckMs && Date.now() < deadline);
          continue;
        }
        readAt = Date.now();
        mustRead = false;
        page = skipRead ? { entries: [], hasMore: false } : await store.readPollLane(agentId, start, maxMessages);
        skipRead = false;
        // A corrupted entry is dead-lettered, never delivered; the page is read again without it.
        const intact = await Promise.all(
          page.entries.map((entry) => deliverable(options, 'poll', agentId, { id: entry.cursor, messageId: entry.message.message_id, checksum: entry.checksum, corrupt: entry.corrupt, payload: entry.message })),
        );
        if (intact.includes(false)) {
          mustRead = true;
          continue;
        }
        if (page.entries.length > 0) return page;
        const round = signal.aborted ? undefined : await roundSource?.rounds.handOut(context, roundSource.carry);
        if (round) return round;
      }
    } finally {
      if (!registered) waiter.dispose();
      metrics.waitingPolls.dec();
    }
  }

  return [sendMessage, waitForMessages, ackMessages];
}
