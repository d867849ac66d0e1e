// Memory of a service after a full garbage collection, on demand, for bench/sessions.ts. Loaded with
// `--import` and `--expose-gc` in NODE_OPTIONS of the services (both are allowed there, unlike
// `--cpu-prof`). On SIGUSR2 it collects everything it can (a major GC, then V8's last-resort GC,
// which also shrinks the heap's reserved space), waits 1.5 s (V8 unmaps the freed pages on helper
// threads: RSS falls after the GC returns, not when it does), collects once more, and prints one
// line "memory-probe {rss, heapTotal, heapUsed, external, arrayBuffers}" (bytes,
// process.memoryUsage()) on stderr. Not to be loaded together with bench/cpu-profile-preload.mjs,
// which takes SIGUSR2 too.
const collect = () => {
  globalThis.gc();
  try {
    globalThis.gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  } catch {
    globalThis.gc();
  }
};

process.on('SIGUSR2', () => {
  if (typeof globalThis.gc !== 'function') {
    process.stderr.write('memory-probe-error gc() is not exposed: start the process with --expose-gc\n');
    return;
  }
  collect();
  setTimeout(() => {
    globalThis.gc();
    setTimeout(() => process.stderr.write(`memory-probe ${JSON.stringify(process.memoryUsage())}\n`), 200);
  }, 1_500);
});
