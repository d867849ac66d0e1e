/** bridgectl agents: the legacy inventory from a real controller (local mode) reading a real Redis and the agent registry. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadControllerConfig, startControllerService, type ControllerService } from '@agent-bridge/controller';
import { openEventStore, utcDay, type OpenedEventStore } from '@agent-bridge/event-store';
import { createLogger } from '@agent-bridge/observability';
import { hashToken } from '@agent-bridge/service-kit';
import { freePort, startRedis, waitFor, type RedisServerHandle } from '@agent-bridge/testkit';
import { renderInventory } from './agents-command.js';
import { EXIT, runBridgectl } from './cli.js';
import type { AgentInventory } from './controller-client.js';

const ADMIN = 'bridgectl-admin-token-0123456789';
const HOUR = 60 * 60 * 1000;

describe('bridgectl agents', () => {
  let redis: RedisServerHandle;
  let dir: string;
  let controller: ControllerService;
  let store: OpenedEventStore;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    redis = await startRedis();
    dir = mkdtempSync(join(tmpdir(), 'bridgectl-agents-'));
    const flags = join(dir, 'featureflags.yaml');
    writeFileSync(flags, 'apiVersion: agentbridge.io/v1alpha1\nkind: FeatureFlags\nmetadata:\n  name: agent-bridge\nspec:\n  phase: stabilization\n');
    const tokens = join(dir, 'agent-tokens.json');
    writeFileSync(
      tokens,
      JSON.stringify({
        agents: [
          { id: 'legacy_bot', tokenSha256: hashToken('a'), owner: { name: 'Lee Gacy', contact: 'lee@example.com', team: 'billing' } },
          { id: 'modern_bot', tokenSha256: hashToken('b'), owner: { name: 'Mo Dern', contact: 'https://chat.example.com/c/search', team: 'search' } },
          { id: 'idle_bot', tokenSha256: hashToken('c') },
        ],
      }),
    );
    controller = await startControllerService(
      loadControllerConfig({
        REDIS_URL: redis.url,
        SHARD_COUNT: '4',
        HOST: '127.0.0.1',
        PORT: '0',
        CONTROLLER_ID: 'ctl-agents',
        FEATURE_FLAGS_FILE: flags,
        ADMIN_TOKEN: ADMIN,
        WEBHOOK_TOKEN: 'webhook-token-0123456789',
        AGENT_TOKENS_FILE: tokens,
        RECONCILE_INTERVAL_MS: '100',
        INVENTORY_METRIC_INTERVAL_MS: '5000',
      }),
      createLogger('controller', 'silent'),
    );
    store = await openEventStore({ url: redis.url, name: 'bridgectl-agents-test', shardCount: 4 });
    const now = Date.now();
    await store.store.recordUsage([
      { agentId: 'legacy_bot', seen: { any: now - HOUR, legacy: now - HOUR, 'generation:2025-11-25': now - HOUR }, days: { [utcDay(now)]: { 'calls:legacy': 12, 'messages:legacy': 4 } } },
      { agentId: 'modern_bot', seen: { any: now, elicitation: now, 'generation:2026-07-28': now }, days: { [utcDay(now)]: { 'calls:elicitation': 3 } } },
    ]);
    env = { REDIS_URL: redis.url, SHARD_COUNT: '4', BRIDGECTL_CONTROLLER_URL: controller.url, BRIDGECTL_ADMIN_TOKEN: ADMIN };
  });
  after(async () => {
    await controller?.close();
    await store?.close();
    await redis?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function run(argv: string[], extraEnv: NodeJS.ProcessEnv = {}) {
    let out = '';
    let err = '';
    const code = await runBridgectl(argv, { ...env, ...extraEnv }, { out: (text) => (out += text), err: (text) => (err += text) });
    return { code, out, err };
  }

  test('--protocol legacy --json gives the AgentInventory of the agents on legacy, with owner and counts', async () => {
    const result = await run(['agents', '--protocol', 'legacy', '--json']);
    assert.equal(result.code, EXIT.ok, result.err);
    const inventory = JSON.parse(result.out) as AgentInventory;
    assert.deepEqual(
      inventory.agents.map((a) => a.agentId),
      ['legacy_bot'],
    );
    const [agent] = inventory.agents;
    assert.deepEqual(agent!.owner, { name: 'Lee Gacy', contact: 'lee@example.com', team: 'billing' });
    assert.deepEqual(agent!.generations, ['2025-11-25']);
    assert.equal(agent!.callsPerDay, 12);
    assert.equal(agent!.messagesPerDay, 4);
    assert.equal(inventory.windowMs, 7 * 24 * HOUR);
    assert.deepEqual(
      inventory.byTeam.map((t) => [t.team, t.legacy, t.elicitation, t.none]),
      [
        ['billing', 1, 0, 0],
        ['search', 0, 1, 0],
        ['unowned', 0, 0, 1],
      ],
    );
  });

  test('the table lists every agent with its columns, a never-seen registered one included', async () => {
    const result = await run(['agents']);
    assert.equal(result.code, EXIT.ok, result.err);
    assert.match(result.out, /^agent\s+protocol\s+generation\s+last seen\s+calls\/day\s+messages\/day\s+owner\s+contact\s+team$/m);
    assert.match(result.out, /^modern_bot\s+elicitation\s+2026-07-28\s+\d+s ago\s+3\s+0\s+Mo Dern\s+https:\/\/chat\.example\.com\/c\/search\s+search$/m);
    assert.match(result.out, /^legacy_bot\s+legacy\s+2025-11-25\s+(59m\d\ds|1h) ago\s+12\s+4\s+Lee Gacy\s+lee@example\.com\s+billing$/m);
    assert.match(result.out, /^idle_bot\s+none\s+—\s+never\s+0\s+0\s+—\s+—\s+—$/m);
  });

  test('the leader exports agentbridge_agents_by_team', async () => {
    await waitFor(
      async () => {
        const text = await (await fetch(`${controller.url}/metrics`)).text();
        return /agentbridge_agents_by_team\{team="billing",protocol="legacy"[^}]*\} 1/.test(text);
      },
      { timeoutMs: 10_000, description: 'agentbridge_agents_by_team on /metrics' },
    );
  });

  test('a wrong --protocol is a usage error; a wrong token or an unreachable controller say what to do', async () => {
    const wrong = await run(['agents', '--protocol', 'pigeon']);
    assert.equal(wrong.code, EXIT.usage);
    assert.match(wrong.err, /--protocol must be legacy, elicitation, both, none \(got "pigeon"\)/);
    const token = await run(['agents'], { BRIDGECTL_ADMIN_TOKEN: 'not-the-admin-token-at-all' });
    assert.equal(token.code, EXIT.failed);
    assert.match(token.err, /refused the admin token from BRIDGECTL_ADMIN_TOKEN/);
    const unreachable = await run(['agents'], { BRIDGECTL_CONTROLLER_URL: `http://127.0.0.1:${await freePort()}` });
    assert.equal(unreachable.code, EXIT.unavailable);
    assert.match(unreachable.err, /cannot reach the controller at .*Set BRIDGECTL_CONTROLLER_URL/);
  });

  test('GET /admin/agents refuses a bad protocol and unknown parameters with a sentence, and anything but GET', async () => {
    const headers = { authorization: `Bearer ${ADMIN}` };
    const bad = await fetch(`${controller.url}/admin/agents?protocol=carrier`, { headers });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: { message: string } }).error.message, /protocol must be legacy, elicitation, both, none/);
    const unknown = await fetch(`${controller.url}/admin/agents?team=x`, { headers });
    assert.equal(unknown.status, 400);
    assert.match(((await unknown.json()) as { error: { message: string } }).error.message, /unknown query parameter "team"/);
    const post = await fetch(`${controller.url}/admin/agents`, { method: 'POST', headers });
    assert.equal(post.status, 405);
    const anonymous = await fetch(`${controller.url}/admin/agents`);
    assert.equal(anonymous.status, 401);
  });
});

test('renderInventory says when the list was cut and what the columns count', () => {
  const inventory: AgentInventory = { generatedAt: '2026-12-03T12:00:00.000Z', windowMs: 7 * 24 * HOUR, agents: [], byTeam: [], truncated: true };
  const text = renderInventory(inventory, Date.parse('2026-12-03T12:00:00Z'), 'legacy');
  assert.match(text, /^no agent on legacy in the inventory$/m);
  assert.match(text, /cut at 0 agents: INVENTORY_MAX_AGENTS/);
  assert.match(text, /protocol: what the agent used in the last 7d/);
});
