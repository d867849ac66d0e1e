import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BoundedLabel, httpMethodLabel } from './metrics.js';

describe('label values that come from outside are bounded', () => {
  test('BoundedLabel keeps the first values and counts every later new one as other', () => {
    const label = new BoundedLabel(3);
    assert.deepEqual(
      ['a', 'b', 'a', 'c', 'd', 'e', 'b'].map((v) => label.of(v)),
      ['a', 'b', 'a', 'c', 'other', 'other', 'b'],
    );
    const values = new Set(Array.from({ length: 10_000 }, (_, i) => label.of(`junk-${i}`)));
    assert.deepEqual([...values], ['other'], 'ten thousand new values make no new series');
  });

  test('HTTP methods: the ones MCP uses, anything else other', () => {
    assert.deepEqual(['GET', 'POST', 'DELETE', 'PATCH', 'PROPFIND', undefined].map(httpMethodLabel), ['GET', 'POST', 'DELETE', 'other', 'other', 'other']);
  });
});
