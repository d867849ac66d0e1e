/**
 * The reconcile loop: while this process leads, it reads the resource and its status, runs the
 * analysis when due, applies queued actions (admin API, CLI, Alertmanager), computes the next state
 * (reconcile.ts), publishes the effective flags as a versioned snapshot with its audit entry, writes
 * the status, and measures how fast a rollback takes effect.
 */
import { isDeepStrictEqual } from 'node:util';
import { isStoreError, type EventStore, type Keys } from '@agent-bridge/event-store';
import { awaitEffect } from './effect.js';
import { FlagsError, durationsOf, requestedSettings, publishFlags, readPublishedFlags, type FeatureFlagsSpec, type FeatureFlagsStatus, type FlagSnapshot, type MetricValue } from '@agent-bridge/flags';
import type { BridgeMetrics, Logger } from '@agent-bridge/observability';
import type { AgentRegistry } from '@agent-bridge/service-kit';
import { checkCutover, runAnalysis, type PrometheusClient } from './analysis.js';
import { NotLeaderError, type LeaderElector } from './leader.js';
import { EvidenceRunner } from './evidence/runner.js';
import { InventoryExporter, readInventory, type AgentInventory, type InventoryFilter, type InventoryOptions } from './inventory.js';
import { analysisDue, reconcile, type ActionOutcome, type ControlAction, type ControllerEvent, type CutoverCheck, type ReconcileResult } from './reconcile.js';
import type { Evidence } from './reconcile/evidence.js';
import { snapshotWanted } from './reconcile/cutover.js';
import { noticesDue } from './reconcile/deprecation.js';
import { ownerNotices } from './sequence/owner-notices.js';
import { takeSystemSnapshot, type SystemSnapshot } from './sequence/system-snapshot.js';
import type { ResourceSource } from './sources/source.js';
import { initialStatus, setCondition } from './status.js';
import type { Notifier } from './notify/notifier.js';

export interface ControllerOptions {
  controllerId: string;
  reconcileIntervalMs: number;
  effectTimeoutMs: number;
  activeAgentWindowMs: number;
  /** The legacy inventory (window, size) and how often the leader exports it by team; defaults: 7 days, 10,000 agents, every minute. */
  inventory?: Partial<InventoryOptions & { metricIntervalMs: number }>;
}

export interface ControllerDeps {
  store: EventStore;
  keys: Keys;
  source: ResourceSource;
  elector: LeaderElector;
  /** A Prometheus client for the spec's URL (created per URL, cached). */
  prometheus: (baseUrl: string) => PrometheusClient;
  metrics: BridgeMetrics;
  /** Full /readyz URLs the health check probes besides the replicas the store knows (ELICITATION_HEALTH_URLS). */
  healthUrls?: readonly string[];
  /** The elicitation endpoint agents should move to (said in notices). */
  elicitationEndpointUrl?: string;
  /** The agent registry (AGENT_TOKENS_FILE): the inventory's registered agents and owners. */
  registry?: Pick<AgentRegistry, 'entries'>;
  /** Owner notifications (the deprecation schedule enqueues them with the lease value; notify/). */
  notifier?: Notifier;
  logger: Logger;
  now?: () => number;
}

/** What the admin API answers for an action. */
export interface ActionResult extends ActionOutcome {
  /** The snapshot version published for it (when it changed the flags). */
  snapshotVersion?: number;
}

interface QueuedAction {
  action: ControlAction;
  receivedAt: number;
  resolve: (result: ActionResult) => void;
  reject: (error: Error) => void;
}

