export { FlagsError } from './errors.js';

export { DEFAULT_CONTINGENCIES, DEFAULT_FLAGS, INITIAL_ROLLOUT, MIGRATION_PHASES, ROLLBACK_LEVELS, withRollback, agentSelectorSchema, flagSettingsOf, flagSettingsSchema, parseFlagSnapshot } from './snapshot.js';
export type { Contingencies, FlagSettings, FlagSnapshot, ReadOnlyTrigger, RollbackLevel, RollbackTrigger, RolloutState } from './snapshot.js';
export { FLAG_PATHS, applyFlagAssignment, diffFlags, parseFlagFile, renderFlagFile } from './flag-file.js';

export { agentBucket } from './bucket.js';
export { compileAgentMatcher, evaluateProtocol } from './evaluate.js';
export type { ProtocolDecision, ProtocolReason } from './evaluate.js';
export { FLAG_WATCHER_DEFAULTS, FlagWatcher } from './watcher.js';
export type { FlagSnapshotSource, FlagWatcherLogger, FlagWatcherOptions } from './watcher.js';
export { publishFlags, readPublishedFlags } from './publisher.js';

export * from './resource.js';

export type {
  AbMetricResult,
  AbTestStatus,
  AbVerdict,
  ActiveRollback,
  CheckResult,
  Condition,
  ConditionType,
  CriterionGroup,
  CriterionResult,
  DrillResult,
  FeatureFlagsStatus,
  HealthCheckStatus,
  CutoverStatus,
  DeprecationStatus,
  DeprecationStepStatus,
  HistoryEntry,
  MetricValue,
  ReadOnlyStatus,
  ScorecardCriterion,
  ScorecardStatus,
} from './status.js';
