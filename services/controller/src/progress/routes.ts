/**
 * The progress page's HTTP surface, on its own listener: GET <base>/ (the page), GET
 * <base>/style.css and favicon.svg, GET <base>/lookup?agent=ID, POST <base>/feedback. Read-only but for the
 * feedback form; no token unless PROGRESS_TOKEN is set; a strict CSP, nothing external.
 * Hostile visitors: ids are validated, lookups and answers rate-limited per client, the feedback
 * form only accepted from the page itself (Sec-Fetch-Site / Origin), and only protocol is revealed.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OwnerFeedback } from '@agent-bridge/event-store';
import type { BridgeMetrics, Logger } from '@agent-bridge/observability';
import { AGENT_ID_PATTERN } from '@agent-bridge/protocol';
import { HttpError, readRawBody, type RouteHandler } from '@agent-bridge/service-kit';
import { renderPage, type Notice, type PageOptions } from './page.js';
import { ClientRateLimiter } from './rate-limit.js';
import type { ProgressSource } from './source.js';
import { ICON, STYLESHEET } from './style.js';
import { lookupProtocol, positiveRatio, progressView } from './view.js';

export interface ProgressRoutesOptions extends PageOptions {
  /** '' (the root) or a path such as /migration, without a trailing slash. */
  basePath: string;
  token?: string;
  ratePerMinute: number;
  trustedProxyHops: number;
  feedbackMaxAgents: number;
  /** How far back the chart goes (the samples' retention). */
  chartWindowMs: number;
}

export const CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
/** What the page's figures may lag behind the store: every view within this long shares one read. */
const CACHE_MS = 5_000;
/** Samples the chart draws at most (14 days at one per 5 minutes is 4,032). */
const MAX_SAMPLES = 5_000;
const FORM_BODY_LIMIT = 8 * 1024;
/** A control character other than tab, newline and carriage return (a comment is plain text). */
const hasControl = (text: string) =>
  [...text].some((c) => {
    const code = c.codePointAt(0)!;
    return (code < 0x20 && c !== '\t' && c !== '\n' && c !== '\r') || code === 0x7f;
  });

function sameToken(given: string, expected: string): boolean {
  return timingSafeEqual(createHash('sha256').update(given).digest(), createHash('sha256').update(expected).digest());
}

/** The token a visitor gave: the Basic password (any user name) or a Bearer token. */
function givenToken(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization ?? '';
  if (header.startsWith('Bearer ')) return header.slice(7).trim();
  if (header.startsWith('Basic ')) {
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(colon + 1) : undefined;
  }
  return undefined;
}

