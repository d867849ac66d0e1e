/**
 * The controller's decisions, as a pure function of (spec, status, clock, what happened): stage
 * progression with holds, analysis gates, manual pause/resume/promote, rollbacks, and the cutover
 * guard. No I/O here, so every transition is tested with a fake clock (reconcile.test.ts).
 */
import {
  compileAgentMatcher,
  durationsOf,
  requestedSettings,
  withRollback,
  type FeatureFlagsSpec,
  type FlagSettings,
  type RollbackLevel,
  type RollbackTrigger,
  type RolloutState,
  type ActiveRollback,
  type FeatureFlagsStatus,
  type HistoryEntry,
  type MetricValue,
} from '@agent-bridge/flags';
import { MAX_HANDLED_ALERTS, MAX_HISTORY, setCondition } from './status.js';

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
  | { type: 'promote'; actor: string; reason: string; full: boolean; trigger?: 'admin' | 'cli' };

export interface ActionOutcome {
  applied: boolean;
  /** What happened, or why nothing did ("already paused"). */
  message: string;
}

/** Something the controller did, for the audit trail and Kubernetes Events. */
export interface ControllerEvent {
  action: 'stage.started' | 'stage.promoted' | 'stages.completed' | 'phase.changed' | 'rollback' | 'pause' | 'resume' | 'analysis.failed' | 'analysis.inconclusive' | 'cutover.blocked' | 'cutover.forced' | 'spec.changed';
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
  /** Readiness for legacyDisabled, evaluated by the caller only when the spec asks for it. */
  cutover?: CutoverCheck;
  /** Who the controller is, for history entries it writes on its own behalf. */
  controllerId?: string;
}

export interface ReconcileResult {
  status: FeatureFlagsStatus;
  /** The effective flags to publish. */
  settings: FlagSettings;
  /** The rollout state to publish with them (phase, stage, rollback counts). */
  rollout: (current: RolloutState) => RolloutState;
  outcomes: ActionOutcome[];
  events: ControllerEvent[];
  /** Rollbacks applied in this pass (their effect is measured after publication). */
  rollbacks: Array<Extract<ControlAction, { type: 'rollback' }>>;
}

const SEVERITY: Record<RollbackLevel, number> = { canary: 1, partial: 2, full: 3 };
const STAGED_PHASES = new Set(['canary', 'rollout']);

/** Whether an analysis round is due: during a hold, with checks defined, every interval. */
export function analysisDue(spec: FeatureFlagsSpec, status: FeatureFlagsStatus, now: number): boolean {
  if (spec.analysis.metrics.length === 0 || status.stage === 0 || status.rollback || status.paused || spec.paused) return false;
  if (!STAGED_PHASES.has(spec.phase)) return false;
  if (!status.lastAnalysisAt) return true;
  return now - Date.parse(status.lastAnalysisAt) >= durationsOf(spec).analysisIntervalMs;
}

