// CPU profiling on demand for the benchmark (`node --cpu-prof` profiles a whole process life and is
// not allowed in NODE_OPTIONS). Loaded with `--import` (the benchmark puts it into NODE_OPTIONS of
// the services when BENCH_CPU_PROF_DIR is set): the first SIGUSR2 starts the V8 sampling profiler,
// the second stops it and writes CPU_PROF_DIR/<CPU_PROF_NAME or pid>-<n>.cpuprofile (open it in
// Chrome DevTools or speedscope).
import { writeFileSync, mkdirSync } from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';

let session;
let count = 0;

globalThis.__benchCpuProfile = true;
process.on('SIGUSR2', () => {
  if (!session) {
    const started = new Session();
    session = started;
    started.connect();
    started.post('Profiler.enable', () => started.post('Profiler.setSamplingInterval', { interval: 500 }, () => started.post('Profiler.start')));
    return;
  }
  const current = session;
  session = undefined;
  current.post('Profiler.stop', (error, result) => {
    if (!error) {
      // Read at write time: the benchmark sets CPU_PROF_DIR for itself after this module loaded.
      const dir = process.env.CPU_PROF_DIR || process.cwd();
      const name = process.env.CPU_PROF_NAME || String(process.pid);
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, `${name}-${++count}.cpuprofile`), JSON.stringify(result.profile));
    }
    current.disconnect();
  });
});
