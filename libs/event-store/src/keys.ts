/**
 * Every Redis key and channel agent-bridge uses is built here, and nowhere else.
 *
 * Hash tags: all keys of one agent live in the slot of the agent's *shard* (`{s<N>}`), together
 * with that shard's events stream. That is what lets one Lua script append to a target's lane,
 * update the message ledger and ack the shard entry atomically even on Redis Cluster. Control-plane
 * keys (flags, audit, router membership) share the `{control}` tag. See
 * docs/decisions/0001-shard-hash-tags.md.
 */

import type { McpGeneration } from '@agent-bridge/protocol';

export const DEFAULT_KEY_PREFIX = 'ab';

/** Consumer group the routers use on every shard events stream. */
export const ROUTER_GROUP = 'router';
/** Consumer group the elicitation replicas use on push lanes. */
export const PUSH_GROUP = 'push';

export type LaneKind = 'poll' | 'push';

/** The activity sets of a shard: everyone, and by protocol. */
export type ActivityKind = 'any' | 'legacy' | 'elicitation';

/**
 * How long the inventory's usage is kept: last-seen times this long after the agent's last request,
 * a day's counters this long after the day ended. Covers an inventory window of 7 days.
 */
export const USAGE_RETENTION_DAYS = 8;
export const DAY_MS = 24 * 60 * 60 * 1000;

/** The UTC day (`YYYY-MM-DD`) of a time in ms: what the usage counters are kept by. */
export function utcDay(at: number): string {
  return new Date(at).toISOString().slice(0, 10);
}

/** FNV-1a 32-bit: stable across processes and languages, independent of the md5 rollout bucket. */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  const bytes = Buffer.from(text, 'utf8');
  for (const byte of bytes) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/**
 * Doorbell topics: what a process's waiters register for (Doorbell.register) and what the scripts
 * publish on a shard's lanes bell. They name no Redis key, so they need no prefix or shard count.
 */
/** CRC16-CCITT (XMODEM), the checksum Redis Cluster hashes keys with. */
function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/**
 * The Redis Cluster slot of a key (0–16383), as CLUSTER KEYSLOT computes it: only the part between
 * the first `{` and the next `}` is hashed when that part is not empty (the hash tag every key of
 * the store carries, decision 0001).
 */
export function clusterSlot(key: string): number {
  const open = key.indexOf('{');
  const close = open === -1 ? -1 : key.indexOf('}', open + 1);
  const hashed = close > open + 1 ? key.slice(open + 1, close) : key;
  return crc16(new TextEncoder().encode(hashed)) % 16384;
}

export const doorbellTopics = {
  /** A message reached the agent's poll or push lane. */
  lane: (agentId: string, lane: LaneKind): string => `${lane}:${agentId}`,
  /** The answer to `messageId` reached the `elicit` call waiting for it. */
  answer: (messageId: string): string => `answer:${messageId}`,
  /** A shard's events stream has a new entry (its bell's payload names nothing: open.ts maps the channel to this topic). */
  events: (shard: number): string => `events:${shard}`,
} as const;

export class Keys {
  constructor(
    readonly shardCount: number,
    readonly prefix: string = DEFAULT_KEY_PREFIX,
  ) {
    if (!Number.isInteger(shardCount) || shardCount < 1 || shardCount > 4096) {
      throw new RangeError(`shardCount must be an integer from 1 to 4096, got ${shardCount}`);
    }
  }

  shardOf(agentId: string): number {
    return fnv1a32(agentId) % this.shardCount;
  }

  allShards(): number[] {
    return Array.from({ length: this.shardCount }, (_, i) => i);
  }

  private shardTag(shard: number): string {
    return `${this.prefix}:{s${shard}}`;
  }

  private agentTag(agentId: string): string {
    return this.shardTag(this.shardOf(agentId));
  }

