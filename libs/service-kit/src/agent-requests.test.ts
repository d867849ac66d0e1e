import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { AgentRequestLimiter } from './agent-requests.js';
import { startHttpServer, type HttpServerHandle } from './http.js';

// A real HTTP server whose /hold route keeps each request open until released, behind the limiter.
describe('AgentRequestLimiter on a real HTTP server', () => {
  const limiter = new AgentRequestLimiter(2);
  const holding: Array<() => void> = [];
  let http: HttpServerHandle;
  before(async () => {
    http = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      onError: () => undefined,
      routes: {
        '/hold': async (request, response) => {
          limiter.admit(String(request.headers['x-agent']), response);
          await new Promise<void>((resolve) => holding.push(resolve));
          response.end('done');
        },
      },
    });
  });
  after(() => http.close(1_000));

  const call = (agent: string, abort?: AbortSignal) =>
    new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
      const req = httpRequest(`${http.url}/hold`, { headers: { 'x-agent': agent }, signal: abort }, (res) => {
        let body = '';
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    });
  const until = async (check: () => boolean) => {
    for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(check());
  };

  test('the request past the limit gets 429 TOO_MANY_REQUESTS with Retry-After; another agent is not affected', async () => {
    const first = [call('alice'), call('alice')];
    await until(() => limiter.openOf('alice') === 2);
    const refused = await call('alice');
    assert.equal(refused.status, 429);
    assert.equal(refused.headers['retry-after'], '1');
    const body = JSON.parse(refused.body);
    assert.equal(body.code, 'TOO_MANY_REQUESTS');
    assert.match(body.error, /agent alice already has 2 requests open on this replica, .*MAX_REQUESTS_PER_AGENT/);
    const bob = call('bob');
    await until(() => limiter.openOf('bob') === 1);
    holding.splice(0).forEach((release) => release());
    assert.deepEqual(
      (await Promise.all([...first, bob])).map((r) => r.status),
      [200, 200, 200],
    );
    await until(() => limiter.agents === 0);
  });

  test('a request the client abandons frees its place', async () => {
    const abort = new AbortController();
    const gone = call('carol', abort.signal).catch(() => 'aborted');
    await until(() => limiter.openOf('carol') === 1);
    abort.abort();
    assert.equal(await gone, 'aborted');
    await until(() => limiter.openOf('carol') === 0);
    assert.equal(limiter.agents, 0, 'an agent with nothing open is forgotten');
    holding.splice(0).forEach((release) => release());
  });
});
