/**
 * The trace collector stand-in of bench/observability-overhead.ts, as its own process so that its
 * CPU (parsing every exported span) is metered on its own instead of hiding in the benchmark's
 * clients. It is libs/testkit/src/bridge/otlp-receiver.ts (OTLP/HTTP JSON on /v1/traces), plus a second
 * loopback server that answers any GET with the spans received so far:
 *   {"total": N, "byName": {"<service.name> <span name>": n, …}}
 * Spans are counted and dropped, so a long run does not grow its memory.
 *
 * Prints "otlp-sink traces=<url> stats=<url>" once both servers listen. Ends on SIGTERM/SIGINT.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startOtlpReceiver } from '@agent-bridge/testkit/bridge';

const receiver = await startOtlpReceiver();
let total = 0;
const byName = new Map<string, number>();

/** Moves the spans the receiver kept into the counts. */
function count(): void {
  const spans = receiver.spans.splice(0);
  total += spans.length;
  for (const span of spans) {
    const key = `${span.service} ${span.name}`;
    byName.set(key, (byName.get(key) ?? 0) + 1);
  }
}
setInterval(count, 250);

const stats = createServer((_request, response) => {
  count();
  response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ total, byName: Object.fromEntries(byName) }));
});
await new Promise<void>((resolve) => stats.listen(0, '127.0.0.1', resolve));
const { port } = stats.address() as AddressInfo;
process.stdout.write(`otlp-sink traces=${receiver.url} stats=http://127.0.0.1:${port}\n`);

for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => process.exit(0));
