import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadControllerConfig, startControllerService, type ControllerService } from '@agent-bridge/controller';
import { openEventStore, type OpenedEventStore } from '@agent-bridge/event-store';
import { createLogger } from '@agent-bridge/observability';
import { REPO_ROOT, freePort, startRedis, waitFor, type RedisServerHandle } from '@agent-bridge/testkit';
import { EXIT, runBridgectl } from './cli.js';
import type { ControllerReport } from './controller-client.js';
import { renderStatus } from './status-command.js';

const ADMIN = 'bridgectl-admin-token-0123456789';

interface Run {
  code: number;
  out: string;
  err: string;
}

/** Agents with known md5 buckets (the strategy's vectors), so each stage's outcome is known. */
const VECTORS = new Map((JSON.parse(readFileSync(join(REPO_ROOT, 'libs/flags/fixtures/bucket-vectors.json'), 'utf8')) as Array<{ agentId: string; bucket: number }>).map((v) => [v.agentId, v.bucket]));
const bucketOf = (agent: string): number => {
  const bucket = VECTORS.get(agent);
  assert.ok(bucket !== undefined, `${agent} is in bucket-vectors.json`);
  return bucket;
};
// agent_v1 (2), agent-001 (10: legacy at 10%, the boundary), agent-006 (49: elicitation at 50%),
// canary_2 (56), agent-008 (11, excluded), test_agent_alpha (68, opted in).
const AGENTS = ['agent_v1', 'agent-001', 'agent-006', 'canary_2', 'agent-008', 'test_agent_alpha'];
const OPT_IN = 'test_agent_alpha';
const EXCLUDED = 'agent-008';

const resource = (stages = ['{ percentage: 10, hold: 1h }', '{ percentage: 50, hold: 1h }'], prometheusUrl = 'http://127.0.0.1:1') => `apiVersion: agentbridge.io/v1alpha1
kind: FeatureFlags
metadata:
  name: agent-bridge
spec:
  phase: canary
  flags:
    elicitation:
      enabled: true
      agents: [${OPT_IN}]
      excludedAgents: [${EXCLUDED}]
  rollout:
    stages:
${stages.map((s) => `      - ${s}`).join('\n')}
  analysis:
    prometheusUrl: ${prometheusUrl}
    interval: 1h
    failureLimit: 3
    metrics:
      - { name: error-rate, query: errors, max: 0.001 }
      - { name: p99-latency, query: latency, max: 1 }
      - { name: delivery-ratio, query: delivery, min: 0.999 }
  rollback:
    partialStep: 25
`;

