/**
 * The controller's HTTP surface: GET /health/status, the admin API (POST /admin/rollback, promote,
 * pause, resume, drill, cutover/rollback, read-only; GET /admin/agents, the legacy inventory,
 * answered by any controller; bearer token) and the Alertmanager webhook (POST /webhook/alertmanager; its own
 * bearer token). Requests that reach a controller that is not the leader are relayed to the leader
 * with an assertion of the identity the token proved, never the token
 * (docs/decisions/0011-inter-replica-credential.md).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { agentSelectorSchema } from '@agent-bridge/flags';
import { BoundedLabel, type BridgeMetrics, type Logger } from '@agent-bridge/observability';
import type { ControllerStore } from '@agent-bridge/event-store';
import { InboundRelay, claimsRelayed, readRawBody, relayHeaders, sendJson, type RelayClaims, type RelayCredential, type RelayTargetPolicy, type RouteHandler } from '@agent-bridge/service-kit';
import { alertmanagerPayloadSchema, decideAlerts } from './alerts.js';
import type { Controller } from './controller.js';
import { INVENTORY_PROTOCOLS, type InventoryProtocol } from './inventory.js';
import type { ControlAction } from './reconcile.js';

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
const drillBody = z.strictObject({ agent: agentSelectorSchema.optional(), actor, trigger });
const cutoverRollbackBody = z.strictObject({
  reason: z.string({ error: 'reason is required: say why legacy must serve again (it goes into the audit trail)' }).trim().min(1, { error: 'reason is required: say why legacy must serve again (it goes into the audit trail)' }),
  actor,
  trigger,
});

const readOnlyBody = z.strictObject({
  enabled: z.boolean({ error: 'enabled is required: true switches read-only mode on, false off' }),
  reason: z
    .string({ error: 'reason is required: say why (agents see it, and it goes into the audit trail)' })
    .trim()
    .min(1, { error: 'reason is required: say why (agents see it, and it goes into the audit trail)' })
    .max(500, { error: 'reason: at most 500 characters' }),
  actor,
  trigger,
});

export interface HttpApiDeps {
  controller: Controller;
  adminToken: string;
  webhookToken: string;
  /** The leader and its base URL (from the registry in Redis), when another controller leads and is registered. */
  leader: () => Promise<{ id: string; url: string } | null>;
  /** Signs the relay to the leader and checks relays from followers (docs/decisions/0011-inter-replica-credential.md). */
  relayCredential: RelayCredential;
  /** Where the relay to the leader may go (RELAY_ALLOWED_TARGETS). */
  relayTargets: RelayTargetPolicy;
  controllerId: string;
  metrics: BridgeMetrics;
  logger: Logger;
  /** Where admin requests with an Idempotency-Key are remembered (Redis: shared by every controller). */
  adminRequests: Pick<ControllerStore, 'reserveAdminRequest' | 'completeAdminRequest' | 'abandonAdminRequest'>;
}

/** An admin request's Idempotency-Key: what bridgectl sends, or any 1–128 letters, digits, `.`, `_`, `:`, `-`. */
const IDEMPOTENCY_KEY = /^[A-Za-z0-9._:-]{1,128}$/;
/** A request the admin API takes: its parsed body and, when it sent one, its Idempotency-Key. */
interface Admitted {
  body: unknown;
  idempotency?: { key: string; fingerprint: string };
}

