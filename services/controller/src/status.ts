/**
 * The controller's helpers for the FeatureFlags status, whose type is part of the API
 * (FeatureFlagsStatus in @agent-bridge/flags): its starting value, its bounds, and its conditions.
 */
import type { Condition, ConditionType, FeatureFlagsStatus } from '@agent-bridge/flags';

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
export function setCondition(status: FeatureFlagsStatus, type: ConditionType, value: Condition['status'], reason: string, message: string, now: string, generation: number): void {
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
