/**
 * The SDK 1.x client, kept on purpose as a *foreign* 2025-era agent: agents in the field are built on
 * older SDKs, and the bridge must keep serving them after it moves to SDK v2. Apart from its test,
 * it is the only testkit module importing `@modelcontextprotocol/sdk`; it adapts that client to the
 * generation-neutral shape `connectAgent` builds its AgentClient from.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import type { ClientCapabilities as Sdk1Capabilities, ElicitResult as Sdk1ElicitResult } from '@modelcontextprotocol/sdk/types.js';
import type { CallToolResult, ClientCapabilities, ElicitRequestParams } from '@modelcontextprotocol/client';
import type { AgentCallOptions, ConnectedSession, ElicitationHandler, SessionSettings } from './mcp-client.js';

export { Client as Sdk1Client, StreamableHTTPClientTransport as Sdk1Transport };

export async function connectSdk1(
  settings: SessionSettings,
  capabilities: ClientCapabilities,
  onElicitation: ElicitationHandler | undefined,
  setup: ((client: Client) => void) | undefined,
): Promise<ConnectedSession<Client, StreamableHTTPClientTransport>> {
  // Both SDKs describe the same 2025-11-25 wire types; only their TypeScript declarations differ.
  const client = new Client(settings.info, { capabilities: capabilities as Sdk1Capabilities });
  if (onElicitation) {
    client.setRequestHandler(ElicitRequestSchema, async (request) => (await onElicitation(request.params as ElicitRequestParams)) as Sdk1ElicitResult);
  }
  setup?.(client);
  const transport = new StreamableHTTPClientTransport(settings.url, { requestInit: { headers: settings.headers } });
  try {
    await client.connect(transport);
  } catch (err) {
    await client.close().catch(() => {});
    throw err;
  }
  return {
    client,
    transport,
    // With the default result schema SDK 1.x returns a CallToolResult (its signature's union also
    // holds the pre-2025 `toolResult` shape, which a 2025 server never sends).
    callTool: async (name: string, args: Record<string, unknown>, options?: AgentCallOptions) => (await client.callTool({ name, arguments: args }, undefined, options)) as CallToolResult,
    sessionId: () => transport.sessionId,
    terminateSession: () => transport.terminateSession(),
    close: () => client.close(),
  };
}
