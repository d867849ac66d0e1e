import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The parts of a flag snapshot the metrics mirror (structurally a `FlagSnapshot` of @agent-bridge/flags). */
export interface AppliedSnapshot {
  version: number;
  publishedAt: string;
  elicitation: { percentage: number };
  rollout: {
    phase: string;
    stage: number;
    rollbacks: ReadonlyArray<{ level: string; trigger: string; count: number }>;
    lastRollback: { level: string; trigger: string; at: string } | null;
  };
}

/**
 * Every agent-bridge metric is defined here, once, so names, labels and units stay the same in
 * every service (`agentbridge_` prefix, `_total` counters, `_seconds` durations). Services create
 * one `BridgeMetrics` and use what applies to them.
 */
/**
 * The values one label takes when they come from outside (a client, a webhook caller): the first
 * `limit` distinct values are kept, later new ones are all counted as `overflow`, so a caller cannot
 * make series without end (each one costs memory here and in Prometheus).
 */
export class BoundedLabel {
  private readonly seen = new Set<string>();

  constructor(
    private readonly limit: number,
    readonly overflow = 'other',
  ) {}

  of(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.limit) return this.overflow;
    this.seen.add(value);
    return value;
  }
}

/** HTTP methods as a label: the ones MCP uses, anything else `other`. */
export function httpMethodLabel(method: string | undefined): string {
  return method === 'GET' || method === 'POST' || method === 'DELETE' ? method : 'other';
}

export class BridgeMetrics {
  readonly registry: Registry;

  readonly messagesSent: Counter<'protocol'>;
  readonly messagesRouted: Counter<'lane' | 'via'>;
  readonly messagesDelivered: Counter<'protocol' | 'via'>;
  readonly deliveryLatency: Histogram<'protocol'>;
  readonly errors: Counter<'component' | 'protocol' | 'code'>;
  readonly adapterErrors: Counter<'direction'>;
  readonly fallbacks: Counter<'reason'>;
  readonly toolCalls: Counter<'tool' | 'outcome'>;
  readonly deprecationWarnings: Counter<'tool'>;
  readonly waitingPolls: Gauge;
  readonly shardsOwned: Gauge;
  readonly activeSessions: Gauge;
  readonly sessionsRefused: Counter<'reason'>;
  readonly agentRequestsRefused: Counter;
  readonly sessionsClosed: Counter<'reason'>;
  readonly sendsRefused: Counter<'reason'>;
  readonly loadLatencyRatio: Gauge;
  readonly loadShedding: Gauge;
  readonly loadShedProbes: Counter;
  readonly checksumMismatches: Counter<'stage'>;
  readonly deadLetters: Gauge<'shard'>;
  readonly storeMemoryUsed: Gauge;
  readonly unaccountedMessages: Gauge<'shard'>;
  readonly forwardedRequests: Counter<'method'>;
  readonly relaysRefused: Counter<'direction' | 'reason'>;
  readonly roundsHandedOut: Counter;
  readonly routingBatchSeconds: Histogram;
  readonly flagPercentage: Gauge;
  readonly flagSnapshotVersion: Gauge;
  readonly flagSnapshotStale: Gauge;
  readonly redisConnectionEvents: Counter<'connection' | 'event'>;
  readonly activeAgents: Gauge<'shard'>;
  readonly activeAgentsByProtocol: Gauge<'shard' | 'protocol'>;
  readonly activeAgentsByGeneration: Gauge<'shard' | 'generation'>;
  readonly laneBacklog: Gauge<'shard' | 'lane'>;
  readonly flagSnapshotPublished: Gauge;
  readonly migrationPhase: Gauge<'phase'>;
  readonly rolloutStage: Gauge;
  readonly rollbacks: Counter<'level' | 'trigger'>;
  readonly lastRollback: Gauge<'level' | 'trigger'>;
  readonly controllerLeader: Gauge;
  /** The legacy inventory (controller leader): agents by owner team and by what they used within the inventory window. */
  readonly agentsByTeam: Gauge<'team' | 'protocol'>;
  /** The agents still on legacy (legacy or both within the inventory window), the most recent first, at most 100 series. */
  readonly legacyAgentLastSeen: Gauge<'agent' | 'team'>;
  readonly analysisChecks: Counter<'metric' | 'result'>;
  readonly rollbackEffectSeconds: Histogram;
  readonly alertNotifications: Counter<'alertname' | 'outcome'>;
  /** The A/B test (controller): treatment (elicitation) against control (legacy), by metric (latency, success-rate, cost; overall for the verdict). */
  readonly abImprovement: Gauge<'metric' | 'bound'>;
  readonly abPValue: Gauge<'metric'>;
  readonly abVerdict: Gauge<'metric' | 'verdict'>;
  /** The go/no-go scorecard (controller): 1 pass, 0 pending, -1 fail, by criterion and group. */
  readonly scorecardResult: Gauge<'criterion' | 'group'>;
  readonly healthCheckFailures: Gauge;
  readonly healthChecks: Counter<'result'>;
  readonly rollbackTriggerArmed: Gauge<'trigger'>;
  readonly drillLastTimestamp: Gauge;
  readonly drillLastSuccess: Gauge;
  readonly drillLastEffectSeconds: Gauge;
  readonly drillIntervalSeconds: Gauge;
  readonly drills: Counter<'result'>;
  /** The progress page's owner feedback (controller): answers by score, and the latest per agent. */
  readonly ownerFeedback: Counter<'score'>;
  readonly ownerFeedbackAgents: Gauge;
  readonly ownerFeedbackPositiveRatio: Gauge;
  /** Progress page requests refused, by reason (docs/operations.md). */
  readonly progressRefused: Counter<'reason'>;
  /** Owner notifications (controller), by channel (webhook, email, none) and result (sent, skipped, retried, failed). */
  readonly notifications: Counter<'channel' | 'result'>;
  readonly notificationsPending: Gauge<'channel'>;

