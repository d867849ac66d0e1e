export interface WaitForOptions {
  /** Give up after this many milliseconds. Default 5000. */
  timeoutMs?: number;
  /** Delay between predicate evaluations. Default 50. */
  intervalMs?: number;
  /** Used in the timeout message: `timed out after X ms waiting for <description>`. */
  description: string;
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Poll `predicate` until it returns true. A predicate that throws counts as
 * "not yet"; the last error is appended to the timeout message.
 */
export async function waitFor(predicate: () => Promise<boolean> | boolean, options: WaitForOptions): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const intervalMs = options.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  let hasError: boolean;
  for (;;) {
    try {
      if (await predicate()) return;
      hasError = false;
    } catch (err) {
      lastError = err;
      hasError = true;
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      const suffix = hasError ? ` (last error: ${describeError(lastError)})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${options.description}${suffix}`);
    }
    await sleep(Math.min(intervalMs, remaining));
  }
}

/** Like waitFor, but resolves with the first value `probe` returns that is not false, null or undefined. */
export async function waitForValue<T>(probe: () => Promise<T | false | null | undefined> | T | false | null | undefined, options: WaitForOptions): Promise<T> {
  let found: T | undefined;
  await waitFor(async () => {
    const value = await probe();
    if (value === false || value === null || value === undefined) return false;
    found = value;
    return true;
  }, options);
  return found as T;
}

/**
 * Resolve/reject with `promise`, or reject with
 * `timed out after X ms waiting for <description>` if it takes longer than `ms`.
 * The underlying promise is not cancelled.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, description: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${description}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
