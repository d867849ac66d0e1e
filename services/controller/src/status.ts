/**
 * The FeatureFlags status the controller keeps (in the resource's status subresource, or in the
 * store in local mode). Everything the controller needs to resume after a restart lives here:
 * the stage, when its hold started, failed checks, the active rollback and handled alerts.
 */
import type { MigrationPhase, RollbackLevel, RollbackTrigger } from '@agent-bridge/flags';

export type CheckResult = 'pass' | 'fail' | 'inconclusive';

export interface MetricValue {
  name: string;
  value: number | null;
  max?: number;
  min?: number;
  result: CheckResult;
  at: string;
}

/** A rollback in force: it holds the rollout until someone resumes. Several rollbacks accumulate. */
export interface ActiveRollback {
  /** The most severe level applied: full > partial > canary. */
  level: RollbackLevel;
  trigger: RollbackTrigger;
  reason: string;
  at: string;
  /** Cap on the percentage (partial). */
  percentage?: number;
  /** Agents sent back to legacy (canary). */
  agents?: string[];
}

export interface Condition {
  type: ConditionType;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export const CONDITION_TYPES = ['Ready', 'Progressing', 'Paused', 'StagesComplete', 'RolledBack', 'CutoverBlocked'] as const;
export type ConditionType = (typeof CONDITION_TYPES)[number];

export interface HistoryEntry {
  at: string;
  action: string;
  actor: string;
  reason: string;
  details?: Record<string, unknown>;
}

export interface FeatureFlagsStatus {
  observedGeneration: number;
  phase: MigrationPhase;
  /** 0 before the first stage, n while at the nth stage of spec.rollout.stages. */
  stage: number;
  effectivePercentage: number;
  stageStartedAt?: string;
  /** Paused by the admin API / CLI (spec.paused is the operator's own switch). */
  paused: boolean;
  pausedAt?: string;
  pauseReason?: string;
  failedChecks: number;
  lastAnalysisAt?: string;
  lastMetrics: MetricValue[];
  rollback?: ActiveRollback;
  lastRollback?: { level: RollbackLevel; trigger: RollbackTrigger; reason: string; at: string; effectMs?: number };
  /** The last spec.rollback.request id applied (a request is applied once). */
  appliedRequestId?: string;
  /** Alerts already acted on (fingerprint + startsAt): a repeated notification is not a second rollback. */
  handledAlerts: Array<{ fingerprint: string; startsAt: string }>;
  snapshotVersion: number;
  cutover?: { ready: boolean; forced: boolean; message: string; checkedAt: string };
  conditions: Condition[];
  history: HistoryEntry[];
}

export const MAX_HISTORY = 50;
export const MAX_HANDLED_ALERTS = 100;

export function initialStatus(): FeatureFlagsStatus {
  return {
    observedGeneration: 0,
    phase: 'preparation',
    stage: 0,
    effectivePercentage: 0,
    paused: false,
    failedChecks: 0,
    lastMetrics: [],
    handledAlerts: [],
    snapshotVersion: 0,
    conditions: [],
    history: [],
  };
}

/** Sets a condition, keeping lastTransitionTime when the status did not change. */
export function setCondition(
  status: FeatureFlagsStatus,
  type: ConditionType,
  value: Condition['status'],
  reason: string,
  message: string,
  now: string,
  generation: number,
): void {
  const existing = status.conditions.find((condition) => condition.type === type);
  if (existing) {
    if (existing.status !== value) existing.lastTransitionTime = now;
    existing.status = value;
    existing.reason = reason;
    existing.message = message;
    existing.observedGeneration = generation;
  } else {
    status.conditions.push({ type, status: value, reason, message, lastTransitionTime: now, observedGeneration: generation });
  }
}

export function conditionOf(status: FeatureFlagsStatus, type: ConditionType): Condition | undefined {
  return status.conditions.find((condition) => condition.type === type);
}
