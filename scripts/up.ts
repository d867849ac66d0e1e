/**
 * `make up`: runs agent-bridge on this machine. Starts redis-server with AOF under .local/redis
 * (unless REDIS_URL is set), creates dev agent tokens, the controller's admin and webhook tokens and
 * the elicitation endpoint's requestState key (kept under .local/, so a restart still verifies the
 * MCP 2026-07-28 rounds it handed out), runs every service as its own process — the controller
 * reads deploy/local/featureflags.yaml and publishes the flags — starts Prometheus (scraping the
 * services, loading the alert rules) and Alertmanager under .local/ (unless MONITORING=off), prints
 * endpoints and tokens, and stops everything on Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { hashToken, newAgentToken } from '@agent-bridge/service-kit';
import { startAlertmanager, startPrometheus, type AlertmanagerHandle, type AlertmanagerWebhook, type PrometheusHandle } from '@agent-bridge/testkit';

const root = new URL('..', import.meta.url).pathname;
const local = join(root, '.local');
const env = process.env;
const ports = {
  redis: Number(env.REDIS_PORT ?? 6399),
  legacyPoll: Number(env.LEGACY_POLL_PORT ?? 8701),
  elicitation: Number(env.ELICITATION_PORT ?? 8702),
  router: Number(env.ROUTER_PORT ?? 8703),
  controller: Number(env.CONTROLLER_PORT ?? 8704),
  progress: Number(env.PROGRESS_PORT ?? 8705),
  prometheus: Number(env.PROMETHEUS_PORT ?? 9090),
  alertmanager: Number(env.ALERTMANAGER_PORT ?? 9093),
};
const monitoringEnabled = env.MONITORING !== 'off';
const rulesFile = join(root, 'deploy/prometheus/agent-bridge.rules.yaml');
const shardCount = env.SHARD_COUNT ?? '16';
const featureFlagsFile = env.FEATURE_FLAGS_FILE ?? join(root, 'deploy/local/featureflags.yaml');
const DEV_AGENTS = ['alice', 'bob', 'carol', 'dave', 'test_agent_alpha', 'test_agent_beta', 'monitoring_agent'];

const children: Array<{ name: string; child: ChildProcess }> = [];
/** Prometheus and Alertmanager (started by @agent-bridge/testkit's monitoring module). */
const monitors: Array<{ name: string; handle: PrometheusHandle | AlertmanagerHandle }> = [];
let stopping = false;

function log(message: string): void {
  process.stdout.write(`[up] ${message}\n`);
}

const outputPrefix = (name: string) => `${name.padEnd(12)}| `;

function run(name: string, command: string, args: string[], extraEnv: Record<string, string> = {}): ChildProcess {
  const child = spawn(command, args, { cwd: root, env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  const prefix = outputPrefix(name);
  for (const stream of [child.stdout, child.stderr]) {
    let buffer = '';
    stream?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) process.stdout.write(prefix + line + '\n');
    });
  }
  child.on('exit', (code, signal) => {
    if (!stopping) {
      log(`${name} exited (${signal ?? code}); stopping everything`);
      void stop(1);
    }
  });
  children.push({ name, child });
  return child;
}

