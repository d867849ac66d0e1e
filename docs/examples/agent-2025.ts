/**
 * A complete small agent for agent-bridge on MCP 2025-11-25: the SDK v2 client in its default
 * legacy mode (an `initialize` handshake and an MCP session). A 2025-era client such as
 * `@modelcontextprotocol/sdk` 1.x works the same way: the same capability, the same
 * `elicitation/create` handler (registered with `ElicitRequestSchema` there). It echoes every
 * message it receives, once per message id, and runs until SIGINT or SIGTERM. The guide that
 * explains it: docs/agent-guide.md.
 *
 *   BRIDGE_URL=http://127.0.0.1:8702/mcp AGENT_TOKEN=… STATE_FILE=./echo-handled.json \
 *     node --import tsx docs/examples/agent-2025.ts
 *
 * Messages are pushed as `elicitation/create` requests on the session's GET stream, which the SDK
 * opens after `initialize` and keeps open. While pushes reach the session, `wait_for_messages`
 * returns at once with a `notice` and only the messages that could not be pushed (fallbacks), so
 * the agent polls it now and then rather than in a tight loop; outside the rollout it is an
 * ordinary long poll. Both paths go through `answerOnce`, which remembers each message id and its
 * answer in STATE_FILE, so a message offered again after a crash is answered the same way without
 * doing the work again.
 */
import { open, readFile, rename } from 'node:fs/promises';
import { Client, StreamableHTTPClientTransport, type CallToolResult } from '@modelcontextprotocol/client';

const BRIDGE_URL = requiredEnv('BRIDGE_URL');
const AGENT_TOKEN = requiredEnv('AGENT_TOKEN');
const STATE_FILE = requiredEnv('STATE_FILE');
/** How often to look for messages that could not be pushed, while pushes reach the session. */
const FALLBACK_POLL_MS = 10_000;

/** The `_meta` key under which every elicitation from the bridge names its message. */
const MESSAGE_META_KEY = 'io.agentbridge/message';

interface MessageMeta {
  message_id: string;
  from: string;
  kind: 'message' | 'reply' | 'elicitation';
  sequence: number;
  timestamp: string;
  metadata: Record<string, unknown>;
  in_reply_to?: string;
}

/** A message in a `wait_for_messages` result. */
interface PolledMessage {
  message_id: string;
  from: string;
  content: string;
  reply_to?: string;
  reply_schema?: Record<string, unknown>;
}

type Answer = { action: 'accept' | 'decline' | 'cancel'; content?: Record<string, string> };

// ---- The agent's work. It runs once per message id; a repeat gets the answer recorded then.

function work(from: string, text: string, schema: Record<string, unknown> | undefined): Answer {
  // An echo fills in forms with a `response` text field (plain messages have exactly that form)
  // and declines any other form: the sender then sees `decline`.
  const properties = (schema?.properties ?? { response: { type: 'string' } }) as Record<string, { type?: string }>;
  if (properties.response?.type !== 'string') return { action: 'decline' };
  return { action: 'accept', content: { response: `echo: ${text}` } };
}

// ---- Handled message ids, kept in a file: the only state this agent needs across restarts.

/** The last KEEP message ids answered, with their answers. A message is offered again only while it is unanswered, so recent ids suffice. */
const KEEP = 10_000;

class HandledMessages {
  private writes: Promise<void> = Promise.resolve();

  private constructor(
    private readonly file: string,
    private readonly answers: Map<string, Answer>,
  ) {}

  static async open(file: string): Promise<HandledMessages> {
    try {
      return new HandledMessages(file, new Map(JSON.parse(await readFile(file, 'utf8')) as Array<[string, Answer]>));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      return new HandledMessages(file, new Map());
    }
  }

  get(messageId: string): Answer | undefined {
    return this.answers.get(messageId);
  }

  /** Records the answer on disk (write, fsync, rename) before it is given. */
  remember(messageId: string, answer: Answer): Promise<void> {
    this.answers.set(messageId, answer);
    for (const oldest of this.answers.keys()) {
      if (this.answers.size <= KEEP) break;
      this.answers.delete(oldest);
    }
    const text = JSON.stringify([...this.answers]);
    this.writes = this.writes.catch(() => undefined).then(() => writeDurably(this.file, text));
    return this.writes;
  }
}

async function writeDurably(file: string, text: string): Promise<void> {
  const temporary = `${file}.tmp`;
  const handle = await open(temporary, 'w');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, file);
}

const handled = await HandledMessages.open(STATE_FILE);

/** The answer to a message: the recorded one if it was handled before (no work done again), else the work's, recorded first. */
async function answerOnce(messageId: string, from: string, text: string, schema: Record<string, unknown> | undefined): Promise<Answer> {
  const before = handled.get(messageId);
  if (before) {
    log(`already handled ${messageId}: answering as before`);
    return before;
  }
  const answer = work(from, text, schema);
  log(`handled ${messageId} from ${from}: ${answer.action}`);
  await handled.remember(messageId, answer);
  return answer;
}

// ---- The MCP session.

const stop = new AbortController();
/** Answers being given right now: shutdown lets them finish before it ends the session. */
const answering = new Set<Promise<unknown>>();

