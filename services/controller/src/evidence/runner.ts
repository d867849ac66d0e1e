/**
 * What the controller evaluates besides the analysis gates, each on its own interval: the A/B test,
 * the scorecard, the elicitation health check, and rollback drills (scheduled, and measured after
 * each publication). It returns the evidence for the reconcile pass and the actions it calls for (a
 * health-check rollback, a scheduled drill), keeps the metrics the dashboards read, and measures
 * a running drill in the background, reporting each step back as an action.
 */
import type { EventStore, Keys } from '@agent-bridge/event-store';
import { evaluateProtocol, parseDuration, readPublishedFlags, type FeatureFlagsSpec, type FeatureFlagsStatus, type FlagSnapshot, type HealthCheckStatus } from '@agent-bridge/flags';
import type { BridgeMetrics, Logger } from '@agent-bridge/observability';
import { awaitEffect } from '../effect.js';
import type { PrometheusClient } from '../prometheus.js';
import type { Evidence } from '../reconcile/evidence.js';
import type { ControlAction } from '../reconcile/types.js';
import { AB_VERDICTS, abTestDue, evaluateAbTest } from './ab-test.js';
import { elicitationInUse, healthTargets, runHealthCheck } from './health-check.js';
import { evaluateScorecard } from './scorecard.js';

export interface EvidenceDeps {
  store: EventStore;
  keys: Keys;
  metrics: BridgeMetrics;
  logger: Logger;
  now: () => number;
  /** Queues an action for the next pass (drill steps). */
  submit: (action: ControlAction) => void;
  /** Full /readyz URLs probed besides the replicas the store knows (ELICITATION_HEALTH_URLS). */
  healthUrls: readonly string[];
  controllerId: string;
}

export class EvidenceRunner {
  private scorecardAt = 0;
  private healthAt = 0;
  private health: HealthCheckStatus | undefined;
  /** The drill step being measured (id:state), so a pass does not start a second measurement. */
  private measuring: string | undefined;
  /** The last drill counted in agentbridge_drills_total (the first one seen after start is history, not counted). */
  private counted: string | null | undefined;

  /** Whether this process has put the status's A/B test and scorecard into the gauges (a new leader does at once). */
  private restored = false;

  constructor(private readonly deps: EvidenceDeps) {
    // Counters exist from the start at 0, so rate() and increase() see the first drill and check.
    for (const result of ['passed', 'failed']) deps.metrics.drills.inc({ result }, 0);
    for (const result of ['healthy', 'unhealthy']) deps.metrics.healthChecks.inc({ result }, 0);
  }

  /** A new leadership term: the gauges are restored from the status at the next pass. */
  newTerm(): void {
    this.restored = false;
  }

  /** The health check as last run (the status keeps only its changes). */
  healthCheck(): HealthCheckStatus | undefined {
    return this.health;
  }