/** A queued action that could not be completed (the store or the leader went away): its code says which, a retry may succeed. */
class ActionFailedError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class Controller {
  private readonly queue: QueuedAction[] = [];
  private status: FeatureFlagsStatus | undefined;
  /** The status as last stored; differs from `status` after a failed write, which the next pass retries. */
  private storedStatus: FeatureFlagsStatus | undefined;
  private cutover: { check: CutoverCheck; at: number } | undefined;
  private wake: (() => void) | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private pendingEffects: Array<{ at: string; effectMs: number | undefined }> = [];
  /** Deprecation steps whose notices are being queued now (one attempt at a time per step). */
  private readonly noticesInFlight = new Set<string>();
  private readonly now: () => number;
  private readonly evidence: EvidenceRunner;
  private readonly inventoryOptions: InventoryOptions;
  private readonly inventoryExporter: InventoryExporter;

  constructor(
    private readonly deps: ControllerDeps,
    private readonly options: ControllerOptions,
  ) {
    this.now = deps.now ?? Date.now;
    const { metricIntervalMs = 60_000, ...inventory } = options.inventory ?? {};
    this.inventoryOptions = { windowMs: 7 * 24 * 60 * 60 * 1000, maxAgents: 10_000, ...inventory };
    this.inventoryExporter = new InventoryExporter({ read: () => this.inventory(), isLeader: () => this.isLeader(), metrics: deps.metrics, logger: deps.logger, intervalMs: metricIntervalMs, now: this.now });
    this.evidence = new EvidenceRunner({
      store: deps.store,
      keys: deps.keys,
      metrics: deps.metrics,
      logger: deps.logger,
      now: this.now,
      submit: (action) => this.internal(action),
      healthUrls: deps.healthUrls ?? [],
      controllerId: options.controllerId,
    });
  }

  async start(): Promise<void> {
    await this.deps.source.start(() => this.poke());
    await this.deps.elector.start((leader) => {
      this.deps.metrics.controllerLeader.set(leader ? 1 : 0);
      this.status = undefined; // a new term reads the status afresh
      this.evidence.newTerm();
      this.inventoryExporter.newTerm(leader);
      if (!leader) this.failQueued('this controller lost leadership; retry (the new leader takes it)');
      this.poke();
    });
    this.running = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.poke();
    await this.running;
    this.failQueued('the controller is shutting down');
    await this.deps.elector.stop();
    await this.deps.source.stop();
  }

  isLeader(): boolean {
    return this.deps.elector.isLeader();
  }

  /** The spec in force, when the resource can be read. */
  currentSpec(): FeatureFlagsSpec | undefined {
    const view = this.deps.source.current();
    return view.state === 'ok' ? view.resource.spec : undefined;
  }

  /** Queues an action for the leader's next pass and resolves with its outcome. */
  submit(action: ControlAction): Promise<ActionResult> {
    if (!this.isLeader()) return Promise.reject(new NotLeaderError('this controller is not the leader'));
    return new Promise((resolve, reject) => {
      this.queue.push({ action, receivedAt: this.now(), resolve, reject });
      this.poke();
    });
  }

  /** A rollback drill of `agent` (default spec.rollback.drill.agent) to submit, or undefined when there is no drill agent. */
  async drillAction(agent: string | undefined, actor: string, trigger: 'cli' | 'admin'): Promise<ControlAction | undefined> {
    const target = agent ?? this.currentSpec()?.rollback.drill?.agent;
    return target ? this.evidence.drillAction(await readPublishedFlags(this.deps.store), target, trigger, actor, this.now()) : undefined;
  }

  /** An action of the controller's own (a drill step): no caller waits on it. */
  private internal(action: ControlAction): void {
    if (!this.isLeader()) return;
    this.queue.push(unanswered(action, this.now()));
    this.poke();
  }

  /** Whether the post-cutover watch runs (the Alertmanager webhook then reports every firing alert to it). */
  cutoverWatching(): boolean {
    return this.status?.cutover?.state === 'watching';
  }

  /**
   * The legacy inventory (GET /admin/agents, `bridgectl agents`): every registered agent and every
   * agent seen, with its owner, protocol within the window, last seen, calls and messages per day.
   * Any controller answers it (it reads the store), leader or not.
   */
  inventory(filter?: InventoryFilter): Promise<AgentInventory> {
    return readInventory(this.deps.store, this.deps.registry, this.inventoryOptions, this.now(), filter);
  }

