/**
 * What the progress page shows, read defensively from the controller's report (any field may be
 * absent: an older controller, a resource that cannot be read, the deprecation schedule not set)
 * and from the inventory. Nothing here is shown that an anonymous visitor should not see: no
 * owner names or contacts, no tokens, no feedback comments.
 */
import type { AdoptionSample, OwnerFeedbackSummary } from '@agent-bridge/event-store';
import type { AgentProtocol, ProgressInventory } from './source.js';

interface RollbackEvent {
  at: string;
  level: string;
  trigger: string;
  reason: string;
}

interface DeadlineStep {
  label: string;
  at: string | null;
  done: boolean;
}

export interface ProgressView {
  generatedAt: string;
  phase: string | null;
  stage: number | null;
  stages: number | null;
  /** The rollout percentage in force (status.effectivePercentage). */
  percentage: number | null;
  paused: boolean;
  rollbackInForce: { level: string; reason: string; at: string } | null;
  adoption: { windowMs: number; active: number; elicitationOnly: number; legacyOnly: number; both: number; rate: number | null } | null;
  sunsetAt: string | null;
  steps: DeadlineStep[];
  rollbacks: RollbackEvent[];
  /** Teams with agents still on legacy (legacy only or both), most first. */
  teams: Array<{ team: string; legacy: number; both: number; total: number }>;
  samples: readonly AdoptionSample[];
  feedback: { answers: number; positiveRatio: number | null };
}

type Json = Record<string, unknown>;
const object = (value: unknown): Json | undefined => (value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined);
const text = (value: unknown): string | null => (typeof value === 'string' && value.length > 0 ? value : null);
const num = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);

/** Rollbacks shown at most (status.history keeps the last 50 entries of every kind). */
const MAX_ROLLBACKS = 20;
/** Teams listed at most; the rest are summed in one row. */
const MAX_TEAMS = 50;

export function positiveRatio(summary: OwnerFeedbackSummary): number | null {
  return summary.total > 0 ? (summary.byScore['4'] + summary.byScore['5']) / summary.total : null;
}

export function progressView(report: Json, inventory: ProgressInventory, samples: readonly AdoptionSample[], feedback: OwnerFeedbackSummary, now: number): ProgressView {
  const status = object(report.status) ?? {};
  const plan = object(report.plan);
  const adoption = object(report.adoption);
  const rollback = object(status.rollback);
  const deprecation = object(status.deprecation) ?? {};
  const rollbacks = rollbackTimeline(status);
  return {
    generatedAt: new Date(now).toISOString(),
    phase: text(status.phase) ?? text(plan?.phase),
    stage: num(status.stage),
    stages: Array.isArray(plan?.stages) ? plan.stages.length : null,
    percentage: num(status.effectivePercentage),
    paused: status.paused === true || plan?.paused === true,
    rollbackInForce: rollback ? { level: text(rollback.level) ?? 'unknown', reason: text(rollback.reason) ?? '', at: text(rollback.at) ?? '' } : null,
    adoption: adoption
      ? {
          windowMs: num(adoption.windowMs) ?? 0,
          active: num(adoption.activeAgents) ?? 0,
          elicitationOnly: num(adoption.elicitationOnlyAgents) ?? 0,
          legacyOnly: num(adoption.legacyOnlyAgents) ?? 0,
          both: num(adoption.bothAgents) ?? 0,
          rate: num(adoption.rate),
        }
      : null,
    // status.deprecation (DeprecationStatus): sunset, and steps with name, dueAt and state (done once it ran).
    sunsetAt: text(deprecation.sunset),
    steps: (Array.isArray(deprecation.steps) ? deprecation.steps : []).flatMap((raw): DeadlineStep[] => {
      const step = object(raw);
      if (!step) return [];
      return [{ label: text(step.name) ?? 'step', at: text(step.dueAt), done: step.state === 'done' }];
    }),
    rollbacks,
    teams: teamsOnLegacy(inventory),
    samples,
    feedback: { answers: feedback.total, positiveRatio: positiveRatio(feedback) },
  };
}

/** Rollbacks, newest first: status.history's `rollback` entries, and status.lastRollback when history no longer has it. */
function rollbackTimeline(status: Json): RollbackEvent[] {
  const events: RollbackEvent[] = [];
  for (const raw of Array.isArray(status.history) ? status.history : []) {
    const entry = object(raw);
    if (entry?.action === 'cutover.rolled-back') {
      // The cutover's emergency rollback to its system snapshot (legacy serving again).
      events.push({ at: text(entry.at) ?? '', level: 'cutover', trigger: text(entry.actor) ?? 'unknown', reason: text(entry.reason) ?? '' });
      continue;
    }
    if (!entry || entry.action !== 'rollback') continue;
    const details = object(entry.details) ?? {};
    events.push({ at: text(entry.at) ?? '', level: text(details.level) ?? 'unknown', trigger: text(details.trigger) ?? text(entry.trigger) ?? 'unknown', reason: text(entry.reason) ?? '' });
  }
  const last = object(status.lastRollback);
  if (last && !events.some((event) => event.at === last.at)) events.push({ at: text(last.at) ?? '', level: text(last.level) ?? 'unknown', trigger: text(last.trigger) ?? 'unknown', reason: text(last.reason) ?? '' });
  // lastRollback names the trigger; a history entry of the same moment gets it from there.
  if (last) for (const event of events) if (event.at === last.at && event.trigger === 'unknown') event.trigger = text(last.trigger) ?? 'unknown';
  return events.sort((a, b) => b.at.localeCompare(a.at)).slice(0, MAX_ROLLBACKS);
}

function teamsOnLegacy(inventory: ProgressInventory): ProgressView['teams'] {
  const teams = inventory.byTeam.filter((team) => team.legacy + team.both > 0).sort((a, b) => b.legacy + b.both - (a.legacy + a.both) || a.team.localeCompare(b.team));
  const shown = teams.slice(0, MAX_TEAMS).map(({ team, legacy, both, total }) => ({ team, legacy, both, total }));
  const rest = teams.slice(MAX_TEAMS);
  if (rest.length > 0) shown.push({ team: `${rest.length} more teams`, legacy: sum(rest, 'legacy'), both: sum(rest, 'both'), total: sum(rest, 'total') });
  return shown;
}

const sum = (rows: ReadonlyArray<Record<'legacy' | 'both' | 'total', number>>, key: 'legacy' | 'both' | 'total') => rows.reduce((total, row) => total + row[key], 0);

/** What the lookup says of one agent: its protocol in the inventory's window, or not seen. */
export function lookupProtocol(inventory: ProgressInventory, agentId: string): AgentProtocol {
  return inventory.agents.find((agent) => agent.agentId === agentId)?.protocol ?? 'none';
}
