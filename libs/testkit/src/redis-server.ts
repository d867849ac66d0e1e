/**
 * A real redis-server per test: own loopback port, own temp data dir, AOF on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { freePort } from './ports.js';
import { trackChild } from './reaper.js';

export interface StartRedisOptions {
  /** AOF fsync policy. Default 'everysec'. Use 'always' for crash-durability tests. */
  appendfsync?: 'always' | 'everysec';
  /** Extra redis-server command-line arguments, appended after the defaults. */
  extraArgs?: string[];
  /** redis-server binary. Default: env REDIS_SERVER_BIN, else `redis-server` on PATH. */
  binary?: string;
  /** Use this port instead of asking the OS for a free one (no retry if it is taken). */
  port?: number;
  /** How long to wait for PING (and AOF loading) after spawning. Default 10000 ms. */
  readyTimeoutMs?: number;
}

export interface RedisServerHandle {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Temp data dir (holds `appendonlydir/` and `redis.log`). */
  readonly dataDir: string;
  /** Pid of the current redis-server process (changes after restart()); undefined when not running. */
  readonly pid: number | undefined;
  /** True while the redis-server process is alive. */
  readonly running: boolean;
  /** Graceful stop: SIGTERM and wait for exit (redis flushes/fsyncs the AOF). No-op if not running. */
  stop(): Promise<void>;
  /** Crash: SIGKILL and wait for exit. No-op if not running. */
  kill(): Promise<void>;
  /**
   * Start again on the same port with the same data dir (AOF is replayed).
   * Stops gracefully first if still running. Resolves once PING answers and
   * INFO persistence reports `loading:0`.
   */
  restart(): Promise<void>;
  /** Close tracked clients, stop if running, and remove the data dir. Idempotent. */
  cleanup(): Promise<void>;
  /** New ioredis client for this server (fail-fast defaults); closed by cleanup(). */
  client(options?: RedisOptions): Redis;
  /** Last `lines` lines of redis.log (for diagnostics). */
  logTail(lines?: number): Promise<string>;
}

const DEFAULT_READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 15_000;
const MAX_BIND_ATTEMPTS = 5;

interface RunningProcess {
  child: ChildProcess;
  exited: Promise<void>;
  /** stdout/stderr output (config errors before the logfile is opened land here). */
  output: () => string;
  exitInfo: () => string | undefined;
}

function spawnRedis(binary: string, args: string[]): RunningProcess {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(child);
  let output = '';
  const append = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-8192);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  let exitInfo: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = signal ? `signal ${signal}` : `code ${code}`;
      resolve();
    });
    child.once('error', (err) => {
      exitInfo = `spawn error: ${err.message}`;
      output += `\n${err.message}`;
      resolve();
    });
  });
  return { child, exited, output: () => output, exitInfo: () => exitInfo };
}

/**
 * Send one command over a fresh connection and return the reply as a string
 * (simple string, bulk string or integer). Error replies reject.
 */
function rawCommand(port: number, args: string[], timeoutMs = 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({ host: '127.0.0.1', port });
    let buf = Buffer.alloc(0);
    let settled = false;
    const finish = (err: Error | undefined, value?: string): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (err) reject(err);
      else resolve(value ?? '');
    };
    socket.setTimeout(timeoutMs, () => finish(new Error(`redis ${args[0]} timed out`)));
    socket.once('error', (err) => finish(err));
    socket.once('close', () => finish(new Error('connection closed before a reply')));
    socket.on('connect', () => {
      let payload = `*${args.length}\r\n`;
      for (const a of args) payload += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
      socket.write(payload);
    });
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const headerEnd = buf.indexOf('\r\n');
      if (headerEnd === -1) return;
      const type = String.fromCharCode(buf[0] ?? 0);
      const header = buf.subarray(1, headerEnd).toString('utf8');
      if (type === '+' || type === ':') return finish(undefined, header);
      if (type === '-') return finish(new Error(header));
      if (type === '$') {
        const len = Number(header);
        if (len < 0) return finish(undefined, '');
        const start = headerEnd + 2;
        if (buf.length < start + len + 2) return; // wait for more
        return finish(undefined, buf.subarray(start, start + len).toString('utf8'));
      }
      finish(new Error(`unexpected reply type ${JSON.stringify(type)}`));
    });
  });
}

async function tailFile(file: string, lines: number): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no redis.log)';
  }
}

