/**
 * The legacy inventory on a running bridge: real agents use the legacy endpoint, the elicitation
 * endpoint (MCP 2025-11-25 session with push, and 2026-07-28) or both, through real MCP SDK
 * clients; the controller reads the same registry file, and `bridgectl agents` and
 * agentbridge_agents_by_team show who is still on legacy, whose agent it is and how much it does.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort, runProgram, startService, waitFor, type AgentClient, type ServiceHandle } from '@agent-bridge/testkit';
import { receive, startBridge, waitForPushReady, type Bridge, type ModernAgent } from '@agent-bridge/testkit/bridge';

const ADMIN = 'e2e-admin-token-0123456789';

interface Inventory {
  windowMs: number;
  agents: Array<{
    agentId: string;
    owner: { name: string; contact?: string; team?: string } | null;
    protocol: string;
    generations: string[];
    lastSeenAt: string | null;
    lastLegacyAt: string | null;
    lastElicitationAt: string | null;
    callsPerDay: number;
    messagesPerDay: number;
  }>;
  byTeam: Array<{ team: string; legacy: number; elicitation: number; both: number; none: number; total: number }>;
}

describe('legacy inventory: who is still on legacy, and whose agent it is', () => {
  let bridge: Bridge;
  let controller: ServiceHandle;
  let controllerUrl: string;
  let legacy: AgentClient;
  let dualLegacy: AgentClient;
  let dualModern: ModernAgent;
  let modern: ModernAgent;
  let stateless: ModernAgent<'2026-07-28'>;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'agent-bridge-inventory-'));
    const flagsFile = join(dir, 'featureflags.yaml');
    // The controller publishes these flags: the same opt-ins the bridge starts with.
    writeFileSync(
      flagsFile,
      'apiVersion: agentbridge.io/v1alpha1\nkind: FeatureFlags\nmetadata:\n  name: agent-bridge\nspec:\n  phase: stabilization\n  flags:\n    elicitation:\n      enabled: true\n      agents: [search_modern, search_2026, billing_dual]\n',
    );
    bridge = await startBridge({
      agents: ['billing_legacy', 'billing_dual', 'search_modern', 'search_2026', 'nobodys_agent'],
      owners: {
        billing_legacy: { name: 'Lee Gacy', contact: 'lee@example.com', team: 'billing' },
        billing_dual: { name: 'Dee Ual', contact: 'https://chat.example.com/c/billing', team: 'billing' },
        search_modern: { name: 'Mo Dern', contact: 'mo@example.com', team: 'search' },
        search_2026: { name: 'Neo', team: 'search' },
      },
      elicitations: 1,
      flags: { 'elicitation.enabled': 'true', 'elicitation.agents': 'search_modern,search_2026,billing_dual' },
      env: { USAGE_FLUSH_INTERVAL_MS: '200', ACTIVITY_RECORD_INTERVAL_MS: '200' },
    });
    const port = await freePort();
    controllerUrl = `http://127.0.0.1:${port}`;
    controller = await startService({
      name: 'controller',
      entry: 'services/controller/src/main.ts',
      // bridge.env carries AGENT_TOKENS_FILE: the controller reads the registry the endpoints use.
      env: { ...bridge.env, PORT: String(port), CONTROLLER_ID: 'ctl-inventory', FEATURE_FLAGS_FILE: flagsFile, ADMIN_TOKEN: ADMIN, WEBHOOK_TOKEN: 'e2e-webhook-token-0123456789', INVENTORY_METRIC_INTERVAL_MS: '5000' },
      readyUrl: `${controllerUrl}/readyz`,
    });

    legacy = await bridge.connect('billing_legacy');
    modern = await bridge.connectModern('search_modern');
    dualLegacy = await bridge.connect('billing_dual');
    dualModern = await bridge.connectModern('billing_dual');
    stateless = await bridge.connectModern('search_2026', { generation: '2026-07-28' });
    await waitForPushReady(bridge, 'search_modern');

    // billing_legacy: sends on the legacy endpoint, gets the answer by polling there.
    await legacy.callToolJson('send_message', { to: 'search_modern', content: 'legacy to modern' });
    await waitFor(async () => modern.received.length === 1, { timeoutMs: 15_000, description: 'the push to search_modern' });
    await receive(legacy, 1, 20_000);
    // billing_dual: a send on each endpoint.
    await dualLegacy.callToolJson('send_message', { to: 'billing_legacy', content: 'dual via legacy' });
    await dualModern.callToolJson('send_message', { to: 'billing_legacy', content: 'dual via elicitation' });
    // search_2026: one call of the 2026-07-28 generation.
    await stateless.callToolJson('send_message', { to: 'billing_legacy', content: 'from 2026' });
  });
  after(async () => {
    for (const client of [legacy, modern, dualLegacy, dualModern, stateless]) await client?.close().catch(() => undefined);
    await controller?.stop();
    await bridge?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const bridgectl = (args: string[]) => runProgram('tools/bridgectl/src/main.ts', ['agents', ...args], { BRIDGECTL_CONTROLLER_URL: controllerUrl, BRIDGECTL_ADMIN_TOKEN: ADMIN });

  async function inventory(args: string[] = []): Promise<Inventory> {
    const result = await bridgectl([...args, '--json']);
    assert.equal(result.code, 0, result.err);
    return JSON.parse(result.out) as Inventory;
  }

  test('bridgectl agents --protocol legacy --json lists the agents on legacy only, with owner, generation and non-zero counts', async () => {
    let listed: Inventory | undefined;
    await waitFor(
      async () => {
        listed = await inventory(['--protocol', 'legacy']);
        const agent = listed.agents.find((a) => a.agentId === 'billing_legacy');
        return agent !== undefined && agent.messagesPerDay >= 2;
      },
      { timeoutMs: 15_000, description: 'billing_legacy in the inventory with its messages counted' },
    );
    assert.deepEqual(
      listed!.agents.map((a) => a.agentId),
      ['billing_legacy'],
    );
    const [agent] = listed!.agents;
    assert.deepEqual(agent!.owner, { name: 'Lee Gacy', contact: 'lee@example.com', team: 'billing' });
    assert.deepEqual(agent!.generations, ['2025-11-25']);
    assert.equal(agent!.lastElicitationAt, null);
    assert.ok(agent!.lastLegacyAt !== null && Date.now() - Date.parse(agent!.lastLegacyAt) < 60_000, agent!.lastLegacyAt ?? 'null');
    // initialize is no tool call: send_message and at least one wait_for_messages.
    assert.ok(agent!.callsPerDay >= 2, `calls ${agent!.callsPerDay}`);
    // One sent, one delivered to it (the answer) at least; others' messages to it may be polled meanwhile.
    assert.ok(agent!.messagesPerDay >= 2, `messages ${agent!.messagesPerDay}`);
  });

  test('the full inventory says elicitation, both and none, with the MCP generations, and counts the push deliveries', async () => {
    let all: Inventory | undefined;
    await waitFor(
      async () => {
        all = await inventory();
        const of = (id: string) => all!.agents.find((a) => a.agentId === id);
        return of('billing_dual')?.protocol === 'both' && of('search_2026')?.protocol === 'elicitation' && (of('search_modern')?.messagesPerDay ?? 0) >= 1;
      },
      { timeoutMs: 15_000, description: 'every agent in the inventory with its protocol' },
    );
    const of = (id: string) => all!.agents.find((a) => a.agentId === id)!;
    assert.equal(of('search_modern').protocol, 'elicitation');
    assert.deepEqual(of('search_modern').generations, ['2025-11-25']);
    assert.equal(of('search_modern').messagesPerDay, 1, 'the one message pushed to it');
    assert.deepEqual(of('search_2026').generations, ['2026-07-28']);
    assert.ok(of('search_2026').callsPerDay >= 1);
    assert.equal(of('billing_dual').protocol, 'both');
    assert.ok(of('billing_dual').messagesPerDay >= 2, `billing_dual sent two: ${of('billing_dual').messagesPerDay}`);
    assert.equal(of('nobodys_agent').protocol, 'none');
    assert.equal(of('nobodys_agent').owner, null);
    assert.equal(of('nobodys_agent').lastSeenAt, null);

    const table = await bridgectl(['--protocol', 'both']);
    assert.equal(table.code, 0, table.err);
    assert.match(table.out, /^billing_dual\s+both\s+2025-11-25\s+\d+s ago\s+[\d.]+\s+[\d.]+\s+Dee Ual\s+https:\/\/chat\.example\.com\/c\/billing\s+billing$/m);
  });

  test('agentbridge_agents_by_team counts the agents of each team by protocol', async () => {
    const series = (text: string, team: string, protocol: string) => new RegExp(`^agentbridge_agents_by_team\\{team="${team}",protocol="${protocol}"[^}]*\\} (\\d+)$`, 'm').exec(text)?.[1];
    let text = '';
    await waitFor(
      async () => {
        text = await (await fetch(`${controllerUrl}/metrics`)).text();
        return series(text, 'billing', 'both') === '1' && series(text, 'search', 'elicitation') === '2';
      },
      { timeoutMs: 15_000, description: 'agentbridge_agents_by_team after the traffic' },
    );
    assert.equal(series(text, 'billing', 'legacy'), '1');
    assert.equal(series(text, 'billing', 'both'), '1');
    assert.equal(series(text, 'search', 'legacy'), '0');
    assert.equal(series(text, 'search', 'elicitation'), '2');
    assert.equal(series(text, 'unowned', 'none'), '1');
  });
});