function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = createConnection({ port, host: '127.0.0.1' }, () => {
        socket.destroy();
        resolve();
      });
      socket.on('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

function devTokens(): Record<string, string> {
  const plainFile = join(local, 'dev-tokens.json');
  const hashedFile = join(local, 'agent-tokens.json');
  const tokens: Record<string, string> = existsSync(plainFile) ? JSON.parse(readFileSync(plainFile, 'utf8')) : {};
  for (const agent of DEV_AGENTS) tokens[agent] ??= newAgentToken();
  writeFileSync(plainFile, JSON.stringify(tokens, null, 2) + '\n', { mode: 0o600 });
  writeFileSync(hashedFile, JSON.stringify({ agents: Object.entries(tokens).map(([id, token]) => ({ id, tokenSha256: hashToken(token) })) }, null, 2) + '\n');
  return tokens;
}

/** A secret kept under .local/ across runs (mode 0600), created on first use from `bytes` random bytes. */
function localSecret(name: string, bytes = 24): string {
  const file = join(local, name);
  if (!existsSync(file)) writeFileSync(file, randomBytes(bytes).toString('base64url') + '\n', { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  log('stopping…');
  await Promise.all(monitors.map(({ handle }) => handle.stop()));
  const services = children.filter((c) => c.name !== 'redis');
  await Promise.all(services.map(({ child }) => terminate(child, 12_000)));
  const redis = children.find((c) => c.name === 'redis');
  if (redis) await terminate(redis.child, 10_000);
  log('stopped');
  process.exit(code);
}

/** Starts Alertmanager, then Prometheus scraping the services and sending alerts to it. */
async function startMonitoring(): Promise<void> {
  const onOutput = (name: string) => (line: string) => process.stdout.write(outputPrefix(name) + line + '\n');
  const track = (name: string, handle: PrometheusHandle | AlertmanagerHandle) => {
    monitors.push({ name, handle });
    void handle.exited.then((exit) => {
      if (stopping) return;
      log(`${name} exited (${exit.signal ?? exit.code}); stopping everything`);
      void stop(1);
    });
  };
  const hint = 'set PROMETHEUS_PORT / ALERTMANAGER_PORT to free ports, or MONITORING=off to run without them';

  // ── Alertmanager notifications ─────────────────────────────────────────────────────────────────
  // THE ONE PLACE where local alerts are sent: the controller's webhook, which turns an alert into
  // the rollback its FeatureFlags policy (or the alert's `rollback` label) names.
  const webhooks: AlertmanagerWebhook[] = [{ url: `http://127.0.0.1:${ports.controller}/webhook/alertmanager`, bearerToken: localSecret('webhook-token') }];
  // ───────────────────────────────────────────────────────────────────────────────────────────────
  try {
    const alertmanager = await startAlertmanager({ port: ports.alertmanager, dataDir: join(local, 'alertmanager'), webhooks, onOutput: onOutput('alertmanager') });
    track('alertmanager', alertmanager);
    const prometheus = await startPrometheus({
      targets: {
        router: [`http://127.0.0.1:${ports.router}`],
        'legacy-poll': [`http://127.0.0.1:${ports.legacyPoll}`],
        elicitation: [`http://127.0.0.1:${ports.elicitation}`],
        controller: [`http://127.0.0.1:${ports.controller}`],
      },
      ruleFiles: [rulesFile],
      alertmanagerUrl: alertmanager.url,
      scrapeIntervalMs: 5_000,
      evaluationIntervalMs: 5_000,
      port: ports.prometheus,
      dataDir: join(local, 'prometheus'),
      onOutput: onOutput('prometheus'),
    });
    track('prometheus', prometheus);
  } catch (error) {
    throw new Error(`${(error as Error).message}\n(${hint})`, { cause: error });
  }
}

function terminate(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => (clearTimeout(timer), resolve()));
    child.kill('SIGTERM');
  });
}

