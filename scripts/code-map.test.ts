/**
 * docs/code-map.md follows the code: every file it names exists, and every function, class or
 * method it names is written in one of the files of its row. A move or rename that forgets the map
 * fails here, naming the row.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '@agent-bridge/testkit';

const MAP = 'docs/code-map.md';
const ROOTS = /^(libs|services|tools|scripts|bench|e2e|charts|docs)\//;
const IDENTIFIER = /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)?$/;

interface Row {
  line: number;
  text: string;
  files: string[];
  names: string[];
}

/** The table rows of the map with the files (resolved) and identifiers they name in backticks. */
function rows(): Row[] {
  const lines = readFileSync(join(REPO_ROOT, MAP), 'utf8').split('\n');
  const result: Row[] = [];
  lines.forEach((text, index) => {
    if (!text.startsWith('|') || /^\|[-| ]+\|$/.test(text) || /^\| what \|/.test(text)) return;
    const tokens = [...text.matchAll(/`([^`]+)`/g)].map((match) => match[1]!);
    const files: string[] = [];
    const names: string[] = [];
    let base = '';
    for (const token of tokens) {
      if (ROOTS.test(token)) {
        files.push(token);
        base = dirname(token);
      } else if (/\.(ts|lua|md)$/.test(token) || token.endsWith('/*.ts')) {
        files.push(token.endsWith('.lua') && !token.includes('/') ? `libs/event-store/src/lua/${token}` : join(base, token));
      } else if (IDENTIFIER.test(token)) {
        names.push(token);
      }
    }
    result.push({ line: index + 1, text, files, names });
  });
  return result;
}

/** The text of a named file, or of every file of a `dir/*.ts` glob. */
function source(path: string): string {
  if (path.endsWith('/*.ts')) {
    const dir = join(REPO_ROOT, path.slice(0, -'/*.ts'.length));
    return readdirSync(dir)
      .filter((name) => name.endsWith('.ts'))
      .map((name) => readFileSync(join(dir, name), 'utf8'))
      .join('\n');
  }
  return readFileSync(join(REPO_ROOT, path), 'utf8');
}

test('every file the code map names exists', () => {
  const missing = rows().flatMap((row) =>
    row.files
      .filter((file) => {
        const path = join(REPO_ROOT, file.endsWith('/*.ts') ? file.slice(0, -'/*.ts'.length) : file);
        return !existsSync(path) || (file.endsWith('/*.ts') && !statSync(path).isDirectory());
      })
      .map((file) => `${MAP}:${row.line} names ${file}, which does not exist`),
  );
  assert.deepEqual(missing, []);
  assert.ok(rows().length >= 20, 'the map has its rows');
});

test('every function, class or method the code map names is in a file of its row', () => {
  const absent = rows().flatMap((row) => {
    if (row.files.length === 0) return [];
    const text = row.files
      .filter((file) => existsSync(join(REPO_ROOT, file.replace(/\/\*\.ts$/, ''))))
      .map(source)
      .join('\n');
    return row.names
      .flatMap((name) => name.split('.'))
      .filter((part) => !new RegExp(`\\b${part.replace('$', '\\$')}\\b`).test(text))
      .map((part) => `${MAP}:${row.line} names ${part}, which none of ${row.files.join(', ')} has`);
  });
  assert.deepEqual(absent, []);
});
