/**
 * Alertmanager's webhook (payload version 4) → rollback actions. The level comes from
 * rollback.ts (alertRollbackLevel): the resource's policy (spec.rollback.alerts), else the alert's
 * `rollback` label (set by deploy/prometheus/agent-bridge.rules.yaml); `none` and resolved alerts
 * do nothing.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { FeatureFlagsSpec } from '@agent-bridge/flags';
import type { ControlAction, RollbackAction } from './reconcile.js';
import { alertRollbackLevel } from './rollback.js';

const alertSchema = z.object({
  status: z.enum(['firing', 'resolved']),
  labels: z.record(z.string(), z.string()),
  annotations: z.record(z.string(), z.string()).default({}),
  startsAt: z.string(),
  fingerprint: z.string().optional(),
});

export const alertmanagerPayloadSchema = z.object({
  version: z.string().optional(),
  status: z.string().optional(),
  alerts: z.array(alertSchema),
});

export type AlertmanagerPayload = z.infer<typeof alertmanagerPayloadSchema>;

export type AlertDecision =
  | { alertname: string; outcome: 'rollback'; action: RollbackAction }
  | { alertname: string; outcome: 'read-only'; action: Extract<ControlAction, { type: 'read-only' }> }
  | { alertname: string; outcome: 'ignored' | 'resolved'; reason: string };

/** The label that makes a firing alert switch read-only mode on instead of rolling back (EnvelopeChecksumMismatch has it). */
const CONTINGENCY_LABEL = 'contingency';

export function decideAlerts(payload: AlertmanagerPayload, spec: FeatureFlagsSpec): AlertDecision[] {
  return payload.alerts.map((alert) => {
    const alertname = alert.labels.alertname ?? 'unnamed';
    if (alert.status === 'resolved') return { alertname, outcome: 'resolved', reason: 'resolved alerts do not roll back (resume when ready)' };
    const fingerprint =
      alert.fingerprint ??
      createHash('sha256')
        .update(JSON.stringify(Object.entries(alert.labels).sort()))
        .digest('hex')
        .slice(0, 16);
    if (alert.labels[CONTINGENCY_LABEL] === 'read-only') {
      return {
        alertname,
        outcome: 'read-only',
        action: {
          type: 'read-only',
          enabled: true,
          trigger: 'alert',
          actor: 'alertmanager',
          reason: `${alertname}${alert.annotations.summary ? `: ${alert.annotations.summary}` : ''}`,
          alert: { fingerprint, startsAt: alert.startsAt },
          details: { alert: { name: alertname, labels: alert.labels, annotations: alert.annotations, startsAt: alert.startsAt, fingerprint } },
        },
      };
    }
    const policy = alertRollbackLevel(spec, alertname, alert.labels.rollback);
    if ('ignored' in policy) return { alertname, outcome: 'ignored', reason: policy.ignored };
    return {
      alertname,
      outcome: 'rollback',
      action: {
        type: 'rollback',
        level: policy.level,
        trigger: 'alert',
        actor: 'alertmanager',
        reason: `${alertname}${alert.annotations.summary ? `: ${alert.annotations.summary}` : ''}`,
        alert: { fingerprint, startsAt: alert.startsAt },
        details: { alert: { name: alertname, labels: alert.labels, annotations: alert.annotations, startsAt: alert.startsAt, fingerprint } },
      },
    };
  });
}
