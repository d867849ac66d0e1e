// Memory of a service after a full garbage collection, on demand, for bench/sessions.ts. Loaded with
// `--import` and `--expose-gc` in NODE_OPTIONS of the services (both are allowed there, unlike
// `--cpu-prof`): on SIGUSR2 it runs gc() twice, 100 ms apart (the second collects what finalizers
// of the first released), and prints one line "memory-probe {rss, heapTotal, heapUsed, external,
// arrayBuffers}" (bytes, process.memoryUsage()) on stderr. Not to be loaded together with
// bench/cpu-profile-preload.mjs, which takes SIGUSR2 too.
process.on('SIGUSR2', () => {
  if (typeof globalThis.gc !== 'function') {
    process.stderr.write('memory-probe-error gc() is not exposed: start the process with --expose-gc\n');
    return;
  }
  globalThis.gc();
  setTimeout(() => {
    globalThis.gc();
    process.stderr.write(`memory-probe ${JSON.stringify(process.memoryUsage())}\n`);
  }, 100);
});