async function fileSize(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

async function readFrom(file: string, offset: number): Promise<string> {
  try {
    return (await readFile(file)).subarray(offset).toString('utf8');
  } catch {
    return '';
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServerHandle> {
  const binary = options.binary ?? process.env.REDIS_SERVER_BIN ?? 'redis-server';
  const appendfsync = options.appendfsync ?? 'everysec';
  const readyTimeoutMs = options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'agent-bridge-redis-'));
  const logFile = path.join(dataDir, 'redis.log');

  const argsFor = (port: number): string[] => [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dataDir,
    '--save',
    '',
    '--appendonly',
    'yes',
    '--appendfsync',
    appendfsync,
    '--maxmemory-policy',
    'noeviction',
    '--protected-mode',
    'no',
    '--daemonize',
    'no',
    '--logfile',
    logFile,
    ...(options.extraArgs ?? []),
  ];

  let current: RunningProcess | undefined;
  let cleanedUp = false;
  const clients = new Set<Redis>();

  /**
   * Spawn and wait for readiness. Resolves 'ready', or 'bind-failed' when the
   * process exited because the port was taken; throws on any other failure.
   */
  const launch = async (port: number): Promise<'ready' | 'bind-failed'> => {
    // The log is appended to across restarts; only this launch's part decides the outcome.
    const logOffset = await fileSize(logFile);
    const proc = spawnRedis(binary, argsFor(port));
    current = proc;
    const deadline = Date.now() + readyTimeoutMs;
    let lastProblem = 'no attempt yet';
    let exited = false;
    void proc.exited.then(() => {
      exited = true;
    });
    while (Date.now() < deadline) {
      if (exited) break;
      try {
        const pong = await rawCommand(port, ['PING']);
        if (pong !== 'PONG') throw new Error(`PING answered ${JSON.stringify(pong)}`);
        // INFO (default sections) carries both process_id and loading. Checking the
        // pid guards against a different server that grabbed the port first.
        const info = await rawCommand(port, ['INFO']);
        if (!new RegExp(`^process_id:${proc.child.pid}\r?$`, 'm').test(info)) {
          lastProblem = `port ${port} is answered by another process`;
        } else if (/^loading:0\r?$/m.test(info)) {
          return 'ready';
        } else {
          lastProblem = 'still loading the AOF';
        }
      } catch (err) {
        lastProblem = err instanceof Error ? err.message : String(err);
      }
      await sleep(exited ? 0 : 25);
    }
    // Give the exit event a moment to land so we can report it accurately.
    await Promise.race([proc.exited, sleep(50)]);
    const log = await tailFile(logFile, 30);
    if (proc.exitInfo() !== undefined) {
      current = undefined;
      const newLog = await readFrom(logFile, logOffset);
      if (/Address already in use/i.test(`${proc.output()}\n${newLog}`)) return 'bind-failed';
      const output = proc.output().trim();
      throw new Error(`redis-server on port ${port} exited during startup (${proc.exitInfo()}).\n` + (output ? `--- output ---\n${output}\n` : '') + `--- tail of ${logFile} ---\n${log}`);
    }
    proc.child.kill('SIGKILL');
    await proc.exited;
    current = undefined;
    throw new Error(`redis-server on port ${port} did not become ready within ${readyTimeoutMs} ms ` + `(last problem: ${lastProblem}).\n--- tail of ${logFile} ---\n${log}`);
  };

  let port = 0;
  try {
    for (let attempt = 1; ; attempt++) {
      port = options.port ?? (await freePort());
      const result = await launch(port);
      if (result === 'ready') break;
      if (options.port !== undefined) throw new Error(`redis-server could not bind port ${port}: address already in use`);
      if (attempt >= MAX_BIND_ATTEMPTS) {
        throw new Error(`redis-server could not bind a free port after ${attempt} attempts`);
      }
    }
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }

  const terminate = async (signal: 'SIGTERM' | 'SIGKILL'): Promise<void> => {
    const proc = current;
    if (!proc) return;
    if (proc.exitInfo() === undefined) {
      proc.child.kill(signal);
      if (signal === 'SIGTERM') {
        let timer: NodeJS.Timeout | undefined;
        const timedOut = await Promise.race([
          proc.exited.then(() => false),
          new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(true), STOP_TIMEOUT_MS);
          }),
        ]);
        clearTimeout(timer);
        if (timedOut) proc.child.kill('SIGKILL');
      }
      await proc.exited;
    }
    current = undefined;
  };

  const handle: RedisServerHandle = {
    url: `redis://127.0.0.1:${port}`,
    port,
    dataDir,
    get pid() {
      return current?.exitInfo() === undefined ? current?.child.pid : undefined;
    },
    get running() {
      return current !== undefined && current.exitInfo() === undefined;
    },
    stop: () => terminate('SIGTERM'),
    kill: () => terminate('SIGKILL'),
    async restart() {
      if (cleanedUp) throw new Error('restart() after cleanup()');
      await terminate('SIGTERM');
      // Same port is mandatory here; a bind failure right after the previous
      // process died is retried briefly (the port is ours, nobody else asked the OS for it).
      for (let attempt = 1; ; attempt++) {
        const result = await launch(port);
        if (result === 'ready') return;
        if (attempt >= MAX_BIND_ATTEMPTS) {
          throw new Error(`redis-server could not re-bind port ${port} after ${attempt} attempts`);
        }
        await sleep(200);
      }
    },
    async cleanup() {
      if (cleanedUp) return;
      cleanedUp = true;
      for (const c of clients) c.disconnect();
      clients.clear();
      await terminate('SIGTERM');
      await rm(dataDir, { recursive: true, force: true });
    },
    client(overrides?: RedisOptions) {
      const defaults: RedisOptions & { disconnectTimeout?: number } = {
        host: '127.0.0.1',
        port,
        maxRetriesPerRequest: 1,
        connectTimeout: 2000,
        retryStrategy: (times: number) => Math.min(times * 50, 500),
        // Runtime option of ioredis (default 2000, missing from its typings): how long
        // disconnect() waits for the socket to close. A client that was reconnecting
        // across kill()/restart() otherwise keeps the test process alive for 2 s.
        disconnectTimeout: 200,
      };
      const c = new Redis({ ...defaults, ...overrides });
      // Connection errors surface through the rejected command; keep the
      // emitter from spamming "Unhandled error event" while redis is down.
      c.on('error', () => {});
      clients.add(c);
      c.once('end', () => clients.delete(c));
      return c;
    },
    logTail: (lines = 50) => tailFile(logFile, lines),
  };
  return handle;
}
