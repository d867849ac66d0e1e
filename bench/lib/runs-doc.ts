/**
 * The throughput runs in docs/benchmarks.md: prepending a run under "## Runs", keeping the last few.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '@agent-bridge/testkit';

/** The file every benchmark part writes its runs to, and how many runs each section keeps. */
export const BENCHMARKS_DOC = path.join(REPO_ROOT, 'docs', 'benchmarks.md');
export const MAX_RUNS_KEPT = 5;

const RUNS_HEADING = '## Runs';
const RUN_MARK = '<!-- bench-run -->';

function intro(maxRuns: number): string {
  return `# Benchmarks

## Throughput (\`make bench\`)

\`bench/throughput.ts\` starts a real bridge on this machine — redis-server (AOF everysec), one
router, one legacy-poll and one elicitation replica, each its own OS process — and drives it with
real MCP SDK clients over Streamable HTTP, all hosted in the benchmark process (one monotonic clock
for both ends): a no-op baseline, a legacy ring, an elicitation ring and a 2026-07-28 ring. Results are prepended
below, newest first (the last ${maxRuns} runs are kept).
`;
}

/** The MCP SDK a run's heading names ("### <date> — MCP SDK v2 — <verdict>"), or undefined. */
const sdkOf = (run: string): string | undefined => /^### [^\n]*? — (MCP SDK [^—\n]+?) — /.exec(run)?.[1];

/**
 * Prepends `run` under "## Runs", keeping at most `maxRuns`, plus the newest run on another MCP SDK
 * than `run` when none is among those (so the runs keep a comparison across the SDK change).
 * Everything above that heading is kept as is, and so is everything from the next `## ` heading
 * after it (e.g. the observability section).
 */
export function writeRunToDocs(file: string, run: string, maxRuns: number): void {
  const existing = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const headingAt = existing.indexOf(`\n${RUNS_HEADING}\n`);
  const head = headingAt >= 0 ? existing.slice(0, headingAt + 1) : existing.trim() ? `${existing.trimEnd()}\n` : intro(maxRuns);
  const runsAt = headingAt + RUNS_HEADING.length + 2;
  const nextSectionAt = headingAt >= 0 ? existing.indexOf('\n## ', runsAt - 1) : -1;
  const tail = nextSectionAt >= 0 ? existing.slice(nextSectionAt + 1).trimEnd() : '';
  const older =
    headingAt >= 0
      ? existing
          .slice(runsAt, nextSectionAt >= 0 ? nextSectionAt : undefined)
          .split(RUN_MARK)
          .map((chunk) => chunk.trim())
          .filter((chunk) => chunk.length > 0)
      : [];
  const runs = [run.trim(), ...older].slice(0, maxRuns);
  const sdk = sdkOf(run);
  const earlierSdk = older.find((r) => sdkOf(r) !== undefined && sdkOf(r) !== sdk);
  if (sdk && earlierSdk && !runs.some((r) => sdkOf(r) !== undefined && sdkOf(r) !== sdk)) runs[runs.length - 1] = earlierSdk;
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${head.trimEnd()}\n\n${RUNS_HEADING}\n\n${runs.map((r) => `${RUN_MARK}\n${r}\n`).join('\n')}${tail ? `\n${tail}\n` : ''}`);
}

/** A section of docs/benchmarks.md that holds one benchmark part's runs. */
export interface DocsSection {
  /** Its heading line, e.g. "## Noisy neighbour" (matched as a prefix of the line). */
  heading: string;
  /** The comment line before each run, e.g. "<!-- bench-noisy-run -->". */
  mark: string;
}

/**
 * Keeps the section `section` of `file` (from its heading to the next `## ` heading or the end):
 * its text before the first run stays as is (`intro` when the section is new, appended at the end
 * of the file), `run` is prepended to its runs, at most `maxRuns` kept. Everything outside the
 * section is left alone.
 */
export function writeSectionRunToDocs(file: string, section: DocsSection, intro: string, run: string, maxRuns: number): void {
  const { heading, mark } = section;
  const existing = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const found = existing.startsWith(heading) ? 0 : existing.indexOf(`\n${heading}`);
  const at = found > 0 ? found + 1 : found;
  let before: string;
  let text: string;
  let after: string;
  if (at >= 0) {
    const next = existing.indexOf('\n## ', at + heading.length);
    before = existing.slice(0, at);
    text = existing.slice(at, next >= 0 ? next + 1 : undefined);
    after = next >= 0 ? existing.slice(next + 1) : '';
  } else {
    before = existing;
    text = intro;
    after = '';
  }
  const markAt = text.indexOf(mark);
  const head = markAt >= 0 ? text.slice(0, markAt) : text;
  const older =
    markAt >= 0
      ? text
          .slice(markAt)
          .split(mark)
          .map((chunk) => chunk.trim())
          .filter((chunk) => chunk.length > 0)
      : [];
  const runs = [run.trim(), ...older].slice(0, maxRuns);
  const newSection = `${head.trimEnd()}\n\n${runs.map((r) => `${mark}\n${r}\n`).join('\n')}`;
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${before.trimEnd()}\n\n${newSection.trimEnd()}\n${after ? `\n${after.trimEnd()}\n` : ''}`);
}
