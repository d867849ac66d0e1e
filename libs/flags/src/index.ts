export { FlagsError } from './errors.js';
export type { FlagsErrorOptions } from './errors.js';
export {
  DEFAULT_FLAGS,
  INITIAL_ROLLOUT,
  MAX_AGENT_SELECTOR_LENGTH,
  MIGRATION_PHASES,
  ROLLBACK_LEVELS,
  ROLLBACK_TRIGGERS,
  rolloutStateSchema,
  withRollback,
  agentSelectorSchema,
  flagSettingsOf,
  flagSettingsSchema,
  flagSnapshotSchema,
  parseFlagSettings,
  parseFlagSnapshot,
} from './snapshot.js';
export type { FlagSettings, FlagSnapshot, MigrationPhase, RollbackLevel, RollbackTrigger, RolloutState } from './snapshot.js';
export {
  FLAG_PATHS,
  applyFlagAssignment,
  diffFlags,
  flagFileSchema,
  isFlagPath,
  parseFlagFile,
  renderFlagFile,
} from './flag-file.js';
export type { FlagChange, FlagFileContent, FlagPath } from './flag-file.js';
export { agentBucket } from './bucket.js';
export { compileAgentMatcher, evaluateProtocol } from './evaluate.js';
export type { AgentMatcher, Protocol, ProtocolDecision, ProtocolReason } from './evaluate.js';
export { FLAG_WATCHER_DEFAULTS, FlagWatcher } from './watcher.js';
export type { FlagSnapshotSource, FlagWatcherLogger, FlagWatcherOptions } from './watcher.js';
export { publishFlags, readPublishedFlags } from './publisher.js';
export type { FlagPublicationStore, PublishFlagsResult, PublishRequest } from './publisher.js';
export * from './resource.js';
export { CONDITION_TYPES } from './status.js';
export type { ActiveRollback, CheckResult, Condition, ConditionType, FeatureFlagsStatus, HistoryEntry, MetricValue } from './status.js';
