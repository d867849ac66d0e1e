/**
 * The state a reconcile pass threads through its steps. `PassContext` is what the pass knows and
 * never changes (spec, clock, who the controller is); `Pass` is what the steps build (the next
 * status, the events, the action outcomes, the rollbacks applied). Each step takes a Pass and
 * returns a new one: it changes its own `draft`, never its input.
 */
import { durationsOf, requestedSettings, type FeatureFlagsSpec, type FeatureFlagsStatus, type FlagSettings, type HistoryEntry, type Stage } from '@agent-bridge/flags';
import { MAX_HISTORY } from '../status.js';
import type { ActionOutcome, ControllerEvent, ReconcileInput, RollbackAction } from './types.js';

/** The phases in which stages run. */
export const STAGED_PHASES: ReadonlySet<string> = new Set(['canary', 'rollout']);

export interface PassContext {
  spec: FeatureFlagsSpec;
  generation: number;
  now: number;
  /** `now` as the ISO timestamp every entry of this pass carries. */
  at: string;
  /** The controller's id, the actor of what it does on its own behalf. */
  self: string;
  stages: Stage[];
  holdsMs: number[];
  cutoverWatchMs: number;
  /** The flags the spec asks for, before stages, rollbacks and the cutover guard (steps copy it, never change it). */
  requested: FlagSettings;
}

export interface Pass {
  status: FeatureFlagsStatus;
  events: ControllerEvent[];
  outcomes: ActionOutcome[];
  rollbacks: RollbackAction[];
}

export function passContext(input: ReconcileInput): PassContext {
  const { spec } = input;
  return {
    spec,
    generation: input.generation,
    now: input.now,
    at: new Date(input.now).toISOString(),
    self: input.controllerId ?? 'controller',
    stages: spec.rollout.stages,
    holdsMs: durationsOf(spec).holdsMs,
    cutoverWatchMs: durationsOf(spec).cutoverWatchMs,
    requested: requestedSettings(spec),
  };
}

/** The pass before any step: the stored status, nothing done yet. */
export function firstPass(status: FeatureFlagsStatus): Pass {
  return { status: structuredClone(status), events: [], outcomes: [], rollbacks: [] };
}

/** A step's own copy of the pass, which it may change. */
export function draft(pass: Pass): Pass {
  return { status: structuredClone(pass.status), events: [...pass.events], outcomes: [...pass.outcomes], rollbacks: [...pass.rollbacks] };
}

/** Adds an event to a draft, and to its status history (bounded). */
export function record(ctx: PassContext, pass: Pass, event: ControllerEvent): void {
  pass.events.push(event);
  const entry: HistoryEntry = { at: ctx.at, action: event.action, actor: event.actor, reason: event.reason, ...(event.details ? { details: event.details } : {}) };
  pass.status.history = [...pass.status.history, entry].slice(-MAX_HISTORY);
}
