/**
 * A real Prometheus and a real Alertmanager (the Debian binaries) for tests and `make up`: each on
 * its own loopback port with its own data dir and a generated configuration, ready once `/-/ready`
 * answers, stopped by stop() and SIGKILLed if the process that started it exits first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { freePort } from './ports.js';
import { trackChild } from './reaper.js';

// ------------------------------------------------------------------------------------ Prometheus

export interface StartPrometheusOptions {
  /** Scrape jobs: job name → base URLs of its targets (`http://127.0.0.1:8701`), each scraped at `metricsPath`. */
  targets: Record<string, readonly string[]>;
  /** Default `/metrics`. */
  metricsPath?: string;
  /** Alert and recording rule files, loaded in place (not copied). Relative paths are resolved against the working directory. */
  ruleFiles?: readonly string[];
  /** Base URL of the Alertmanager that receives the alerts (`http://127.0.0.1:9093`). */
  alertmanagerUrl?: string;
  /** Default 5000 ms. */
  scrapeIntervalMs?: number;
  /** How often rules are evaluated. Default: the scrape interval. */
  evaluationIntervalMs?: number;
  /** Listen on this port (no retry if it is taken). Default: a free port. */
  port?: number;
  /** Keep the TSDB (and the generated prometheus.yml) here; kept after stop(). Default: a temp dir removed by stop(). */
  dataDir?: string;
  /** Default: env PROMETHEUS_BIN, else `prometheus` on PATH. */
  binary?: string;
  /** Default 'warn'. */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Default 30000 ms. */
  readyTimeoutMs?: number;
  /** Receives each line Prometheus logs (`make up` prints them). */
  onOutput?: (line: string) => void;
}

/** One sample of an instant query: its labels and `[unix seconds, value as text]`. */
export interface PrometheusSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PrometheusHandle {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** The generated prometheus.yml. */
  readonly configFile: string;
  /**
   * Evaluates `expr` now (`/api/v1/query`). Resolves with the samples (a scalar result becomes one
   * sample without labels); rejects with Prometheus's error when the query fails.
   */
  query(expr: string): Promise<PrometheusSample[]>;
  /** GET `/api/v1/<endpoint>` (e.g. `rules`, `alerts`, `targets`); resolves with `data`, rejects on an error status. */
  api<T = unknown>(endpoint: string, params?: Record<string, string>): Promise<T>;
  /** Last (up to) 200 lines Prometheus logged. */
  logs(): string[];
  /** Settles when the process exits (never rejects). */
  readonly exited: Promise<DaemonExit>;
  /** SIGTERM, wait up to 10 s, then SIGKILL; removes the temp data dir. Idempotent. */
  stop(): Promise<void>;
}