  // ---- per shard ----
  events(shard: number): string {
    return `${this.shardTag(shard)}:events`;
  }
  lease(shard: number): string {
    return `${this.shardTag(shard)}:lease`;
  }
  fence(shard: number): string {
    return `${this.shardTag(shard)}:fence`;
  }
  /** Messages without a terminal state (score = when one is due, ms: the deadline, + a grace for an `elicit` question). */
  openMessages(shard: number): string {
    return `${this.shardTag(shard)}:ledger:open`;
  }
  /** Prefix of ledger hashes in a shard; the Lua scripts append the message id. */
  ledgerPrefix(shard: number): string {
    return `${this.shardTag(shard)}:msg:`;
  }
  /**
   * Agents seen lately on the shard (score = last seen ms): `any` for every agent, `legacy` for the
   * legacy-poll endpoint, `elicitation` for push-capable sessions. The owning router's census counts
   * and prunes them.
   */
  activity(shard: number, kind: ActivityKind): string {
    return `${this.shardTag(shard)}:activity:${kind}`;
  }
  /** Agents seen lately on the shard by the MCP generation they spoke (score = last seen ms); counted and pruned like `activity`. */
  generationActivity(shard: number, generation: McpGeneration): string {
    return `${this.shardTag(shard)}:activity:generation:${generation}`;
  }
  /**
   * Agents with inventory usage on the shard (score = last seen ms), kept for the usage retention:
   * the list the controller's inventory starts from. Only authenticated agents are written.
   */
  usageAgents(shard: number): string {
    return `${this.shardTag(shard)}:usage:agents`;
  }
  communicationLog(shard: number): string {
    return `${this.shardTag(shard)}:comm`;
  }
  deadLetters(shard: number): string {
    return `${this.shardTag(shard)}:dead`;
  }
  /** Messages of the shard dead-lettered for an envelope checksum mismatch (a counter; the controller reads the sum). */
  checksumMismatches(shard: number): string {
    return `${this.shardTag(shard)}:checksum:mismatches`;
  }
  /** Doorbell for routers: rung (`events`) when the shard's events stream gets an entry. */
  eventsBell(shard: number): string {
    return `${this.shardTag(shard)}:bell:events`;
  }
  /** Doorbell for endpoints: payload `poll:<agent>`, `push:<agent>` or `answer:<messageId>`. */
  lanesBell(shard: number): string {
    return `${this.shardTag(shard)}:bell:lanes`;
  }

  // ---- per message (ledger lives in the target agent's shard) ----
  ledger(targetAgentId: string, messageId: string): string {
    return `${this.ledgerPrefix(this.shardOf(targetAgentId))}${messageId}`;
  }
  ledgerInShard(shard: number, messageId: string): string {
    return `${this.ledgerPrefix(shard)}${messageId}`;
  }

  // ---- per agent ----
  lane(agentId: string, lane: LaneKind): string {
    return `${this.agentTag(agentId)}:lane:${lane}:${agentId}`;
  }
  /** Hash: `seq` (last sequence number issued), `acked` (last acknowledged poll-lane id), `last` (last poll-lane id). */
  mailbox(agentId: string): string {
    return `${this.agentTag(agentId)}:mailbox:${agentId}`;
  }
  presence(agentId: string): string {
    return `${this.agentTag(agentId)}:presence:${agentId}`;
  }
  /** The agent's send token bucket (hash: tokens, at; sends_until: the expiry last set on openSends), read and written by admit_send.lua. */
  sendQuota(agentId: string): string {
    return `${this.agentTag(agentId)}:quota:${agentId}`;
  }
  /** The agent's sends accepted and maybe not delivered yet (member = target "\n" message id, score = deadline ms): its backlog. */
  openSends(agentId: string): string {
    return `${this.agentTag(agentId)}:sends:${agentId}`;
  }
  /** Lease of the replica currently pushing to this agent: exactly one replica pushes to an agent at a time. */
  pushLease(agentId: string): string {
    return `${this.agentTag(agentId)}:pushlease:${agentId}`;
  }
  pushFence(agentId: string): string {
    return `${this.agentTag(agentId)}:pushfence:${agentId}`;
  }
  /**
   * A push-lease holder's liveness (a replica process's deliverers): exists, with a short TTL, while
   * the process renews it. Push leases bound to it (owner `<holder>/<n>`) live long and are not
   * renewed one by one; once this key is gone, anyone may release them (pushLeaseHolder).
   */
  pushHolder(holder: string): string {
    return `${this.prefix}:{control}:push:holder:${holder}`;
  }
  /** Agents of a shard whose push lane is not empty (the router's drain looks here). */
  pushAgents(shard: number): string {
    return `${this.shardTag(shard)}:push:agents`;
  }
  /**
   * A pending `elicit` call of `senderId` waiting for the answer to `messageId` (hash: state
   * waiting | answered | expired, answer). It lives in the sender's slot, where the reply arrives.
   */
  elicitWait(senderId: string, messageId: string): string {
    return `${this.agentTag(senderId)}:elicit:${messageId}`;
  }
  /**
   * The agent's last-seen times for the inventory (sorted set, score = ms): members `any`, `legacy`,
   * `elicitation` and `generation:<MCP generation>`. Expires after the usage retention.
   */
  usageSeen(agentId: string): string {
    return `${this.agentTag(agentId)}:usage:seen:${agentId}`;
  }
  /** The agent's counters of one UTC day (`YYYY-MM-DD`; hash `calls:<protocol>`, `messages:<protocol>`), expiring after the usage retention. */
  usageDay(agentId: string, day: string): string {
    return `${this.agentTag(agentId)}:usage:day:${agentId}:${day}`;
  }
  /** A key in the agent's slot that never holds data: stands in for an optional script key. */
  placeholder(agentId: string): string {
    return `${this.agentTag(agentId)}:none`;
  }
  /** Idempotency records live in the *sender's* slot: a key is scoped to the agent that sent it. */
  idempotency(senderId: string, idempotencyKey: string): string {
    return `${this.agentTag(senderId)}:idem:${senderId}:${idempotencyKey}`;
  }