describe('bridgectl controller commands against a real controller (local mode) and Redis', () => {
  let redis: RedisServerHandle;
  let dir: string;
  let file: string;
  let controller: ControllerService;
  let prometheus: Server;
  let store: OpenedEventStore;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    redis = await startRedis();
    dir = mkdtempSync(join(tmpdir(), 'bridgectl-controller-'));
    file = join(dir, 'featureflags.yaml');
    // A Prometheus that answers the three gate queries: one passes, one fails, one has no data.
    prometheus = createServer((request, response) => {
      const query = new URL(request.url ?? '/', 'http://x').searchParams.get('query');
      const value = query === 'errors' ? '0.0004' : query === 'latency' ? '1.7' : undefined;
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: value ? [{ metric: {}, value: [Date.now() / 1000, value] }] : [] } }));
    });
    await new Promise<void>((resolve) => prometheus.listen(0, '127.0.0.1', resolve));
    writeFileSync(file, resource(undefined, `http://127.0.0.1:${(prometheus.address() as AddressInfo).port}`));
    controller = await startControllerService(
      loadControllerConfig({
        REDIS_URL: redis.url,
        SHARD_COUNT: '4',
        HOST: '127.0.0.1',
        PORT: '0',
        CONTROLLER_ID: 'ctl-test',
        FEATURE_FLAGS_FILE: file,
        ADMIN_TOKEN: ADMIN,
        WEBHOOK_TOKEN: 'webhook-token-0123456789',
        LEADER_LEASE_TTL_MS: '1500',
        RECONCILE_INTERVAL_MS: '100',
        EFFECT_TIMEOUT_MS: '2000',
      }),
      createLogger('controller', 'silent'),
    );
    store = await openEventStore({ url: redis.url, name: 'bridgectl-test', shardCount: 4 });
    env = {
      REDIS_URL: redis.url,
      SHARD_COUNT: '4',
      BRIDGECTL_ACTOR: 'ops-jane',
      BRIDGECTL_CONTROLLER_URL: controller.url,
      BRIDGECTL_ADMIN_TOKEN: ADMIN,
      BRIDGECTL_FEATURE_FLAGS_FILE: file,
    };
    // Stage 1 published and its first analysis round done.
    await waitFor(async () => ((await report()).status?.lastMetrics.length ?? 0) === 3, { timeoutMs: 10_000, description: 'stage 1 and its first analysis round' });
  });
  after(async () => {
    await controller?.close();
    await store?.close();
    await new Promise((resolve) => prometheus?.close(resolve));
    await redis?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function run(argv: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Run> {
    let out = '';
    let err = '';
    const code = await runBridgectl(argv, { ...env, ...extraEnv }, { out: (text) => (out += text), err: (text) => (err += text) });
    return { code, out, err };
  }

  async function report(): Promise<ControllerReport> {
    const response = await fetch(`${controller.url}/health/status`);
    return (await response.json()) as ControllerReport;
  }

  test('status shows phase, stage n/N, pause, adoption (by protocol and by MCP generation), gates against thresholds, last rollback, conditions, leader and snapshot', async () => {
    const now = Date.now();
    await store.store.recordActivity('agent_v1', 'elicitation', now, '2026-07-28');
    await store.store.recordActivity('canary_2', 'legacy', now, '2025-11-25');
    await store.store.recordActivity('agent-006', 'other', now, '2025-11-25');
    const status = await run(['status']);
    assert.equal(status.code, EXIT.ok, status.err);
    const { snapshot } = await report();
    assert.match(status.out, /^controller\s+ctl-test at http:\/\/127\.0\.0\.1:\d+ \(leader, source file\); leader id ctl-test$/m);
    assert.match(status.out, /^resource\s+agent-bridge, generation 1$/m);
    assert.match(status.out, /^phase\s+canary$/m);
    assert.match(status.out, /^stage\s+1\/2 \(10%, hold 1h\); effective percentage 10%; held \d+s of 1h$/m);
    assert.match(status.out, /^paused\s+no$/m);
    assert.match(status.out, /^rollback\s+none in force$/m);
    assert.match(status.out, /^adoption\s+3 active agents in the last 5m: 1 on elicitation only, 1 on legacy only, 0 on both, 1 on neither \(sent only\); migrated 33\.3%, still using legacy 33\.3%$/m);
    assert.match(status.out, /^MCP generation\s+2025-11-25 2, 2026-07-28 1$/m);
    assert.match(status.out, new RegExp(`^snapshot\\s+version ${snapshot.version}, published ${snapshot.publishedAt.replace(/\./g, '\\.')} \\(\\d+s ago\\) by ctl-test$`, 'm'));
    assert.match(status.out, /^last rollback\s+none$/m);
    // Each gate: value, threshold, result.
    assert.match(status.out, /^gates: every 1h, 1\/3 failed rounds in a row, last round \S+ \(\d+s ago\)$/m);
    assert.match(status.out, /^\s+metric\s+value\s+threshold\s+result$/m);
    assert.match(status.out, /^\s+error-rate\s+0\.0004\s+≤ 0\.001\s+pass$/m);
    assert.match(status.out, /^\s+p99-latency\s+1\.7\s+≤ 1\s+fail$/m);
    assert.match(status.out, /^\s+delivery-ratio\s+no data\s+≥ 0\.999\s+inconclusive$/m);
    assert.match(status.out, /^\s+Ready\s+True\s+Reconciled\s+generation 1 reconciled$/m);
    assert.match(status.out, /^\s+Progressing\s+True\s+AnalysisInconclusive\s+stage 1\/2 at 10%, waiting for analysis data$/m);
    assert.match(status.out, /^\s+RolledBack\s+False\s+NoRollback\s+-$/m);
  });

  test('status from a controller that does not report MCP generations (older than bridgectl) says so instead of failing', async () => {
    const older = await report();
    delete older.adoption.agentsByGeneration;
    assert.match(renderStatus(older, controller.url, Date.now()), /^MCP generation\s+not reported \(the controller is older than bridgectl\)$/m);
  });

  test('status --json prints the raw report of GET /health/status', async () => {
    const status = await run(['status', '--json']);
    assert.equal(status.code, EXIT.ok, status.err);
    const printed = JSON.parse(status.out) as ControllerReport;
    const direct = await report();
    assert.deepEqual(Object.keys(printed).sort(), Object.keys(direct).sort());
    assert.deepEqual(printed.controller, direct.controller);
    assert.deepEqual(printed.plan, direct.plan);
    assert.equal(printed.status?.stage, 1);
    assert.equal(printed.snapshot.version, direct.snapshot.version);
  });

  test("simulate --agents: each stage evaluated like the services, with each agent's md5 bucket", async () => {
    const expected = (agent: string, percentage: number) =>
      agent === EXCLUDED
        ? { protocol: 'legacy', reason: 'excluded' }
        : agent === OPT_IN
          ? { protocol: 'elicitation', reason: 'opt_in' }
          : bucketOf(agent) < percentage
            ? { protocol: 'elicitation', reason: 'percentage' }
            : { protocol: 'legacy', reason: 'not_selected' };

    const json = await run(['simulate', '--agents', AGENTS.join(','), '--json']);
    assert.equal(json.code, EXIT.ok, json.err);
    const result = JSON.parse(json.out) as {
      source: string;
      generation: number;
      phase: string;
      now: { version: number; percentage: number; onElicitation: number };
      stages: Array<{ stage: number; percentage: number; onElicitation: number }>;
      agents: Array<{ agentId: string; bucket: number; now: { protocol: string; reason: string }; stages: Array<{ stage: number; percentage: number; protocol: string; reason: string }> }>;
    };
    assert.equal(result.source, controller.url);
    assert.equal(result.generation, 1);
    assert.deepEqual(
      result.stages.map((s) => [s.stage, s.percentage]),
      [
        [1, 10],
        [2, 50],
      ],
    );
    assert.deepEqual(
      result.agents.map((a) => a.agentId),
      AGENTS,
    );
    for (const agent of result.agents) {
      assert.equal(agent.bucket, bucketOf(agent.agentId), `bucket of ${agent.agentId}`);
      assert.deepEqual({ protocol: agent.now.protocol, reason: agent.now.reason }, expected(agent.agentId, 10), `${agent.agentId} now (stage 1 is in force)`);
      for (const stage of agent.stages) assert.deepEqual({ protocol: stage.protocol, reason: stage.reason }, expected(agent.agentId, stage.percentage), `${agent.agentId} at stage ${stage.stage}`);
    }
    // 10%: agent_v1 and the opt-in (agent-001, bucket 10, is not below 10); 50%: agent-001 and agent-006 (bucket 49) too.
    assert.deepEqual(
      result.stages.map((s) => s.onElicitation),
      [2, 4],
    );

    const human = await run(['simulate', '--agents', AGENTS.join(',')]);
    assert.equal(human.code, EXIT.ok, human.err);
    assert.match(human.out, new RegExp(`^plan from ${controller.url.replace(/\./g, '\\.')} \\(generation 1\\): phase canary, 2 stages$`, 'm'));
    assert.match(human.out, /^agent\s+bucket\s+now \(v\d+, 10%\)\s+stage 1 \(10%\)\s+stage 2 \(50%\)$/m);
    assert.match(human.out, /^agent_v1\s+2\s+elicitation\s+elicitation\s+elicitation$/m);
    assert.match(human.out, /^agent-001\s+10\s+legacy\s+legacy\s+elicitation$/m);
    assert.match(human.out, /^agent-006\s+49\s+legacy\s+legacy\s+elicitation$/m);
    assert.match(human.out, /^canary_2\s+56\s+legacy\s+legacy\s+legacy$/m);
    assert.match(human.out, /^agent-008\s+11\s+legacy \(excluded\)\s+legacy \(excluded\)\s+legacy \(excluded\)$/m);
    assert.match(human.out, /^test_agent_alpha\s+68\s+elicitation \(opt-in\)\s+elicitation \(opt-in\)\s+elicitation \(opt-in\)$/m);
    assert.match(human.out, /^on elicitation\s+2\/6\s+2\/6\s+4\/6$/m);

    // The same plan from a file, without the controller; a plan without stages shows its own percentage.
    const other = join(dir, 'other.yaml');
    writeFileSync(other, resource(['{ percentage: 5, hold: 1m }', '{ percentage: 60, hold: 1m }']).replace('interval: 1h', 'interval: 1m'));
    const fromFile = await run(['simulate', '--agents', 'agent_v1,canary_2', '--file', other], { BRIDGECTL_CONTROLLER_URL: `http://127.0.0.1:${await freePort()}` });
    assert.equal(fromFile.code, EXIT.ok, fromFile.err);
    assert.match(fromFile.out, /^agent\s+bucket\s+stage 1 \(5%\)\s+stage 2 \(60%\)$/m);
    assert.match(fromFile.out, /^canary_2\s+56\s+legacy\s+elicitation$/m);

    const usage = await run(['simulate']);
    assert.equal(usage.code, EXIT.usage);
    assert.match(usage.err, /--agents a,b,c or --present/);
    const both = await run(['simulate', '--agents', 'a', '--present']);
    assert.equal(both.code, EXIT.usage);
    const glob = await run(['simulate', '--agents', 'canary_*']);
    assert.equal(glob.code, EXIT.usage);
    assert.match(glob.err, /not patterns: canary_\*/);
  });

  test('simulate --present takes the agents seen lately from the store', async () => {
    const present = await run(['simulate', '--present', '--json']);
    assert.equal(present.code, EXIT.ok, present.err);
    const result = JSON.parse(present.out) as { agents: Array<{ agentId: string; bucket: number }> };
    assert.deepEqual(result.agents.map((a) => a.agentId).sort(), ['agent-006', 'agent_v1', 'canary_2']);
    for (const agent of result.agents) assert.equal(agent.bucket, bucketOf(agent.agentId));
  });

  test('rollback partial applies once; the same again changes nothing and exits 4', async () => {
    const first = await run(['rollback', 'partial', '--reason', 'drill']);
    assert.equal(first.code, EXIT.ok, first.err);
    assert.match(first.out, /^partial rollback: percentage 10% → 0% \(flag snapshot version \d+\)$/m);
    const after = await report();
    assert.equal(after.snapshot.elicitation.percentage, 0);
    assert.equal(after.status?.rollback?.level, 'partial');
    assert.equal(after.status?.rollback?.trigger, 'cli');

    const again = await run(['rollback', 'partial', '--reason', 'drill']);
    assert.equal(again.code, EXIT.nothing, again.out + again.err);
    assert.match(again.out, /^nothing done: the percentage is already 0; nothing changed$/m);
    assert.equal((await report()).snapshot.version, after.snapshot.version, 'nothing published');

    const publication = (JSON.parse((await run(['history', '--json'])).out) as Array<{ action: string; actor: string; trigger: string; reason: string }>).find((e) => e.action === 'flags.publish' && e.reason === 'drill');
    assert.deepEqual([publication?.actor, publication?.trigger], ['ops-jane', 'cli'], 'the audit trail names the CLI user');
  });

  test('status shows the rollback in force and the last rollback with its effect in ms', async () => {
    await waitFor(async () => (await report()).status?.lastRollback?.effectMs !== undefined, { timeoutMs: 5_000, description: 'the effect measurement' });
    const status = await run(['status']);
    assert.equal(status.code, EXIT.ok, status.err);
    assert.match(status.out, /^stage\s+0\/2 \(before the first stage\); effective percentage 0%$/m);
    assert.match(status.out, /^rollback\s+partial by cli since \S+ \(\d+s ago\): drill; percentage capped at 0% \(holds the rollout until resume\)$/m);
    assert.match(status.out, /^last rollback\s+partial by cli at \S+ \(\d+s ago\): drill; effective in \d+ ms$/m);
    assert.match(status.out, /^\s+RolledBack\s+True\s+RollbackPartial\s+partial rollback by cli: drill$/m);
  });

  test('history shows controller entries: publications with their events and changes, gate values, rollback effects', async () => {
    const history = await run(['history', '--limit', '50']);
    assert.equal(history.code, EXIT.ok, history.err);
    assert.match(history.out, /^\S+\s+flags\.publish v1\s+by ctl-test \(controller\): rollout plan started$/m);
    assert.match(history.out, /^\s+elicitation\.percentage: 0 -> 10$/m);
    assert.match(history.out, /^\s+rollout: phase preparation -> canary, stage 0 -> 1$/m);
    assert.match(history.out, /^\s+stage\.started: 0 -> 1; 10%; hold 1h$/m);
    assert.match(history.out, /^\S+\s+controller\.analysis\.failed\s+by ctl-test \(gate\): p99-latency=1\.7 outside thresholds \(1\/3\)$/m);
    assert.match(history.out, /^\s+1 failed round in a row; gates: error-rate=0\.0004 \(≤ 0\.001\) pass, p99-latency=1\.7 \(≤ 1\) fail, delivery-ratio=no data \(≥ 0\.999\) inconclusive$/m);
    assert.match(history.out, /^\S+\s+flags\.publish v\d+\s+by ops-jane \(cli\): drill$/m);
    assert.match(history.out, /^\s+rollback: partial; percentage 10% → 0%$/m);
    assert.match(history.out, /^\S+\s+rollback\.effective\s+by ctl-test \(controller\): rollback effective in routing and push lanes drained \d+ ms after the trigger$/m);
    assert.match(history.out, /^\s+effect: \d+ ms from the trigger \(snapshot v\d+\)$/m);
  });

  test('promote: refused during a rollback (exit 4); after resume, to the next stage, then --full, then nothing left', async () => {
    const blocked = await run(['promote']);
    assert.equal(blocked.code, EXIT.nothing);
    assert.match(blocked.out, /nothing done: a partial rollback is in force; resume first/);

    const resumed = await run(['resume', '--reason', 'fixed']);
    assert.equal(resumed.code, EXIT.ok, resumed.err);
    assert.match(resumed.out, /^resumed: the partial rollback is lifted/m);
    assert.equal((await report()).status?.stage, 1, 'stage 1 runs again');

    const next = await run(['promote', '--reason', 'looks good']);
    assert.equal(next.code, EXIT.ok, next.err);
    assert.match(next.out, /^promoted to stage 2 \(50%\) \(flag snapshot version \d+\)$/m);
    const full = await run(['promote', '--full']);
    assert.equal(full.code, EXIT.ok, full.err);
    assert.match(full.out, /^promoted to the last stage \(50%\)/m);
    const none = await run(['promote']);
    assert.equal(none.code, EXIT.nothing);
    assert.match(none.out, /already at the last stage \(50%\); nothing changed/);
    const status = await run(['status']);
    assert.match(status.out, /^stage\s+2\/2 \(50%, hold 1h\); effective percentage 50%; every stage held$/m);
    assert.equal((await report()).snapshot.elicitation.percentage, 50);
  });

  test('pause needs a reason; pause, pause again (exit 4), status says why, resume, resume again (exit 4)', async () => {
    const noReason = await run(['pause']);
    assert.equal(noReason.code, EXIT.usage);
    assert.match(noReason.err, /--reason/);

    const paused = await run(['pause', '--reason', 'investigating latency']);
    assert.equal(paused.code, EXIT.ok, paused.err);
    assert.match(paused.out, /^paused at stage 2$/m);
    const again = await run(['pause', '--reason', 'twice']);
    assert.equal(again.code, EXIT.nothing);
    assert.match(again.out, /^nothing done: already paused since \S+ \(investigating latency\); nothing changed$/m);
    const status = await run(['status']);
    assert.match(status.out, /^paused\s+yes, since \S+ \(\d+s ago\): investigating latency$/m);
    assert.match(status.out, /^\s+Paused\s+True\s+ManualPause\s+investigating latency$/m);

    const resumed = await run(['resume']);
    assert.equal(resumed.code, EXIT.ok, resumed.err);
    assert.match(resumed.out, /^resumed at stage 2$/m);
    const nothing = await run(['resume', '--reason', 'again']);
    assert.equal(nothing.code, EXIT.nothing);
    assert.match(nothing.out, /nothing to resume: not paused and no rollback in force/);
    assert.equal((await report()).status?.paused, false);
  });

  test('rollback canary --agents sends those agents back; a wrong command line is a usage error (exit 2)', async () => {
    const canary = await run(['rollback', 'canary', '--reason', 'beta drops answers', '--agents', 'canary_2, agent_v1']);
    assert.equal(canary.code, EXIT.ok, canary.err);
    assert.match(canary.out, /^canary rollback: canary_2, agent_v1 back to legacy/m);
    assert.deepEqual((await report()).status?.rollback?.agents, ['canary_2', 'agent_v1']);

    for (const [argv, message] of [
      [['rollback'], /rollback needs a level: full, partial or canary/],
      [['rollback', 'everything', '--reason', 'x'], /rollback level must be full, partial or canary \(got "everything"\)/],
      [['rollback', 'full'], /--reason/],
      [['rollback', 'full', '--reason', 'x', '--step', '10'], /--step applies to a partial rollback only/],
      [['rollback', 'partial', '--reason', 'x', '--step', '0'], /--step must be a whole number of percentage points from 1 to 100/],
      [['rollback', 'partial', '--reason', 'x', '--agents', 'a'], /--agents applies to a canary rollback only/],
      [['promote', 'now'], /promote takes no argument "now"/],
    ] as const) {
      const result = await run([...argv]);
      assert.equal(result.code, EXIT.usage, `${argv.join(' ')}: ${result.err}`);
      assert.match(result.err, message);
    }
    // The controller's own validation (an invalid agent selector) comes back as its message, exit 2.
    const tooLong = await run(['rollback', 'canary', '--reason', 'x', '--agents', 'a'.repeat(200)]);
    assert.equal(tooLong.code, EXIT.usage, tooLong.err);
    assert.match(tooLong.err, /the controller answered INVALID_ARGUMENT: agents\.0: expected an agent id or glob pattern/);
  });

  test('a wrong admin token is refused with a clear sentence (exit 1); a missing token says how to give one (exit 2)', async () => {
    const before = (await report()).snapshot.version;
    const wrong = await run(['rollback', 'full', '--reason', 'x'], { BRIDGECTL_ADMIN_TOKEN: 'not-the-admin-token-000000' });
    assert.equal(wrong.code, EXIT.failed, wrong.err);
    assert.match(wrong.err, new RegExp(`the controller at ${controller.url.replace(/\./g, '\\.')} refused the admin token from BRIDGECTL_ADMIN_TOKEN .*it must equal the controller's ADMIN_TOKEN`));

    const tokenFile = join(dir, 'admin-token');
    writeFileSync(tokenFile, 'wrong-token-from-a-file-0000\n');
    const fromFile = await run(['pause', '--reason', 'x'], { BRIDGECTL_ADMIN_TOKEN: '', BRIDGECTL_ADMIN_TOKEN_FILE: tokenFile });
    assert.equal(fromFile.code, EXIT.failed);
    assert.ok(fromFile.err.includes(`BRIDGECTL_ADMIN_TOKEN_FILE (${tokenFile})`), fromFile.err);

    const missing = await run(['pause', '--reason', 'x'], { BRIDGECTL_ADMIN_TOKEN: '', BRIDGECTL_ADMIN_TOKEN_FILE: join(dir, 'no-such-token') });
    assert.equal(missing.code, EXIT.usage);
    assert.match(missing.err, /no admin token: BRIDGECTL_ADMIN_TOKEN is not set and BRIDGECTL_ADMIN_TOKEN_FILE \(.*no-such-token\) does not exist/);

    writeFileSync(tokenFile, ADMIN);
    const right = await run(['resume', '--reason', 'token from a file'], { BRIDGECTL_ADMIN_TOKEN: '', BRIDGECTL_ADMIN_TOKEN_FILE: tokenFile });
    assert.equal(right.code, EXIT.ok, right.err);
    assert.equal((await report()).snapshot.version, before + 1, 'only the request with the right token changed anything');
  });

  test('an unreachable controller: exit 3 with a sentence naming the URL', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    for (const argv of [['status'], ['pause', '--reason', 'x'], ['rollback', 'full', '--reason', 'x'], ['simulate', '--agents', 'a']]) {
      const result = await run(argv, { BRIDGECTL_CONTROLLER_URL: url });
      assert.equal(result.code, EXIT.unavailable, `${argv.join(' ')}: ${result.err}`);
      assert.ok(result.err.includes(`cannot reach the controller at ${url}`), result.err);
      assert.match(result.err, /ECONNREFUSED.*Set BRIDGECTL_CONTROLLER_URL/);
    }
    const bad = await run(['status'], { BRIDGECTL_CONTROLLER_URL: 'controller:8704' });
    assert.equal(bad.code, EXIT.usage);
    assert.match(bad.err, /BRIDGECTL_CONTROLLER_URL must be an http\(s\) URL/);
  });

  test('apply -f with an invalid file names each bad field, exits 2 and changes nothing', async () => {
    const before = readFileSync(file, 'utf8');
    const generation = (await report()).resource;
    const invalid = join(dir, 'invalid.yaml');
    writeFileSync(invalid, before.replace('{ percentage: 50, hold: 1h }', '{ percentage: 50, hold: 7d }').replace('phase: canary', 'phase: launch'));
    const result = await run(['apply', '-f', invalid]);
    assert.equal(result.code, EXIT.usage, result.out);
    assert.ok(result.err.includes(`invalid ${invalid}`), result.err);
    assert.match(result.err, /spec\.phase: expected one of preparation, canary, rollout, stabilization, completion, got "launch"/);
    assert.match(result.err, /spec\.rollout\.stages\[1\]\.hold: expected a duration such as 90s, 5m or 4h, got "7d"/);
    const descending = join(dir, 'descending.yaml');
    writeFileSync(descending, before.replace('{ percentage: 50, hold: 1h }', '{ percentage: 5, hold: 1h }'));
    const rule = await run(['apply', '-f', descending]);
    assert.equal(rule.code, EXIT.usage, rule.out);
    assert.match(rule.err, /spec\.rollout\.stages\[1\]\.percentage: stage percentages must be strictly ascending: 5 follows 10/);
    assert.equal(readFileSync(file, 'utf8'), before, 'the watched file is untouched');

    const syntax = join(dir, 'syntax.yaml');
    writeFileSync(syntax, 'spec:\n  phase: [canary\n');
    const badYaml = await run(['apply', '-f', syntax]);
    assert.equal(badYaml.code, EXIT.usage);
    assert.match(badYaml.err, /not valid YAML/);
    const missing = await run(['apply', '-f', join(dir, 'nope.yaml')]);
    assert.equal(missing.code, EXIT.usage);
    assert.match(missing.err, /cannot read .*nope\.yaml: no such file/);
    const noFile = await run(['apply']);
    assert.equal(noFile.code, EXIT.usage);
    assert.match(noFile.err, /apply needs -f <featureflags\.yaml>/);

    assert.equal(readFileSync(file, 'utf8'), before);
    await new Promise((resolve) => setTimeout(resolve, 1_200)); // past the controller's file poll
    assert.deepEqual((await report()).resource, generation, 'the controller still serves the same generation');
  });

  test('apply -f with a valid file writes it atomically, says what changed, and the controller loads the new generation', async () => {
    const before = await report();
    assert.equal(before.resource.state, 'ok');
    const generation = before.resource.state === 'ok' ? before.resource.generation : 0;
    const next = join(dir, 'next.yaml');
    const text = readFileSync(file, 'utf8')
      .replace('{ percentage: 50, hold: 1h }', '{ percentage: 50, hold: 1h }\n      - { percentage: 90, hold: 30m }')
      .replace(`agents: [${OPT_IN}]`, `agents: [${OPT_IN}, monitoring_agent]`)
      .replace('partialStep: 25', 'partialStep: 10');
    writeFileSync(next, text);
    const applied = await run(['apply', '-f', next]);
    assert.equal(applied.code, EXIT.ok, applied.err);
    assert.match(applied.out, new RegExp(`^wrote ${file.replace(/\./g, '\\.')} \\(from ${next.replace(/\./g, '\\.')}\\)$`, 'm'));
    assert.match(applied.out, /^\s+stages: 10%\/1h, 50%\/1h -> 10%\/1h, 50%\/1h, 90%\/30m$/m);
    assert.match(applied.out, /^\s+flags\.elicitation\.agents: \["test_agent_alpha"\] -> \["test_agent_alpha","monitoring_agent"\]$/m);
    assert.match(applied.out, /^\s+rollback\.partialStep: 25 -> 10$/m);
    assert.match(applied.out, new RegExp(`^the controller at \\S+ loaded it: generation ${generation + 1}, phase canary, stage 2/3`, 'm'));
    assert.equal(readFileSync(file, 'utf8'), text);

    const after = await report();
    assert.deepEqual(after.resource.state === 'ok' ? after.resource.generation : undefined, generation + 1);
    assert.equal(after.plan?.stages.length, 3);
    const status = await run(['status']);
    assert.match(status.out, new RegExp(`^resource\\s+agent-bridge, generation ${generation + 1}$`, 'm'));

    const same = await run(['apply', '-f', next]);
    assert.equal(same.code, EXIT.ok);
    assert.match(same.out, /^unchanged: .* already holds /m);
  });

  test('an admin action whose answer is lost on the way is retried with the same Idempotency-Key and applied once', async () => {
    // A proxy that lets the first pause through to the controller but loses its answer (502, as a
    // relay that timed out), then passes everything.
    const seen: string[] = [];
    const proxy = createServer(async (request, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      seen.push(String(request.headers['idempotency-key']));
      const answer = await fetch(`${controller.url}${request.url}`, {
        method: request.method,
        headers: { authorization: String(request.headers.authorization), 'content-type': 'application/json', 'idempotency-key': String(request.headers['idempotency-key']) },
        body: Buffer.concat(chunks),
      });
      const text = await answer.text();
      if (seen.length === 1) {
        response.writeHead(502, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ error: { code: 'LEADER_UNREACHABLE', message: 'the leader did not answer in time' } }));
        return;
      }
      response.writeHead(answer.status, { 'content-type': 'application/json' });
      response.end(text);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const before = await report();
      const paused = await run(['pause', '--reason', 'lossy network'], { BRIDGECTL_CONTROLLER_URL: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` });
      assert.equal(paused.code, EXIT.ok, paused.out + paused.err);
      assert.equal(seen.length, 2, 'tried twice');
      assert.match(seen[0]!, /^bridgectl-[0-9a-f-]{36}$/);
      assert.equal(seen[1], seen[0], 'with the same key');
      assert.ok((await report()).status?.paused, 'paused');
      const entries = (await store.store.readAudit(50)).filter((e) => e.reason === 'lossy network');
      assert.equal(entries.length, 1, `applied once: ${JSON.stringify(entries.map((e) => e.action))}`);
      assert.equal((await report()).snapshot.version, before.snapshot.version + (entries[0]!.action === 'flags.publish' ? 1 : 0));
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
      await run(['resume', '--reason', 'network fixed']);
    }
  });

  test('read-only on|off: switched through the admin API, shown by status, audited; a repeat exits 4; bad usage says what to type', async () => {
    const on = await run(['read-only', 'on', '--reason', 'checksum investigation']);
    assert.equal(on.code, EXIT.ok, on.out + on.err);
    assert.match(on.out, /^read-only: new sends are refused with READ_ONLY on every endpoint; accepted messages are still delivered \(flag snapshot version \d+\)$/m);
    const after = await report();
    assert.equal(after.snapshot.contingencies?.readOnly.enabled, true);
    assert.equal(after.snapshot.contingencies?.readOnly.by, 'ops-jane');
    const status = await run(['status']);
    assert.match(status.out, /^read-only\s+ON since \S+ \(\d+s ago\), by ops-jane \(cli\): checksum investigation — new sends are refused with READ_ONLY$/m);
    const again = await run(['read-only', 'on', '--reason', 'checksum investigation']);
    assert.equal(again.code, EXIT.nothing, again.out + again.err);
    assert.match(again.out, /^nothing done: already read-only since \S+ \(cli: checksum investigation\); nothing changed$/m);
    const publication = (await store.store.readAudit(50)).find((e) => e.action === 'flags.publish' && e.reason === 'checksum investigation');
    assert.deepEqual([publication?.actor, publication?.trigger], ['ops-jane', 'cli']);

    const noReason = await run(['read-only', 'off']);
    assert.equal(noReason.code, EXIT.usage, noReason.err);
    assert.match(noReason.err, /--reason/);
    const noMode = await run(['read-only', 'maybe', '--reason', 'x']);
    assert.equal(noMode.code, EXIT.usage);
    assert.match(noMode.err, /read-only needs on or off \(got "maybe"\)/);

    const off = await run(['read-only', 'off', '--reason', 'restored']);
    assert.equal(off.code, EXIT.ok, off.out + off.err);
    assert.equal((await report()).snapshot.contingencies?.readOnly.enabled, false);
    assert.match((await run(['status'])).out, /^read-only\s+off$/m);
  });
});

describe('bridgectl with the controller unreachable (a real process)', () => {
  test('bridgectl status exits 3 within a few seconds, naming the URL', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const childEnv: NodeJS.ProcessEnv = { ...process.env, BRIDGECTL_CONTROLLER_URL: url };
    delete childEnv.NODE_TEST_CONTEXT;
    const started = performance.now();
    const child = spawn(process.execPath, ['--conditions=agentbridge-source', '--import', 'tsx', 'tools/bridgectl/src/main.ts', 'status'], { cwd: REPO_ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    clearTimeout(timer);
    assert.equal(code, EXIT.unavailable, err);
    assert.ok(err.includes(`cannot reach the controller at ${url}`), err);
    assert.ok(performance.now() - started < 10_000, 'answered quickly');
  });
});