  async collect(spec: FeatureFlagsSpec, status: FeatureFlagsStatus, client: PrometheusClient | undefined, now: number): Promise<{ evidence: Evidence; actions: ControlAction[] }> {
    const evidence: Evidence = {};
    const actions: ControlAction[] = [];
    this.armed(spec);
    if (abTestDue(spec.abTest, status, now)) {
      evidence.abTest = await evaluateAbTest(spec.abTest!, status, client, now);
      this.exportAbTest(evidence.abTest);
    }
    if (now - this.scorecardAt >= parseDuration(spec.scorecard.interval)) {
      this.scorecardAt = now;
      evidence.scorecard = await evaluateScorecard(spec, { ...status, ...(evidence.abTest ? { abTest: evidence.abTest } : {}) }, client, now);
      this.exportScorecard(evidence.scorecard);
    }
    // Read once, and only in a pass where a health check or a scheduled drill is due.
    let snapshot: FlagSnapshot | undefined;
    const published = async () => (snapshot ??= await readPublishedFlags(this.deps.store));
    const check = spec.rollback.healthCheck;
    if (check.enabled && now - this.healthAt >= parseDuration(check.interval) && elicitationInUse(await published())) {
      this.healthAt = now;
      const previous = this.health ?? status.healthCheck;
      const run = await runHealthCheck(await healthTargets(this.deps.store, this.deps.healthUrls, now), spec, previous, now);
      this.health = run.status;
      this.deps.metrics.healthChecks.inc({ result: run.status.lastResult });
      this.deps.metrics.healthCheckFailures.set(run.status.consecutiveFailures);
      // The status records changes, not every check (a write every interval would be noise).
      if (!previous || previous.lastResult !== run.status.lastResult || previous.consecutiveFailures !== run.status.consecutiveFailures) evidence.healthCheck = run.status;
      if (run.trip && spec.rollback.automatic && status.rollback?.level !== 'full') {
        actions.push({ type: 'rollback', level: check.level, trigger: 'health-check', actor: 'health-check', reason: run.trip.reason, details: { probes: run.trip.probes, consecutiveFailures: run.status.consecutiveFailures } });
      }
    }
    const drill = spec.rollback.drill;
    // Only once this controller's flags are the published ones: a first pass would judge the drill
    // agent by the flags of before (it may not be opted in there yet).
    const last = status.lastDrill ? Date.parse(status.lastDrill.at) : 0;
    if (drill?.interval && !status.drill && !status.rollback && status.snapshotVersion > 0 && now - last >= parseDuration(drill.interval)) {
      const flags = await published();
      if (flags.version === status.snapshotVersion) actions.push(this.drillAction(flags, drill.agent, 'schedule', this.deps.controllerId, now));
    }
    return { evidence, actions };
  }

  /** A drill of `agent`, or why it cannot run (the agent already on legacy would test nothing). */
  drillAction(snapshot: FlagSnapshot, agent: string, trigger: 'schedule' | 'cli' | 'admin', actor: string, now: number): ControlAction {
    const id = `drill-${new Date(now).toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${now % 1000}`;
    const onElicitation = evaluateProtocol(snapshot, agent).protocol === 'elicitation';
    return {
      type: 'drill',
      id,
      agent,
      actor,
      trigger,
      ...(onElicitation ? {} : { failure: `${agent} is on legacy in the published flags, so a drill would change nothing; choose a drill agent on elicitation (opt it in with spec.flags.elicitation.agents)` }),
    };
  }

  /** After a publication (or a pass that did not change the flags): measures the running drill's step. */
  afterPass(status: FeatureFlagsStatus, spec: FeatureFlagsSpec, published: FlagSnapshot | undefined, passAt: number): void {
    const drill = status.drill;
    if (!drill) {
      this.measuring = undefined;
      return;
    }
    const key = `${drill.id}:${drill.state}`;
    if (this.measuring === key) return;
    this.measuring = key;
    const timeoutMs = parseDuration(spec.rollback.drill?.timeout ?? '30s');
    // Trigger → effect: from the pass that started the drill for its rollback, from the pass that
    // published the restore for the restore (both before the publication, like a rollback's).
    const since = drill.state === 'rolling-back' ? Math.min(Date.parse(drill.startedAt), passAt) : passAt;
    void (async () => {
      const snapshot = published ?? (await readPublishedFlags(this.deps.store));
      const wanted = drill.state === 'rolling-back' ? 'legacy' : 'elicitation';
      const decided = evaluateProtocol(snapshot, drill.agent).protocol;
      let elapsedMs: number | undefined;
      let failure: string | undefined;
      if (decided !== wanted) {
        failure = `the published flags (version ${snapshot.version}) put ${drill.agent} on ${decided}, not ${wanted}`;
      } else {
        const outcome = await awaitEffect(this.deps.store, this.deps.keys, snapshot, since, since + timeoutMs, this.deps.now);
        elapsedMs = outcome.effectMs;
        if (elapsedMs === undefined)
          failure = `${drill.state === 'rolling-back' ? 'rollback' : 'restore'} of ${drill.agent} not in effect within ${timeoutMs} ms (lagging: ${outcome.lagging.join(', ') || 'none'}; undrained: ${outcome.undrained.join(', ') || 'none'})`;
      }
      this.deps.submit({ type: 'drill-step', id: drill.id, step: drill.state === 'rolling-back' ? 'effective' : 'restored', ...(elapsedMs !== undefined ? { elapsedMs } : {}), ...(failure ? { failure } : {}) });
    })().catch((error) => {
      this.deps.logger.warn({ err: error, drill: drill.id }, 'could not measure the drill; it is reported failed');
      this.deps.submit({ type: 'drill-step', id: drill.id, step: drill.state === 'rolling-back' ? 'effective' : 'restored', failure: `measurement failed: ${(error as Error).message}` });
    });
  }