export function reconcile(input: ReconcileInput): ReconcileResult {
  const { spec, generation, now } = input;
  const iso = new Date(now).toISOString();
  const status: FeatureFlagsStatus = structuredClone(input.status);
  const self = input.controllerId ?? 'controller';
  const stages = spec.rollout.stages;
  const holds = durationsOf(spec).holdsMs;
  const events: ControllerEvent[] = [];
  const outcomes: ActionOutcome[] = [];
  const rollbacks: ReconcileResult['rollbacks'] = [];
  const record = (event: ControllerEvent) => {
    events.push(event);
    const entry: HistoryEntry = { at: iso, action: event.action, actor: event.actor, reason: event.reason, ...(event.details ? { details: event.details } : {}) };
    status.history = [...status.history, entry].slice(-MAX_HISTORY);
  };

  // ---- the spec changed: keep progress that still makes sense
  if (status.observedGeneration !== generation) {
    if (status.observedGeneration !== 0) record({ action: 'spec.changed', actor: 'operator', trigger: 'resource', reason: `generation ${generation} applied`, severity: 'Normal' });
    if (!STAGED_PHASES.has(spec.phase) && spec.phase !== 'stabilization' && spec.phase !== 'completion') status.stage = 0;
    if (status.stage > stages.length) status.stage = stages.length;
    const request = spec.rollback.request;
    if (request && request.id !== status.appliedRequestId) {
      status.appliedRequestId = request.id;
      (input.actions ??= []).unshift({ type: 'rollback', level: request.level, trigger: 'resource', reason: request.reason, actor: 'operator', ...(request.agents ? { agents: request.agents } : {}), details: { requestId: request.id } });
    }
    status.observedGeneration = generation;
  }
  const adopting = input.status.observedGeneration === 0;
  if (adopting) status.phase = spec.phase;
  if (spec.phase !== status.phase && !(spec.phase === 'rollout' && status.phase === 'stabilization' && status.stage === stages.length && stages.length > 0)) {
    record({ action: 'phase.changed', actor: 'operator', trigger: 'resource', reason: `phase ${status.phase} → ${spec.phase}`, details: { from: status.phase, to: spec.phase }, severity: 'Normal' });
    status.phase = spec.phase;
  }

  // ---- actions: admin API, CLI, alerts, resource requests
  for (const action of input.actions ?? []) outcomes.push(apply(action));

  // ---- analysis results
  if (input.analysis && input.analysis.length > 0 && status.stage > 0 && !status.rollback) {
    status.lastAnalysisAt = iso;
    status.lastMetrics = input.analysis;
    const failed = input.analysis.filter((metric) => metric.result === 'fail');
    const inconclusive = input.analysis.filter((metric) => metric.result === 'inconclusive');
    if (failed.length > 0) {
      status.failedChecks += 1;
      record({
        action: 'analysis.failed',
        actor: self,
        trigger: 'gate',
        reason: `${failed.map((m) => `${m.name}=${m.value}`).join(', ')} outside thresholds (${status.failedChecks}/${spec.analysis.failureLimit})`,
        details: { metrics: input.analysis, failedChecks: status.failedChecks },
        severity: 'Warning',
      });
      if (status.failedChecks >= spec.analysis.failureLimit && spec.rollback.automatic) {
        outcomes.push(
          apply({
            type: 'rollback',
            level: spec.rollback.onGateFailure,
            trigger: 'gate',
            actor: self,
            reason: `analysis failed ${status.failedChecks} times at stage ${status.stage}: ${failed.map((m) => m.name).join(', ')}`,
            details: { metrics: input.analysis },
          }),
        );
      }
    } else if (inconclusive.length === 0) {
      status.failedChecks = 0; // failures count in a row
    } else {
      record({ action: 'analysis.inconclusive', actor: self, trigger: 'gate', reason: `no data for ${inconclusive.map((m) => m.name).join(', ')}; promotion waits`, details: { metrics: input.analysis }, severity: 'Warning' });
    }
  }

  // ---- stage progression
  // ---- pauses (spec.paused or the admin API): the hold does not count while paused
  const pausedNow = spec.paused || status.paused;
  if (pausedNow && !status.pausedAt) status.pausedAt = iso;
  if (!pausedNow && status.pausedAt) {
    if (status.stageStartedAt) status.stageStartedAt = new Date(Date.parse(status.stageStartedAt) + Math.max(0, now - Date.parse(status.pausedAt))).toISOString();
    delete status.pausedAt;
  }

  const haltedBy = status.rollback ? 'rollback' : spec.paused ? 'spec.paused' : status.paused ? 'paused' : undefined;
  if (STAGED_PHASES.has(status.phase) && stages.length > 0 && !haltedBy) {
    if (status.stage === 0) startStage(1, self, 'rollout plan started');
    const hold = holds[status.stage - 1] ?? 0;
    const heldFor = now - Date.parse(status.stageStartedAt ?? iso);
    const checksOk = spec.analysis.metrics.length === 0 || (status.lastMetrics.length > 0 && status.lastMetrics.every((m) => m.result === 'pass') && Date.parse(status.lastAnalysisAt ?? '') >= Date.parse(status.stageStartedAt ?? ''));
    if (status.stage <= stages.length && heldFor >= hold && checksOk && !stagesComplete()) {
      if (status.stage < stages.length) startStage(status.stage + 1, self, `stage ${status.stage} held ${formatMs(hold)} with passing checks`);
      else completeStages(self, `stage ${status.stage} held ${formatMs(hold)} with passing checks`);
    }
  }

  // ---- effective flags
  const requested = requestedSettings(spec);
  const settings: FlagSettings = structuredClone(requested);
  if (status.stage > 0 && stages.length > 0) settings.elicitation.percentage = stages[Math.min(status.stage, stages.length) - 1]!.percentage;
  const rollback = status.rollback;
  if (rollback) {
    if (rollback.level === 'full') settings.elicitation.enabled = false;
    if (rollback.percentage !== undefined) settings.elicitation.percentage = rollback.percentage;
    if (rollback.agents?.length) settings.elicitation.excludedAgents = unique([...settings.elicitation.excludedAgents, ...rollback.agents]);
  }
  // A rollback sends agents to the legacy protocol, so the legacy endpoint must serve again.
  if (rollback && requested.legacyDisabled) settings.legacyDisabled = false;
  if (requested.legacyDisabled && !rollback) {
    const forced = spec.cutover.force;
    const check = input.cutover ?? { ready: false, message: 'readiness not checked yet' };
    const wasReady = status.cutover?.ready || status.cutover?.forced;
    status.cutover = { ready: check.ready, forced: !check.ready && forced !== undefined, message: check.message, checkedAt: iso };
    if (!check.ready && !forced) {
      settings.legacyDisabled = false;
      if (status.cutover && !wasReady && !events.some((e) => e.action === 'cutover.blocked') && conditionStatus('CutoverBlocked') !== 'True') {
        record({ action: 'cutover.blocked', actor: self, trigger: 'guard', reason: check.message, severity: 'Warning' });
      }
    } else if (!check.ready && forced && !wasReady) {
      record({ action: 'cutover.forced', actor: 'operator', trigger: 'resource', reason: forced.reason, details: { checks: check.message }, severity: 'Warning' });
    }
  } else {
    delete status.cutover;
  }
  status.effectivePercentage = settings.elicitation.enabled ? settings.elicitation.percentage : 0;

  // ---- conditions
  const gen = generation;
  setCondition(status, 'Ready', 'True', 'Reconciled', `generation ${gen} reconciled`, iso, gen);
  const progressing = STAGED_PHASES.has(status.phase) && stages.length > 0 && !haltedBy && !stagesComplete();
  const inconclusiveNow = status.lastMetrics.some((m) => m.result === 'inconclusive');
  setCondition(
    status,
    'Progressing',
    progressing ? 'True' : 'False',
    progressing ? (inconclusiveNow ? 'AnalysisInconclusive' : 'StageHold') : haltedBy ? 'Halted' : 'Idle',
    progressing ? `stage ${status.stage}/${stages.length} at ${status.effectivePercentage}%${inconclusiveNow ? ', waiting for analysis data' : ''}` : haltedBy ? `halted by ${haltedBy}` : 'no stage to run',
    iso,
    gen,
  );
  setCondition(status, 'Paused', spec.paused || status.paused ? 'True' : 'False', spec.paused ? 'SpecPaused' : status.paused ? 'ManualPause' : 'NotPaused', status.pauseReason ?? (spec.paused ? 'spec.paused is true' : ''), iso, gen);
  setCondition(status, 'StagesComplete', stagesComplete() ? 'True' : 'False', stagesComplete() ? 'AllStagesHeld' : 'StagesRemaining', `${Math.min(status.stage, stages.length)}/${stages.length} stages`, iso, gen);
  setCondition(status, 'RolledBack', rollback ? 'True' : 'False', rollback ? `Rollback${capitalize(rollback.level)}` : 'NoRollback', rollback ? `${rollback.level} rollback by ${rollback.trigger}: ${rollback.reason}` : '', iso, gen);
  const blocked = requested.legacyDisabled && !settings.legacyDisabled;
  setCondition(status, 'CutoverBlocked', blocked ? 'True' : 'False', blocked ? 'ReadinessChecksFailed' : 'NotBlocked', blocked ? (status.cutover?.message ?? '') : '', iso, gen);

  const applied = rollbacks.slice();
  const phase = status.phase;
  const stage = status.stage;
  return {
    status,
    settings,
    rollout: (current) => {
      let next: RolloutState = { ...current, phase, stage };
      for (const r of applied) next = withRollback(next, { level: r.level, trigger: r.trigger, reason: r.reason, at: iso });
      return next;
    },
    outcomes,
    events,
    rollbacks,
  };

  // ---------------------------------------------------------------- helpers (closures over status)

  function stagesComplete(): boolean {
    return stages.length > 0 && status.stage === stages.length && conditionStatus('StagesComplete') === 'True';
  }

  function conditionStatus(type: string): string | undefined {
    return status.conditions.find((c) => c.type === type)?.status;
  }

  function startStage(stage: number, actor: string, reason: string, trigger?: string): void {
    const from = status.stage;
    status.stage = stage;
    status.stageStartedAt = iso;
    status.failedChecks = 0;
    status.lastMetrics = [];
    delete status.lastAnalysisAt;
    setCondition(status, 'StagesComplete', 'False', 'StagesRemaining', `${stage}/${stages.length} stages`, iso, generation);
    record({
      action: from === 0 ? 'stage.started' : 'stage.promoted',
      actor,
      trigger: trigger ?? (actor === self ? 'controller' : 'admin'),
      reason,
      details: { from, to: stage, percentage: stages[stage - 1]!.percentage, hold: stages[stage - 1]!.hold },
      severity: 'Normal',
    });
  }

  function completeStages(actor: string, reason: string, trigger?: string): void {
    status.stage = stages.length;
    setCondition(status, 'StagesComplete', 'True', 'AllStagesHeld', `${stages.length}/${stages.length} stages`, iso, generation);
    record({ action: 'stages.completed', actor, trigger: trigger ?? (actor === self ? 'controller' : 'admin'), reason, details: { percentage: stages.at(-1)!.percentage }, severity: 'Normal' });
    if (status.phase === 'rollout') {
      status.phase = 'stabilization';
      record({ action: 'phase.changed', actor, trigger: 'controller', reason: 'every rollout stage completed', details: { from: 'rollout', to: 'stabilization' }, severity: 'Normal' });
    }
  }

  function currentPercentage(): number {
    const base = status.stage > 0 && stages.length > 0 ? stages[Math.min(status.stage, stages.length) - 1]!.percentage : requestedSettings(spec).elicitation.percentage;
    return status.rollback?.percentage ?? base;
  }

  function apply(action: ControlAction): ActionOutcome {
    switch (action.type) {
      case 'pause': {
        if (status.paused) return { applied: false, message: `already paused since ${status.pausedAt} (${status.pauseReason ?? 'no reason given'}); nothing changed` };
        status.paused = true;
        status.pausedAt ??= iso;
        status.pauseReason = action.reason;
        record({ action: 'pause', actor: action.actor, trigger: action.trigger ?? 'admin', reason: action.reason, severity: 'Normal' });
        return { applied: true, message: `paused at stage ${status.stage}` };
      }
      case 'resume': {
        if (!status.paused && !status.rollback) {
          return { applied: false, message: spec.paused ? 'not paused by the admin API; spec.paused is true — set it to false in the resource' : 'nothing to resume: not paused and no rollback in force' };
        }
        const cleared = status.rollback;
        if (cleared && status.stage > 0) {
          status.stageStartedAt = iso; // after a rollback the stage is held again from the start
          delete status.pausedAt;
        }
        // Without a rollback the hold continues where it stopped (see "pauses" in reconcile).
        status.paused = false;
        delete status.pauseReason;
        delete status.rollback;
        status.failedChecks = 0;
        status.lastMetrics = [];
        delete status.lastAnalysisAt;
        record({ action: 'resume', actor: action.actor, trigger: action.trigger ?? 'admin', reason: action.reason, ...(cleared ? { details: { clearedRollback: cleared } } : {}), severity: 'Normal' });
        const where = status.stage === 0 ? 'the rollout starts again from its first stage' : `stage ${status.stage} is held again`;
        return { applied: true, message: cleared ? `resumed: the ${cleared.level} rollback is lifted and ${where}` : `resumed at stage ${status.stage}` };
      }
      case 'promote': {
        if (!STAGED_PHASES.has(status.phase)) return { applied: false, message: `nothing to promote: phase is ${status.phase} (stages run in canary and rollout)` };
        if (stages.length === 0) return { applied: false, message: 'nothing to promote: spec.rollout.stages is empty' };
        if (status.rollback) return { applied: false, message: `a ${status.rollback.level} rollback is in force; resume first` };
        if (stagesComplete()) return { applied: false, message: `already at the last stage (${stages.at(-1)!.percentage}%); nothing changed` };
        if (action.full) {
          status.stage = stages.length;
          status.stageStartedAt = iso;
          completeStages(action.actor, action.reason, action.trigger);
          return { applied: true, message: `promoted to the last stage (${stages.at(-1)!.percentage}%)` };
        }
        if (status.stage === stages.length) {
          completeStages(action.actor, action.reason, action.trigger);
          return { applied: true, message: `stage ${status.stage} completed` };
        }
        startStage(status.stage + 1, action.actor, action.reason, action.trigger);
        return { applied: true, message: `promoted to stage ${status.stage} (${stages[status.stage - 1]!.percentage}%)` };
      }
      case 'rollback':
        return applyRollback(action);
    }
  }

  function applyRollback(action: Extract<ControlAction, { type: 'rollback' }>): ActionOutcome {
    if (action.alert) {
      const seen = status.handledAlerts.some((a) => a.fingerprint === action.alert!.fingerprint && a.startsAt === action.alert!.startsAt);
      if (seen) return { applied: false, message: `alert ${action.alert.fingerprint} (since ${action.alert.startsAt}) was already acted on; not a second rollback` };
      status.handledAlerts = [...status.handledAlerts, action.alert].slice(-MAX_HANDLED_ALERTS);
    }
    const current = status.rollback;
    const requested = requestedSettings(spec);
    const next: ActiveRollback = { ...(current ?? {}), level: action.level, trigger: action.trigger, reason: action.reason, at: iso };
    if (current && SEVERITY[current.level] > SEVERITY[action.level]) next.level = current.level;
    let effect: string;
    if (action.level === 'full') {
      const alreadyOff = !requested.elicitation.enabled || current?.level === 'full';
      if (alreadyOff) return { applied: false, message: 'elicitation is already off for every agent; nothing changed' };
      effect = 'elicitation off for every agent';
    } else if (action.level === 'partial') {
      const from = currentPercentage();
      if (from === 0) return { applied: false, message: 'the percentage is already 0; nothing changed' };
      const step = action.percentageReduction ?? spec.rollback.partialStep;
      const to = Math.max(0, from - step);
      next.percentage = to;
      // The stage goes back to the last one at or below the new percentage, so a resume re-holds it.
      let stage = 0;
      stages.forEach((s, i) => {
        if (s.percentage <= to) stage = i + 1;
      });
      status.stage = Math.min(status.stage, stage);
      if (status.stage < stages.length) setCondition(status, 'StagesComplete', 'False', 'StagesRemaining', `${status.stage}/${stages.length} stages`, iso, generation);
      effect = `percentage ${from}% → ${to}%`;
    } else {
      const agents = action.agents?.length ? action.agents : (spec.rollback.canaryAgents ?? requested.elicitation.agents);
      if (agents.length === 0) return { applied: false, message: 'no canary agents to roll back: give agents, or set spec.rollback.canaryAgents or flags.elicitation.agents' };
      const already = new Set(current?.agents ?? []);
      const matcher = compileAgentMatcher(requested.elicitation.excludedAgents);
      const added = agents.filter((agent) => !already.has(agent) && !matcher.matches(agent));
      if (added.length === 0) return { applied: false, message: `${agents.join(', ')} already on legacy; nothing changed` };
      next.agents = unique([...(current?.agents ?? []), ...added]);
      effect = `${added.join(', ')} back to legacy`;
    }
    status.rollback = next;
    status.lastRollback = { level: action.level, trigger: action.trigger, reason: action.reason, at: iso };
    rollbacks.push(action);
    record({
      action: 'rollback',
      actor: action.actor,
      trigger: action.trigger,
      reason: action.reason,
      details: { level: action.level, effect, ...(action.details ?? {}) },
      severity: 'Warning',
    });
    return { applied: true, message: `${action.level} rollback: ${effect}` };
  }
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function formatMs(ms: number): string {
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${Math.round(ms / 1000)}s`;
}
