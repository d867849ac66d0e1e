/**
 * The FeatureFlags status (agentbridge.io/v1alpha1, the status subresource — or the store in local
 * mode): what the controller writes and what tools such as bridgectl read. It lives beside the
 * resource type (resource.ts) so a reader of the status imports the API, not the controller
 * service (decision 0015). Everything the controller needs to resume after a restart is here: the
 * stage, when its hold started, failed checks, the active rollback and handled alerts. The helpers
 * that change a status (initialStatus, setCondition) stay with the controller, its only writer.
 */
import type { MigrationPhase, ReadOnlyTrigger, RollbackLevel, RollbackTrigger } from './snapshot.js';

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

export type AbVerdict = 'improved' | 'not-significant' | 'worse' | 'not-enough-data';

/** One metric of the A/B test: both groups, the relative improvement of treatment over control (positive = better) with its interval, the test, the verdict. */
export interface AbMetricResult {
  name: 'latency' | 'success-rate' | 'cost';
  goal: 'improve' | 'not-worse';
  test: string;
  control: { estimate: number | null; n: number };
  treatment: { estimate: number | null; n: number };
  improvement: number | null;
  interval: [number, number] | null;
  pValue: number | null;
  /** A bootstrap p-value's step (1/replicates): 0 means below it. Absent for analytic tests. */
  pValueResolution?: number;
  minimumImprovement: number;
  verdict: AbVerdict;
  note: string;
}

export interface AbTestStatus {
  name: string;
  /** waiting: the start (startAt, or atPercentage) is not reached; running: in the window; complete: the window is over, the verdict final. */
  state: 'waiting' | 'running' | 'complete';
  startedAt?: string;
  endsAt?: string;
  evaluatedAt?: string;
  /** The stretch of the window the last evaluation covered. */
  windowSeconds?: number;
  confidence: number;
  verdict: AbVerdict | 'pending';
  note: string;
  metrics: AbMetricResult[];
}

export type CriterionResult = 'pass' | 'fail' | 'pending';
export type CriterionGroup = 'decision-point' | 'phase-gate' | 'acceptance';

/** One line of the go/no-go scorecard. */
export interface ScorecardCriterion {
  id: string;
  group: CriterionGroup;
  /** Which decision point, gate or list it belongs to, such as "week 4: canary criteria". */
  section: string;
  title: string;
  threshold: string;
  /** The measured value (null: none yet), and as a person reads it. */
  value: number | null;
  display: string;
  window?: string;
  result: CriterionResult;
  source: 'prometheus' | 'status' | 'ab-test' | 'attestation';
  attestation?: { by: string; at: string; evidence: string; note?: string };
  note?: string;
}

export interface ScorecardStatus {
  evaluatedAt: string;
  summary: { pass: number; fail: number; pending: number };
  criteria: ScorecardCriterion[];
}

export interface HealthCheckStatus {
  consecutiveFailures: number;
  lastCheckAt: string;
  lastResult: 'healthy' | 'unhealthy';
  message: string;
}

/** A rollback drill in progress. */
interface DrillInProgress {
  id: string;
  agent: string;
  trigger: 'schedule' | 'cli' | 'admin';
  actor: string;
  /** rolling-back: the agent is excluded from elicitation; restoring: the exclusion is lifted. */
  state: 'rolling-back' | 'restoring';
  startedAt: string;
  effectMs?: number;
  /** Why the rollback step failed (the restore still runs). */
  failure?: string;
}

export interface DrillResult {
  id: string;
  agent: string;
  trigger: 'schedule' | 'cli' | 'admin';
  actor: string;
  startedAt: string;
  at: string;
  result: 'passed' | 'failed';
  /** Trigger → the agent on legacy everywhere (every router and elicitation replica applied it, its push lane drained). */
  effectMs?: number;
  /** Restore → the agent back on elicitation everywhere. */
  restoreMs?: number;
  message: string;
}

/**
 * The cutover sequence (strategy phase 4): the guard's last check, then — once it holds — a system
 * snapshot, legacy disabled under watch, and the outcome: rolled back to the snapshot (a critical
 * alert, a rollback or an operator during the watch) or legacy removal scheduled (a clean watch).
 */
export interface CutoverStatus {
  ready: boolean;
  forced: boolean;
  message: string;
  checkedAt: string;
  /** blocked: the guard holds legacy open; snapshot: taking the system snapshot; watching: legacy disabled, watched; rolled-back: legacy open again from the snapshot; removal-scheduled: the watch was clean. */
  state?: CutoverState;
  snapshot?: CutoverSnapshotRef;
  /** Legacy disabled since (the watch started). */
  startedAt?: string;
  watchUntil?: string;
  /** When the watch ended (rolled back or clean). */
  endedAt?: string;
  /** Why it rolled back. */
  rollbackReason?: string;
  /** Minor alerts during the watch: reported, legacy stays disabled (fix forward). */
  issues?: Array<{ alert: string; severity: string; at: string; summary?: string }>;
}

type CutoverState = 'blocked' | 'snapshot' | 'watching' | 'rolled-back' | 'removal-scheduled';

/** A system snapshot taken before the cutover: its id (the stored record holds flags, rollout, backlog and the legacy inventory). */
interface CutoverSnapshotRef {
  id: string;
  at: string;
  /** The flags the emergency rollback restores (the effective flags before legacy was disabled), as JSON. */
  flagsJson: string;
}

/** The deprecation campaign as the controller runs it: each step, when it is due, when it ran. */
export interface DeprecationStatus {
  start: string;
  sunset: string;
  dryRun: boolean;
  steps: DeprecationStepStatus[];
  /** The next step to run and when (absent once all ran). */
  next?: { name: string; at: string };
}

export interface DeprecationStepStatus {
  name: string;
  actions: string[];
  dueAt: string;
  /** pending: not due yet; done: ran (once) at executedAt; planned: due, but the schedule is a dry run. */
  state: 'pending' | 'done' | 'planned';
  executedAt?: string;
  /** Owner notices of the step: queued to the notifier (once; repeats are dropped by its ledger). */
  notices?: { queued: number; already: number; owners: number; at: string };
}

/** Read-only mode as the controller switched it (spec.contingencies.readOnly is the operator's own switch). */
export interface ReadOnlyStatus {
  enabled: boolean;
  /** When it was last switched on or off, by whom, through what, and why. */
  at: string;
  by: string;
  trigger: ReadOnlyTrigger;
  reason: string;
}

/** Envelope checksum mismatches the controller has seen (the store's count), so each is acted on once. */
interface ChecksumStatus {
  mismatches: number;
  lastSeenAt?: string;
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
  cutover?: CutoverStatus;
  deprecation?: DeprecationStatus;
  conditions: Condition[];
  history: HistoryEntry[];
  abTest?: AbTestStatus;
  scorecard?: ScorecardStatus;
  healthCheck?: HealthCheckStatus;
  drill?: DrillInProgress;
  lastDrill?: DrillResult;
  readOnly?: ReadOnlyStatus;
  checksums?: ChecksumStatus;
}
