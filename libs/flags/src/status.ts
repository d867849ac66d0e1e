/**
 * The FeatureFlags status (agentbridge.io/v1alpha1, the status subresource — or the store in local
 * mode): what the controller writes and what tools such as bridgectl read. It lives beside the
 * resource type (resource.ts) so a reader of the status imports the API, not the controller
 * service (decision 0015). Everything the controller needs to resume after a restart is here: the
 * stage, when its hold started, failed checks, the active rollback and handled alerts. The helpers
 * that change a status (initialStatus, setCondition) stay with the controller, its only writer.
 */
import type { MigrationPhase, RollbackLevel, RollbackTrigger } from './snapshot.js';

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

export type ConditionType = 'Ready' | 'Progressing' | 'Paused' | 'StagesComplete' | 'RolledBack' | 'CutoverBlocked';

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
