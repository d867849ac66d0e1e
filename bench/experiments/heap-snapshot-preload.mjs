// A heap snapshot of a service on demand, for bench/experiments/poll-memory.ts. Loaded with `--import`
// and `--expose-gc` in NODE_OPTIONS; on SIGUSR2 it collects garbage, writes a snapshot into
// HEAP_SNAPSHOT_DIR and prints "heap-snapshot <path>" on stderr. Not with memory-probe-preload.mjs
// (SIGUSR2 too).
import path from 'node:path';
import v8 from 'node:v8';

let n = 0;
process.on('SIGUSR2', () => {
  globalThis.gc?.();
  const file = path.join(process.env.HEAP_SNAPSHOT_DIR ?? '/tmp', `${process.pid}-${++n}.heapsnapshot`);
  v8.writeHeapSnapshot(file);
  process.stderr.write(`heap-snapshot ${file}\n`);
});
