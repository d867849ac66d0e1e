/**
 * The controller's HTTP surface: GET /health/status, the admin API (POST /admin/rollback, promote,
 * pause, resume; bearer token) and the Alertmanager webhook (POST /webhook/alertmanager; its own
 * bearer token). Requests that reach a controller that is not the leader are relayed to the leader.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { agentSelectorSchema } from '@agent-bridge/flags';
import { BoundedLabel, type BridgeMetrics, type Logger } from '@agent-bridge/observability';
import { readRawBody, sendJson, type RouteHandler } from '@agent-bridge/service-kit';
import { alertmanagerPayloadSchema, decideAlerts } from './alerts.js';
import type { Controller } from './controller.js';
import type { ControlAction } from './reconcile.js';

export const FORWARDED_HEADER = 'x-agentbridge-forwarded-by';
const BODY_LIMIT = 1024 * 1024;

const actor = z.string().min(1).max(200).optional();
const trigger = z.enum(['admin', 'cli']).default('admin');
const rollbackBody = z.strictObject({
  level: z.enum(['full', 'partial', 'canary'], { error: 'level must be full, partial or canary' }),
  reason: z.string({ error: 'reason is required: say why (it goes into the audit trail)' }).trim().min(1, { error: 'reason is required: say why (it goes into the audit trail)' }),
  percentage_reduction: z.int({ error: 'percentage_reduction must be an integer from 1 to 100' }).min(1).max(100).optional(),
  agents: z.array(agentSelectorSchema, { error: 'agents must be a list of agent ids or glob patterns' }).optional(),
  actor,
  trigger,
});
const simpleBody = z.strictObject({ reason: z.string().trim().min(1).optional(), actor, trigger, full: z.boolean().optional() });

export interface HttpApiDeps {
  controller: Controller;
  adminToken: string;
  webhookToken: string;
  /** The leader's base URL, when another controller leads and is registered. */
  leaderUrl: () => Promise<string | null>;
  controllerId: string;
  metrics: BridgeMetrics;
  logger: Logger;
}

function sameToken(given: string, expected: string): boolean {
  // Compare digests so neither the length nor the content leaks through timing.
  return timingSafeEqual(createHash('sha256').update(given).digest(), createHash('sha256').update(expected).digest());
}

function bearer(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization;
  return header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
}

function fail(response: ServerResponse, status: number, code: string, message: string, extra: Record<string, unknown> = {}): void {
  sendJson(response, status, { error: { code, message, ...extra } });
}

/** Distinct alert names counted by name in agentbridge_alert_notifications_total; later ones count as `other`. */
const MAX_ALERT_NAME_SERIES = 64;

