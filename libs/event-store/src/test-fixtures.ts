import { after, before, beforeEach } from 'node:test';
import type { Redis } from 'ioredis';
import { newMessageId, toPollPayload, toPushPayload, type Envelope } from '@agent-bridge/protocol';
import { startRedis, type RedisServerHandle } from '@agent-bridge/testkit';
import type { Keys } from './keys.js';
import { RedisEventStore } from './open.js';
import type { EventEntry, RouteDecision } from './types.js';

export function envelope(from: string, to: string, content: string, extra: Partial<Envelope> = {}): Envelope {
  const now = Date.now();
  return {
    id: newMessageId(now),
    kind: 'message',
    from,
    to,
    content,
    metadata: {},
    sourceProtocol: 'legacy',
    acceptedAt: now,
    deadlineAt: now + 60_000,
    ...extra,
  };
}

/** The envelope of a `message` events entry (fails the test for any other kind). */
export function envelopeOf(entry: EventEntry | undefined): Envelope {
  if (entry?.type !== 'message') throw new Error(`expected a message entry, got ${entry?.type}`);
  return entry.envelope;
}

export function pollDecision(entryId: string, env: Envelope): RouteDecision {
  return {
    entryId,
    messageId: env.id,
    target: env.to,
    mode: 'route',
    lane: 'poll',
    via: 'legacy',
    payload: toPollPayload(env),
    communicationEvent: { type: 'communication', subtype: 'legacy_polling', agent_id: env.to, data: { message_id: env.id }, timestamp: Date.now() },
  };
}

export function pushDecision(entryId: string, env: Envelope): RouteDecision {
  return {
    ...pollDecision(entryId, env),
    lane: 'push',
    via: 'elicitation',
    payload: toPushPayload(env),
    pollPayload: toPollPayload(env),
    communicationEvent: { type: 'communication', subtype: 'elicitation', agent_id: env.to, data: { message_id: env.id }, timestamp: Date.now() },
  };
}

export interface StoreFixture {
  server: RedisServerHandle;
  redis: Redis;
  store: RedisEventStore;
}

/**
 * A real redis-server for the test file (started before its tests, removed after them), flushed
 * before each test, with a fresh store on it handed to `use` (assign it to the file's variables).
 */
export function useStoreOnRedis(keys: Keys, use: (fixture: StoreFixture) => void): void {
  let server: RedisServerHandle | undefined;
  let redis: Redis | undefined;
  before(async () => {
    server = await startRedis();
    redis = server.client();
  });
  after(async () => {
    await server?.cleanup();
  });
  beforeEach(async () => {
    await redis!.flushall();
    use({ server: server!, redis: redis!, store: new RedisEventStore(redis!, { keys }) });
  });
}