  /** Status for GET /health/status and `bridgectl status`. */
  async report(): Promise<Record<string, unknown>> {
    const { store, source } = this.deps;
    const view = source.current();
    const [status, leader, snapshot, agents] = await Promise.all([
      this.status ? Promise.resolve(this.status) : source.readStatus(),
      store.controllerLeaseHolder(),
      readPublishedFlags(store),
      store.activeAgentCounts(this.now() - this.options.activeAgentWindowMs),
    ]);
    const spec = view.state === 'ok' ? view.resource.spec : undefined;
    return {
      controller: { id: this.options.controllerId, leader: this.isLeader(), leaderId: leader, source: source.kind },
      resource: view.state === 'ok' ? { state: 'ok', name: view.resource.metadata.name, namespace: view.resource.metadata.namespace, generation: view.generation } : { state: view.state, message: view.message },
      plan: spec
        ? { phase: spec.phase, paused: spec.paused, flags: requestedSettings(spec), stages: spec.rollout.stages, analysis: spec.analysis, rollback: { automatic: spec.rollback.automatic, partialStep: spec.rollback.partialStep } }
        : undefined,
      status: status ?? null,
      healthCheck: this.evidence.healthCheck() ?? status?.healthCheck ?? null,
      snapshot: {
        version: snapshot.version,
        publishedAt: snapshot.publishedAt,
        publishedBy: snapshot.publishedBy,
        rollout: snapshot.rollout,
        elicitation: snapshot.elicitation,
        legacyDisabled: snapshot.legacyDisabled,
        contingencies: snapshot.contingencies,
      },
      adoption: adoptionOf(agents, this.options.activeAgentWindowMs),
      deprecation: spec?.deprecation ? await this.deprecationPlan(spec.deprecation, status?.deprecation) : null,
      cutoverSnapshot: status?.cutover?.snapshot ? await this.snapshotSummary(status.cutover.snapshot.id) : null,
    };
  }

  /** The schedule as planned or run, and (for steps that notify) how many owners would be told now: counts only, the report is not authenticated. */
  private async deprecationPlan(spec: NonNullable<FeatureFlagsSpec['deprecation']>, status: FeatureFlagsStatus['deprecation']): Promise<Record<string, unknown>> {
    let wouldNotify: { owners: number; agents: number; unowned: number } | { error: string } | null;
    try {
      const { notices, unowned } = ownerNotices({ name: 'plan', actions: ['notify-owners'] }, spec, (await this.inventory()).agents, this.deps.elicitationEndpointUrl);
      wouldNotify = { owners: notices.length, agents: notices.reduce((n, notice) => n + notice.agents.length, 0), unowned: unowned.length };
    } catch (error) {
      wouldNotify = { error: (error as Error).message };
    }
    return { start: spec.start, sunset: spec.sunset, dryRun: spec.dryRun, throttleMs: spec.throttleMs, migrationGuideUrl: spec.migrationGuideUrl ?? null, steps: status?.steps ?? [], next: status?.next ?? null, wouldNotify };
  }