async function main(): Promise<void> {
  mkdirSync(join(local, 'redis'), { recursive: true });
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  let redisUrl = env.REDIS_URL;
  if (!redisUrl) {
    run('redis', 'redis-server', [
      '--port',
      String(ports.redis),
      '--bind',
      '127.0.0.1',
      '--dir',
      join(local, 'redis'),
      '--appendonly',
      'yes',
      '--appendfsync',
      env.REDIS_APPENDFSYNC ?? 'everysec',
      '--save',
      '',
      '--maxmemory-policy',
      'noeviction',
      '--protected-mode',
      'no',
    ]);
    await waitForPort(ports.redis, 10_000);
    redisUrl = `redis://127.0.0.1:${ports.redis}`;
  }
  const tokens = devTokens();
  localSecret('admin-token');
  localSecret('webhook-token');
  // 48 bytes: 64 characters, above REQUEST_STATE_KEY's 32.
  const requestStateKey = localSecret('request-state-key', 48);
  // The inter-replica credential's key (INTER_REPLICA_KEY, 32+ characters): what elicitation
  // replicas and controllers sign relayed requests with instead of passing a caller's token on.
  const interReplicaKey = localSecret('inter-replica-key', 48);
  const shared = {
    REDIS_URL: redisUrl,
    SHARD_COUNT: shardCount,
    HOST: '127.0.0.1',
    LOG_LEVEL: env.LOG_LEVEL ?? 'info',
    AGENT_TOKENS_FILE: join(local, 'agent-tokens.json'),
    ELICITATION_ENDPOINT_URL: `http://127.0.0.1:${ports.elicitation}/mcp`,
  };

  const node = [process.execPath, '--conditions=agentbridge-source', '--import', 'tsx'];
  run('router', node[0]!, [...node.slice(1), 'services/router/src/main.ts'], { ...shared, PORT: String(ports.router), ROUTER_ID: 'router-1' });
  run('legacy-poll', node[0]!, [...node.slice(1), 'services/legacy-poll/src/main.ts'], { ...shared, PORT: String(ports.legacyPoll), REPLICA_ID: 'legacy-poll-1' });
  run('elicitation', node[0]!, [...node.slice(1), 'services/elicitation/src/main.ts'], {
    ...shared,
    PORT: String(ports.elicitation),
    REPLICA_ID: 'elicitation-1',
    ADVERTISE_URL: `http://127.0.0.1:${ports.elicitation}`,
    REQUEST_STATE_KEY: requestStateKey,
    INTER_REPLICA_KEY: interReplicaKey,
  });
  // The controller owns the flag snapshot: it reads the FeatureFlags file and publishes the flags.
  run('controller', node[0]!, [...node.slice(1), 'services/controller/src/main.ts'], {
    ...shared,
    PORT: String(ports.controller),
    CONTROLLER_ID: 'controller-1',
    SOURCE: 'file',
    FEATURE_FLAGS_FILE: featureFlagsFile,
    ADMIN_TOKEN_FILE: join(local, 'admin-token'),
    WEBHOOK_TOKEN_FILE: join(local, 'webhook-token'),
    INTER_REPLICA_KEY: interReplicaKey,
    PROGRESS_PORT: String(ports.progress),
  });
  await Promise.all([waitForPort(ports.router, 30_000), waitForPort(ports.legacyPoll, 30_000), waitForPort(ports.elicitation, 30_000), waitForPort(ports.controller, 30_000)]);
  if (monitoringEnabled) await startMonitoring();

  const lines = [
    '',
    'agent-bridge is running. Ctrl-C stops everything.',
    '',
    `  legacy endpoint (MCP)   http://127.0.0.1:${ports.legacyPoll}/mcp      (send_message, wait_for_messages)`,
    `  modern endpoint (MCP)   http://127.0.0.1:${ports.elicitation}/mcp      (sessions; messages pushed as elicitations; elicit)`,
    `  router health/metrics   http://127.0.0.1:${ports.router}/readyz  /metrics`,
    `  legacy-poll metrics     http://127.0.0.1:${ports.legacyPoll}/metrics`,
    `  elicitation metrics     http://127.0.0.1:${ports.elicitation}/metrics`,
    `  controller              http://127.0.0.1:${ports.controller}/health/status   (admin API: POST /admin/rollback|promote|pause|resume, token in .local/admin-token)`,
    `  migration progress page http://127.0.0.1:${ports.progress}/migration/   (public: no token; docs/operations.md)`,
    ...(monitoringEnabled
      ? [
          `  prometheus              http://127.0.0.1:${ports.prometheus}      (scrapes the services every 5 s; alert rules: deploy/prometheus/agent-bridge.rules.yaml; data in .local/prometheus)`,
          `  alertmanager            http://127.0.0.1:${ports.alertmanager}      (alerts from that Prometheus; data in .local/alertmanager)`,
          `  grafana dashboards      deploy/grafana/dashboards/*.json  (import into a Grafana with this Prometheus as data source; docs/operations.md)`,
        ]
      : ['  prometheus/alertmanager not started (MONITORING=off)']),
    `  redis                   ${redisUrl}${env.REDIS_URL ? '' : `  (AOF in ${join(local, 'redis')})`}`,
    `  FeatureFlags resource   ${featureFlagsFile}  (the controller applies saved edits; bridgectl apply -f)`,
    '',
    '  dev agent tokens (send as "Authorization: Bearer <token>"; also in .local/dev-tokens.json):',
    ...Object.entries(tokens).map(([agent, token]) => `    ${agent.padEnd(18)} ${token}`),
    '',
    `  bridgectl:  REDIS_URL=${redisUrl} SHARD_COUNT=${shardCount} tools/bridgectl/bin/bridgectl status`,
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((error) => {
  log(`failed: ${(error as Error).message}`);
  void stop(1);
});
