/** The legacy inventory: who uses what, owned by whom, how much; every figure from the usage store and the registry. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DAY_MS, utcDay, type AgentUsage } from '@agent-bridge/event-store';
import { BridgeMetrics, createLogger } from '@agent-bridge/observability';
import { InventoryExporter, MAX_LEGACY_AGENT_SERIES, buildInventory, exportInventory, windowDays, type InventoryEntry } from './inventory.js';

const NOW = Date.parse('2026-12-03T12:00:00Z');
const HOUR = 60 * 60 * 1000;
const WEEK = 7 * DAY_MS;
const options = { windowMs: WEEK, maxAgents: 100 };
const day = (daysAgo: number) => utcDay(NOW - daysAgo * DAY_MS);

const registered = [
  { id: 'alice', owner: { name: 'Alice', contact: 'alice@example.com', team: 'search' } },
  { id: 'bob', owner: { name: 'Bob', team: 'search' } },
  { id: 'carol', owner: { name: 'Carol' } },
  { id: 'dave', owner: null },
];
const usage: AgentUsage[] = [
  // Legacy only, on both MCP generations, for three days.
  {
    agentId: 'alice',
    seen: { any: NOW - HOUR, legacy: NOW - HOUR, 'generation:2025-11-25': NOW - HOUR, 'generation:2026-07-28': NOW - 2 * DAY_MS },
    days: { [day(2)]: { 'calls:legacy': 30, 'messages:legacy': 9 }, [day(1)]: { 'calls:legacy': 20 }, [day(0)]: { 'calls:legacy': 10, 'messages:legacy': 3 } },
  },
  // Both endpoints within the window.
  {
    agentId: 'bob',
    seen: { any: NOW - 2 * HOUR, legacy: NOW - 3 * DAY_MS, elicitation: NOW - 2 * HOUR, 'generation:2025-11-25': NOW - 2 * HOUR },
    days: { [day(0)]: { 'calls:elicitation': 4, 'calls:legacy': 2, 'messages:elicitation': 5 } },
  },
  // Elicitation now; its legacy use is older than the window.
  { agentId: 'carol', seen: { any: NOW - 3 * HOUR, legacy: NOW - WEEK - HOUR, elicitation: NOW - 3 * HOUR, 'generation:2026-07-28': NOW - 3 * HOUR }, days: { [day(0)]: { 'calls:elicitation': 1 } } },
  // Seen with a token no longer in the registry, only on the elicitation endpoint without elicitation declared.
  { agentId: 'ghost', seen: { any: NOW - 4 * HOUR }, days: {} },
];

describe('legacy inventory', () => {
  const inventory = buildInventory({ registered, usage, now: NOW, options });
  const entry = (id: string): InventoryEntry => inventory.agents.find((a) => a.agentId === id)!;

  test('every registered agent and every agent seen is listed, most recently seen first, then the never seen', () => {
    assert.deepEqual(
      inventory.agents.map((a) => a.agentId),
      ['alice', 'bob', 'carol', 'ghost', 'dave'],
    );
    assert.equal(inventory.truncated, false);
    assert.equal(inventory.windowMs, WEEK);
    assert.equal(inventory.generatedAt, '2026-12-03T12:00:00.000Z');
  });

  test('protocol is what the agent used within the window: legacy, elicitation, both, or none', () => {
    assert.equal(entry('alice').protocol, 'legacy');
    assert.equal(entry('bob').protocol, 'both');
    assert.equal(entry('carol').protocol, 'elicitation', 'its legacy use is older than the window');
    assert.equal(entry('ghost').protocol, 'none');
    assert.equal(entry('dave').protocol, 'none');
  });

  test('owners come from the registry; an agent seen but not registered has owner null', () => {
    assert.deepEqual(entry('alice').owner, { name: 'Alice', contact: 'alice@example.com', team: 'search' });
    assert.equal(entry('ghost').owner, null);
    assert.equal(entry('dave').owner, null);
  });

  test('last seen times are given per protocol, and generations are those spoken within the window', () => {
    assert.equal(entry('alice').lastSeenAt, new Date(NOW - HOUR).toISOString());
    assert.equal(entry('alice').lastLegacyAt, new Date(NOW - HOUR).toISOString());
    assert.equal(entry('alice').lastElicitationAt, null);
    assert.deepEqual(entry('alice').generations, ['2025-11-25', '2026-07-28']);
    assert.equal(entry('carol').lastLegacyAt, new Date(NOW - WEEK - HOUR).toISOString(), 'shown even outside the window');
    assert.deepEqual(entry('dave').generations, []);
    assert.equal(entry('dave').lastSeenAt, null);
  });

  test('calls and messages per day average over the days from the first counted one through today', () => {
    // alice: 60 calls and 12 messages over three days (two days ago, yesterday, today).
    assert.equal(entry('alice').callsPerDay, 20);
    assert.equal(entry('alice').messagesPerDay, 4);
    // bob: calls on both endpoints add up, over today only.
    assert.equal(entry('bob').callsPerDay, 6);
    assert.equal(entry('bob').messagesPerDay, 5);
    assert.equal(entry('ghost').callsPerDay, 0);
    assert.equal(entry('dave').messagesPerDay, 0);
  });

  test('byTeam counts every agent once, teams with the most still on legacy first, unowned for agents without a team', () => {
    assert.deepEqual(inventory.byTeam, [
      { team: 'search', legacy: 1, elicitation: 0, both: 1, none: 0, total: 2 },
      { team: 'unowned', legacy: 0, elicitation: 1, both: 0, none: 2, total: 3 },
    ]);
  });

  test('the protocol filter narrows the agents, never the counts by team', () => {
    const legacy = buildInventory({ registered, usage, now: NOW, options, filter: { protocol: 'legacy' } });
    assert.deepEqual(
      legacy.agents.map((a) => a.agentId),
      ['alice'],
    );
    assert.deepEqual(legacy.byTeam, inventory.byTeam);
  });

  test('the inventory is bounded: at most maxAgents, and it says it was cut', () => {
    const small = buildInventory({ registered, usage, now: NOW, options: { ...options, maxAgents: 2 } });
    assert.deepEqual(
      small.agents.map((a) => a.agentId),
      ['alice', 'bob'],
    );
    assert.equal(small.truncated, true);
  });

  test('the window touches eight UTC days for seven days of window (from mid-day)', () => {
    assert.deepEqual(windowDays(NOW, WEEK), [day(7), day(6), day(5), day(4), day(3), day(2), day(1), day(0)]);
  });

  test('agentbridge_agents_by_team gets one series per team and protocol, zeros included', async () => {
    const metrics = new BridgeMetrics('controller');
    exportInventory(metrics, inventory);
    const text = await metrics.registry.metrics();
    assert.match(text, /^agentbridge_agents_by_team\{team="search",protocol="legacy",service="controller"\} 1$/m);
    assert.match(text, /^agentbridge_agents_by_team\{team="search",protocol="both",service="controller"\} 1$/m);
    assert.match(text, /^agentbridge_agents_by_team\{team="search",protocol="none",service="controller"\} 0$/m);
    assert.match(text, /^agentbridge_agents_by_team\{team="unowned",protocol="none",service="controller"\} 2$/m);
    // A team gone from the registry leaves no stale series behind.
    exportInventory(metrics, { ...inventory, agents: [], byTeam: [{ team: 'ads', legacy: 3, elicitation: 0, both: 0, none: 0, total: 3 }] });
    const after = await metrics.registry.metrics();
    assert.doesNotMatch(after, /team="search"/);
    assert.match(after, /^agentbridge_agents_by_team\{team="ads",protocol="legacy",service="controller"\} 3$/m);
  });

  test('the agents still on legacy (legacy or both) get a last-seen series each, at most 100, gone once they migrate', async () => {
    const metrics = new BridgeMetrics('controller');
    exportInventory(metrics, inventory);
    const text = await metrics.registry.metrics();
    assert.match(text, new RegExp(`^agentbridge_legacy_agent_last_seen_timestamp_seconds\\{agent="alice",team="search",service="controller"\\} ${(NOW - HOUR) / 1000}$`, 'm'));
    assert.match(text, /^agentbridge_legacy_agent_last_seen_timestamp_seconds\{agent="bob",team="search",service="controller"\} /m);
    assert.doesNotMatch(text, /agentbridge_legacy_agent_last_seen_timestamp_seconds\{agent="carol"/, 'carol is on elicitation now');
    const many = Array.from({ length: 150 }, (_, i) => ({ agentId: `legacy_${i}`, seen: { any: NOW - i, legacy: NOW - i }, days: {} }));
    exportInventory(metrics, buildInventory({ registered: [], usage: many, now: NOW, options }));
    const lines = (await metrics.registry.metrics()).split('\n').filter((line) => line.startsWith('agentbridge_legacy_agent_last_seen_timestamp_seconds{'));
    assert.equal(lines.length, MAX_LEGACY_AGENT_SERIES);
    assert.ok(lines.some((line) => line.includes('agent="legacy_0"')) && !lines.some((line) => line.includes('agent="legacy_149"')), 'the most recently seen are kept');
  });

  test('the exporter reads at most once per interval, exports only while leading, and a follower drops its series', async () => {
    const metrics = new BridgeMetrics('controller');
    let now = NOW;
    let reads = 0;
    let leader = true;
    const exporter = new InventoryExporter({ read: async () => (reads++, inventory), isLeader: () => leader, metrics, logger: createLogger('test', 'silent'), intervalMs: 60_000, now: () => now });
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    exporter.maybeExport();
    exporter.maybeExport();
    await settle();
    assert.equal(reads, 1, 'one read in flight at a time');
    assert.match(await metrics.registry.metrics(), /agentbridge_agents_by_team\{team="search"/);
    now += 30_000;
    exporter.maybeExport();
    await settle();
    assert.equal(reads, 1, 'not before the interval');
    now += 30_000;
    exporter.maybeExport();
    await settle();
    assert.equal(reads, 2);
    leader = false;
    exporter.newTerm(false);
    const text = await metrics.registry.metrics();
    assert.doesNotMatch(text, /agentbridge_agents_by_team\{/);
    assert.doesNotMatch(text, /agentbridge_legacy_agent_last_seen_timestamp_seconds\{/);
  });
});