  // ---- control plane ----
  /** The store's layout (hash: `shard_count`), recorded by the first process that opens it and checked by every later one. */
  layout(): string {
    return `${this.prefix}:{control}:layout`;
  }
  flagSnapshot(): string {
    return `${this.prefix}:{control}:flags`;
  }
  /** An admin request by its Idempotency-Key: what it asked (a fingerprint) and, once done, its answer. */
  adminRequest(idempotencyKey: string): string {
    return `${this.prefix}:{control}:admin-request:${idempotencyKey}`;
  }
  flagChannel(): string {
    return `${this.prefix}:{control}:flags:changed`;
  }
  audit(): string {
    return `${this.prefix}:{control}:audit`;
  }
  /** Leader lease of the controllers (`owner|fence`); every controller write is fenced by it. */
  controllerLease(): string {
    return `${this.prefix}:{control}:controller:lease`;
  }
  controllerFence(): string {
    return `${this.prefix}:{control}:controller:fence`;
  }
  /**
   * The FeatureFlags status (JSON): in local mode the status itself; in Kubernetes mode the status
   * as of the last flag publication, written with it (the resource's status may lag it: decision 0006).
   */
  controllerStatus(): string {
    return `${this.prefix}:{control}:controller:status`;
  }
  /** A system snapshot taken before a cutover (JSON: flags, rollout, backlog, legacy inventory), by id; one per cutover attempt. */
  systemSnapshot(id: string): string {
    return `${this.prefix}:{control}:system-snapshot:${id}`;
  }
  /** The id of the last system snapshot. */
  latestSystemSnapshot(): string {
    return `${this.prefix}:{control}:system-snapshot:latest`;
  }
  /** Hash: `<service>/<replica>` → JSON {version, at}: which flag snapshot each live process applies. */
  flagsApplied(): string {
    return `${this.prefix}:{control}:flags:applied`;
  }
  /** Stream of adoption samples (field `s`, JSON), capped by age and length: the progress page's chart. */
  adoptionSamples(): string {
    return `${this.prefix}:{control}:progress:adoption`;
  }
  /** Owner feedback from the progress page: latest answer per agent (hash), when (sorted set), counts per score (hash). */
  ownerFeedback(part: 'answers' | 'times' | 'counts'): string {
    return `${this.prefix}:{control}:progress:feedback:${part}`;
  }
  routerMembers(): string {
    return `${this.prefix}:{control}:routers`;
  }
  /** Owner notification ledger (notice_*.lua): the milestones recorded, oldest first (zset: milestone → first recorded at, ms). */
  noticeMilestones(): string {
    return `${this.prefix}:{control}:notify:milestones`;
  }
  /** A milestone's notices: `n|<owner>` → the notice, `s|<channel>|<owner>` → its state on that channel. */
  notices(milestone: string): string {
    return `${this.prefix}:{control}:notify:m:${milestone}`;
  }
  /** A milestone's counts: `owners`, `<channel>|<state>`. */
  noticeCounts(milestone: string): string {
    return `${this.prefix}:{control}:notify:c:${milestone}`;
  }
  /** A channel's notices to send (zset: `<milestone>|<owner>` → when due, ms; a claim's end while one is sending). */
  noticesDue(channel: string): string {
    return `${this.prefix}:{control}:notify:due:${channel}`;
  }
  /** Live replicas of a service and the URL other replicas reach them at (session forwarding). */
  replicas(service: string): string {
    return `${this.prefix}:{control}:replicas:${service}`;
  }
}