export function progressRoutes(source: ProgressSource, options: ProgressRoutesOptions, metrics: BridgeMetrics, logger: Logger, now: () => number = Date.now): Record<string, RouteHandler> {
  const limiter = new ClientRateLimiter(options.ratePerMinute);
  const base = options.basePath;
  let cached: { at: number; data: Promise<Awaited<ReturnType<typeof read>>> } | undefined;

  async function read() {
    const at = now();
    const [report, inventory, samples, feedback] = await Promise.all([source.report(), source.inventory(), source.store.readAdoptionSamples(at - options.chartWindowMs, MAX_SAMPLES), source.store.ownerFeedbackSummary()]);
    const view = progressView(report, inventory, samples, feedback, at);
    // The page without a notice, rendered once per read: a flood of visits costs no rendering.
    return { inventory, view, plain: renderPage(view, options) };
  }
  function data() {
    if (!cached || now() - cached.at > CACHE_MS) {
      const entry = { at: now(), data: read() };
      // A failed read is not kept: the next visitor tries again.
      entry.data.catch(() => (cached === entry ? (cached = undefined) : undefined));
      cached = entry;
    }
    return cached.data;
  }

  function headers(response: ServerResponse, cache: 'short' | 'none' | 'long'): void {
    response.setHeader('content-security-policy', CONTENT_SECURITY_POLICY);
    response.setHeader('x-content-type-options', 'nosniff');
    response.setHeader('referrer-policy', 'no-referrer');
    response.setHeader('x-frame-options', 'DENY');
    response.setHeader('cross-origin-resource-policy', 'same-origin');
    const scope = options.token ? 'private' : 'public';
    response.setHeader('cache-control', cache === 'none' ? 'no-store' : cache === 'long' ? `${scope}, max-age=3600` : `${scope}, max-age=10`);
  }

  function refuse(response: ServerResponse, reason: string, status: number, message: string, extra: Record<string, string> = {}): void {
    metrics.progressRefused.inc({ reason });
    headers(response, 'none');
    response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...extra });
    response.end(`${message}\n`);
  }

  /** Checks the token and the method; false when answered. */
  function admit(request: IncomingMessage, response: ServerResponse, methods: readonly string[]): boolean {
    if (options.token) {
      const given = givenToken(request);
      if (!given || !sameToken(given, options.token)) {
        refuse(response, 'unauthorized', 401, 'this page needs the progress page token: give it as the password (any user name), or as "Authorization: Bearer <token>"', {
          'www-authenticate': 'Basic realm="migration progress", charset="UTF-8"',
        });
        return false;
      }
    }
    if (!methods.includes(request.method ?? 'GET')) {
      refuse(response, 'method', 405, `this address takes ${methods.join(' or ')}`, { allow: methods.join(', ') });
      return false;
    }
    return true;
  }

  function client(request: IncomingMessage): string {
    const socket = request.socket.remoteAddress ?? 'unknown';
    if (options.trustedProxyHops === 0) return socket;
    const forwarded = String(request.headers['x-forwarded-for'] ?? '')
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean);
    return forwarded.at(-options.trustedProxyHops) ?? socket;
  }

  /** Takes one request from the client's bucket; false (answered 429) when it is empty. */
  function limited(request: IncomingMessage, response: ServerResponse): boolean {
    const wait = limiter.take(client(request));
    if (wait === 0) return false;
    refuse(response, 'rate', 429, `too many requests from your address: wait ${Math.ceil(wait / 1000)} s and try again`, { 'retry-after': String(Math.ceil(wait / 1000)) });
    return true;
  }

  async function page(request: IncomingMessage, response: ServerResponse, notice: Notice, status = 200, cache: 'short' | 'none' = 'short'): Promise<void> {
    let read: Awaited<ReturnType<typeof data>>;
    try {
      read = await data();
    } catch (error) {
      logger.warn({ err: error }, 'progress page: the status could not be read');
      return refuse(response, 'unavailable', 503, 'the migration status cannot be read right now (the store does not answer); try again in a minute', { 'retry-after': '30' });
    }
    const { view, plain } = read;
    const body = notice.lookup || notice.feedback ? renderPage(view, options, notice) : plain;
    headers(response, cache);
    response.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    response.end(request.method === 'HEAD' ? undefined : body);
  }

  function asset(request: IncomingMessage, response: ServerResponse, type: string, body: string): void {
    if (!admit(request, response, ['GET', 'HEAD'])) return;
    headers(response, 'long');
    response.writeHead(200, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
    response.end(request.method === 'HEAD' ? undefined : body);
  }

  const query = (request: IncomingMessage) => new URL(request.url ?? '/', 'http://progress.invalid').searchParams;

  /** The form came from the page itself: a browser says so in Sec-Fetch-Site, or its Origin is this host. */
  function sameOrigin(request: IncomingMessage): boolean {
    const site = request.headers['sec-fetch-site'];
    if (typeof site === 'string') return site === 'same-origin';
    const origin = request.headers.origin;
    if (typeof origin !== 'string' || origin === 'null') return false;
    try {
      return new URL(origin).host === request.headers.host;
    } catch {
      return false;
    }
  }

  async function recordFeedback(request: IncomingMessage): Promise<{ ok: true; agentId: string } | { error: string; status: number; reason: string }> {
    const type = String(request.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim();
    if (type !== 'application/x-www-form-urlencoded') return { error: 'send the feedback form from the page (application/x-www-form-urlencoded)', status: 415, reason: 'invalid' };
    const form = new URLSearchParams((await readRawBody(request, FORM_BODY_LIMIT)).toString('utf8'));
    const agentId = (form.get('agent') ?? '').trim();
    const score = Number(form.get('score'));
    const comment = (form.get('comment') ?? '').replace(/\r\n/g, '\n').trim();
    if (!AGENT_ID_PATTERN.test(agentId)) return { error: 'the agent id must be 1 to 128 letters, digits, ".", "_" or "-", starting with a letter or digit', status: 400, reason: 'invalid' };
    if (!Number.isInteger(score) || score < 1 || score > 5) return { error: 'choose a satisfaction score from 1 to 5', status: 400, reason: 'invalid' };
    if ([...comment].length > options.commentMaxLength) return { error: `the comment is longer than ${options.commentMaxLength} characters; shorten it`, status: 400, reason: 'invalid' };
    if (hasControl(comment)) return { error: 'the comment holds control characters; send plain text', status: 400, reason: 'invalid' };
    const { inventory } = await data();
    if (!inventory.agents.some((agent) => agent.agentId === agentId))
      return { error: `no agent ${agentId} is known here: give the id your agent connects with (look it up above); an agent is known once it has connected`, status: 400, reason: 'unknown_agent' };
    const feedback: OwnerFeedback = { agentId, score: score as OwnerFeedback['score'], comment, at: new Date(now()).toISOString() };
    const result = await source.store.recordOwnerFeedback(feedback, options.feedbackMaxAgents);
    if (result.status === 'full') return { error: 'feedback is full for now (too many agents answered); tell the platform team directly', status: 503, reason: 'full' };
    metrics.ownerFeedback.inc({ score: String(score) });
    logger.info({ agentId, score, previousScore: result.previousScore }, 'owner feedback recorded');
    await refreshFeedbackGauges(source, metrics);
    cached = undefined;
    return { ok: true, agentId };
  }

  const routes: Record<string, RouteHandler> = {
    [`${base}/`]: async (request, response) => {
      if (!admit(request, response, ['GET', 'HEAD'])) return;
      const params = query(request);
      const recorded = params.get('feedback') === 'recorded' && AGENT_ID_PATTERN.test(params.get('agent') ?? '');
      await page(request, response, recorded ? { feedback: { ok: true, agentId: params.get('agent')! } } : {}, 200, recorded ? 'none' : 'short');
    },
    [`${base}/style.css`]: (request, response) => asset(request, response, 'text/css; charset=utf-8', STYLESHEET),
    [`${base}/favicon.svg`]: (request, response) => asset(request, response, 'image/svg+xml', ICON),
    [`${base}/lookup`]: async (request, response) => {
      if (!admit(request, response, ['GET', 'HEAD'])) return;
      if (!options.lookup) return refuse(response, 'disabled', 404, 'the agent lookup is turned off here');
      if (limited(request, response)) return;
      const agentId = (query(request).get('agent') ?? '').trim();
      if (!AGENT_ID_PATTERN.test(agentId)) {
        metrics.progressRefused.inc({ reason: 'invalid' });
        return page(request, response, { lookup: { error: 'an agent id is 1 to 128 letters, digits, ".", "_" or "-", starting with a letter or digit; check it and try again' } }, 400, 'none');
      }
      const { inventory } = await data();
      await page(request, response, { lookup: { agentId, protocol: lookupProtocol(inventory, agentId) } }, 200, 'none');
    },
    [`${base}/feedback`]: async (request, response) => {
      if (!admit(request, response, ['POST'])) return;
      if (!options.feedback) return refuse(response, 'disabled', 404, 'the feedback form is turned off here');
      if (!sameOrigin(request)) return refuse(response, 'origin', 403, 'feedback is accepted only from the form on the progress page (this request came from another site, or without an Origin header)');
      if (limited(request, response)) return;
      let outcome: Awaited<ReturnType<typeof recordFeedback>>;
      try {
        outcome = await recordFeedback(request);
      } catch (error) {
        if (error instanceof HttpError) return refuse(response, 'invalid', error.status, error.message, error.headers);
        throw error;
      }
      if ('ok' in outcome) {
        headers(response, 'none');
        // After a POST, a redirect: reloading the page does not send the answer again. Relative, so any path prefix works.
        response.writeHead(303, { location: `./?feedback=recorded&agent=${encodeURIComponent(outcome.agentId)}#feedback`, 'content-length': 0 });
        return response.end();
      }
      metrics.progressRefused.inc({ reason: outcome.reason });
      await page(request, response, { feedback: { error: outcome.error } }, outcome.status, 'none');
    },
  };
  if (base !== '') {
    // Without the trailing slash, relative links would resolve above the page.
    routes[base] = (request, response) => {
      headers(response, 'short');
      response.writeHead(308, { location: `${base}/`, 'content-length': 0 });
      response.end();
    };
    routes['/'] = routes[base];
  }
  return routes;
}

/** Sets the feedback gauges from the store (every replica, so any replica's /metrics has them). */
export async function refreshFeedbackGauges(source: Pick<ProgressSource, 'store'>, metrics: BridgeMetrics): Promise<void> {
  const summary = await source.store.ownerFeedbackSummary();
  metrics.ownerFeedbackAgents.set(summary.total);
  metrics.ownerFeedbackPositiveRatio.set(positiveRatio(summary) ?? 0);
}
