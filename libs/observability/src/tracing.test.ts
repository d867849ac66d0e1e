import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { createLogger } from './logger.js';
import { SpanKind, TracingConfigError, linksTo, startSpan, startTracing, traceIds, traceparentField, traceparentOf, tracingChoiceFromEnv, withSpan } from './tracing.js';

test('tracing is off unless the OTEL_* variables ask for it, and names the variable when they are wrong', () => {
  assert.deepEqual(tracingChoiceFromEnv({}), { enabled: false, reason: 'no OTEL_TRACES_EXPORTER or OTLP endpoint set' });
  assert.deepEqual(tracingChoiceFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), { enabled: true, exporter: 'otlp' });
  assert.deepEqual(tracingChoiceFromEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }), { enabled: true, exporter: 'otlp' });
  assert.deepEqual(tracingChoiceFromEnv({ OTEL_TRACES_EXPORTER: 'console' }), { enabled: true, exporter: 'console' });
  assert.equal(tracingChoiceFromEnv({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }).enabled, false);
  assert.equal(tracingChoiceFromEnv({ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' }).enabled, false);
  assert.throws(
    () => tracingChoiceFromEnv({ OTEL_TRACES_EXPORTER: 'zipkin' }),
    (error: unknown) => error instanceof TracingConfigError && /OTEL_TRACES_EXPORTER must be otlp, console or none \(got "zipkin"\)/.test(error.message),
  );
  assert.throws(
    () => tracingChoiceFromEnv({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }),
    (error: unknown) => error instanceof TracingConfigError && /OTEL_EXPORTER_OTLP_PROTOCOL must be http\/json/.test(error.message),
  );
});

test('with tracing off nothing is stored with a message: no traceparent, no trace ids in logs', async () => {
  await withSpan('tools/call send_message', { kind: SpanKind.SERVER }, async (span) => {
    assert.equal(traceparentOf(span), undefined);
    assert.deepEqual(traceparentField(span), {});
    assert.deepEqual(traceIds(span), {});
    assert.deepEqual(linksTo(span), []);
  });
});

test("with tracing on, a span's context survives a stored traceparent and log lines about it carry its ids", async () => {
  const exporter = new InMemorySpanExporter();
  const tracing = startTracing({ service: 'unit', instance: 'r1', exporter });
  assert.equal(tracing.enabled, true);
  const lines: string[] = [];
  const sink = new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push(chunk.toString('utf8')), done()) });
  const logger = createLogger('unit', 'info', sink);

  let stored: string | undefined;
  await withSpan('tools/call send_message', { kind: SpanKind.SERVER }, async (span) => {
    await new Promise((resolve) => setImmediate(resolve)); // the span is passed on, not looked up: awaits do not lose it
    stored = traceparentField(span).traceparent;
    logger.info({ ...traceIds(span) }, 'message accepted');
  });
  assert.match(stored ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/, 'a W3C traceparent');

  const route = startSpan('route message', { kind: SpanKind.CONSUMER, parent: stored });
  const laneContext = traceparentOf(route);
  route.end();
  await withSpan('deliver poll', { kind: SpanKind.CONSUMER, parent: laneContext }, async () => undefined);
  await assert.rejects(
    withSpan('deliver push', { parent: laneContext }, async () => {
      throw new Error('client gone');
    }),
    /client gone/,
  );
  await tracing.flush();

  const spans = exporter.getFinishedSpans();
  const [send, routed, delivered, failed] = ['tools/call send_message', 'route message', 'deliver poll', 'deliver push'].map((name) => spans.find((s) => s.name === name)!);
  assert.ok(send && routed && delivered && failed);
  const traceId = send.spanContext().traceId;
  assert.deepEqual(
    [routed, delivered, failed].map((s) => s.spanContext().traceId),
    [traceId, traceId, traceId],
    'one trace',
  );
  assert.equal(routed.parentSpanContext?.spanId, send.spanContext().spanId);
  assert.equal(delivered.parentSpanContext?.spanId, routed.spanContext().spanId);
  assert.equal(failed.status.code, 2, 'a span whose work threw is marked as an error');
  assert.equal(send.resource.attributes['service.name'], 'unit');
  assert.equal(send.resource.attributes['service.instance.id'], 'r1');

  const logged = JSON.parse(lines.find((line) => line.includes('message accepted'))!) as Record<string, unknown>;
  assert.equal(logged.trace_id, traceId);
  assert.equal(logged.span_id, send.spanContext().spanId);
});