  private async snapshotSummary(id: string): Promise<Record<string, unknown> | null> {
    const json = await this.deps.store.readSystemSnapshotJson(id);
    if (!json) return { id, missing: true };
    const snapshot = JSON.parse(json) as SystemSnapshot;
    return {
      id: snapshot.id,
      at: snapshot.at,
      takenBy: snapshot.takenBy,
      flagsVersion: snapshot.flags.version,
      rollout: snapshot.rollout,
      backlog: snapshot.backlog,
      activeAgents: snapshot.activeAgents,
      legacyAgents: snapshot.legacyInventory.length,
      ...(snapshot.inventoryError ? { inventoryError: snapshot.inventoryError } : {}),
    };
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private failQueued(message: string): void {
    for (const queued of this.queue.splice(0)) queued.reject(new NotLeaderError(message));
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const woken = new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, this.options.reconcileIntervalMs).unref();
      });
      if (this.isLeader()) {
        this.inventoryExporter.maybeExport();
        try {
          await this.pass();
        } catch (error) {
          this.deps.logger.error({ err: error }, 'reconcile failed; retrying');
          if (isStoreError(error, 'LEASE_LOST') || error instanceof NotLeaderError || (error instanceof FlagsError && error.code === 'FLAGS_FENCED')) {
            this.failQueued('this controller lost leadership during the change; nothing was written by it');
          }
        }
      } else if (this.queue.length > 0) {
        this.failQueued('this controller is not the leader');
      }
      if (this.queue.length === 0 && this.pendingEffects.length === 0) await woken;
    }
  }

  private async pass(): Promise<void> {
    const { source } = this.deps;
    const view = source.current();
    if (view.state !== 'ok') {
      for (const queued of this.queue.splice(0)) queued.resolve({ applied: false, message: `the FeatureFlags resource cannot be used: ${view.message}` });
      if (view.state === 'invalid') await this.reportInvalid(view.message, view.generation);
      return;
    }
    const { spec } = view.resource;
    const now = this.now();
    const status = this.status ?? (await this.resumeStatus());
    const client = spec.analysis.prometheusUrl ? this.deps.prometheus(spec.analysis.prometheusUrl) : undefined;

    const analysis = analysisDue(spec, status, now) ? await runAnalysis(spec, client, now) : undefined;
    for (const metric of analysis ?? []) this.deps.metrics.analysisChecks.inc({ metric: metric.name, result: metric.result });
    const cutover = spec.flags.legacyDisabled ? await this.cutoverCheck(spec, status, client, now) : undefined;
    const cutoverSnapshot = snapshotWanted({ legacyDisabledRequested: spec.flags.legacyDisabled === true, forced: spec.cutover.force !== undefined }, status, cutover) ? await this.takeSnapshot(status, now) : undefined;
    const { evidence, actions } = await this.evidence.collect(spec, status, client, now);
    const checksumMismatches = await this.deps.store.checksumMismatchCount();

    const queued = [...actions.map((action) => unanswered(action, now)), ...this.queue.splice(0)];
    try {
      await this.apply(queued, { spec, generation: view.generation, status, now, analysis, cutover, cutoverSnapshot, evidence, checksumMismatches });
    } catch (error) {
      for (const q of queued) q.reject(new ActionFailedError((error as { code?: string }).code ?? 'UNAVAILABLE', `the change could not be completed: ${(error as Error).message}; retry`, { cause: error }));
      throw error;
    }
  }

  private async apply(
    queued: QueuedAction[],
    input: {
      spec: FeatureFlagsSpec;
      generation: number;
      status: FeatureFlagsStatus;
      now: number;
      analysis: MetricValue[] | undefined;
      cutover: CutoverCheck | undefined;
      cutoverSnapshot: { id: string; at: string } | undefined;
      evidence: Evidence;
      checksumMismatches: number;
    },
  ): Promise<void> {
    const { source, elector, logger } = this.deps;
    const { spec, status, now, analysis, cutover, cutoverSnapshot, evidence } = input;
    const result = reconcile({
      spec,
      generation: input.generation,
      status,
      now,
      actions: queued.map((q) => q.action),
      ...(analysis ? { analysis } : {}),
      ...(cutover ? { cutover } : {}),
      ...(cutoverSnapshot ? { cutoverSnapshot } : {}),
      evidence,
      controllerId: this.options.controllerId,
      checksumMismatches: input.checksumMismatches,
    });
    for (const effect of this.pendingEffects.splice(0)) {
      if (result.status.lastRollback?.at === effect.at && effect.effectMs !== undefined) result.status.lastRollback.effectMs = effect.effectMs;
    }

    // Publish first (fenced by the lease inside Redis), then record the status that reflects it.
    const guard = () => elector.assertLeader();
    guard();
    const published = await this.publish(result, now);
    if (published) result.status.snapshotVersion = published.version;
    // What was published is the truth from here on: a failed status write must not let the next pass
    // recompute from the older status (it would publish the old flags again); it retries the write.
    this.status = result.status;
    // The outcomes of actions: the admin API waits on these.
    const answer = () => queued.forEach((q, i) => q.resolve({ ...(result.outcomes[i] ?? { applied: false, message: 'not applied' }), ...(published ? { snapshotVersion: published.version } : {}) }));
    try {
      if (!isDeepStrictEqual(result.status, this.storedStatus)) {
        await source.writeStatus(result.status, guard);
        this.storedStatus = result.status;
      }
      await this.recordEvents(result.events, published !== undefined, guard);
    } catch (error) {
      // Published means applied: the status went with the publication, and a successor resumes from
      // it. Telling the caller otherwise would have a retry apply the action a second time.
      if (published) answer();
      throw error;
    }
    answer();
    this.queueNotices(result.status, spec);
    this.evidence.afterPass(result.status, spec, published?.snapshot, now);
    this.evidence.exportFromStatus(result.status, spec);
    if (published && result.rollbacks.length > 0) {
      const receivedAt = Math.min(...queued.filter((q) => q.action.type === 'rollback').map((q) => q.receivedAt), now);
      void this.measureEffect(published.snapshot, receivedAt, result.status.lastRollback?.at ?? '').catch((error) => logger.warn({ err: error }, 'could not measure the rollback effect'));
    }
  }

  /**
   * The flags stay as last published; the status says why the new generation is not applied
   * (Ready=False, reason InvalidSpec), so `kubectl wait --for=condition=Ready` does not pass on it.
   */
  private async reportInvalid(message: string, generation: number): Promise<void> {
    const next = structuredClone(this.status ?? (await this.resumeStatus()));
    setCondition(next, 'Ready', 'False', 'InvalidSpec', message, new Date(this.now()).toISOString(), generation);
    if (isDeepStrictEqual(next.conditions, this.status?.conditions)) return;
    await this.deps.source.writeStatus(next, () => this.deps.elector.assertLeader());
    this.status = next;
    this.storedStatus = next;
  }

  /**
   * The status a term starts from: the source's, unless the one stored with the last flag
   * publication is newer — the previous leader published, then lost its lease before it wrote the
   * status (Kubernetes mode; in local mode both are the same key). Starting from the older one would
   * publish the older flags again (undoing a rollback) and act on the same alert twice.
   */
  private async resumeStatus(): Promise<FeatureFlagsStatus> {
    const [stored, published] = await Promise.all([this.deps.source.readStatus(), this.deps.store.readControllerStatusJson()]);
    const withPublication = published === null ? null : ({ ...initialStatus(), ...JSON.parse(published) } as FeatureFlagsStatus);
    this.storedStatus = stored ?? initialStatus();
    this.status = withPublication && withPublication.snapshotVersion > this.storedStatus.snapshotVersion ? withPublication : this.storedStatus;
    if (this.status === withPublication)
      this.deps.logger.info({ snapshotVersion: withPublication.snapshotVersion, statusVersion: this.storedStatus.snapshotVersion }, 'resuming from the status stored with the last publication (the stored status lags it)');
    return this.status;
  }

  /** The system snapshot before a cutover (sequence/system-snapshot.ts); the pass fails, and retries, if it cannot be stored. */
  private async takeSnapshot(status: FeatureFlagsStatus, now: number): Promise<{ id: string; at: string }> {
    const lease = this.deps.elector.lease();
    if (!lease) throw new NotLeaderError('not the leader');
    const snapshot = await takeSystemSnapshot(
      { store: this.deps.store, keys: this.deps.keys, controllerId: this.options.controllerId, activeWindowMs: this.options.activeAgentWindowMs, inventory: async () => (await this.inventory()).agents },
      status,
      lease,
      now,
    );
    this.deps.logger.info({ id: snapshot.id, backlog: snapshot.backlog, legacyAgents: snapshot.legacyInventory.length }, 'system snapshot taken before the cutover');
    return { id: snapshot.id, at: snapshot.at };
  }

  /**
   * The owner notices of deprecation steps that ran (reconcile/deprecation.ts): built from the legacy
   * inventory and queued with the notifier beside the loop — its ledger keeps them once per owner and
   * milestone, so a retry after a failure (or a new leader) queues nothing twice. What was queued is
   * recorded in the status by a `deprecation-notices` action.
   */
  private queueNotices(status: FeatureFlagsStatus, spec: FeatureFlagsSpec): void {
    const { notifier, logger } = this.deps;
    const deprecation = spec.deprecation;
    if (!deprecation || deprecation.dryRun || !notifier) return;
    for (const step of noticesDue(status.deprecation)) {
      if (this.noticesInFlight.has(step.name)) continue;
      const lease = this.deps.elector.lease();
      if (!lease) return;
      this.noticesInFlight.add(step.name);
      void (async () => {
        const { agents } = await this.inventory();
        const { notices, unowned } = ownerNotices(step, deprecation, agents, this.deps.elicitationEndpointUrl);
        if (unowned.length > 0) logger.warn({ step: step.name, unowned: unowned.slice(0, 50), count: unowned.length }, 'agents still on legacy have no owner in the agent registry: nobody can be notified for them');
        const { queued, already } = await notifier.enqueue(notices, lease.value);
        this.internal({ type: 'deprecation-notices', step: step.name, queued, already, owners: notices.length });
      })()
        .catch((error) => logger.warn({ err: error, step: step.name }, 'could not queue the owner notices of a deprecation step; the next pass retries'))
        .finally(() => this.noticesInFlight.delete(step.name));
    }
  }

  private async cutoverCheck(spec: FeatureFlagsSpec, status: FeatureFlagsStatus, client: PrometheusClient | undefined, now: number): Promise<CutoverCheck> {
    // Readiness queries run at the analysis interval, not on every pass.
    if (this.cutover && now - this.cutover.at < durationsOf(spec).analysisIntervalMs) return this.cutover.check;
    const check = await checkCutover(spec, status, client);
    this.cutover = { check, at: now };
    return check;
  }

  private async publish(result: ReconcileResult, now: number): Promise<{ version: number; snapshot: FlagSnapshot } | undefined> {
    const lease = this.deps.elector.lease();
    if (!lease) throw new NotLeaderError('not the leader');
    const primary = primaryEvent(result);
    const outcome = await publishFlags(this.deps.store, () => result.settings, {
      actor: primary?.actor ?? this.options.controllerId,
      trigger: primary?.trigger ?? 'controller',
      reason: primary?.reason ?? 'reconcile',
      leaseValue: lease.value,
      rollout: result.rollout,
      contingencies: result.contingencies,
      // Stored with the snapshot: a successor resumes from it even if the status write below never happens.
      controllerStatus: (version) => JSON.stringify({ ...result.status, snapshotVersion: version }),
      details: {
        controller: this.options.controllerId,
        at: new Date(now).toISOString(),
        events: result.events.map(({ action, actor, trigger, reason, details }) => ({ action, actor, trigger, reason, ...(details ? { details } : {}) })),
        ...(result.status.lastMetrics.length > 0 ? { metrics: result.status.lastMetrics } : {}),
      },
    });
    if (outcome.status !== 'published') return undefined;
    this.deps.logger.info({ version: outcome.snapshot.version, changes: outcome.changes, trigger: primary?.trigger }, 'published flag snapshot');
    return { version: outcome.snapshot.version, snapshot: outcome.snapshot };
  }

  /** Audit entries for what did not change the flags (pause, failed checks…), and Kubernetes Events for all. */
  private async recordEvents(events: ControllerEvent[], published: boolean, guard: () => void): Promise<void> {
    const lease = this.deps.elector.lease();
    for (const event of events) {
      if (!published && lease) {
        await this.deps.store.appendAudit(
          { at: new Date(this.now()).toISOString(), actor: event.actor, action: `controller.${event.action}`, reason: event.reason, trigger: event.trigger, ...(event.details ? { details: event.details } : {}) },
          lease.value,
        );
      }
      await this.deps.source.recordEvent(event, guard).catch((error) => this.deps.logger.warn({ err: error, event: event.action }, 'could not record a Kubernetes Event'));
    }
  }

  /**
   * Measures trigger → effect for a rollback: every live router and elicitation replica applies the
   * new snapshot (routing follows it) and no agent now on legacy has entries left in its push lane
   * (the drain is complete). Recorded in the audit trail and in status.lastRollback.effectMs.
   */
  private async measureEffect(snapshot: FlagSnapshot, receivedAt: number, rollbackAt: string): Promise<void> {
    const { store, keys } = this.deps;
    const { effectMs, lagging, undrained } = await awaitEffect(store, keys, snapshot, receivedAt, receivedAt + this.options.effectTimeoutMs, this.now);
    this.deps.metrics.rollbackEffectSeconds.observe((effectMs ?? this.options.effectTimeoutMs) / 1000);
    const lease = this.deps.elector.lease();
    if (lease) {
      await store.appendAudit(
        {
          at: new Date(this.now()).toISOString(),
          actor: this.options.controllerId,
          action: 'rollback.effective',
          reason: effectMs !== undefined ? `rollback effective in routing and push lanes drained ${effectMs} ms after the trigger` : `rollback not confirmed within ${this.options.effectTimeoutMs} ms`,
          trigger: 'controller',
          details: { snapshotVersion: snapshot.version, effectMs: effectMs ?? null, ...(effectMs === undefined ? { lagging, undrained } : {}) },
        },
        lease.value,
      );
    }
    this.deps.logger.info({ effectMs, version: snapshot.version }, 'rollback effect measured');
    this.pendingEffects.push({ at: rollbackAt, effectMs });
    this.poke();
  }
}

