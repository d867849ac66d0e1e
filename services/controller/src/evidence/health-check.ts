/**
 * The health-check trigger (strategy: HealthCheckTrigger(consecutive_failures=3)). Every interval
 * the controller probes the elicitation path: each live elicitation replica (they report the flags
 * they applied, and advertise where they are reached) and each configured URL (in Kubernetes, the
 * elicitation Service) on /readyz. The path is healthy when at least one answers 200 within the
 * timeout; no replica to ask, no answer, or only refusals is unhealthy — missing data never counts
 * as healthy. After `consecutiveFailures` unhealthy checks in a row the controller rolls back
 * (trigger `health-check`), once per unhealthy spell.
 */
import type { EventStore } from '@agent-bridge/event-store';
import { parseDuration, type FeatureFlagsSpec, type FlagSnapshot, type HealthCheckStatus } from '@agent-bridge/flags';

/** A replica whose last report is older than this is not asked (it is gone, or going). */
const LIVE_REPORT_MS = 15_000;

interface HealthProbe {
  target: string;
  ready: boolean;
  detail: string;
}

/** Where to ask: live elicitation replicas from the store, then the configured URLs (full /readyz URLs). */
export async function healthTargets(store: EventStore, configured: readonly string[], now: number): Promise<string[]> {
  const reports = await store.readFlagsApplied(now - LIVE_REPORT_MS);
  const replicas = [...new Set(reports.filter((r) => r.service === 'elicitation').map((r) => r.replica))];
  const urls = await Promise.all(replicas.map((replica) => store.lookupReplica('elicitation', replica)));
  const fromRegistry = urls.filter((url): url is string => url !== null).map((url) => `${url.replace(/\/$/, '')}/readyz`);
  return [...new Set([...fromRegistry, ...configured])];
}

async function probe(target: string, timeoutMs: number): Promise<HealthProbe> {
  try {
    const response = await fetch(target, { signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
    return { target, ready: response.status === 200, detail: `HTTP ${response.status}` };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    return { target, ready: false, detail: (error as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (cause ?? (error as Error).message) };
  }
}

/** Whether the elicitation path carries agents now: a check only matters (and only triggers) then. */
export function elicitationInUse(snapshot: Pick<FlagSnapshot, 'elicitation'>): boolean {
  const { elicitation } = snapshot;
  return elicitation.enabled && (elicitation.percentage > 0 || elicitation.agents.length > 0);
}

export interface HealthCheckRun {
  status: HealthCheckStatus;
  /** Set when this check reached the limit: the rollback to request. */
  trip?: { reason: string; probes: HealthProbe[] };
}

/** One check: probes every target, counts failures in a row, and says when the limit is reached (once per spell). */
export async function runHealthCheck(targets: readonly string[], spec: FeatureFlagsSpec, previous: HealthCheckStatus | undefined, now: number): Promise<HealthCheckRun> {
  const { consecutiveFailures: limit, timeout } = spec.rollback.healthCheck;
  const probes = await Promise.all(targets.map((target) => probe(target, parseDuration(timeout))));
  const ready = probes.filter((p) => p.ready).length;
  const healthy = ready > 0;
  const failures = healthy ? 0 : (previous?.consecutiveFailures ?? 0) + 1;
  const message =
    targets.length === 0
      ? 'no elicitation replica to ask: none reported in the last 15 s and no ELICITATION_HEALTH_URLS'
      : `${ready} of ${probes.length} ready${
          probes.some((p) => !p.ready)
            ? ` (${probes
                .filter((p) => !p.ready)
                .map((p) => `${p.target}: ${p.detail}`)
                .join('; ')})`
            : ''
        }`;
  const status: HealthCheckStatus = { consecutiveFailures: failures, lastCheckAt: new Date(now).toISOString(), lastResult: healthy ? 'healthy' : 'unhealthy', message };
  return { status, ...(failures === limit ? { trip: { reason: `elicitation path unhealthy for ${limit} checks in a row: ${message}`, probes } } : {}) };
}
