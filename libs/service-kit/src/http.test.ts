import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { readRawBody, sendJson, startHttpServer, type HttpServerHandle } from './http.js';

let http: HttpServerHandle;

before(async () => {
  http = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    routes: {
      '/echo': async (request, response) => {
        const body = await readRawBody(request, 1_000, 300);
        sendJson(response, 200, { bytes: body.length });
      },
    },
  });
});
after(async () => {
  await http.close(1_000);
});

/** Sends `head` and then `parts` with pauses, over a raw socket; resolves with what came back and when. */
function rawExchange(head: string, parts: string[], pauseMs: number): Promise<{ text: string; afterMs: number }> {
  return new Promise((resolve, reject) => {
    const startedAt = Date.now();
    const socket = connect(http.port, '127.0.0.1', async () => {
      socket.write(head);
      for (const part of parts) {
        await new Promise((r) => setTimeout(r, pauseMs));
        if (!socket.destroyed) socket.write(part);
      }
    });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('close', () => resolve({ text, afterMs: Date.now() - startedAt }));
    socket.on('error', reject);
  });
}

describe('request bodies', () => {
  test('a whole body is read', async () => {
    const response = await fetch(`http://127.0.0.1:${http.port}/echo`, { method: 'POST', body: 'x'.repeat(500) });
    assert.deepEqual(await response.json(), { bytes: 500 });
  });

  test('a body over the limit is a 413 and the connection is closed', async () => {
    const { text } = await rawExchange('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n', ['y'.repeat(2_000)], 10);
    assert.match(text, /^HTTP\/1\.1 413/);
    assert.match(text, /larger than 1000 bytes/);
  });

  test('a body that trickles in past the deadline is a 408 with a sentence, and the connection is closed', async () => {
    const { text, afterMs } = await rawExchange('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n', ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'], 100);
    assert.match(text, /^HTTP\/1\.1 408/);
    assert.match(text, /did not arrive within 0\.3 s of its headers; send the whole body at once/);
    assert.match(text, /connection: close/i);
    assert.ok(afterMs < 2_000, `answered at the deadline, not when the client gave up (${afterMs} ms)`);
  });
});

describe('draining (the first step of a shutdown)', () => {
  test('readiness turns 503 at once, a held response ends its connection, a request that arrives gets 503 SHUTTING_DOWN, a new connection is refused', async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const draining = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      routes: {
        '/readyz': (_request, response) => sendJson(response, 200, { status: 'ready' }),
        '/hold': async (_request, response) => {
          await held;
          sendJson(response, 200, { held: true });
        },
        '/fast': (_request, response) => sendJson(response, 200, { fast: true }),
      },
    });
    const exchange = (head: string) =>
      new Promise<{ socket: ReturnType<typeof connect>; done: Promise<string> }>((resolve, reject) => {
        const socket = connect(draining.port, '127.0.0.1', () => {
          socket.write(head);
          resolve({ socket, done });
        });
        let text = '';
        socket.setEncoding('utf8');
        socket.on('data', (chunk: string) => (text += chunk));
        const done = new Promise<string>((settle) => socket.on('close', () => settle(text)));
        socket.on('error', reject);
      });
    const hold = await exchange('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n');
    // A request whose headers are on their way when the drain starts.
    const late = await exchange('GET /fast HTTP/1.1\r\nHost: x\r\n');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const startedAt = Date.now();
    draining.drain();
    late.socket.write('\r\n');
    const lateText = await late.done;
    assert.match(lateText, /^HTTP\/1\.1 503/);
    assert.match(lateText, /"code":"SHUTTING_DOWN"/);
    assert.match(lateText, /retry-after: 1/i);
    assert.match(lateText, /connection: close/i);
    // Readiness fails at once: a probe's new connection is refused (one already open would get 503).
    await assert.rejects(fetch(`http://127.0.0.1:${draining.port}/readyz`), 'the listener is closed: a new connection is refused');
    release();
    const holdText = await hold.done;
    assert.match(holdText, /^HTTP\/1\.1 200/);
    assert.match(holdText, /connection: close/i, 'the held response ends its kept-alive connection');
    await draining.close(5_000);
    assert.ok(Date.now() - startedAt < 2_000, `closed as soon as its connections ended (${Date.now() - startedAt} ms)`);
  });
});
