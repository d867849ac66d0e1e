import { jsonDepthExceeds } from '@agent-bridge/protocol';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type RouteHandler = (request: IncomingMessage, response: ServerResponse) => Promise<void> | void;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
    /** A stable code programs can branch on (sent as `code` beside `error`), e.g. SESSION_LIMIT. */
    readonly code?: string,
  ) {
    super(message);
  }
}

export interface HttpServerHandle {
  server: Server;
  url: string;
  port: number;
  /**
   * The first step of a shutdown: `/readyz` answers 503 from now on, the listener closes (a new
   * connection is refused, so a load balancer tries another replica), and a new request on a
   * connection already open gets 503 SHUTTING_DOWN with `Retry-After` and `Connection: close`
   * (unless `stillServed` takes it). Every response still open ends its connection when it ends.
   */
  drain(): void;
  /** Drains (if not yet) and waits for open connections to finish (at most `graceMs`). */
  close(graceMs: number): Promise<void>;
}

/** Paths answered while a server drains: the process is alive, and its metrics are read to the end. */
const ANSWERED_WHILE_DRAINING = new Set(['/healthz', '/metrics']);

/** What a request that reaches a draining replica gets told. */
const SHUTTING_DOWN_SENTENCE = 'this replica is shutting down; retry the request at once (with the same idempotency key, if it has one): another replica serves it';

/** A small router on node:http: exact-path routes, JSON errors, no framework. */
export async function startHttpServer(options: {
  host: string;
  port: number;
  routes: Record<string, RouteHandler>;
  onError?: (error: unknown, request: IncomingMessage) => void;
  /** While draining, requests this takes are still served (e.g. an answer for a session this replica holds). */
  stillServed?: (request: IncomingMessage) => boolean;
}): Promise<HttpServerHandle> {
  let draining = false;
  const open = new Set<ServerResponse>();
  const server = createServer(async (request, response) => {
    const path = (request.url ?? '/').split('?')[0]!;
    const handler = options.routes[path];
    open.add(response);
    response.once('close', () => open.delete(response));
    if (draining) {
      endConnectionAfter(response);
      if (path === '/readyz') return sendJson(response, 503, { status: 'shutting down' });
      if (!ANSWERED_WHILE_DRAINING.has(path) && !options.stillServed?.(request)) {
        request.resume();
        return sendJson(response, 503, { error: SHUTTING_DOWN_SENTENCE, code: 'SHUTTING_DOWN' }, { 'retry-after': '1' });
      }
    }
    try {
      if (!handler) throw new HttpError(404, `no route for ${path}`);
      await handler(request, response);
    } catch (error) {
      if (!(error instanceof HttpError)) options.onError?.(error, request);
      if (!response.headersSent) {
        const status = error instanceof HttpError ? error.status : 500;
        const headers = error instanceof HttpError ? error.headers : {};
        const body = error instanceof HttpError ? { error: error.message, ...(error.code ? { code: error.code } : {}) } : { error: 'internal error' };
        sendJson(response, status, body, headers);
      } else {
        response.end();
      }
    }
  });
  // Long polls hold requests for up to a minute: do not let Node's defaults cut them.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = options.host === '0.0.0.0' ? '127.0.0.1' : options.host;
  let closed: Promise<void> | undefined;
  const drain = () => {
    if (closed) return;
    draining = true;
    closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // A kept-alive connection would carry the client's next request here: end each with its response.
    for (const response of open) endConnectionAfter(response);
    server.closeIdleConnections();
  };
  return {
    server,
    port,
    url: `http://${shownHost}:${port}`,
    drain,
    async close(graceMs) {
      drain();
      let force: NodeJS.Timeout | undefined;
      await Promise.race([closed, new Promise<void>((resolve) => (force = setTimeout(resolve, graceMs)))]);
      clearTimeout(force);
      server.closeAllConnections();
    },
  };
}

/** The response's connection closes once it ends (with `Connection: close` when its headers are still unsent). */
function endConnectionAfter(response: ServerResponse): void {
  if (!response.headersSent) response.shouldKeepAlive = false;
  const socket = response.socket;
  response.once('finish', () => setImmediate(() => socket?.end()));
}

export function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  response.end(text);
}

/** A request body must arrive within this long of its headers (a client that trickles it holds a connection and memory). */
const BODY_DEADLINE_MS = 10_000;

/**
 * Reads a body of at most `limitBytes`: a larger one is a 413 before it is fully buffered, one that
 * has not fully arrived `deadlineMs` after the headers a 408. Either way the connection is closed
 * after the answer.
 */
export function readRawBody(request: IncomingMessage, limitBytes: number, deadlineMs = BODY_DEADLINE_MS): Promise<Buffer> {
  if (request.readableEnded) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (error?: Error) => {
      clearTimeout(timer);
      request.off('data', onData).off('end', onEnd).off('error', onError);
      if (error) {
        request.pause();
        reject(error);
      } else {
        resolve(Buffer.concat(chunks));
      }
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) return finish(new HttpError(413, `request body is larger than ${limitBytes} bytes`, { connection: 'close' }));
      chunks.push(chunk);
    };
    const onEnd = () => finish();
    const onError = (error: Error) => finish(error);
    const timer = setTimeout(() => finish(new HttpError(408, `the request body did not arrive within ${deadlineMs / 1000} s of its headers; send the whole body at once`, { connection: 'close' })), deadlineMs);
    request.on('data', onData).on('end', onEnd).on('error', onError);
  });
}

/** A request body may nest objects and arrays this deep at most (tool metadata may nest 32 levels). */
const MAX_BODY_DEPTH = 64;

/** Parses a JSON body (undefined when empty); malformed JSON, or JSON nested deeper than MAX_BODY_DEPTH, is a 400. */
export function parseJsonBody(raw: Buffer): unknown {
  if (raw.length === 0) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new HttpError(400, 'request body is not valid JSON');
  }
  // JSON.parse takes any depth; the code after it (the SDK's validation, JSON.stringify) does not.
  if (jsonDepthExceeds(body, MAX_BODY_DEPTH)) throw new HttpError(400, `request body nests objects or arrays deeper than ${MAX_BODY_DEPTH} levels; flatten the data (tool metadata may nest at most 32 levels)`);
  return body;
}

/** Reads and parses a JSON body of at most `limitBytes`. */
export async function readJsonBody(request: IncomingMessage, limitBytes: number): Promise<unknown> {
  return parseJsonBody(await readRawBody(request, limitBytes));
}
