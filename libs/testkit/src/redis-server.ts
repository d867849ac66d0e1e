/**
 * A real redis-server per test: own loopback port, own temp data dir, AOF on.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Redis, type RedisOptions } from 'ioredis';
import { freePort } from './ports.js';
import { launchRedis, tailFile, terminateProcess, trackedNodeClient, type RunningProcess } from './redis-process.js';

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
const MAX_BIND_ATTEMPTS = 5;

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

  /** Spawn and wait for readiness: 'ready', or 'bind-failed' when the port was taken. */
  const launch = async (port: number): Promise<'ready' | 'bind-failed'> => {
    const result = await launchRedis({ binary, args: argsFor(port), port, logFile, readyTimeoutMs });
    if (result === 'bind-failed') return result;
    current = result;
    return 'ready';
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
    if (current) await terminateProcess(current, signal);
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
      return trackedNodeClient(port, clients, overrides);
    },
    logTail: (lines = 50) => tailFile(logFile, lines),
  };
  return handle;
}
