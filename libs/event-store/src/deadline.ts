import { StoreError } from './errors.js';

/**
 * Races a promise against a deadline. Used for every call that can block: a command on a frozen
 * connection would otherwise hang its caller forever.
 */
export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string, onExpired?: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onExpired?.();
      reject(new StoreError('STORE_DEADLINE_EXCEEDED', `${what} did not answer within ${ms} ms`));
    }, ms);
    timer.unref?.();
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Exponential backoff for retries: 100 ms, 200 ms, … capped at 2 s. */
export function retryBackoffMs(attempt: number): number {
  return Math.min(50 * 2 ** Math.min(attempt, 6), 2_000);
}