  /** The drill gauges from the status (a new leader reports what the last drill measured), and the A/B test's and scorecard's once per term. */
  exportFromStatus(status: FeatureFlagsStatus, spec: FeatureFlagsSpec): void {
    const { metrics } = this.deps;
    if (!this.restored) {
      this.restored = true;
      if (status.abTest) this.exportAbTest(status.abTest);
      if (status.scorecard) this.exportScorecard(status.scorecard);
    }
    metrics.drillIntervalSeconds.set(spec.rollback.drill?.interval ? parseDuration(spec.rollback.drill.interval) / 1000 : 0);
    const last = status.lastDrill;
    if (this.counted !== undefined && last && this.counted !== last.id) metrics.drills.inc({ result: last.result });
    this.counted = last?.id ?? null;
    if (!last) return;
    metrics.drillLastTimestamp.set(Date.parse(last.at) / 1000);
    metrics.drillLastSuccess.set(last.result === 'passed' ? 1 : 0);
    if (last.effectMs !== undefined) metrics.drillLastEffectSeconds.set(last.effectMs / 1000);
  }

  private exportScorecard(card: NonNullable<Evidence['scorecard']>): void {
    this.deps.metrics.scorecardResult.reset();
    for (const c of card.criteria) this.deps.metrics.scorecardResult.set({ criterion: c.id, group: c.group }, c.result === 'pass' ? 1 : c.result === 'fail' ? -1 : 0);
  }

  private exportAbTest(ab: NonNullable<Evidence['abTest']>): void {
    const { metrics } = this.deps;
    metrics.abImprovement.reset();
    metrics.abPValue.reset();
    for (const verdict of AB_VERDICTS) metrics.abVerdict.set({ metric: 'overall', verdict }, verdict === ab.verdict ? 1 : 0);
    for (const m of ab.metrics) {
      for (const verdict of AB_VERDICTS) metrics.abVerdict.set({ metric: m.name, verdict }, verdict === m.verdict ? 1 : 0);
      if (m.improvement !== null) metrics.abImprovement.set({ metric: m.name, bound: 'estimate' }, m.improvement);
      if (m.interval) {
        metrics.abImprovement.set({ metric: m.name, bound: 'lower' }, m.interval[0]);
        metrics.abImprovement.set({ metric: m.name, bound: 'upper' }, m.interval[1]);
      }
      if (m.pValue !== null) metrics.abPValue.set({ metric: m.name }, m.pValue);
    }
  }

  private armed(spec: FeatureFlagsSpec): void {
    const auto = spec.rollback.automatic;
    const { rollbackTriggerArmed } = this.deps.metrics;
    rollbackTriggerArmed.set({ trigger: 'alert' }, auto ? 1 : 0);
    rollbackTriggerArmed.set({ trigger: 'gate' }, auto && spec.analysis.metrics.length > 0 ? 1 : 0);
    rollbackTriggerArmed.set({ trigger: 'health-check' }, auto && spec.rollback.healthCheck.enabled ? 1 : 0);
  }
}