/** How long an admin request's answer is kept for a retry with the same key. */
const ADMIN_REQUEST_TTL_SECONDS = 24 * 60 * 60;

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
  const inbound = new InboundRelay({
    credential: deps.relayCredential,
    metrics: deps.metrics,
    logger: deps.logger,
    answerRefusal: (response, why) => fail(response, 401, 'RELAY_REFUSED', `this request claims to be relayed by another controller but is refused: ${why}. Callers: send "Authorization: Bearer <token>" and no x-agentbridge-* headers.`),
  });

  /**
   * Checks the method and token, parses the body, relays to the leader when needed; null when
   * answered. `idempotency`: the request's Idempotency-Key and what it asked (path and body).
   */
  async function admit(request: IncomingMessage, response: ServerResponse, token: string, path: string): Promise<Admitted | null> {
    if (request.method !== 'POST') {
      response.setHeader('allow', 'POST');
      fail(response, 405, 'METHOD_NOT_ALLOWED', `${path} takes POST`);
      return null;
    }
    const identity = token === deps.adminToken ? 'admin' : 'webhook';
    // A follower relayed this: it checked the token and vouches for the caller with an assertion.
    const relayed = claimsRelayed(request.headers) ? verifyRelayed(request, response, path, identity) : undefined;
    if (relayed === null) return null;
    if (!relayed) {
      const given = bearer(request);
      if (!given || !sameToken(given, token)) {
        response.setHeader('www-authenticate', 'Bearer');
        fail(response, 401, 'UNAUTHORIZED', `${path} needs "Authorization: Bearer <token>" with the ${identity} token`);
        return null;
      }
    }
    const key = request.headers['idempotency-key'];
    if (key !== undefined && (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key))) {
      fail(response, 400, 'INVALID_IDEMPOTENCY_KEY', 'the Idempotency-Key header must be 1 to 128 letters, digits, ".", "_", ":" or "-"; send a new unique key per action, the same one for its retries');
      return null;
    }
    const raw = await readRawBody(request, BODY_LIMIT);
    if (relayed && !inbound.bodyMatches(request, response, relayed, raw)) return null;
    if (!controller.isLeader()) {
      // A relayed request is never relayed again: leadership moved while it travelled.
      if (relayed) fail(response, 503, 'NOT_LEADER', 'this controller is no longer the leader; retry in a few seconds');
      else await relay(request, response, raw, path, identity);
      return null;
    }
    let body: unknown;
    try {
      body = raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'));
    } catch (error) {
      fail(response, 400, 'INVALID_JSON', `the body is not valid JSON: ${(error as Error).message}`);
      return null;
    }
    return { body, ...(typeof key === 'string' ? { idempotency: { key, fingerprint: createHash('sha256').update(`${path}\n`).update(raw).digest('hex') } } : {}) };
  }

  /** The claims of a follower's valid assertion for `identity`; null when the request was refused (answered). */
  function verifyRelayed(request: IncomingMessage, response: ServerResponse, path: string, identity: string): RelayClaims | null {
    const claims = inbound.verify(request, response, { audience: `controller/${deps.controllerId}`, method: request.method ?? 'POST', path: request.url ?? path });
    if (claims && claims.identity !== identity) {
      inbound.refuse(request, response, 'wrong_identity', `the relay assertion vouches for ${claims.identity}, but ${path} needs ${identity}`);
      return null;
    }
    return claims;
  }

  /**
   * Relays a request to the leader at the address the registry in Redis gives, if it passes
   * RELAY_ALLOWED_TARGETS: with an assertion of the identity the token proved, never the token.
   */
  async function relay(request: IncomingMessage, response: ServerResponse, body: Buffer, path: string, identity: string): Promise<void> {
    const leader = await deps.leader();
    if (!leader) {
      fail(response, 503, 'NOT_LEADER', 'this controller is not the leader and no leader is reachable yet; retry in a few seconds');
      return;
    }
    const target = deps.relayTargets.check(leader.url);
    if (!target.allowed) {
      deps.metrics.relaysRefused.inc({ direction: 'outbound', reason: 'target_not_allowed' });
      deps.logger.warn({ leader: leader.id, address: leader.url, why: target.why }, 'relay target refused: the registered address of the leader was not contacted');
      fail(
        response,
        502,
        'RELAY_TARGET_REFUSED',
        `the leader ${leader.id} is registered at an address this controller may not relay to (RELAY_ALLOWED_TARGETS), so the request was not forwarded; send it to the leader directly, or operators: see the "relay target refused" log line`,
      );
      return;
    }
    const assertion = deps.relayCredential.sign({ identity, audience: `controller/${leader.id}`, method: 'POST', path, body });
    try {
      const answer = await fetch(new URL(path, target.url), {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...relayHeaders(deps.controllerId, assertion),
          ...(typeof request.headers['idempotency-key'] === 'string' ? { 'idempotency-key': request.headers['idempotency-key'] } : {}),
        },
        body: new Uint8Array(body),
        signal: AbortSignal.timeout(15_000),
        redirect: 'manual',
      });
      const replay = answer.headers.get('idempotent-replay');
      sendJson(response, answer.status, await answer.json(), replay ? { 'idempotent-replay': replay } : {});
    } catch (error) {
      fail(response, 502, 'LEADER_UNREACHABLE', `the leader at ${leader.url} did not answer: ${(error as Error).message}`);
    }
  }

  /**
   * Runs an admin action and answers it. With an Idempotency-Key the action runs once: a retry (a
   * relay that timed out, bridgectl trying again) gets the first answer, from any controller.
   */
  async function run(response: ServerResponse, action: ControlAction, idempotency: Admitted['idempotency'], extra: Record<string, unknown> = {}): Promise<void> {
    if (idempotency) {
      const reservation = await deps.adminRequests.reserveAdminRequest(idempotency.key, idempotency.fingerprint, ADMIN_REQUEST_TTL_SECONDS);
      if (reservation.status === 'done') return sendJson(response, 200, reservation.answer, { 'idempotent-replay': 'true' });
      if (reservation.status === 'conflict') return fail(response, 409, 'IDEMPOTENCY_CONFLICT', `Idempotency-Key "${idempotency.key}" was already used for a different request; use a new key for a new action. Nothing was done.`);
      if (reservation.status === 'pending') return fail(response, 409, 'REQUEST_IN_PROGRESS', `the request with Idempotency-Key "${idempotency.key}" is being carried out now; retry in a moment to get its answer.`);
    }
    let answer: Record<string, unknown>;
    try {
      const result = await controller.submit(action);
      answer = { applied: result.applied, message: result.message, ...(result.snapshotVersion !== undefined ? { snapshot_version: result.snapshotVersion } : {}), ...extra };
    } catch (error) {
      // Nothing was applied: a retry with the same key may run it again.
      if (idempotency) await deps.adminRequests.abandonAdminRequest(idempotency.key).catch(() => undefined);
      return fail(response, 503, (error as { code?: string }).code ?? 'UNAVAILABLE', (error as Error).message);
    }
    if (idempotency) await deps.adminRequests.completeAdminRequest(idempotency.key, idempotency.fingerprint, answer, ADMIN_REQUEST_TTL_SECONDS);
    sendJson(response, 200, answer);
  }

  const parse = <T>(schema: z.ZodType<T>, body: unknown, response: ServerResponse): T | null => {
    const result = schema.safeParse(body);
    if (result.success) return result.data;
    fail(response, 400, 'INVALID_ARGUMENT', result.error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`).join('; '));
    return null;
  };

  const simple =
    (type: 'pause' | 'resume' | 'promote', path: string): RouteHandler =>
    async (request, response) => {
      const admitted = await admit(request, response, deps.adminToken, path);
      if (admitted === null) return;
      const args = parse(simpleBody, admitted.body, response);
      if (!args) return;
      const base = { actor: args.actor ?? `${args.trigger}`, trigger: args.trigger, reason: args.reason ?? `${type} requested via the ${args.trigger === 'cli' ? 'CLI' : 'admin API'} (no reason given)` };
      await run(response, type === 'promote' ? { type, ...base, full: args.full ?? false } : { type, ...base }, admitted.idempotency);
    };

  return {
    '/admin/agents': async (request, response) => {
      if (request.method !== 'GET') {
        response.setHeader('allow', 'GET');
        return fail(response, 405, 'METHOD_NOT_ALLOWED', '/admin/agents takes GET');
      }
      const given = bearer(request);
      if (!given || !sameToken(given, deps.adminToken)) {
        response.setHeader('www-authenticate', 'Bearer');
        return fail(response, 401, 'UNAUTHORIZED', '/admin/agents needs "Authorization: Bearer <token>" with the admin token');
      }
      // Any controller answers from the store: nothing to relay to the leader.
      const query = new URL(request.url ?? '/', 'http://controller').searchParams;
      const unknown = [...query.keys()].filter((key) => key !== 'protocol');
      if (unknown.length > 0) return fail(response, 400, 'INVALID_ARGUMENT', `unknown query parameter ${unknown.map((key) => `"${key.slice(0, 40)}"`).join(', ')}; /admin/agents takes ?protocol=${INVENTORY_PROTOCOLS.join('|')}`);
      const protocol = query.get('protocol');
      if (protocol !== null && !(INVENTORY_PROTOCOLS as readonly string[]).includes(protocol)) {
        return fail(response, 400, 'INVALID_ARGUMENT', `protocol must be ${INVENTORY_PROTOCOLS.join(', ')} (got "${protocol.slice(0, 40)}")`);
      }
      sendJson(response, 200, await controller.inventory(protocol === null ? undefined : { protocol: protocol as InventoryProtocol }));
    },
    '/health/status': async (request, response) => {
      if (request.method !== 'GET') {
        response.setHeader('allow', 'GET');
        return fail(response, 405, 'METHOD_NOT_ALLOWED', '/health/status takes GET');
      }
      sendJson(response, 200, await controller.report());
    },
    '/admin/rollback': async (request, response) => {
      const admitted = await admit(request, response, deps.adminToken, '/admin/rollback');
      if (admitted === null) return;
      const args = parse(rollbackBody, admitted.body, response);
      if (!args) return;
      await run(
        response,
        {
          type: 'rollback',
          level: args.level,
          reason: args.reason,
          trigger: args.trigger,
          actor: args.actor ?? args.trigger,
          ...(args.percentage_reduction !== undefined ? { percentageReduction: args.percentage_reduction } : {}),
          ...(args.agents ? { agents: args.agents } : {}),
        },
        admitted.idempotency,
      );
    },
    '/admin/drill': async (request, response) => {
      const admitted = await admit(request, response, deps.adminToken, '/admin/drill');
      if (admitted === null) return;
      const args = parse(drillBody, admitted.body, response);
      if (!args) return;
      const action = await controller.drillAction(args.agent, args.actor ?? args.trigger, args.trigger);
      if (!action) return fail(response, 400, 'NO_DRILL_AGENT', 'no drill agent: give one ({"agent": "ID"}, bridgectl drill --agent ID) or set spec.rollback.drill.agent. Nothing was done.');
      await run(response, action, admitted.idempotency, action.type === 'drill' ? { drill_id: action.id, agent: action.agent } : {});
    },
    '/admin/cutover/rollback': async (request, response) => {
      const admitted = await admit(request, response, deps.adminToken, '/admin/cutover/rollback');
      if (admitted === null) return;
      const args = parse(cutoverRollbackBody, admitted.body, response);
      if (!args) return;
      await run(response, { type: 'cutover-rollback', reason: args.reason, actor: args.actor ?? args.trigger, trigger: args.trigger }, admitted.idempotency);
    },
    '/admin/read-only': async (request, response) => {
      const admitted = await admit(request, response, deps.adminToken, '/admin/read-only');
      if (admitted === null) return;
      const args = parse(readOnlyBody, admitted.body, response);
      if (!args) return;
      await run(response, { type: 'read-only', enabled: args.enabled, reason: args.reason, actor: args.actor ?? args.trigger, trigger: args.trigger }, admitted.idempotency);
    },
    '/admin/promote': simple('promote', '/admin/promote'),
    '/admin/pause': simple('pause', '/admin/pause'),
    '/admin/resume': simple('resume', '/admin/resume'),
    '/webhook/alertmanager': async (request, response) => {
      const admitted = await admit(request, response, deps.webhookToken, '/webhook/alertmanager');
      if (admitted === null) return;
      const payload = parse(alertmanagerPayloadSchema, admitted.body, response);
      if (!payload) return;
      const spec = controller.currentSpec();
      if (!spec) return fail(response, 503, 'RESOURCE_UNAVAILABLE', 'the FeatureFlags resource cannot be read; alerts cannot be mapped to a rollback level');
      const results: Array<Record<string, unknown>> = [];
      // The post-cutover watch judges every firing alert by its severity, whatever its rollback policy.
      if (controller.cutoverWatching()) {
        for (const alert of payload.alerts.filter((a) => a.status === 'firing')) {
          const name = alert.labels.alertname ?? 'unnamed';
          try {
            const result = await controller.submit({ type: 'alert-seen', name, severity: alert.labels.severity ?? 'none', startsAt: alert.startsAt, ...(alert.annotations.summary ? { summary: alert.annotations.summary } : {}) });
            results.push({ alert: name, cutover: true, applied: result.applied, message: result.message });
          } catch (error) {
            return fail(response, 503, (error as { code?: string }).code ?? 'UNAVAILABLE', (error as Error).message);
          }
        }
      }
      for (const decision of decideAlerts(payload, spec)) {
        if (decision.outcome === 'read-only') {
          try {
            const result = await controller.submit(decision.action);
            deps.metrics.alertNotifications.inc({ alertname: alertNames.of(decision.alertname), outcome: result.applied ? 'read-only' : 'duplicate' });
            results.push({ alert: decision.alertname, readOnly: true, applied: result.applied, message: result.message });
          } catch (error) {
            return fail(response, 503, (error as { code?: string }).code ?? 'UNAVAILABLE', (error as Error).message);
          }
          continue;
        }
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
