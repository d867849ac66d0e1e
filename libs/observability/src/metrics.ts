import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every agent-bridge metric is defined here, once, so names, labels and units stay the same in
 * every service (`agentbridge_` prefix, `_total` counters, `_seconds` durations). Services create
 * one `BridgeMetrics` and use what applies to them.
 */
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
  readonly unaccountedMessages: Gauge<'shard'>;
  readonly forwardedRequests: Counter<'method'>;
  readonly routingBatchSeconds: Histogram;
  readonly flagPercentage: Gauge;
  readonly flagSnapshotVersion: Gauge;
  readonly flagSnapshotStale: Gauge;
  readonly redisConnectionEvents: Counter<'connection' | 'event'>;

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
      help: 'Messages past their deadline with no terminal state (never delivered, answered or expired), per shard; each shard is reported by the one router that owns it.',
      labelNames: ['shard'],
      registers,
    });
    this.activeSessions = new Gauge({ name: 'agentbridge_active_sessions', help: 'MCP sessions this elicitation replica holds.', registers });
    this.forwardedRequests = new Counter({
      name: 'agentbridge_forwarded_requests_total',
      help: 'Requests for sessions owned by another replica, relayed to it.',
      labelNames: ['method'],
      registers,
    });
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
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