export function httpApiRoutes(deps: HttpApiDeps): Record<string, RouteHandler> {
  // Alert names come from the webhook's caller: at most this many get a series of their own.
  const alertNames = new BoundedLabel(MAX_ALERT_NAME_SERIES);
  const { controller } = deps;

  /** Checks the method and token, parses the body, relays to the leader when needed; null when answered. */
  async function admit(request: IncomingMessage, response: ServerResponse, token: string, path: string): Promise<unknown | null> {
    if (request.method !== 'POST') {
      response.setHeader('allow', 'POST');
      fail(response, 405, 'METHOD_NOT_ALLOWED', `${path} takes POST`);
      return null;
    }
    const given = bearer(request);
    if (!given || !sameToken(given, token)) {
      response.setHeader('www-authenticate', 'Bearer');
      fail(response, 401, 'UNAUTHORIZED', `${path} needs "Authorization: Bearer <token>" with the ${token === deps.adminToken ? 'admin' : 'webhook'} token`);
      return null;
    }
    const raw = await readRawBody(request, BODY_LIMIT);
    if (!controller.isLeader()) {
      await relay(request, response, raw, path);
      return null;
    }
    try {
      return raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'));
    } catch (error) {
      fail(response, 400, 'INVALID_JSON', `the body is not valid JSON: ${(error as Error).message}`);
      return null;
    }
  }

  async function relay(request: IncomingMessage, response: ServerResponse, body: Buffer, path: string): Promise<void> {
    const leaderUrl = request.headers[FORWARDED_HEADER] ? null : await deps.leaderUrl();
    if (!leaderUrl) {
      fail(response, 503, 'NOT_LEADER', 'this controller is not the leader and no leader is reachable yet; retry in a few seconds');
      return;
    }
    try {
      const answer = await fetch(new URL(path, leaderUrl), {
        method: 'POST',
        headers: { authorization: request.headers.authorization ?? '', 'content-type': 'application/json', [FORWARDED_HEADER]: deps.controllerId },
        body: new Uint8Array(body),
        signal: AbortSignal.timeout(15_000),
      });
      sendJson(response, answer.status, await answer.json());
    } catch (error) {
      fail(response, 502, 'LEADER_UNREACHABLE', `the leader at ${leaderUrl} did not answer: ${(error as Error).message}`);
    }
  }

  async function run(response: ServerResponse, action: ControlAction): Promise<void> {
    try {
      const result = await controller.submit(action);
      sendJson(response, 200, { applied: result.applied, message: result.message, ...(result.snapshotVersion !== undefined ? { snapshot_version: result.snapshotVersion } : {}) });
    } catch (error) {
      fail(response, 503, (error as { code?: string }).code ?? 'UNAVAILABLE', (error as Error).message);
    }
  }

  const parse = <T>(schema: z.ZodType<T>, body: unknown, response: ServerResponse): T | null => {
    const result = schema.safeParse(body);
    if (result.success) return result.data;
    fail(response, 400, 'INVALID_ARGUMENT', result.error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`).join('; '));
    return null;
  };

  const simple = (type: 'pause' | 'resume' | 'promote', path: string): RouteHandler => async (request, response) => {
    const body = await admit(request, response, deps.adminToken, path);
    if (body === null) return;
    const args = parse(simpleBody, body, response);
    if (!args) return;
    const base = { actor: args.actor ?? `${args.trigger}`, trigger: args.trigger, reason: args.reason ?? `${type} requested via the ${args.trigger === 'cli' ? 'CLI' : 'admin API'} (no reason given)` };
    await run(response, type === 'promote' ? { type, ...base, full: args.full ?? false } : { type, ...base });
  };

  return {
    '/health/status': async (request, response) => {
      if (request.method !== 'GET') {
        response.setHeader('allow', 'GET');
        return fail(response, 405, 'METHOD_NOT_ALLOWED', '/health/status takes GET');
      }
      sendJson(response, 200, await controller.report());
    },
    '/admin/rollback': async (request, response) => {
      const body = await admit(request, response, deps.adminToken, '/admin/rollback');
      if (body === null) return;
      const args = parse(rollbackBody, body, response);
      if (!args) return;
      await run(response, {
        type: 'rollback',
        level: args.level,
        reason: args.reason,
        trigger: args.trigger,
        actor: args.actor ?? args.trigger,
        ...(args.percentage_reduction !== undefined ? { percentageReduction: args.percentage_reduction } : {}),
        ...(args.agents ? { agents: args.agents } : {}),
      });
    },
    '/admin/promote': simple('promote', '/admin/promote'),
    '/admin/pause': simple('pause', '/admin/pause'),
    '/admin/resume': simple('resume', '/admin/resume'),
    '/webhook/alertmanager': async (request, response) => {
      const body = await admit(request, response, deps.webhookToken, '/webhook/alertmanager');
      if (body === null) return;
      const payload = parse(alertmanagerPayloadSchema, body, response);
      if (!payload) return;
      const spec = controller.currentSpec();
      if (!spec) return fail(response, 503, 'RESOURCE_UNAVAILABLE', 'the FeatureFlags resource cannot be read; alerts cannot be mapped to a rollback level');
      const results = [];
      for (const decision of decideAlerts(payload, spec)) {
        if (decision.outcome !== 'rollback') {
          deps.metrics.alertNotifications.inc({ alertname: alertNames.of(decision.alertname), outcome: decision.outcome });
          results.push({ alert: decision.alertname, applied: false, message: decision.reason });
          continue;
        }
        try {
          const result = await controller.submit(decision.action);
          deps.metrics.alertNotifications.inc({ alertname: alertNames.of(decision.alertname), outcome: result.applied ? 'rollback' : 'duplicate' });
          results.push({ alert: decision.alertname, level: decision.action.level, applied: result.applied, message: result.message });
        } catch (error) {
          // Alertmanager retries a failed webhook: answering 503 makes it try again (on the new leader).
          return fail(response, 503, (error as { code?: string }).code ?? 'UNAVAILABLE', (error as Error).message);
        }
      }
      deps.logger.info({ results }, 'alertmanager notification handled');
      sendJson(response, 200, { results });
    },
  };
}
