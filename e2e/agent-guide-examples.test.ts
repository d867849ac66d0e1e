import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO_ROOT, startService, type ServiceHandle } from '@agent-bridge/testkit';
import { mailboxReader, startBridge, startHoldingProxy, waitForLedger, waitForPushReady, type Bridge } from '@agent-bridge/testkit/bridge';

test('every code excerpt in docs/agent-guide.md that names an example file is verbatim in that file', () => {
  const guide = readFileSync(join(REPO_ROOT, 'docs/agent-guide.md'), 'utf8');
  const excerpts = [...guide.matchAll(/```ts\n *\/\/ from (docs\/examples\/[\w.-]+\.ts)\n([\s\S]*?)\n *```/g)];
  assert.ok(excerpts.length >= 6, `found ${excerpts.length} excerpts`);
  // Compared line by line without leading spaces: an excerpt nested in a list is indented by the list.
  const lines = (text: string) => text.split('\n').map((line) => line.trimStart());
  for (const [, file, code] of excerpts) {
    const excerpt = lines(code!).join('\n');
    assert.ok(
      lines(readFileSync(join(REPO_ROOT, file!), 'utf8'))
        .join('\n')
        .includes(excerpt),
      `an excerpt of ${file} in the guide is not in the file:\n${code}`,
    );
  }
});

/**
 * The two agents of docs/agent-guide.md (docs/examples/agent-2026.ts and agent-2025.ts), run as
 * their own processes exactly as the guide says, against a whole bridge: a legacy sender's
 * messages are echoed once each and in order, the agents stop cleanly on SIGTERM, and an agent
 * restarted with its state file answers a message it is offered again without handling it twice.
 */
const EXAMPLES = [
  { generation: '2026-07-28', entry: 'docs/examples/agent-2026.ts', echo: 'echo26', dup: 'dup26' },
  { generation: '2025-11-25', entry: 'docs/examples/agent-2025.ts', echo: 'echo25', dup: 'dup25' },
] as const;