/** An action of the controller's own, which no caller waits on. */
function unanswered(action: ControlAction, receivedAt: number): QueuedAction {
  return { action, receivedAt, resolve: () => undefined, reject: () => undefined };
}

/**
 * The adoption figures of the report, adding up: every active agent is on legacy only, elicitation
 * only, both, or neither endpoint (it only sent). Migrated = elicitation only; still on legacy =
 * legacy only or both (what the cutover guard and HighLegacyUsage count).
 */
function adoptionOf(agents: Awaited<ReturnType<EventStore['activeAgentCounts']>>, windowMs: number) {
  const both = agents.both ?? 0;
  const legacyOnly = agents.legacy - both;
  const elicitationOnly = agents.elicitation - both;
  return {
    windowMs,
    activeAgents: agents.any,
    /** Used the elicitation endpoint at all (elicitation only + both), and the legacy one at all. */
    elicitationAgents: agents.elicitation,
    legacyAgents: agents.legacy,
    legacyOnlyAgents: legacyOnly,
    elicitationOnlyAgents: elicitationOnly,
    bothAgents: both,
    /** Active without using either endpoint's delivery (they only sent). */
    otherAgents: Math.max(0, agents.any - legacyOnly - elicitationOnly - both),
    /** By MCP generation (2025-11-25, 2026-07-28): an agent on both counts in both. */
    agentsByGeneration: agents.byGeneration,
    /** Migrated: the share of active agents on elicitation only. */
    rate: agents.any > 0 ? elicitationOnly / agents.any : null,
    /** Still on legacy: the share that used the legacy endpoint (legacy only or both). */
    legacyShare: agents.any > 0 ? agents.legacy / agents.any : null,
  };
}

/** The event that best explains a publication: a rollback, else the first thing that happened. */
function primaryEvent(result: ReconcileResult): ControllerEvent | undefined {
  return result.events.find((e) => e.action === 'rollback') ?? result.events.find((e) => e.action !== 'analysis.failed' && e.action !== 'analysis.inconclusive') ?? result.events[0];
}
