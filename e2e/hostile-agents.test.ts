/**
 * One hostile agent against a real bridge (redis-server, router, legacy-poll, elicitation): each
 * attack gets its documented refusal, and during each one another agent's messages still flow.
 */
import assert from 'node:assert/strict';
import { connect as tcpConnect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { waitFor, type AgentClient } from '@agent-bridge/testkit';
import { assertToolError, mailboxReader, sleep, startBridge, type Bridge } from '@agent-bridge/testkit/bridge';

const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: { elicitation: {} }, clientInfo: { name: 'hostile', version: '0.0.0' } },
};

const LIMITS = {
  SEND_RATE_PER_SECOND: '10',
  SEND_BURST: '30',
  SEND_BACKLOG_MAX: '40',
  MAX_SESSIONS_PER_AGENT: '4',
  MAX_REQUESTS_PER_AGENT: '8',
  SESSION_PING_INTERVAL_MS: '1000',
  SESSION_PING_TIMEOUT_MS: '500',
  // The heartbeat (which pings and expires sessions) runs every third of this.
  PRESENCE_TTL_MS: '3000',
};

type ErrorDetails = { code: string; details?: { retryAfterMs?: number; open?: number } };
const errorOf = (result: Awaited<ReturnType<AgentClient['callTool']>>): ErrorDetails | undefined => (result.isError ? (result.structuredContent as { error: ErrorDetails }).error : undefined);

