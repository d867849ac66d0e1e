import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson, type RouteHandler } from './http.js';

/** `/healthz`: the process is alive. `/readyz`: its dependencies answer. `/metrics`: Prometheus text. */
export function probeRoutes(options: { ready: () => Promise<{ ok: boolean; detail?: Record<string, unknown> }>; metrics: () => Promise<{ contentType: string; body: string }> }): Record<string, RouteHandler> {
  return {
    '/healthz': (_request: IncomingMessage, response: ServerResponse) => sendJson(response, 200, { status: 'ok' }),
    '/readyz': async (_request: IncomingMessage, response: ServerResponse) => {
      const { ok, detail } = await options.ready();
      sendJson(response, ok ? 200 : 503, { status: ok ? 'ready' : 'not ready', ...detail });
    },
    '/metrics': async (_request: IncomingMessage, response: ServerResponse) => {
      const { contentType, body } = await options.metrics();
      response.writeHead(200, { 'content-type': contentType });
      response.end(body);
    },
  };
}
