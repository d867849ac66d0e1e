/**
 * The human form of `bridgectl history`: one headline per audit entry, then what it changed and,
 * for the controller's entries, what happened (its events), gate values and rollback effects.
 */
import type { AuditEntry } from '@agent-bridge/event-store';

type Details = Record<string, unknown>;

const isRecord = (value: unknown): value is Details => typeof value === 'object' && value !== null && !Array.isArray(value);

export function renderAuditEntry(entry: AuditEntry): string {
  const details = isRecord(entry.details) ? entry.details : {};
  const version = typeof details.version === 'number' ? ` v${details.version}` : '';
  const lines = [`${entry.at}  ${entry.action}${version}  by ${entry.actor}${entry.trigger ? ` (${entry.trigger})` : ''}: ${entry.reason}`];
  for (const change of entry.changes ?? []) lines.push(`    ${change.flag}: ${JSON.stringify(change.oldValue)} -> ${JSON.stringify(change.newValue)}`);

  if (entry.action === 'flags.publish') {
    const rollout = isRecord(details.rollout) ? details.rollout : undefined;
    if (rollout && isRecord(rollout.from) && isRecord(rollout.to)) {
      const { from, to } = rollout;
      const parts: string[] = [];
      if (from.phase !== to.phase) parts.push(`phase ${String(from.phase)} -> ${String(to.phase)}`);
      if (from.stage !== to.stage) parts.push(`stage ${String(from.stage)} -> ${String(to.stage)}`);
      if (parts.length > 0) lines.push(`    rollout: ${parts.join(', ')}`);
    }
    if (typeof details.file === 'string') lines.push(`    from file ${details.file}`);
    // The controller's publications list what happened in the pass that published them.
    const events = Array.isArray(details.events) ? details.events.filter(isRecord) : [];
    for (const event of events) {
      const same = event.actor === entry.actor && event.trigger === entry.trigger && event.reason === entry.reason;
      const summary = summarizeDetails(isRecord(event.details) ? event.details : {});
      lines.push(
        same
          ? `    ${String(event.action)}${summary ? `: ${summary}` : ''}`
          : `    ${String(event.action)} by ${String(event.actor)}${event.trigger ? ` (${String(event.trigger)})` : ''}: ${String(event.reason)}${summary ? ` [${summary}]` : ''}`,
      );
    }
    // Every controller publication carries the last gate values; they explain only a gate's rollback.
    if (entry.trigger === 'gate' && Array.isArray(details.metrics) && !events.some((e) => isRecord(e.details) && Array.isArray(e.details.metrics))) {
      lines.push(`    gates: ${metricsText(details.metrics)}`);
    }
  } else if (entry.action === 'rollback.effective') {
    if (typeof details.effectMs === 'number') lines.push(`    effect: ${details.effectMs} ms from the trigger (snapshot v${String(details.snapshotVersion)})`);
    else {
      lines.push(`    not confirmed (snapshot v${String(details.snapshotVersion)})`);
      if (Array.isArray(details.lagging) && details.lagging.length > 0) lines.push(`    still on an older snapshot: ${details.lagging.join(', ')}`);
      if (Array.isArray(details.undrained) && details.undrained.length > 0) lines.push(`    push lanes not drained: ${details.undrained.join(', ')}`);
    }
  } else if (entry.action.startsWith('controller.')) {
    const summary = summarizeDetails(details);
    if (summary) lines.push(`    ${summary}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The details worth a line: a rollback's level and effect, a stage move, gate values, a cleared rollback. */
function summarizeDetails(details: Details): string {
  const parts: string[] = [];
  if (typeof details.level === 'string') parts.push(details.level);
  if (typeof details.effect === 'string') parts.push(details.effect);
  if (typeof details.from !== 'undefined' && typeof details.to !== 'undefined') parts.push(`${String(details.from)} -> ${String(details.to)}`);
  if (typeof details.percentage === 'number') parts.push(`${details.percentage}%`);
  if (typeof details.hold === 'string') parts.push(`hold ${details.hold}`);
  if (isRecord(details.clearedRollback)) parts.push(`lifted the ${String(details.clearedRollback.level)} rollback`);
  if (typeof details.requestId === 'string') parts.push(`request ${details.requestId}`);
  if (typeof details.failedChecks === 'number') parts.push(`${details.failedChecks} failed round${details.failedChecks === 1 ? '' : 's'} in a row`);
  if (Array.isArray(details.metrics)) parts.push(`gates: ${metricsText(details.metrics)}`);
  if (typeof details.checks === 'string') parts.push(`checks: ${details.checks}`);
  return parts.join('; ');
}

function metricsText(metrics: unknown[]): string {
  return metrics
    .filter(isRecord)
    .map((m) => {
      const value = typeof m.value === 'number' ? String(Number(m.value.toPrecision(4))) : 'no data';
      const bounds = [typeof m.min === 'number' ? `≥ ${m.min}` : '', typeof m.max === 'number' ? `≤ ${m.max}` : ''].filter(Boolean).join(', ');
      return `${String(m.name)}=${value}${bounds ? ` (${bounds})` : ''} ${String(m.result)}`;
    })
    .join(', ');
}
