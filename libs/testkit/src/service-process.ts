/**
 * Run a project service (a .ts entry point) as its own OS process, the way it
 * runs in production, with readiness detection and captured logs.
 */
import { spawn } from 'node:child_process';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { trackChild } from './reaper.js';

export { freePort } from './ports.js';

/** Absolute path of the monorepo root (…/libs/testkit/src/ → …/). */
export const REPO_ROOT: string = fileURLToPath(new URL('../../../', import.meta.url));

export interface StartServiceOptions {
  /** Label used in log echo and error messages. */
  name: string;
  /**
   * Entry file relative to the repo root: a source ('services/router/src/main.ts', run with tsx, as
   * in development) or a compiled program ('dist/router.js', `make build`, run by plain node, as in
   * the image).
   */
  entry: string;
  /** Extra environment, merged over process.env. */
  env?: Record<string, string>;
  /** HTTP URL polled until it answers 200. */
  readyUrl?: string;
  /** Regex matched against each stdout/stderr line. */
  readyLogLine?: RegExp;
  /** Readiness deadline. Default 20000 ms. */
  readyTimeoutMs?: number;
  /** Extra arguments passed to the entry script. */
  args?: string[];
}

interface ServiceExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServiceHandle {
  readonly name: string;
  readonly pid: number;
  /** Last (up to) 500 stdout/stderr lines, oldest first. */
  logs(): string[];
  /**
   * Resolve with the first line matching `regex`. Lines already in the buffer
   * are considered too unless `{ includeExisting: false }`. Rejects on timeout
   * (default 10000 ms) or when the process exits first.
   */
  waitForLog(regex: RegExp, timeoutMs?: number, options?: { includeExisting?: boolean }): Promise<string>;
  /** SIGTERM, wait up to 10 s, then SIGKILL. Resolves with the exit. */
  stop(): Promise<ServiceExit>;
  /** SIGKILL and wait for exit. */
  kill9(): Promise<ServiceExit>;
  /** Settles when the process exits (never rejects). */
  readonly exited: Promise<ServiceExit>;
  /** True while the process has not exited. */
  readonly running: boolean;
}

const LOG_CAPACITY = 500;
const DEFAULT_READY_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 10_000;

/** Copy of `re` without g/y so .test() has no lastIndex state. */
function statelessRegex(re: RegExp): RegExp {
  return re.global || re.sticky ? new RegExp(re.source, re.flags.replace(/[gy]/g, '')) : re;
}

function formatExit(exit: ServiceExit): string {
  return exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;
}

/** Unref'd sleep: never keeps the test process alive on its own. */
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/**
 * With TEST_COMPILED=1 a program's source entry (services/<name>/src/main.ts,
 * tools/bridgectl/src/main.ts) runs as its compiled bundle, dist/<name>.js (`make build` first):
 * the same tests against what the image runs.
 */
function entryToRun(entry: string): string {
  if (process.env.TEST_COMPILED !== '1') return entry;
  const program = /^(?:services\/([a-z-]+)|tools\/(bridgectl))\/src\/main\.ts$/.exec(entry);
  return program ? `dist/${program[1] ?? program[2]}.js` : entry;
}

function loaderFor(entry: string): string[] {
  return entry.endsWith('.ts') ? ['--conditions=agentbridge-source', '--import', 'tsx'] : ['--enable-source-maps'];
}

/** Runs a program to its end (bridgectl, say) the way startService runs a service, and gives its exit code and output. */
export function runProgram(entry: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  const program = entryToRun(entry);
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete childEnv.NODE_TEST_CONTEXT;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...loaderFor(program), program, ...args], { cwd: REPO_ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (err += chunk));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code: code ?? -1, out, err }));
  });
}