/** A new session: initialize, then the SDK opens the GET stream the pushes travel on. */
async function connect(): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client(
    { name: 'echo-agent', version: '1.0.0' },
    // `elicitation: {}` means form too on 2025-11-25; `mode: 'legacy'` is the default, written out here.
    { capabilities: { elicitation: { form: {} } }, versionNegotiation: { mode: 'legacy' } },
  );
  client.setRequestHandler('elicitation/create', (request) => {
    const answer = answerPushed(request.params as PushedElicitation);
    answering.add(answer);
    void answer.finally(() => answering.delete(answer));
    return answer;
  });
  const transport = new StreamableHTTPClientTransport(new URL(BRIDGE_URL), { requestInit: { headers: { Authorization: `Bearer ${AGENT_TOKEN}` } } });
  await client.connect(transport);
  return { client, transport };
}

interface PushedElicitation {
  mode?: string;
  message: string;
  requestedSchema?: Record<string, unknown>;
  _meta?: Record<string, unknown>;
}

async function answerPushed(params: PushedElicitation): Promise<Answer> {
  const meta = params._meta?.[MESSAGE_META_KEY] as MessageMeta | undefined;
  if (params.mode === 'url' || !meta) return { action: 'decline' }; // not a message of this agent's mailbox
  // A reply to something this agent sent: read, nothing to answer (two echo agents would never stop).
  if (meta.kind === 'reply') return { action: 'accept' };
  return answerOnce(meta.message_id, meta.from, messageText(params.message, meta.message_id), params.requestedSchema);
}

/** The sender's text inside the form message: `<from> says:` (or `asks:`), a blank line, the text, a blank line, `(message <id>)`. */
function messageText(message: string, messageId: string): string {
  const start = message.indexOf('\n\n');
  const end = message.lastIndexOf(`\n\n(message ${messageId})`);
  return start >= 0 && end > start ? message.slice(start + 2, end) : message;
}

/**
 * A message that came in the result (not pushed) is answered with send_message(in_reply_to); the
 * idempotency key derived from its id makes sending the answer again harmless. There is no decline
 * on this path: a declined message simply gets no reply.
 */
async function replyToPolled(client: Client, message: PolledMessage): Promise<void> {
  if (message.reply_to !== undefined) return;
  const answer = await answerOnce(message.message_id, message.from, message.content, message.reply_schema);
  if (answer.action !== 'accept') return;
  const content = answer.content?.response ?? JSON.stringify(answer.content ?? {});
  const result = await client.callTool({
    name: 'send_message',
    arguments: { to: message.from, content, in_reply_to: message.message_id, idempotency_key: `reply-${message.message_id}` },
  });
  if (result.isError) throw new Error(`send_message: ${errorOf(result).code}: ${errorOf(result).message}`);
}

function errorOf(result: CallToolResult): { code: string; message: string } {
  return ((result.structuredContent as { error?: { code: string; message: string } } | undefined)?.error) ?? { code: 'UNKNOWN', message: JSON.stringify(result.content) };
}

/** Polls for what was not pushed until stopped or the session fails (then the caller starts a new one). */
async function poll(client: Client): Promise<void> {
  let cursor: string | undefined;
  while (!stop.signal.aborted) {
    const result = await client.callTool(
      { name: 'wait_for_messages', arguments: { timeout_ms: 50_000, ...(cursor ? { cursor } : {}) } },
      // Progress every 10 s while it waits; each one restarts the SDK's 60 s request timeout.
      { signal: stop.signal, onprogress: () => undefined, resetTimeoutOnProgress: true },
    );
    if (result.isError) {
      const error = errorOf(result);
      log(`wait_for_messages: ${error.code}: ${error.message}`);
      if (error.code === 'INVALID_CURSOR' || error.code === 'CURSOR_EXPIRED') cursor = undefined;
      await pause(1_000);
      continue;
    }
    const page = result.structuredContent as { messages: PolledMessage[]; cursor: string; has_more: boolean; notice?: string };
    for (const message of page.messages) await replyToPolled(client, message);
    cursor = page.cursor; // acknowledged by the next call, once every message in this page is answered
    // With a notice the call returned at once: messages are pushed, so only look for fallbacks now and then.
    if (page.notice && !page.has_more) await pause(FALLBACK_POLL_MS);
  }
}

process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);

function shutdown(): void {
  if (stop.signal.aborted) return;
  log('stopping');
  stop.abort();
}

while (!stop.signal.aborted) {
  let session: Awaited<ReturnType<typeof connect>> | undefined;
  try {
    session = await connect();
    log(`connected to ${BRIDGE_URL} (protocol 2025-11-25, session ${session.transport.sessionId})`);
    await poll(session.client);
  } catch (error) {
    // A session the bridge no longer knows (404: its replica went away), a network error, the bridge
    // still starting: start a new session; messages in flight to the old one are offered again.
    if (!stop.signal.aborted) log(`session failed: ${(error as Error).message}`);
  }
  if (session) {
    // Answers already decided still go out; then DELETE the session, so the bridge stops pushing to it.
    await Promise.race([Promise.allSettled([...answering]), new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
    if (stop.signal.aborted) await session.transport.terminateSession().catch(() => undefined);
    await session.client.close().catch(() => undefined);
  }
  if (!stop.signal.aborted) await pause(2_000);
}
log('stopped');

// ---- Small helpers.

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is required (BRIDGE_URL, AGENT_TOKEN, STATE_FILE)`);
    process.exit(2);
  }
  return value;
}

/** Waits `ms`, or less when the agent is stopped. */
function pause(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      stop.signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    stop.signal.addEventListener('abort', done, { once: true });
  });
}

function log(line: string): void {
  console.log(`${new Date().toISOString()} ${line}`);
}