describe('the agent guide examples', () => {
  let bridge: Bridge;
  let alice: Awaited<ReturnType<Bridge['connect']>>;
  const dir = mkdtempSync(join(tmpdir(), 'agent-guide-examples-'));
  const running: ServiceHandle[] = [];

  /** alice's next `count` messages (replies), acknowledged as she goes. */
  const aliceReceives = mailboxReader(() => alice);

  const startExample = async (entry: string, agent: string, url: string, stateFile: string) => {
    const handle = await startService({
      name: `${agent}-${running.length + 1}`,
      entry,
      env: { BRIDGE_URL: url, AGENT_TOKEN: bridge.tokens[agent]!, STATE_FILE: stateFile },
      readyLogLine: /connected to /,
    });
    running.push(handle);
    return handle;
  };
  const lines = (handle: ServiceHandle, pattern: RegExp) => handle.logs().filter((line) => pattern.test(line));

  before(async () => {
    bridge = await startBridge({
      agents: ['alice', ...EXAMPLES.flatMap((e) => [e.echo, e.dup])],
      elicitations: 1,
      flags: {
        'elicitation.enabled': 'true',
        'elicitation.agents': EXAMPLES.flatMap((e) => [e.echo, e.dup]).join(','),
        // A message whose answer was lost stays on the push lane and is offered to the agent again
        // (with auto-fallback it could come by wait_for_messages instead; both paths de-duplicate).
        autoFallback: 'false',
      },
      env: { POLL_RECHECK_MS: '300' },
    });
    alice = await bridge.connect('alice');
  });
  after(async () => {
    await Promise.all(running.filter((handle) => handle.running).map((handle) => handle.kill9()));
    await alice?.close();
    await bridge?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const example of EXAMPLES) {
    test(`${example.entry} (${example.generation}) echoes a legacy sender's messages once each, in order, and stops cleanly on SIGTERM`, async () => {
      const url = `${bridge.elicitationBaseUrls[0]}/mcp`;
      const agent = await startExample(example.entry, example.echo, url, join(dir, `${example.echo}.json`));
      await waitForPushReady(bridge, example.echo);

      const sent: string[] = [];
      for (let i = 0; i < 6; i++) {
        const { message_id: id } = await alice.callToolJson<{ message_id: string }>('send_message', { to: example.echo, content: `hello ${i}` });
        sent.push(id);
      }
      const replies = await aliceReceives(6);
      assert.deepEqual(
        replies.map((m) => [m.from, m.reply_to, m.content]),
        sent.map((id, i) => [example.echo, id, `echo: hello ${i}`]),
        'one reply per message, in the order sent',
      );
      for (const id of sent) await waitForLedger(bridge, id, example.echo, (r) => r.state === 'answered' && r.via === 'elicitation', `${id} answered by elicitation`);
      assert.deepEqual(
        lines(agent, /^\S+ handled msg_\S+ from /).map((line) => line.match(/handled (msg_\S+)/)?.[1]),
        sent,
        'each message handled once, found by the message id in _meta',
      );
      assert.deepEqual(await aliceReceives(1, 2_500), [], 'no second reply');

      // docs/examples/ask.ts on the same generation: elicit waits for the agent's form answer.
      const ask = await startService({
        name: `ask-${example.echo}`,
        entry: 'docs/examples/ask.ts',
        args: ['ready?'],
        env: { BRIDGE_URL: url, AGENT_TOKEN: bridge.tokens.alice!, ASK: example.echo, MCP_PROTOCOL: example.generation },
      });
      assert.deepEqual(await ask.exited, { code: 0, signal: null }, ask.logs().join('\n'));
      const asked = JSON.parse(ask.logs().at(-1)!) as { action: string; content?: { response?: string }; responder: string; via: string };
      assert.deepEqual([asked.action, asked.content?.response, asked.responder, asked.via], ['accept', 'echo: ready?', example.echo, 'elicitation']);

      const exit = await agent.stop();
      assert.deepEqual(exit, { code: 0, signal: null }, `exits 0 on SIGTERM:\n${agent.logs().join('\n')}`);
      assert.ok(lines(agent, /stopped$/).length === 1);
    });
  }

  for (const example of EXAMPLES) {
    test(`${example.entry} (${example.generation}) restarted with its state file answers a message offered again as before, without handling it twice`, async () => {
      // Deterministic crash window: a proxy swallows the request carrying the agent's answer (the
      // 2026 round's retry, or the 2025 JSON-RPC response to the push). By then the agent has
      // recorded the message id and its answer in its state file; we kill -9 it while the bridge
      // has received nothing. The bridge offers the message again (the round's lease expires after
      // the answer window; the push fails, its stream gone or its time up, and goes back to the
      // push lane), and a second process on the same state file answers it from the file.
      const stateFile = join(dir, `${example.dup}.json`);
      const proxy = await startHoldingProxy(`${bridge.elicitationBaseUrls[0]}/mcp`);
      try {
        const first = await startExample(example.entry, example.dup, proxy.url, stateFile);
        await waitForPushReady(bridge, example.dup);
        const held = proxy.holdNextAnswer();
        const { message_id: id } = await alice.callToolJson<{ message_id: string }>('send_message', { to: example.dup, content: 'remember me' });
        await held;
        const recorded = new Map(JSON.parse(readFileSync(stateFile, 'utf8')) as Array<[string, unknown]>);
        assert.deepEqual(recorded.get(id), { action: 'accept', content: { response: 'echo: remember me' } }, 'recorded before it answered');
        await first.kill9();
        assert.equal(lines(first, new RegExp(`handled ${id} from alice`)).length, 1);
        assert.notEqual((await bridge.store.store.getMessage(id, example.dup))?.state, 'answered', 'the answer never reached the bridge');

        const second = await startExample(example.entry, example.dup, `${bridge.elicitationBaseUrls[0]}/mcp`, stateFile);
        const replies = await aliceReceives(1, 30_000);
        assert.deepEqual(
          replies.map((m) => [m.reply_to, m.content]),
          [[id, 'echo: remember me']],
          'one reply, the answer recorded by the first process',
        );
        await waitForLedger(bridge, id, example.dup, (r) => r.state === 'answered', 'answered');
        assert.equal(lines(second, new RegExp(`already handled ${id}: answering as before`)).length, 1, second.logs().join('\n'));
        assert.deepEqual(lines(second, /^\S+ handled msg_\S+ from /), [], 'the second process did not handle it again');
        assert.deepEqual(await aliceReceives(1, 2_500), [], 'no second reply');
        assert.deepEqual(await second.stop(), { code: 0, signal: null });
      } finally {
        await proxy.close();
      }
    });
  }
});
