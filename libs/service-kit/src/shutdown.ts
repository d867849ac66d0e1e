export type ShutdownStep = () => Promise<void> | void;

/**
 * Runs the registered steps once, in order, on SIGTERM or SIGINT (or when called), then exits.
 * A second signal exits at once; a shutdown that overruns `graceMs` exits with code 1.
 */
export function installShutdown(options: { graceMs: number; log: (message: string, error?: unknown) => void }): {
  add(step: ShutdownStep): void;
  shutdown(reason: string): Promise<void>;
} {
  const steps: ShutdownStep[] = [];
  let running: Promise<void> | undefined;

  async function shutdown(reason: string): Promise<void> {
    if (running) return running;
    options.log(`shutting down: ${reason}`);
    const overrun = setTimeout(() => {
      options.log(`shutdown took longer than ${options.graceMs} ms; exiting`);
      process.exit(1);
    }, options.graceMs + 2_000);
    overrun.unref();
    running = (async () => {
      for (const step of steps) {
        try {
          await step();
        } catch (error) {
          options.log('shutdown step failed', error);
        }
      }
      clearTimeout(overrun);
      process.exit(0);
    })();
    return running;
  }

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (running) process.exit(130);
      void shutdown(signal);
    });
  }
  return { add: (step) => void steps.push(step), shutdown };
}