  constructor(service: string, options: { defaultMetrics?: boolean } = {}) {
    this.registry = new Registry();
    this.registry.setDefaultLabels({ service });
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];

    this.messagesSent = new Counter({
      name: 'agentbridge_messages_sent_total',
      help: 'Messages accepted from senders and stored, by the protocol of the endpoint that accepted them.',
      labelNames: ['protocol'],
      registers,
    });
    this.messagesRouted = new Counter({
      name: 'agentbridge_messages_routed_total',
      help: 'Messages the router placed in a lane, by lane and by how they will be delivered.',
      labelNames: ['lane', 'via'],
      registers,
    });
    this.messagesDelivered = new Counter({
      name: 'agentbridge_messages_delivered_total',
      help: 'Messages handed to their target agent, by protocol and via (legacy, elicitation, legacy_fallback).',
      labelNames: ['protocol', 'via'],
      registers,
    });
    this.deliveryLatency = new Histogram({
      name: 'agentbridge_delivery_latency_seconds',
      help: 'Time from a message being accepted to its being handed to the target agent.',
      labelNames: ['protocol'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.errors = new Counter({
      name: 'agentbridge_errors_total',
      help: 'Errors by component, protocol and stable error code.',
      labelNames: ['component', 'protocol', 'code'],
      registers,
    });
    this.adapterErrors = new Counter({
      name: 'agentbridge_adapter_errors_total',
      help: 'Protocol adapter failures, by direction.',
      labelNames: ['direction'],
      registers,
    });
    this.fallbacks = new Counter({
      name: 'agentbridge_fallbacks_total',
      help: 'Messages for elicitation agents served on the poll lane instead, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.toolCalls = new Counter({
      name: 'agentbridge_tool_calls_total',
      help: 'MCP tool calls by tool and outcome (ok or an error code).',
      labelNames: ['tool', 'outcome'],
      registers,
    });
    this.deprecationWarnings = new Counter({
      name: 'agentbridge_deprecation_warnings_total',
      help: 'Legacy calls answered with a deprecation notice.',
      labelNames: ['tool'],
      registers,
    });
    this.waitingPolls = new Gauge({ name: 'agentbridge_waiting_polls', help: 'wait_for_messages calls waiting right now.', registers });
    this.unaccountedMessages = new Gauge({
      name: 'agentbridge_messages_unaccounted',
      help: 'Messages past their deadline with no terminal state (never delivered, answered, expired or abandoned), per shard; each shard is reported by the one router that owns it.',
      labelNames: ['shard'],
      registers,
    });
    this.activeSessions = new Gauge({ name: 'agentbridge_active_sessions', help: 'MCP sessions this elicitation replica holds.', registers });
    this.sessionsRefused = new Counter({
      name: 'agentbridge_sessions_refused_total',
      help: 'initialize requests refused: replica_full (MAX_SESSIONS) or agent_limit (MAX_SESSIONS_PER_AGENT, every session of the agent busy).',
      labelNames: ['reason'],
      registers,
    });
    this.agentRequestsRefused = new Counter({
      name: 'agentbridge_agent_requests_refused_total',
      help: 'HTTP requests refused with 429 TOO_MANY_REQUESTS: their agent already had MAX_REQUESTS_PER_AGENT open on this replica.',
      registers,
    });
    this.sessionsClosed = new Counter({
      name: 'agentbridge_sessions_closed_total',
      help: 'MCP sessions this replica closed: idle, unresponsive (no answer to a ping), replaced (the agent opened one more than its cap).',
      labelNames: ['reason'],
      registers,
    });
    this.sendsRefused = new Counter({
      name: 'agentbridge_sends_refused_total',
      help: 'Sends refused before anything was stored: rate_limited (token bucket), backlog_full (sender backlog cap), store_full (Redis memory high-water mark or maxmemory), read_only (read-only mode), load_shed (load shedding).',
      labelNames: ['reason'],
      registers,
    });
    this.loadLatencyRatio = new Gauge({
      name: 'agentbridge_load_latency_ratio',
      help: "This replica's smoothed admission round trip to Redis over its learned baseline (load shedding starts at spec.contingencies.loadShedding.latencyMultiple).",
      registers,
    });
    this.loadShedding = new Gauge({
      name: 'agentbridge_load_shedding',
      help: '1 while this replica sheds a share of new sends (load shedding enabled and the latency ratio at or above its multiple), else 0.',
      registers,
    });
    this.loadShedProbes = new Counter({
      name: 'agentbridge_load_shed_probes_total',
      help: 'New sends admitted while this replica sheds load whatever their hash: one a second at most, so the admission latency keeps being measured and shedding can end.',
      registers,
    });
    this.checksumMismatches = new Counter({
      name: 'agentbridge_checksum_mismatches_total',
      help: 'Messages whose stored copy is not what the sender sent (the envelope checksum does not match, or a lane entry no longer decodes), found at routing (route) or delivery (poll, push, round); each is dead-lettered, never delivered.',
      labelNames: ['stage'],
      registers,
    });
    this.deadLetters = new Gauge({
      name: 'agentbridge_dead_letters',
      help: "Entries of a shard's dead-letter stream (undecodable entries, messages that failed their envelope checksum): taken out of delivery with a terminal ledger state, kept for an operator; per shard, reported by its owning router.",
      labelNames: ['shard'],
      registers,
    });
    // From 0 in every process, so the alert's increase() sees the first mismatch.
    for (const stage of ['route', 'poll', 'push', 'round']) this.checksumMismatches.inc({ stage }, 0);
    this.storeMemoryUsed = new Gauge({
      name: 'agentbridge_store_memory_used_ratio',
      help: 'Redis used_memory as a fraction of its limit (maxmemory, or REDIS_MEMORY_LIMIT_BYTES), as this process last read it; sends are refused above REDIS_MEMORY_HIGH_WATER.',
      registers,
    });
    for (const reason of ['replica_full', 'agent_limit']) this.sessionsRefused.inc({ reason }, 0);
    for (const reason of ['idle', 'unresponsive', 'replaced']) this.sessionsClosed.inc({ reason }, 0);
    for (const reason of ['rate_limited', 'backlog_full', 'store_full']) this.sendsRefused.inc({ reason }, 0);
    this.roundsHandedOut = new Counter({
      name: 'agentbridge_elicitation_rounds_total',
      help: 'input_required rounds handed out to 2026-07-28 agents (each carries one or more messages).',
      registers,
    });
    this.forwardedRequests = new Counter({
      name: 'agentbridge_forwarded_requests_total',
      help: 'Requests for sessions owned by another replica, relayed to it.',
      labelNames: ['method'],
      registers,
    });
    this.relaysRefused = new Counter({
      name: 'agentbridge_relays_refused_total',
      help: 'Relays between replicas refused: outbound target_not_allowed (the registered address does not pass RELAY_ALLOWED_TARGETS; never contacted), inbound by why the relay assertion was refused (missing, malformed, unknown_key, bad_signature, expired, wrong_audience, wrong_request, replayed, wrong_body, wrong_identity).',
      labelNames: ['direction', 'reason'],
      registers,
    });
    this.relaysRefused.inc({ direction: 'outbound', reason: 'target_not_allowed' }, 0);
    this.shardsOwned = new Gauge({ name: 'agentbridge_router_shards_owned', help: 'Shards this router replica holds the lease of.', registers });
    this.routingBatchSeconds = new Histogram({
      name: 'agentbridge_routing_batch_duration_seconds',
      help: 'Time to route one batch of shard entries.',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.flagPercentage = new Gauge({ name: 'agentbridge_flag_elicitation_percentage', help: 'elicitation.percentage of the applied flag snapshot.', registers });
    this.flagSnapshotVersion = new Gauge({ name: 'agentbridge_flag_snapshot_version', help: 'Version of the flag snapshot this process applies.', registers });
    this.flagSnapshotStale = new Gauge({
      name: 'agentbridge_flag_snapshot_stale',
      help: '1 while the flag store cannot be read and the last snapshot is kept.',
      registers,
    });
    this.redisConnectionEvents = new Counter({
      name: 'agentbridge_redis_connection_events_total',
      help: 'Redis connection events (reconnecting, stuck, error) by connection.',
      labelNames: ['connection', 'event'],
      registers,
    });
    this.activeAgents = new Gauge({
      name: 'agentbridge_active_agents',
      help: 'Distinct agents that used either endpoint within the activity window, per shard; each shard is reported by the one router that owns it.',
      labelNames: ['shard'],
      registers,
    });
    this.activeAgentsByProtocol = new Gauge({
      name: 'agentbridge_active_agents_by_protocol',
      help: 'Distinct agents within the activity window by protocol: legacy (called the legacy-poll endpoint) or elicitation (held a push-capable session); an agent using both counts in both.',
      labelNames: ['shard', 'protocol'],
      registers,
    });
    this.activeAgentsByGeneration = new Gauge({
      name: 'agentbridge_active_agents_by_generation',
      help: 'Distinct agents within the activity window by the MCP protocol generation they spoke (2025-11-25 or 2026-07-28); an agent using both counts in both.',
      labelNames: ['shard', 'generation'],
      registers,
    });
    this.laneBacklog = new Gauge({
      name: 'agentbridge_lane_backlog',
      help: 'Accepted messages not yet delivered, per shard and where they wait: events (not yet routed), push (in a push lane), poll (in a poll lane, not yet acknowledged).',
      labelNames: ['shard', 'lane'],
      registers,
    });
    this.flagSnapshotPublished = new Gauge({
      name: 'agentbridge_flag_snapshot_published_timestamp_seconds',
      help: 'When the flag snapshot this process applies was published (Unix time).',
      registers,
    });
    this.migrationPhase = new Gauge({
      name: 'agentbridge_migration_phase',
      help: 'Migration phase of the applied flag snapshot: 1 for the current phase, 0 for the others.',
      labelNames: ['phase'],
      registers,
    });
    this.rolloutStage = new Gauge({
      name: 'agentbridge_rollout_stage',
      help: 'Rollout stage of the applied flag snapshot (0 before the first stage, n for the nth stage of the plan).',
      registers,
    });
    this.rollbacks = new Counter({
      name: 'agentbridge_rollbacks_total',
      help: 'Rollbacks since the migration started, by level (full, partial, canary) and trigger (alert, gate, admin, cli, resource); mirrored from the flag snapshot, so every process reports the same count.',
      labelNames: ['level', 'trigger'],
      registers,
    });
    this.lastRollback = new Gauge({
      name: 'agentbridge_last_rollback_timestamp_seconds',
      help: 'When the most recent rollback happened (Unix time), labelled with its level and trigger; absent before the first rollback.',
      labelNames: ['level', 'trigger'],
      registers,
    });
    this.controllerLeader = new Gauge({ name: 'agentbridge_controller_leader', help: '1 while this controller is the leader (the one that reconciles).', registers });
    this.agentsByTeam = new Gauge({
      name: 'agentbridge_agents_by_team',
      help: 'Agents of the legacy inventory by owner team (from the agent registry; unowned: no team) and by protocol used within the inventory window (legacy, elicitation, both, none); set by the leading controller.',
      labelNames: ['team', 'protocol'],
      registers,
    });
    this.legacyAgentLastSeen = new Gauge({
      name: 'agentbridge_legacy_agent_last_seen_timestamp_seconds',
      help: 'When each agent still on legacy (legacy or both within the inventory window) last used the legacy endpoint (Unix time); at most 100 agents, the most recently seen (bridgectl agents lists them all); set by the leading controller.',
      labelNames: ['agent', 'team'],
      registers,
    });
    this.analysisChecks = new Counter({
      name: 'agentbridge_analysis_checks_total',
      help: 'Analysis gate checks run by the controller, by metric check and result (pass, fail, inconclusive).',
      labelNames: ['metric', 'result'],
      registers,
    });
    this.rollbackEffectSeconds = new Histogram({
      name: 'agentbridge_rollback_effect_seconds',
      help: 'Time from a rollback trigger to its effect: every router and elicitation replica applies the snapshot and affected push lanes are drained.',
      buckets: [0.05, 0.1, 0.25, 0.5, 0.75, 1, 2, 5, 10, 30],
      registers,
    });
    this.alertNotifications = new Counter({
      name: 'agentbridge_alert_notifications_total',
      help: 'Alertmanager notifications received by the controller, by alert and outcome (rollback, read-only, duplicate, ignored, resolved).',
      labelNames: ['alertname', 'outcome'],
      registers,
    });
    this.abImprovement = new Gauge({
      name: 'agentbridge_ab_improvement_ratio',
      help: 'A/B test: relative improvement of elicitation (treatment) over legacy (control), positive = better (lower latency or cost, fewer failures); bound is estimate, lower or upper (the confidence interval).',
      labelNames: ['metric', 'bound'],
      registers,
    });
    this.abPValue = new Gauge({ name: 'agentbridge_ab_p_value', help: 'A/B test: two-sided p-value of the test used for each metric (null hypothesis: no difference).', labelNames: ['metric'], registers });
    this.abVerdict = new Gauge({
      name: 'agentbridge_ab_verdict',
      help: 'A/B test verdict by metric (metric="overall" for the test): 1 for the current verdict (improved, not-significant, worse, not-enough-data, pending), 0 for the others.',
      labelNames: ['metric', 'verdict'],
      registers,
    });
    this.scorecardResult = new Gauge({
      name: 'agentbridge_scorecard_result',
      help: 'Go/no-go scorecard: 1 pass, 0 pending, -1 fail, by criterion and group (decision-point, phase-gate, acceptance).',
      labelNames: ['criterion', 'group'],
      registers,
    });
    this.healthCheckFailures = new Gauge({ name: 'agentbridge_health_check_consecutive_failures', help: 'Consecutive failed health checks of the elicitation path (every replica not ready or unreachable).', registers });
    this.healthChecks = new Counter({ name: 'agentbridge_health_checks_total', help: 'Health checks of the elicitation path run by the controller, by result (healthy, unhealthy).', labelNames: ['result'], registers });
    this.rollbackTriggerArmed = new Gauge({
      name: 'agentbridge_rollback_trigger_armed',
      help: 'Automatic rollback triggers: 1 armed, 0 disarmed (spec.rollback.automatic false, or the trigger not configured), by trigger (alert, gate, health-check).',
      labelNames: ['trigger'],
      registers,
    });
    this.drillLastTimestamp = new Gauge({ name: 'agentbridge_drill_last_timestamp_seconds', help: 'When the last rollback drill finished (Unix time); absent before the first drill.', registers });
    this.drillLastSuccess = new Gauge({ name: 'agentbridge_drill_last_success', help: '1 if the last rollback drill took effect and was restored within its timeout, 0 if it failed.', registers });
    this.drillLastEffectSeconds = new Gauge({ name: 'agentbridge_drill_last_effect_seconds', help: 'Trigger-to-effect time of the last successful rollback drill.', registers });
    this.drillIntervalSeconds = new Gauge({ name: 'agentbridge_drill_interval_seconds', help: 'How often rollback drills are scheduled (spec.rollback.drill.interval); 0 when none is scheduled.', registers });
    this.drills = new Counter({ name: 'agentbridge_drills_total', help: 'Rollback drills run, by result (passed, failed).', labelNames: ['result'], registers });
    this.ownerFeedback = new Counter({ name: 'agentbridge_owner_feedback_total', help: 'Owner feedback answers recorded on the progress page, by satisfaction score (1-5).', labelNames: ['score'], registers });
    this.ownerFeedbackAgents = new Gauge({ name: 'agentbridge_owner_feedback_agents', help: 'Agents with an owner feedback answer (the latest per agent counts).', registers });
    this.ownerFeedbackPositiveRatio = new Gauge({
      name: 'agentbridge_owner_feedback_positive_ratio',
      help: 'Share of agents whose latest owner feedback is positive (score 4 or 5); 0 while agentbridge_owner_feedback_agents is 0.',
      registers,
    });
    this.progressRefused = new Counter({
      name: 'agentbridge_progress_requests_refused_total',
      help: 'Progress page requests refused, by reason (rate, invalid, unknown_agent, origin, full, unauthorized, method, disabled, unavailable).',
      labelNames: ['reason'],
      registers,
    });
    this.notifications = new Counter({
      name: 'agentbridge_notifications_total',
      help: 'Owner notifications by channel (webhook, email, none) and result: sent, skipped (the channel cannot reach the owner, or no channel is configured), retried (an attempt failed, another follows), failed (attempts used up, or refused for good).',
      labelNames: ['channel', 'result'],
      registers,
    });
    this.notificationsPending = new Gauge({
      name: 'agentbridge_notifications_pending',
      help: 'Owner notifications recorded and not yet sent (pending or sending), by channel, as the leading controller last counted them.',
      labelNames: ['channel'],
      registers,
    });
  }

  /**
   * Creates the series an endpoint will report, at zero, so that the first events after start are
   * counted by rate()/increase() (a series born at 1 has no increase to show) and panels have data.
   */
  initializeEndpointSeries(protocol: 'legacy' | 'elicitation', errorCodes: readonly string[] = []): void {
    const vias = protocol === 'legacy' ? ['legacy', 'legacy_fallback'] : ['elicitation'];
    for (const via of vias) this.messagesDelivered.inc({ protocol, via }, 0);
    this.messagesSent.inc({ protocol }, 0);
    this.deliveryLatency.zero({ protocol });
    for (const code of errorCodes) this.errors.inc({ component: protocol, protocol, code }, 0);
  }

  /** Mirrors the applied flag snapshot: version, percentage, publication time, phase (1 for the current one of `phases`, 0 for the others), stage and rollbacks. */
  applyFlagSnapshot(snapshot: AppliedSnapshot, phases: readonly string[]): void {
    this.flagSnapshotVersion.set(snapshot.version);
    this.flagPercentage.set(snapshot.elicitation.percentage);
    const publishedMs = Date.parse(snapshot.publishedAt);
    if (Number.isFinite(publishedMs)) this.flagSnapshotPublished.set(publishedMs / 1000);
    for (const phase of phases) this.migrationPhase.set({ phase }, phase === snapshot.rollout.phase ? 1 : 0);
    this.rolloutStage.set(snapshot.rollout.stage);
    // The counts live in the snapshot (monotonic, carried forward by the controller), so a restarted
    // process reports the same totals as its peers instead of starting from zero.
    this.rollbacks.reset();
    for (const { level, trigger, count } of snapshot.rollout.rollbacks) this.rollbacks.inc({ level, trigger }, count);
    this.lastRollback.reset();
    const last = snapshot.rollout.lastRollback;
    const lastMs = last ? Date.parse(last.at) : NaN;
    if (last && Number.isFinite(lastMs)) this.lastRollback.set({ level: last.level, trigger: last.trigger }, lastMs / 1000);
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