export async function startPrometheus(options: StartPrometheusOptions): Promise<PrometheusHandle> {
  const binary = resolveBinary('Prometheus', options.binary ?? process.env.PROMETHEUS_BIN, ['prometheus'], 'prometheus');
  const { dir, temporary } = prepareDataDir(options.dataDir, 'agent-bridge-prometheus-');
  const configFile = path.join(dir, 'prometheus.yml');
  writeFileSync(configFile, prometheusConfig(options));
  const daemon = await launchDaemon({
    name: 'prometheus',
    binary,
    args: (port) => [`--config.file=${configFile}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, `--log.level=${options.logLevel ?? 'warn'}`],
    port: options.port,
    readyTimeoutMs: options.readyTimeoutMs ?? 30_000,
    onOutput: options.onOutput,
    cleanup: () => temporary && rmSync(dir, { recursive: true, force: true }),
  });
  const url = `http://127.0.0.1:${daemon.port}`;

  const api = async <T>(endpoint: string, params: Record<string, string> = {}): Promise<T> => {
    const query = new URLSearchParams(params).toString();
    const response = await fetch(`${url}/api/v1/${endpoint}${query ? `?${query}` : ''}`, { signal: AbortSignal.timeout(10_000) });
    const body = (await response.json()) as { status: string; data?: T; errorType?: string; error?: string };
    if (body.status !== 'success') throw new Error(`Prometheus ${endpoint} failed (HTTP ${response.status}, ${body.errorType}): ${body.error}`);
    return body.data as T;
  };

  return {
    url,
    port: daemon.port,
    dataDir: dir,
    configFile,
    api,
    async query(expr) {
      let data: { resultType: string; result: unknown };
      try {
        data = await api('query', { query: expr });
      } catch (error) {
        throw new Error(`${(error as Error).message}\n  query: ${expr}`, { cause: error });
      }
      if (data.resultType === 'vector') return data.result as PrometheusSample[];
      if (data.resultType === 'scalar') return [{ metric: {}, value: data.result as [number, string] }];
      throw new Error(`Prometheus answered a ${data.resultType} to an instant query (expected a vector or scalar)\n  query: ${expr}`);
    },
    logs: daemon.logs,
    exited: daemon.exited,
    stop: daemon.stop,
  };
}

/** The prometheus.yml for `options` (YAML; JSON strings are valid YAML scalars). */
function prometheusConfig(options: Pick<StartPrometheusOptions, 'targets' | 'metricsPath' | 'ruleFiles' | 'alertmanagerUrl' | 'scrapeIntervalMs' | 'evaluationIntervalMs'>): string {
  const scrapeMs = options.scrapeIntervalMs ?? 5_000;
  const evaluationMs = options.evaluationIntervalMs ?? scrapeMs;
  const q = (value: string) => JSON.stringify(value);
  const lines = [
    '# Generated by libs/testkit/src/monitoring.ts (startPrometheus); rewritten on every start.',
    'global:',
    `  scrape_interval: ${scrapeMs}ms`,
    `  scrape_timeout: ${Math.min(scrapeMs, 10_000)}ms`,
    `  evaluation_interval: ${evaluationMs}ms`,
  ];
  const ruleFiles = options.ruleFiles ?? [];
  if (ruleFiles.length > 0) {
    lines.push('rule_files:');
    for (const file of ruleFiles) lines.push(`  - ${q(path.resolve(file))}`);
  }
  if (options.alertmanagerUrl) {
    const alertmanager = new URL(options.alertmanagerUrl);
    lines.push(
      'alerting:',
      '  alertmanagers:',
      `    - scheme: ${alertmanager.protocol.replace(':', '')}`,
      ...(alertmanager.pathname !== '/' ? [`      path_prefix: ${q(alertmanager.pathname)}`] : []),
      '      static_configs:',
      `        - targets: [${q(alertmanager.host)}]`,
    );
  }
  lines.push('scrape_configs:');
  for (const [job, urls] of Object.entries(options.targets)) {
    const parsed = urls.map((u) => new URL(u));
    const schemes = new Set(parsed.map((u) => u.protocol));
    if (schemes.size > 1) throw new Error(`startPrometheus: the targets of job "${job}" mix schemes (${[...schemes].join(', ')}); use one job per scheme`);
    const withPath = parsed.find((u) => u.pathname !== '/' && u.pathname !== '');
    if (withPath) throw new Error(`startPrometheus: target ${withPath.href} of job "${job}" has a path; give base URLs (the metrics path is the metricsPath option)`);
    lines.push(
      `  - job_name: ${q(job)}`,
      `    metrics_path: ${q(options.metricsPath ?? '/metrics')}`,
      `    scheme: ${parsed[0]?.protocol.replace(':', '') ?? 'http'}`,
      '    static_configs:',
      `      - targets: [${parsed.map((u) => q(u.host)).join(', ')}]`,
    );
  }
  return lines.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------- Alertmanager

/** A webhook receiving Alertmanager's notifications (POSTed JSON, the Alertmanager webhook format). */
export interface AlertmanagerWebhook {
  url: string;
  /** Sent as `Authorization: Bearer <token>`. */
  bearerToken?: string;
  /** Also notify when the alert resolves. Default true. */
  sendResolved?: boolean;
}

export interface StartAlertmanagerOptions {
  /**
   * An alertmanager.yml to run instead of the generated one (e.g. deploy/alertmanager/alertmanager.yml
   * with its endpoints pointed at local servers); `webhooks` and the group and repeat options are
   * then not used.
   */
  config?: string;
  /** Integrations of the one receiver every alert is routed to. None: alerts are only kept (API and UI). */
  webhooks?: readonly AlertmanagerWebhook[];
  /** How long a new alert group waits for more alerts before the first notification. Default 1000 ms. */
  groupWaitMs?: number;
  /** Default 10000 ms. */
  groupIntervalMs?: number;
  /** Default 1 h. */
  repeatIntervalMs?: number;
  /** Listen on this port (no retry if it is taken). Default: a free port. */
  port?: number;
  /** Keep silences and the notification log (and the generated alertmanager.yml) here; kept after stop(). Default: a temp dir removed by stop(). */
  dataDir?: string;
  /** Default: env ALERTMANAGER_BIN, else `prometheus-alertmanager` (Debian's name) or `alertmanager` on PATH. */
  binary?: string;
  /** Default 'warn'. */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Default 30000 ms. */
  readyTimeoutMs?: number;
  onOutput?: (line: string) => void;
}

/** An alert as Alertmanager's API v2 lists it. */
interface AlertmanagerAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  status: { state: string };
}

export interface AlertmanagerHandle {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** The alertmanager.yml it runs (generated, or the `config` option's). */
  readonly configFile: string;
  /** The alerts Alertmanager holds now (`GET /api/v2/alerts`). */
  alerts(): Promise<AlertmanagerAlert[]>;
  logs(): string[];
  readonly exited: Promise<DaemonExit>;
  /** SIGTERM, wait up to 10 s, then SIGKILL; removes the temp data dir. Idempotent. */
  stop(): Promise<void>;
}

export async function startAlertmanager(options: StartAlertmanagerOptions = {}): Promise<AlertmanagerHandle> {
  const binary = resolveBinary('Alertmanager', options.binary ?? process.env.ALERTMANAGER_BIN, ['prometheus-alertmanager', 'alertmanager'], 'prometheus-alertmanager');
  const { dir, temporary } = prepareDataDir(options.dataDir, 'agent-bridge-alertmanager-');
  const configFile = path.join(dir, 'alertmanager.yml');
  writeFileSync(configFile, options.config ?? alertmanagerConfig(options));
  const daemon = await launchDaemon({
    name: 'alertmanager',
    binary,
    args: (port) => [
      `--config.file=${configFile}`,
      `--storage.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // No HA cluster: it would listen on 0.0.0.0:9094 and wait for peers.
      '--cluster.listen-address=',
      `--log.level=${options.logLevel ?? 'warn'}`,
    ],
    port: options.port,
    readyTimeoutMs: options.readyTimeoutMs ?? 30_000,
    onOutput: options.onOutput,
    cleanup: () => temporary && rmSync(dir, { recursive: true, force: true }),
  });
  const url = `http://127.0.0.1:${daemon.port}`;
  return {
    url,
    port: daemon.port,
    dataDir: dir,
    configFile,
    async alerts() {
      const response = await fetch(`${url}/api/v2/alerts`, { signal: AbortSignal.timeout(10_000) });
      if (!response.ok) throw new Error(`Alertmanager GET /api/v2/alerts answered HTTP ${response.status}: ${await response.text()}`);
      return (await response.json()) as AlertmanagerAlert[];
    },
    logs: daemon.logs,
    exited: daemon.exited,
    stop: daemon.stop,
  };
}

/** The alertmanager.yml for `options`: one route to one receiver, the `agent-bridge` receiver. */
function alertmanagerConfig(options: Pick<StartAlertmanagerOptions, 'webhooks' | 'groupWaitMs' | 'groupIntervalMs' | 'repeatIntervalMs'>): string {
  const q = (value: string) => JSON.stringify(value);
  const lines = [
    '# Generated by libs/testkit/src/monitoring.ts (startAlertmanager); rewritten on every start.',
    'route:',
    '  receiver: agent-bridge',
    '  group_by: [alertname, rollback]',
    `  group_wait: ${options.groupWaitMs ?? 1_000}ms`,
    `  group_interval: ${options.groupIntervalMs ?? 10_000}ms`,
    `  repeat_interval: ${options.repeatIntervalMs ?? 3_600_000}ms`,
    'receivers:',
    '  - name: agent-bridge',
    // The one place where alerts leave Alertmanager: the controller's webhook is added here (the
    // `webhooks` option), e.g. POST http://127.0.0.1:<controller port>/webhook/alertmanager.
    '    # Notification integrations: the `webhooks` option of startAlertmanager (make up: scripts/up.ts).',
  ];
  const webhooks = options.webhooks ?? [];
  if (webhooks.length > 0) {
    lines.push('    webhook_configs:');
    for (const webhook of webhooks) {
      lines.push(`      - url: ${q(webhook.url)}`, `        send_resolved: ${webhook.sendResolved ?? true}`);
      if (webhook.bearerToken !== undefined) {
        lines.push('        http_config:', '          authorization:', '            type: Bearer', `            credentials: ${q(webhook.bearerToken)}`);
      }
    }
  }
  return lines.join('\n') + '\n';
}

// ----------------------------------------------------------------------------------- processes

interface DaemonExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Daemon {
  port: number;
  logs(): string[];
  exited: Promise<DaemonExit>;
  stop(): Promise<void>;
}

const LOG_CAPACITY = 200;
const STOP_GRACE_MS = 10_000;
const MAX_BIND_ATTEMPTS = 5;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** The binary to run: the one given, else the first candidate on PATH; a clear error when none is installed. */
function resolveBinary(what: string, given: string | undefined, candidates: readonly string[], debianPackage: string): string {
  if (given) return given;
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const candidate of candidates) {
    for (const dir of dirs) {
      const file = path.join(dir, candidate);
      try {
        accessSync(file, constants.X_OK);
        return file;
      } catch {
        // not here
      }
    }
  }
  throw new Error(
    `${what} is not installed: no ${candidates.map((c) => `"${c}"`).join(' or ')} on PATH. ` + `Install the Debian package "${debianPackage}" (apt-get install ${debianPackage}); make test and make up do (scripts/ensure-deps.sh).`,
  );
}

function prepareDataDir(dataDir: string | undefined, tempPrefix: string): { dir: string; temporary: boolean } {
  if (dataDir) {
    mkdirSync(dataDir, { recursive: true });
    return { dir: path.resolve(dataDir), temporary: false };
  }
  return { dir: mkdtempSync(path.join(os.tmpdir(), tempPrefix)), temporary: true };
}

/**
 * Spawns a daemon on a port and waits until `GET /-/ready` answers 200. When the port was picked
 * here and turns out to be taken (the freePort race), it tries again on another one.
 */
async function launchDaemon(spec: { name: string; binary: string; args: (port: number) => string[]; port: number | undefined; readyTimeoutMs: number; onOutput: ((line: string) => void) | undefined; cleanup: () => void }): Promise<Daemon> {
  for (let attempt = 1; ; attempt++) {
    const port = spec.port ?? (await freePort());
    const started = spawnDaemon(spec.name, spec.binary, spec.args(port), spec.onOutput);
    const outcome = await waitUntilReady(started, port, spec.readyTimeoutMs);
    if (outcome === 'ready') {
      let stopped: Promise<void> | undefined;
      return {
        port,
        logs: started.logs,
        exited: started.exited,
        stop: () =>
          (stopped ??= (async () => {
            await terminate(started.child, started.exited);
            spec.cleanup();
          })()),
      };
    }
    const tail = started.logs().slice(-30).join('\n');
    const bindFailed = /address already in use/i.test(tail);
    if (bindFailed && spec.port === undefined && attempt < MAX_BIND_ATTEMPTS) continue;
    spec.cleanup();
    if (bindFailed) throw new Error(`${spec.name} could not listen on 127.0.0.1:${port}: address already in use${spec.port !== undefined ? ' (choose another port)' : ''}\n--- last lines of ${spec.name} ---\n${tail}`);
    throw new Error(`${spec.name} (${spec.binary}) did not become ready on 127.0.0.1:${port}: ${outcome}\n--- last lines of ${spec.name} ---\n${tail}`);
  }
}

interface SpawnedDaemon {
  child: ChildProcess;
  exited: Promise<DaemonExit>;
  exitInfo(): DaemonExit | undefined;
  logs(): string[];
}

function spawnDaemon(name: string, binary: string, args: string[], onOutput: ((line: string) => void) | undefined): SpawnedDaemon {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(child);
  const lines: string[] = [];
  const onLine = (line: string) => {
    lines.push(line);
    if (lines.length > LOG_CAPACITY) lines.shift();
    onOutput?.(line);
  };
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) readline.createInterface({ input: stream, crlfDelay: Infinity }).on('line', onLine);
  }
  let exitInfo: DaemonExit | undefined;
  const exited = new Promise<DaemonExit>((resolve) => {
    child.once('exit', (code, signal) => resolve((exitInfo = { code, signal })));
    child.once('error', (error) => {
      onLine(`[testkit] cannot run ${binary} for ${name}: ${error.message}`);
      resolve((exitInfo = { code: null, signal: null }));
    });
  });
  return { child, exited, exitInfo: () => exitInfo, logs: () => [...lines] };
}

/** 'ready', or why not (the process is killed then). */
async function waitUntilReady(daemon: SpawnedDaemon, port: number, timeoutMs: number): Promise<'ready' | string> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no attempt yet';
  while (Date.now() < deadline) {
    const exit = daemon.exitInfo();
    if (exit) return `it exited (${exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`})`;
    try {
      const response = await fetch(`http://127.0.0.1:${port}/-/ready`, { signal: AbortSignal.timeout(2_000) });
      await response.body?.cancel();
      if (response.status === 200) return 'ready';
      last = `/-/ready answered HTTP ${response.status}`;
    } catch (error) {
      last = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
    }
    await Promise.race([daemon.exited, sleep(100)]);
  }
  await terminate(daemon.child, daemon.exited);
  return `/-/ready did not answer 200 within ${timeoutMs} ms (last: ${last})`;
}

async function terminate(child: ChildProcess, exited: Promise<DaemonExit>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const inTime = await Promise.race([
    exited.then(() => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), STOP_GRACE_MS);
    }),
  ]);
  clearTimeout(timer);
  if (!inTime) child.kill('SIGKILL');
  await exited;
}
