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
