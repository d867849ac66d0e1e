/**
 * OpenTelemetry tracing for agent-bridge: off unless the standard `OTEL_*` environment variables
 * ask for it, and then one trace follows a message from send through routing to delivery and reply.
 *
 * Trace context crosses process boundaries *inside the stored data*: the W3C `traceparent` of the
 * sending span travels in the message envelope (events stream), the routing span's in the lane
 * entry, and the push span's in the reply's envelope. Services never talk to each other directly
 * on the message path, so there is no header to carry it instead.
 *
 * Within a process the context is passed explicitly (a span, or its traceparent), never through an
 * async context manager: on Node 20, AsyncLocalStorage makes every promise of the process slower
 * once it is in use, which cost more than recording and exporting the spans themselves
 * (docs/benchmarks.md, observability overhead).
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, isSpanContextValid, propagation, trace, type Attributes, type Context, type Link, type Span, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';

export { SpanKind };
export type { Span };

const TRACER_NAME = 'agent-bridge';

/** Which exporter the environment asks for, or why tracing stays off. */
export type TracingChoice = { enabled: false; reason: string } | { enabled: true; exporter: 'otlp' | 'console' };

/**
 * Reads the standard variables: `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` turn
 * tracing off; `OTEL_TRACES_EXPORTER=otlp|console`, or an OTLP endpoint
 * (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), turn it on. Anything else
 * is a configuration error that names the variable.
 */
export function tracingChoiceFromEnv(env: NodeJS.ProcessEnv = process.env): TracingChoice {
  const disabled = env.OTEL_SDK_DISABLED?.trim().toLowerCase();
  if (disabled === 'true') return { enabled: false, reason: 'OTEL_SDK_DISABLED=true' };
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter(Boolean);
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (exporters.length === 0) return endpoint ? { enabled: true, exporter: 'otlp' } : { enabled: false, reason: 'no OTEL_TRACES_EXPORTER or OTLP endpoint set' };
  if (exporters.length > 1) throw new TracingConfigError(`OTEL_TRACES_EXPORTER names ${exporters.length} exporters (${exporters.join(', ')}); agent-bridge supports one: otlp, console or none`);
  const [exporter] = exporters;
  if (exporter === 'none') return { enabled: false, reason: 'OTEL_TRACES_EXPORTER=none' };
  if (exporter !== 'otlp' && exporter !== 'console') {
    throw new TracingConfigError(`OTEL_TRACES_EXPORTER must be otlp, console or none (got "${exporter}")`);
  }
  if (exporter === 'otlp') {
    const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/json').trim();
    if (protocol !== 'http/json') {
      throw new TracingConfigError(`OTEL_EXPORTER_OTLP_PROTOCOL must be http/json, the OTLP encoding agent-bridge ships (got "${protocol}"); collectors accept it on port 4318`);
    }
  }
  return { enabled: true, exporter };
}

export class TracingConfigError extends Error {
  readonly code = 'TRACING_CONFIG_INVALID';
  override readonly name = 'TracingConfigError';
}

export interface TracingOptions {
  /** `service.name` unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES say otherwise. */
  service: string;
  /** `service.instance.id`: the replica id. */
  instance?: string;
  env?: NodeJS.ProcessEnv;
  /** Export to this exporter, span by span, whatever the environment says (tests: an in-memory exporter). */
  exporter?: SpanExporter;
}

export interface Tracing {
  readonly enabled: boolean;
  /** Exports what is buffered. */
  flush(): Promise<void>;
  /** Flushes and stops the provider. */
  shutdown(): Promise<void>;
}

let installed: Tracing | undefined;

/**
 * Installs the process-wide tracer provider and W3C propagator, once. When the
 * environment does not ask for traces nothing is installed and every span below is a no-op.
 */
export function startTracing(options: TracingOptions): Tracing {
  if (installed) return installed;
  const choice: TracingChoice = options.exporter ? { enabled: true, exporter: 'otlp' } : tracingChoiceFromEnv(options.env);
  if (!choice.enabled) {
    installed = { enabled: false, flush: async () => undefined, shutdown: async () => undefined };
    return installed;
  }
  const resource = defaultResource()
    .merge(resourceFromAttributes({ 'service.name': options.service, ...(options.instance ? { 'service.instance.id': options.instance } : {}) }))
    .merge(detectResources({ detectors: [envDetector] }));
  const spanProcessor = options.exporter ? new SimpleSpanProcessor(options.exporter) : new BatchSpanProcessor(choice.exporter === 'console' ? new ConsoleSpanExporter() : new OTLPTraceExporter());
  const provider = new BasicTracerProvider({ resource, spanProcessors: [spanProcessor] });
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  installed = {
    enabled: true,
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
  return installed;
}

let cachedTracer: Tracer | undefined;

/** One tracer per process (a proxy until startTracing registers the provider, then the real one). */
function tracer(): Tracer {
  return (cachedTracer ??= trace.getTracer(TRACER_NAME));
}

/** The context a stored traceparent stands for: the parent of the next span of that message. */
function contextOf(traceparent: string | undefined): Context {
  return traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent }) : ROOT_CONTEXT;
}

/** The W3C traceparent of `span`, to store with what it produced; undefined when nothing is traced. */
export function traceparentOf(span: Span | undefined): string | undefined {
  if (!span || !span.isRecording()) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(ROOT_CONTEXT, span), carrier);
  return carrier.traceparent;
}

/** `{ traceparent }` for a stored record (an envelope) made under `span`, or `{}` when nothing is traced. */
export function traceparentField(span: Span | undefined): { traceparent?: string } {
  const traceparent = traceparentOf(span);
  return traceparent ? { traceparent } : {};
}

/** `{ trace_id, span_id }` of `span` for a log line, or `{}` when it is not traced. */
export function traceIds(span: Span | undefined): { trace_id?: string; span_id?: string } {
  if (!span || !span.isRecording()) return {};
  const spanContext = span.spanContext();
  return isSpanContextValid(spanContext) ? { trace_id: spanContext.traceId, span_id: spanContext.spanId } : {};
}

/** A link to `span` (e.g. the poll that handed a message over), or none. */
export function linksTo(span: Span | undefined): Link[] {
  return span && span.isRecording() ? [{ context: span.spanContext() }] : [];
}

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  /** The parent, as a stored traceparent; without it the span starts a trace. */
  parent?: string | undefined;
  links?: Link[];
}

/** Starts a span the caller ends. With tracing off this is a no-op span. */
export function startSpan(name: string, options: SpanOptions = {}): Span {
  return tracer().startSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, ...(options.attributes ? { attributes: options.attributes } : {}), ...(options.links?.length ? { links: options.links } : {}) }, contextOf(options.parent));
}

/**
 * Runs `fn` with a new span, ends it, and marks it failed (with the exception) when `fn` throws.
 * The span is handed to `fn`: pass it on to whatever needs the context.
 */
export async function withSpan<T>(name: string, options: SpanOptions, fn: (span: Span) => Promise<T>): Promise<T> {
  const span = startSpan(name, options);
  try {
    return await fn(span);
  } catch (error) {
    failSpan(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/** Marks a span failed with `error`. */
export function failSpan(span: Span, error: unknown): void {
  span.recordException(error as Error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message ?? String(error) });
}
