/**
 * What goes into a reconcile pass and what comes out of it: the actions (admin API, CLI, alerts,
 * resource requests), the events for the audit trail, and the result the controller publishes.
 */
import type { Evidence } from './evidence.js';
import type { Contingencies, FeatureFlagsSpec, FeatureFlagsStatus, FlagSettings, MetricValue, ReadOnlyTrigger, RollbackLevel, RollbackTrigger, RolloutState } from '@agent-bridge/flags';

export type ControlAction =
  | {
      type: 'rollback';
      level: RollbackLevel;
      trigger: RollbackTrigger;
      reason: string;
      actor: string;
      /** partial: percentage points to remove (default spec.rollback.partialStep). */
      percentageReduction?: number;
      /** canary: agents (ids or globs) to send back to legacy (default: spec.rollback.canaryAgents, else the opt-in list). */
      agents?: string[];
      /** The alert or metric values behind it, for the audit trail. */
      details?: Record<string, unknown>;
      /** An Alertmanager alert: acted on once per fingerprint + startsAt. */
      alert?: { fingerprint: string; startsAt: string };
    }
  | { type: 'pause'; actor: string; reason: string; trigger?: 'admin' | 'cli' }
  | { type: 'resume'; actor: string; reason: string; trigger?: 'admin' | 'cli' }
  | { type: 'promote'; actor: string; reason: string; full: boolean; trigger?: 'admin' | 'cli' }
  /** A rollback drill of `agent` (reconcile/drill.ts). */
  | { type: 'drill'; id: string; agent: string; actor: string; trigger: 'schedule' | 'cli' | 'admin'; /** Set when the drill cannot run: it is recorded as failed at once. */ failure?: string }
  /** Read-only mode on or off (reconcile/contingencies.ts); an alert's is acted on once per fingerprint + startsAt. */
  | { type: 'read-only'; enabled: boolean; actor: string; reason: string; trigger: Exclude<ReadOnlyTrigger, 'resource'>; alert?: { fingerprint: string; startsAt: string }; details?: Record<string, unknown> }
  /** What the controller measured after a drill's publication: its rollback in effect, or its restore. */
  | { type: 'drill-step'; id: string; step: 'effective' | 'restored'; elapsedMs?: number; failure?: string }
  /** A firing alert, whatever its rollback policy: the post-cutover watch judges it by severity (reconcile/cutover.ts). */
  | { type: 'alert-seen'; name: string; severity: string; startsAt: string; summary?: string }
  /** The cutover's breaker tripped by an operator: back to the system snapshot. */
  | { type: 'cutover-rollback'; actor: string; reason: string; trigger: 'admin' | 'cli' }
  /** What the controller queued with the notifier for a deprecation step (reconcile/deprecation.ts). */
  | { type: 'deprecation-notices'; step: string; queued: number; already: number; owners: number };

export type RollbackAction = Extract<ControlAction, { type: 'rollback' }>;

export interface ActionOutcome {
  applied: boolean;
  /** What happened, or why nothing did ("already paused"). */
  message: string;
}

/** Something the controller did, for the audit trail and Kubernetes Events. */
export interface ControllerEvent {
  action:
    | 'stage.started'
    | 'stage.promoted'
    | 'stages.completed'
    | 'phase.changed'
    | 'rollback'
    | 'pause'
    | 'resume'
    | 'analysis.failed'
    | 'analysis.inconclusive'
    | 'cutover.blocked'
    | 'cutover.forced'
    | 'spec.changed'
    | 'ab.started'
    | 'ab.verdict'
    | 'ab.completed'
    | 'ab.gate.waiting'
    | 'scorecard.changed'
    | 'drill.started'
    | 'drill.finished'
    | 'deprecation.step'
    | 'deprecation.planned'
    | 'deprecation.notified'
    | 'cutover.started'
    | 'cutover.issue'
    | 'cutover.rolled-back'
    | 'cutover.completed'
    | 'cutover.cancelled'
    | 'read-only.on'
    | 'read-only.off'
    | 'checksum.mismatch';
  actor: string;
  trigger: string;
  reason: string;
  details?: Record<string, unknown>;
  /** Kubernetes Event type. */
  severity: 'Normal' | 'Warning';
}

export interface CutoverCheck {
  ready: boolean;
  message: string;
}

export interface ReconcileInput {
  spec: FeatureFlagsSpec;
  generation: number;
  status: FeatureFlagsStatus;
  now: number;
  actions?: ControlAction[];
  /** Results of an analysis round that ran now (see analysisDue). */
  analysis?: MetricValue[];
  /** The A/B test, scorecard and health check evaluated now (each only when due). */
  evidence?: Evidence;
  /** Readiness for legacyDisabled, evaluated by the caller only when the spec asks for it. */
  cutover?: CutoverCheck;
  /** The system snapshot the controller took for a cutover that may start in this pass (see snapshotWanted). */
  cutoverSnapshot?: { id: string; at: string };
  /** Who the controller is, for history entries it writes on its own behalf. */
  controllerId?: string;
  /** The store's count of messages dead-lettered for an envelope checksum mismatch (read every pass). */
  checksumMismatches?: number;
}

export interface ReconcileResult {
  status: FeatureFlagsStatus;
  /** The effective flags to publish. */
  settings: FlagSettings;
  /** The contingencies to publish with them (read-only mode, load shedding). */
  contingencies: Contingencies;
  /** The rollout state to publish with them (phase, stage, rollback counts). */
  rollout: (current: RolloutState) => RolloutState;
  /** One per `actions` entry of the input, in the same order. */
  outcomes: ActionOutcome[];
  events: ControllerEvent[];
  /** Rollbacks applied in this pass (their effect is measured after publication). */
  rollbacks: RollbackAction[];
}