export async function startService(options: StartServiceOptions): Promise<ServiceHandle> {
  const { name } = options;
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
  // The node:test runner marks its own children with this; a service is not a test file.
  delete env.NODE_TEST_CONTEXT;
  const verbose = process.env.TEST_VERBOSE === '1';

  const entry = entryToRun(options.entry);
  const child = spawn(process.execPath, [...loaderFor(entry), entry, ...(options.args ?? [])], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(child);
  const spawned = new Promise<void>((resolve) => {
    child.once('spawn', () => resolve());
    child.once('error', () => resolve());
  });

  const lines: string[] = [];
  const lineListeners = new Set<(line: string) => void>();
  const onLine = (line: string): void => {
    lines.push(line);
    if (lines.length > LOG_CAPACITY) lines.shift();
    if (verbose) process.stderr.write(`[${name}] ${line}\n`);
    for (const listener of lineListeners) listener(line);
  };
  // Wait for both streams to be fully read before reporting the exit, so an
  // early-exit error message contains the final log lines.
  const streamsDone: Promise<void>[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    const rl = readline.createInterface({ input: stream, crlfDelay: Infinity });
    rl.on('line', onLine);
    streamsDone.push(new Promise((resolve) => rl.once('close', resolve)));
  }

  let exitInfo: ServiceExit | undefined;
  const exited = new Promise<ServiceExit>((resolve) => {
    child.once('exit', (code, signal) => {
      void Promise.race([Promise.all(streamsDone), sleep(1000)]).then(() => {
        exitInfo = { code, signal };
        resolve(exitInfo);
      });
    });
    child.once('error', (err) => {
      onLine(`[testkit] failed to spawn: ${err.message}`);
      exitInfo = { code: null, signal: null };
      resolve(exitInfo);
    });
  });

  const lastLines = (n: number): string => lines.slice(-n).join('\n');

  const waitForLog = (regex: RegExp, timeoutMs = 10_000, opts: { includeExisting?: boolean } = {}): Promise<string> => {
    const re = statelessRegex(regex);
    if (opts.includeExisting !== false) {
      const found = lines.find((l) => re.test(l));
      if (found !== undefined) return Promise.resolve(found);
    }
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        lineListeners.delete(listener);
      };
      const listener = (line: string): void => {
        if (!re.test(line)) return;
        cleanup();
        resolve(line);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${name} log line ${re}\n` + `--- last 50 lines of ${name} ---\n${lastLines(50)}`));
      }, timeoutMs);
      lineListeners.add(listener);
      void exited.then((exit) => {
        if (!lineListeners.has(listener)) return;
        cleanup();
        reject(new Error(`${name} exited (${formatExit(exit)}) before logging ${re}\n` + `--- last 50 lines of ${name} ---\n${lastLines(50)}`));
      });
    });
  };

  const terminate = async (): Promise<ServiceExit> => {
    if (exitInfo) return exitInfo;
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      exited,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), STOP_GRACE_MS);
      }),
    ]);
    clearTimeout(timer);
    if (done) return done;
    child.kill('SIGKILL');
    return exited;
  };

  const kill9 = async (): Promise<ServiceExit> => {
    if (exitInfo) return exitInfo;
    child.kill('SIGKILL');
    return exited;
  };

  // ---- readiness ----
  const readyTimeoutMs = options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  const deadline = Date.now() + readyTimeoutMs;
  const readinessFailure = async (reason: string): Promise<never> => {
    if (!exitInfo) await kill9();
    throw new Error(`service ${name} (${options.entry}) failed to become ready: ${reason}\n` + `--- last 50 lines of ${name} ---\n${lastLines(50)}`);
  };

  const checks: Promise<void>[] = [];
  if (options.readyLogLine) {
    const re = options.readyLogLine;
    checks.push(
      waitForLog(re, readyTimeoutMs).then(
        () => undefined,
        () => {
          throw new Error(exitInfo ? `exited (${formatExit(exitInfo)})` : `no log line matching ${re} within ${readyTimeoutMs} ms`);
        },
      ),
    );
  }
  if (options.readyUrl) {
    const url = options.readyUrl;
    checks.push(
      (async () => {
        let last = 'no attempt yet';
        while (Date.now() < deadline) {
          if (exitInfo) throw new Error(`exited (${formatExit(exitInfo)})`);
          try {
            const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
            await res.body?.cancel();
            if (res.status === 200) return;
            last = `HTTP ${res.status}`;
          } catch (err) {
            last = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
          }
          await Promise.race([exited, sleep(100)]);
        }
        throw new Error(`${url} did not answer 200 within ${readyTimeoutMs} ms (last: ${last})`);
      })(),
    );
  }
  if (checks.length === 0) {
    // No readiness probe: just make sure the process actually spawned.
    await spawned;
    if (exitInfo) await readinessFailure(`exited (${formatExit(exitInfo)})`);
  } else {
    try {
      await Promise.all(checks);
    } catch (err) {
      await readinessFailure(err instanceof Error ? err.message : String(err));
    }
  }

  const pid = child.pid;
  if (pid === undefined) return readinessFailure('no pid (spawn failed)');

  return {
    name,
    pid,
    logs: () => [...lines],
    waitForLog,
    stop: terminate,
    kill9,
    exited,
    get running() {
      return exitInfo === undefined;
    },
  };
}
