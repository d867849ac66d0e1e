/**
 * One redis-server child process: spawn it, wait until it answers, stop it, read its log.
 * Shared by the single node (redis-server.ts) and the cluster (redis-cluster.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import net from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';
import { trackChild } from './reaper.js';

const STOP_TIMEOUT_MS = 15_000;

export interface RunningProcess {
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
 * (simple string, bulk string or integer). Error replies reject. A fresh
 * connection per command keeps a node that was just killed from wedging a
 * long-lived client that the caller would have to tear down.
 */
export function rawCommand(port: number, args: string[], timeoutMs = 1000): Promise<string> {
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

export async function tailFile(file: string, lines: number): Promise<string> {
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

export interface LaunchOptions {
  binary: string;
  args: string[];
  port: number;
  logFile: string;
  readyTimeoutMs: number;
}

/**
 * Spawn redis-server and wait until it answers PING and has finished loading its AOF.
 * Resolves the running process, or 'bind-failed' when it exited because a port it
 * was given (client or cluster bus) was taken; throws on any other failure, with
 * the log tail in the message.
 */
export async function launchRedis(options: LaunchOptions): Promise<RunningProcess | 'bind-failed'> {
  const { port, logFile, readyTimeoutMs } = options;
  // The log is appended to across restarts; only this launch's part decides the outcome.
  const logOffset = await fileSize(logFile);
  const proc = spawnRedis(options.binary, options.args);
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
        return proc;
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
    const newLog = await readFrom(logFile, logOffset);
    if (/Address already in use/i.test(`${proc.output()}\n${newLog}`)) return 'bind-failed';
    const output = proc.output().trim();
    throw new Error(`redis-server on port ${port} exited during startup (${proc.exitInfo()}).\n` + (output ? `--- output ---\n${output}\n` : '') + `--- tail of ${logFile} ---\n${log}`);
  }
  proc.child.kill('SIGKILL');
  await proc.exited;
  throw new Error(`redis-server on port ${port} did not become ready within ${readyTimeoutMs} ms ` + `(last problem: ${lastProblem}).\n--- tail of ${logFile} ---\n${log}`);
}

/**
 * Stop a process: SIGTERM waits for exit (redis flushes and fsyncs the AOF), SIGKILL
 * escalates after STOP_TIMEOUT_MS; SIGKILL is a crash. No-op if it already exited.
 */
export async function terminateProcess(proc: RunningProcess, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  if (proc.exitInfo() !== undefined) return;
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

/**
 * A plain ioredis client to one loopback node with fail-fast defaults, added to `clients` (and
 * dropped from it once it ends) so its owner can close it at cleanup.
 */
export function trackedNodeClient(port: number, clients: { add(client: Redis): unknown; delete(client: Redis): unknown }, overrides: RedisOptions = {}): Redis {
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
}
