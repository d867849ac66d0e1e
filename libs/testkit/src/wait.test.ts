import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { waitFor, withTimeout } from './wait.js';

describe('waitFor', () => {
  test('resolves once the predicate becomes true', async () => {
    let n = 0;
    await waitFor(() => ++n >= 3, { timeoutMs: 1000, intervalMs: 5, description: 'n to reach 3' });
    assert.equal(n, 3);
  });

  test('accepts async predicates and treats throws as "not yet"', async () => {
    let n = 0;
    await waitFor(
      async () => {
        n++;
        if (n < 2) throw new Error('not ready');
        return true;
      },
      { timeoutMs: 1000, intervalMs: 5, description: 'async predicate' },
    );
    assert.equal(n, 2);
  });

  test('throws "timed out after X ms waiting for <description>"', async () => {
    const t0 = Date.now();
    await assert.rejects(
      waitFor(() => false, { timeoutMs: 150, intervalMs: 20, description: 'the impossible' }),
      { message: 'timed out after 150 ms waiting for the impossible' },
    );
    assert.ok(Date.now() - t0 >= 150);
  });

  test('reports the last predicate error on timeout', async () => {
    await assert.rejects(
      waitFor(
        () => {
          throw new Error('boom');
        },
        { timeoutMs: 50, intervalMs: 10, description: 'x' },
      ),
      /timed out after 50 ms waiting for x \(last error: boom\)/,
    );
  });
});

describe('withTimeout', () => {
  test('passes through a value that arrives in time', async () => {
    assert.equal(await withTimeout(Promise.resolve(42), 100, 'answer'), 42);
  });

  test('passes through a rejection', async () => {
    await assert.rejects(withTimeout(Promise.reject(new Error('nope')), 100, 'x'), /nope/);
  });

  test('rejects with the description on timeout', async () => {
    await assert.rejects(withTimeout(new Promise(() => {}), 30, 'a slow thing'), {
      message: 'timed out after 30 ms waiting for a slow thing',
    });
  });
});
