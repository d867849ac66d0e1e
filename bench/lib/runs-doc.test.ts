import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { envNumber } from './env.js';
import { writeSectionRunToDocs } from './runs-doc.js';
import { median } from './stats.js';

const SECTION = { heading: '## Noisy neighbour', mark: '<!-- bench-noisy-run -->' };

function withFile(content: string | undefined, body: (file: string) => void): void {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-runs-doc-'));
  try {
    const file = path.join(dir, 'benchmarks.md');
    if (content !== undefined) writeFileSync(file, content);
    body(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a run is prepended to its own section, newest first, and every other section is left as it was', () => {
  const before = '# Benchmarks\n\n## Throughput\n\nrings\n\n## Noisy neighbour (`make bench`)\n\nWhat it measures.\n\n<!-- bench-noisy-run -->\n### run 1\n\n## Durability\n\nfsync\n';
  withFile(before, (file) => {
    writeSectionRunToDocs(file, SECTION, 'unused intro\n', '### run 2\n\nfigures', 5);
    const after = readFileSync(file, 'utf8');
    assert.ok(after.startsWith('# Benchmarks\n\n## Throughput\n\nrings\n\n## Noisy neighbour (`make bench`)\n\nWhat it measures.\n\n'), after);
    assert.ok(after.indexOf('### run 2') < after.indexOf('### run 1'), 'the new run comes first');
    assert.ok(after.endsWith('## Durability\n\nfsync\n'), after);
    assert.equal(after.split('<!-- bench-noisy-run -->').length - 1, 2);
    assert.ok(!after.includes('unused intro'));
  });
});

test('a section holds at most maxRuns runs, the oldest dropped', () => {
  withFile('# Benchmarks\n', (file) => {
    for (let i = 1; i <= 4; i++) writeSectionRunToDocs(file, SECTION, '## Noisy neighbour\n\nIntro.\n', `### run ${i}`, 3);
    const after = readFileSync(file, 'utf8');
    assert.deepEqual(
      [...after.matchAll(/### run (\d)/g)].map((m) => m[1]),
      ['4', '3', '2'],
    );
    assert.equal(after.split('Intro.').length - 1, 1, 'the intro is written once, when the section is new');
  });
});

test('envNumber takes the first setting that is set, and names a bad one', () => {
  process.env.BENCH_TEST_OWN = '';
  process.env.BENCH_TEST_SHARED = '7';
  try {
    assert.equal(envNumber(['BENCH_TEST_OWN', 'BENCH_TEST_SHARED'], 3, 1), 7);
    process.env.BENCH_TEST_OWN = '4';
    assert.equal(envNumber(['BENCH_TEST_OWN', 'BENCH_TEST_SHARED'], 3, 1), 4);
    assert.equal(envNumber('BENCH_TEST_UNSET', 3, 1), 3);
    process.env.BENCH_TEST_OWN = '0';
    assert.throws(() => envNumber(['BENCH_TEST_OWN', 'BENCH_TEST_SHARED'], 3, 1), /BENCH_TEST_OWN must be a number ≥ 1 \(got "0"\)/);
  } finally {
    delete process.env.BENCH_TEST_OWN;
    delete process.env.BENCH_TEST_SHARED;
  }
});

test('median of odd and even counts, NaN left out', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([Number.NaN, 5]), 5);
  assert.ok(Number.isNaN(median([])));
});
