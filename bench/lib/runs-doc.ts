/**
 * The throughput runs in docs/benchmarks.md: prepending a run under "## Runs", keeping the last few.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

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

/**
 * Prepends `run` under "## Runs", keeping at most `maxRuns`. Everything above that heading is kept
 * as is, and so is everything from the next `## ` heading after it (e.g. the observability section).
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
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${head.trimEnd()}\n\n${RUNS_HEADING}\n\n${runs.map((r) => `${RUN_MARK}\n${r}\n`).join('\n')}${tail ? `\n${tail}\n` : ''}`);
}
