/**
 * GET /admin/notifications[?milestone=M]: the notification ledger's summary (Notifier.summary) for
 * `bridgectl notifications`. It names owners and their contacts, so it takes the admin token. Any
 * controller answers (the ledger is in Redis), leader or not.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { sendJson, type RouteHandler } from '@agent-bridge/service-kit';
import type { Notifier } from './notifier.js';

export function notificationRoutes(deps: { notifier: Notifier; adminToken: string }): Record<string, RouteHandler> {
  const expected = createHash('sha256').update(deps.adminToken).digest();
  return {
    '/admin/notifications': async (request, response) => {
      if (request.method !== 'GET') {
        response.setHeader('allow', 'GET');
        return sendJson(response, 405, { error: { code: 'METHOD_NOT_ALLOWED', message: '/admin/notifications takes GET' } });
      }
      const header = request.headers.authorization;
      const given = header?.startsWith('Bearer ') ? header.slice(7).trim() : '';
      if (!timingSafeEqual(createHash('sha256').update(given).digest(), expected)) {
        response.setHeader('www-authenticate', 'Bearer');
        return sendJson(response, 401, { error: { code: 'UNAUTHORIZED', message: '/admin/notifications needs "Authorization: Bearer <token>" with the admin token' } });
      }
      const milestone = new URL(request.url ?? '/', 'http://controller').searchParams.get('milestone') ?? undefined;
      if (milestone !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/.test(milestone)) {
        return sendJson(response, 400, { error: { code: 'INVALID_MILESTONE', message: 'milestone must be 1 to 100 letters, digits, ".", "_", ":" or "-", such as deprecation:day-5' } });
      }
      sendJson(response, 200, await deps.notifier.summary(milestone));
    },
  };
}