describe('a hostile agent cannot hurt the others', () => {
  let bridge: Bridge;
  let vera: AgentClient;
  let victor: AgentClient;
  let readVictor: (count: number, deadlineMs?: number) => Promise<Array<{ content: string }>>;
  let flowed = 0;

  before(async () => {
    bridge = await startBridge({ agents: ['vera', 'victor', 'mallory', 'hoarder', 'sink', 'mike', 'sessionist', 'ghost', 'holder'], elicitations: 1, env: LIMITS });
    vera = await bridge.connect('vera');
    victor = await bridge.connect('victor');
    readVictor = mailboxReader(() => victor);
  });
  after(async () => {
    for (const client of [vera, victor]) await client?.close().catch(() => undefined);
    await bridge?.stop();
  });

  /** While `attack` runs, vera's messages to victor (five a second, within her rate) keep arriving, each within a few seconds. */
  async function othersFlowDuring<T>(attack: () => Promise<T>): Promise<T> {
    let attacking = true;
    const flow = (async () => {
      let sent = 0;
      do {
        const content = `still here ${++flowed}`;
        await vera.callToolJson('send_message', { to: 'victor', content });
        const [message] = await readVictor(1, 5_000);
        assert.equal(message?.content, content, 'the bystander message arrived during the attack');
        sent++;
        await sleep(200);
      } while (attacking || sent < 2);
      return sent;
    })();
    try {
      return await attack();
    } finally {
      attacking = false;
      assert.ok((await flow) >= 2);
    }
  }

  const mcp = (replica: 'legacy' | 'elicitation') => (replica === 'legacy' ? bridge.legacyUrls[0]! : `${bridge.elicitationBaseUrls[0]}/mcp`);
  const headers = (agent: string, extra: Record<string, string> = {}) => ({
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    authorization: `Bearer ${bridge.tokens[agent]}`,
    ...extra,
  });

  test('a send flood is refused with RATE_LIMITED and a retry-after; what it may send is bounded by the bucket', async () => {
    const mallory = await bridge.connect('mallory');
    const sink = await bridge.connect('sink');
    const readSink = mailboxReader(() => sink);
    try {
      // The sink reads all the while, so the flood meets the rate limit, not the backlog cap.
      let flooding = true;
      const sunk = (async () => {
        let count = 0;
        while (flooding) count += (await readSink(1, 500)).length;
        return count;
      })();
      const started = Date.now();
      const outcomes = await othersFlowDuring(async () => {
        const results: Array<ErrorDetails | 'accepted'> = [];
        // Four calls at a time, back to back, ignoring every retry-after.
        await Promise.all(
          Array.from({ length: 4 }, async (_, lane) => {
            for (let i = 0; i < 40; i++) {
              const result = await mallory.callTool('send_message', { to: 'sink', content: `flood ${lane}.${i}` });
              results.push(errorOf(result) ?? 'accepted');
            }
          }),
        );
        return results;
      });
      const seconds = (Date.now() - started) / 1000;
      flooding = false;
      const sunkDuring = await sunk;
      const accepted = outcomes.filter((o) => o === 'accepted').length;
      const limited = outcomes.filter((o): o is ErrorDetails => o !== 'accepted' && o.code === 'RATE_LIMITED');
      // While the sink's acknowledgements lag, the backlog cap (40) may answer some calls first.
      const backlogged = outcomes.filter((o) => o !== 'accepted' && o.code === 'BACKLOG_FULL').length;
      assert.equal(
        accepted + limited.length + backlogged,
        160,
        `only accepted, RATE_LIMITED or BACKLOG_FULL: ${JSON.stringify(outcomes.filter((o) => o !== 'accepted' && o.code !== 'RATE_LIMITED' && o.code !== 'BACKLOG_FULL').slice(0, 3))}`,
      );
      assert.ok(limited.length > 0, 'the flood was limited');
      assert.ok(accepted <= 30 + Math.ceil(seconds * 10) + 2, `${accepted} accepted in ${seconds.toFixed(1)} s: at most the burst plus the rate`);
      assert.ok(limited.every((e) => typeof e.details?.retryAfterMs === 'number' && e.details.retryAfterMs > 0 && e.details.retryAfterMs <= 1_000));
      const refusal = await mallory.callTool('send_message', { to: 'sink', content: 'one more' });
      if (refusal.isError) assertToolError(refusal, { code: 'RATE_LIMITED', advice: /Retry after \d+ ms/, mentions: ['10 messages per second'] });
      // Every accepted message is delivered; nothing refused was stored.
      const expected = accepted + (refusal.isError ? 0 : 1);
      const received = sunkDuring + (await readSink(expected - sunkDuring, 20_000)).length;
      assert.equal(received, expected);
      assert.deepEqual(await readSink(1, 1_500), [], 'nothing else reached the sink');
    } finally {
      await mallory.close();
      await sink.close();
    }
  });

  test('a backlog flood to an agent that never reads is refused with BACKLOG_FULL; once delivered, the sender may send again', async () => {
    const hoarder = await bridge.connect('hoarder');
    try {
      const refusal = await othersFlowDuring(async () => {
        for (let i = 0; i < 200; i++) {
          const result = await hoarder.callTool('send_message', { to: 'mike', content: `pile ${i}` });
          const error = errorOf(result);
          if (error?.code === 'RATE_LIMITED') await sleep(error.details!.retryAfterMs!);
          else if (error) return result;
        }
        assert.fail('the backlog was never full');
      });
      assertToolError(refusal, { code: 'BACKLOG_FULL', advice: /Retry once your recipients have received some/, mentions: ['SEND_BACKLOG_MAX 40'] });
      assert.equal(errorOf(refusal)?.details?.open, 40);
      const mike = await bridge.connect('mike');
      try {
        const readMike = mailboxReader(() => mike);
        assert.equal((await readMike(40, 20_000)).length, 40, 'the 40 accepted are all delivered');
        assert.deepEqual(await readMike(1, 200), [], 'and acknowledged (nothing else came)');
        await sleep(1_100); // the backlog is re-counted at most once a second
        const again = await hoarder.callTool('send_message', { to: 'mike', content: 'after the recipient caught up' });
        assert.equal(again.isError, undefined, JSON.stringify(again));
      } finally {
        await mike.close();
      }
    } finally {
      await hoarder.close();
    }
  });

  test('a session flood: the oldest idle session is replaced at MAX_SESSIONS_PER_AGENT, and busy ones are not (429 SESSION_LIMIT)', async () => {
    const opened: string[] = [];
    const streams: AbortController[] = [];
    try {
      await othersFlowDuring(async () => {
        for (let i = 0; i < 12; i++) {
          const answer = await fetch(mcp('elicitation'), { method: 'POST', headers: headers('sessionist'), body: JSON.stringify(INITIALIZE) });
          assert.equal(answer.status, 200, await answer.text());
          opened.push(answer.headers.get('mcp-session-id')!);
        }
      });
      const metrics = await (await fetch(`${bridge.elicitationBaseUrls[0]}/metrics`)).text();
      assert.match(metrics, /agentbridge_sessions_closed_total\{[^}]*reason="replaced"[^}]*\} 8\b/, 'eight replaced: the agent holds four');
      const live = async (sessionId: string) => (await fetch(mcp('elicitation'), { method: 'POST', headers: headers('sessionist', { 'mcp-session-id': sessionId }), body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' }) })).status;
      assert.equal(await live(opened[0]!), 404, 'the oldest was closed');
      for (const sessionId of opened.slice(-4)) assert.equal(await live(sessionId), 200, 'the four newest live');
      // Make the four busy: each holds its GET stream open.
      for (const sessionId of opened.slice(-4)) {
        const controller = new AbortController();
        streams.push(controller);
        const stream = await fetch(mcp('elicitation'), { headers: { ...headers('sessionist', { 'mcp-session-id': sessionId }), accept: 'text/event-stream' }, signal: controller.signal });
        assert.equal(stream.status, 200);
      }
      const refused = await fetch(mcp('elicitation'), { method: 'POST', headers: headers('sessionist'), body: JSON.stringify(INITIALIZE) });
      assert.equal(refused.status, 429);
      assert.equal(refused.headers.get('retry-after'), '5');
      const body = (await refused.json()) as { error: string; code: string };
      assert.equal(body.code, 'SESSION_LIMIT');
      assert.match(body.error, /already holds 4 MCP sessions on this replica.*reuse a session/);
    } finally {
      for (const controller of streams) controller.abort();
    }
  });

  test('a session whose stream stays open but never answers is pinged and closed', async () => {
    const answer = await fetch(mcp('elicitation'), { method: 'POST', headers: headers('ghost'), body: JSON.stringify(INITIALIZE) });
    const sessionId = answer.headers.get('mcp-session-id')!;
    await answer.text();
    // A GET stream read by nobody: the ping it carries is never answered.
    const socket = tcpConnect(Number(new URL(mcp('elicitation')).port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(`GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${bridge.tokens.ghost}\r\nAccept: text/event-stream\r\nMcp-Session-Id: ${sessionId}\r\n\r\n`);
    socket.pause();
    const unresponsiveClosed = async () => /agentbridge_sessions_closed_total\{[^}]*reason="unresponsive"[^}]*\} [1-9]/.test(await (await fetch(`${bridge.elicitationBaseUrls[0]}/metrics`)).text());
    try {
      await othersFlowDuring(async () => {
        const deadline = Date.now() + 10_000;
        while (!(await unresponsiveClosed()) && Date.now() < deadline) await sleep(250);
        assert.ok(await unresponsiveClosed(), 'the unresponsive session was closed');
      });
      const after = await fetch(mcp('elicitation'), { method: 'POST', headers: headers('ghost', { 'mcp-session-id': sessionId }), body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' }) });
      assert.equal(after.status, 404, 'the session is gone');
    } finally {
      socket.destroy();
    }
  });

  test('a request flood: held polls past MAX_REQUESTS_PER_AGENT are refused with 429 TOO_MANY_REQUESTS (legacy-poll; elicitation counts the same way), and the agent is served again once they end', async () => {
    const waitCall = (id: number) => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'wait_for_messages', arguments: { timeout_ms: 30_000 } } });
    const abort = new AbortController();
    await othersFlowDuring(async () => {
      const held = Array.from({ length: 8 }, (_, i) => fetch(mcp('legacy'), { method: 'POST', headers: headers('holder'), body: waitCall(i + 1), signal: abort.signal }).catch(() => undefined));
      let refused: Response | undefined;
      for (let attempt = 0; attempt < 50 && refused?.status !== 429; attempt++) {
        await sleep(100);
        refused = await fetch(mcp('legacy'), { method: 'POST', headers: headers('holder'), body: waitCall(100 + attempt) });
        if (refused.status !== 429) await refused.body?.cancel();
      }
      assert.equal(refused?.status, 429, 'the ninth open request is refused');
      assert.equal(refused!.headers.get('retry-after'), '1');
      const body = (await refused!.json()) as { code: string; error: string };
      assert.equal(body.code, 'TOO_MANY_REQUESTS');
      assert.match(body.error, /agent holder already has 8 requests open on this replica/);
      abort.abort();
      await Promise.all(held);
      const metrics = await (await fetch(`${new URL(bridge.legacyUrls[0]!).origin}/metrics`)).text();
      assert.match(metrics, /agentbridge_agent_requests_refused_total\{[^}]*\} [1-9]/);
      // Once its polls are gone, the agent is served again.
      await waitFor(
        async () => {
          const again = await fetch(mcp('legacy'), { method: 'POST', headers: headers('holder'), body: JSON.stringify({ jsonrpc: '2.0', id: 999, method: 'tools/list' }) });
          await again.body?.cancel();
          return again.status === 200;
        },
        { timeoutMs: 5_000, description: 'the holder to be served again once its polls closed' },
      );
    });
  });

  test('junk tool names, a huge requested_schema, deep JSON, a slow body and a foreign Origin: each refused, none stored, and no new metric series', async () => {
    const mallory = await bridge.connect('mallory');
    try {
      await othersFlowDuring(async () => {
        for (let i = 0; i < 30; i++) {
          const result = await mallory.callTool(`junk-${Math.random().toString(36).slice(2)}`, {});
          assertToolError(result, { code: 'INVALID_ARGUMENT', advice: /available tools/ });
        }
        const legacyMetrics = await (await fetch(`${new URL(bridge.legacyUrls[0]!).origin}/metrics`)).text();
        assert.doesNotMatch(legacyMetrics, /junk-/, 'no series per junk name');
        assert.match(legacyMetrics, /agentbridge_tool_calls_total\{[^}]*tool="unknown"[^}]*\} 30\b/);

        const modern = await bridge.connectModern('mallory');
        try {
          const properties = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`field${i}`, { type: 'string', description: 'x'.repeat(200) }]));
          const huge = await modern.callTool('elicit', { to: 'victor', message: 'fill this in', requested_schema: { type: 'object', properties } });
          assertToolError(huge, { code: 'INVALID_SCHEMA', advice: /./ });
        } finally {
          await modern.close();
        }

        const deep = await fetch(mcp('legacy'), { method: 'POST', headers: headers('mallory'), body: '['.repeat(10_000) + ']'.repeat(10_000) });
        assert.equal(deep.status, 400);
        assert.match(((await deep.json()) as { error: string }).error, /deeper than 64 levels/);

        const foreign = await fetch(mcp('elicitation'), { method: 'POST', headers: headers('mallory', { origin: 'http://evil.example' }), body: JSON.stringify(INITIALIZE) });
        assert.equal(foreign.status, 403);
        assert.match(((await foreign.json()) as { error: string }).error, /Origin "http:\/\/evil\.example" is not allowed/);

        // A body that never finishes: cut off after the body deadline with 408.
        const socket = tcpConnect(Number(new URL(mcp('legacy')).port), '127.0.0.1');
        await new Promise((resolve) => socket.once('connect', resolve));
        let reply = '';
        socket.on('data', (chunk) => (reply += chunk.toString('utf8')));
        socket.write(`POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${bridge.tokens.mallory}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"jsonrpc":`);
        await new Promise((resolve) => socket.once('close', resolve));
        assert.match(reply, /^HTTP\/1\.1 408/);
        assert.match(reply, /did not arrive within 10 s/);
      });
    } finally {
      await mallory.close();
    }
  });
});
