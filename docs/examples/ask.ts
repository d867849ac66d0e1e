/**
 * Ask another agent a question with `elicit` and print its answer: a one-shot client of the
 * elicitation endpoint, on either MCP generation. The guide that explains it: docs/agent-guide.md.
 *
 *   BRIDGE_URL=http://127.0.0.1:8702/mcp AGENT_TOKEN=… ASK=bob [MCP_PROTOCOL=2025-11-25] \
 *     node --import tsx docs/examples/ask.ts "Ready to deploy?"
 *
 * `elicit` holds the call until the other agent answers (or `timeout_ms`): the bridge streams
 * keep-alives meanwhile, and a progress notification every 10 s because this call asks for progress.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

const { BRIDGE_URL, AGENT_TOKEN, ASK, MCP_PROTOCOL = '2026-07-28' } = process.env;
const question = process.argv[2];
if (!BRIDGE_URL || !AGENT_TOKEN || !ASK || !question) {
  console.error('usage: BRIDGE_URL=… AGENT_TOKEN=… ASK=<agent id> node docs/examples/ask.ts "<question>"');
  process.exit(2);
}

const client = new Client(
  { name: 'ask', version: '1.0.0' },
  // Asking needs no capability: the answer comes back as the result of the call.
  { versionNegotiation: { mode: MCP_PROTOCOL === '2026-07-28' ? { pin: '2026-07-28' } : 'legacy' } },
);
const transport = new StreamableHTTPClientTransport(new URL(BRIDGE_URL), { requestInit: { headers: { Authorization: `Bearer ${AGENT_TOKEN}` } } });
await client.connect(transport);

const result = await client.callTool(
  {
    name: 'elicit',
    arguments: {
      to: ASK,
      message: question,
      requested_schema: { type: 'object', properties: { response: { type: 'string', title: 'Your answer' } }, required: ['response'] },
      timeout_ms: 50_000,
    },
  },
  { onprogress: (progress) => console.error(`still waiting for ${ASK} (${Math.round(progress.progress / 1000)} s)`), resetTimeoutOnProgress: true },
);
// { message_id, action: accept | decline | cancel | timeout, content?, responder, via, reply_id }
console.log(JSON.stringify(result.structuredContent ?? result.content));
await transport.terminateSession().catch(() => undefined); // ends a 2025 session; nothing to end on 2026
await client.close();
process.exitCode = result.isError ? 1 : 0;
