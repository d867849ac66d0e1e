/**
 * An HTTP proxy in front of an MCP endpoint that can swallow the request carrying an agent's answer
 * to an elicitation: the answer is then lost on the way, as when the agent crashes right after it
 * decided, and a test can kill the agent while the answer is known to have gone nowhere.
 * Everything else (POST, GET streams, DELETE) is forwarded and streamed unchanged.
 */
import { createServer, request as forward, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HoldingProxy {
  /** The proxied MCP endpoint (same path as the target). */
  url: string;
  /**
   * Swallow the next request that carries an answer: a 2026-07-28 retry (`params.inputResponses`)
   * or a 2025-11-25 JSON-RPC response to a pushed `elicitation/create`. It is never forwarded and
   * never answered. Resolves with its body once one was swallowed.
   */
  holdNextAnswer(): Promise<unknown>;
  close(): Promise<void>;
}

/** Whether a JSON-RPC body answers an elicitation (either generation). */
function carriesAnswer(body: unknown): boolean {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  const message = body as { method?: unknown; result?: unknown; params?: { inputResponses?: unknown } };
  if (message.method === undefined) return message.result !== undefined;
  return message.params?.inputResponses !== undefined;
}

export async function startHoldingProxy(targetUrl: string): Promise<HoldingProxy> {
  const target = new URL(targetUrl);
  let holding: ((body: unknown) => void) | undefined;
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks);
      if (holding && request.method === 'POST') {
        let body: unknown;
        try {
          body = JSON.parse(raw.toString('utf8'));
        } catch {
          body = undefined;
        }
        if (carriesAnswer(body)) {
          const held = holding;
          holding = undefined;
          held(body);
          return; // neither forwarded nor answered: the client waits until it dies
        }
      }
      const upstream = forward({ host: target.hostname, port: target.port, path: request.url, method: request.method, headers: { ...request.headers, host: target.host } }, (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      });
      upstream.on('error', () => response.destroy());
      // The client went away (or the answer is complete): so does the upstream request, so a GET
      // stream the agent held closes at the bridge too.
      response.on('close', () => upstream.destroy());
      upstream.end(raw);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${target.pathname}`,
    holdNextAnswer: () => new Promise((resolve) => (holding = resolve)),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
