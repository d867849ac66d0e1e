import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { RELAY_STRIPPED_HEADERS, relayHeaders } from '@agent-bridge/service-kit';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer', 'host', 'content-length']);

/** How a relayed request identifies itself to the owner: the relaying replica and its signed assertion. */
export interface RelayIdentity {
  forwardedBy: string;
  assertion: string;
}

/**
 * Relays one MCP request to the replica that owns its session and streams the answer back (SSE
 * included), so an agent whose requests land on any replica keeps one working session. The
 * caller's credentials (Authorization, cookies) stay here: the owner learns who the caller is from
 * the assertion (docs/decisions/0011-inter-replica-credential.md).
 */
export function forwardRequest(request: IncomingMessage, response: ServerResponse, body: Buffer, target: URL, relay: RelayIdentity): Promise<void> {
  return new Promise((resolve) => {
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name) && !RELAY_STRIPPED_HEADERS.has(name)) headers[name] = value;
    }
    Object.assign(headers, relayHeaders(relay.forwardedBy, relay.assertion));
    if (body.length > 0) headers['content-length'] = String(body.length);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const upstream = send(new URL('/mcp', target), { method: request.method, headers }, (answer) => {
      const answerHeaders: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(answer.headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) answerHeaders[name] = value;
      response.writeHead(answer.statusCode ?? 502, answerHeaders);
      response.flushHeaders();
      answer.pipe(response);
      answer.on('end', resolve);
      answer.on('error', () => (response.destroy(), resolve()));
    });
    upstream.on('error', (error) => {
      if (!response.headersSent) {
        response.writeHead(502, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32603, message: `the replica owning this session did not answer: ${error.message}` }, id: null }));
      } else {
        response.destroy();
      }
      resolve();
    });
    response.on('close', () => {
      upstream.destroy();
      resolve();
    });
    upstream.end(body);
  });
}
