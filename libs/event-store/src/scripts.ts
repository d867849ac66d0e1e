import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Cluster, type ChainableCommander } from 'ioredis';
import type { RedisClient } from './connection.js';
import { LUA_FIELD_TABLES } from './entry-codec.js';

export const SCRIPT_NAMES = [
  'admit_send',
  'reserve_idempotency',
  'append_message',
  'route_message',
  'dead_letter',
  'dead_letter_lane',
  'ack_poll_lane',
  'trim_acknowledged',
  'acquire_lease',
  'renew_lease',
  'release_lease',
  'publish_flags',
  'settle_push',
  'fail_push',
  'drain_push_lane',
  'take_round',
  'settle_round',
  'finish_elicit',
  'fenced_write',
  'close_message',
  'record_owner_feedback',
  'notice_enqueue',
  'notice_claim',
  'notice_settle',
] as const;
type ScriptName = (typeof SCRIPT_NAMES)[number];

/** A Lua script from `src/lua/<name>.lua`, run by SHA with a fallback to EVAL after a Redis restart (NOSCRIPT). */
export class LuaScript {
  readonly sha: string;

  constructor(
    readonly name: string,
    readonly source: string,
  ) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: RedisClient, keys: string[], args: Array<string | number>): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('NOSCRIPT')) {
        return redis.eval(this.source, keys.length, ...keys, ...args);
      }
      throw error;
    }
  }

  /** Queues the script on a pipeline; call `ensureLoaded` first so EVALSHA cannot miss. */
  queue(pipeline: ChainableCommander, keys: string[], args: Array<string | number>): void {
    pipeline.evalsha(this.sha, keys.length, ...keys, ...args);
  }

  /** On a cluster, on every primary: a pipeline of scripts goes to whichever owns the keys. */
  async ensureLoaded(redis: RedisClient): Promise<void> {
    for (const node of redis instanceof Cluster ? redis.nodes('master') : [redis]) {
      const [exists] = (await node.script('EXISTS', this.sha)) as number[];
      if (!exists) await node.script('LOAD', this.source);
    }
  }
}

/**
 * Scripts run under a second name with `flags=allow-oom`: the same code, for callers whose write
 * must get through when Redis is full (see each name's use).
 */
const ALLOW_OOM_VARIANTS = { append_answer: 'append_message' } as const satisfies Record<string, ScriptName>;

export type ScriptSet = Record<ScriptName | keyof typeof ALLOW_OOM_VARIANTS, LuaScript>;

const cached = new Map<boolean, ScriptSet>();

/** A line `--- @include <name>` in a script is replaced by `lua-includes/<name>.lua` (or the generated `fields`). */
const INCLUDE_LINE = /^--- @include ([a-z_]+)[ \t]*$/gm;

/**
 * The `fields` include: the stream entry field names of entry-codec.ts as Lua tables
 * (`EVENT.messageId` is 'm'), so scripts and TypeScript read and write the same names.
 */
export function fieldsInclude(): string {
  const tables = Object.entries(LUA_FIELD_TABLES).map(
    ([table, fields]) =>
      `local ${table} = { ${Object.entries(fields)
        .map(([name, field]) => `${name} = '${field}'`)
        .join(', ')} }`,
  );
  return ['-- fields: generated from entry-codec.ts by scripts.ts (fieldsInclude).', ...tables].join('\n');
}

/** A script's source with its includes expanded; an include that does not exist fails loudly, naming the script. */
export function expandIncludes(name: string, source: string, readInclude: (include: string) => string = readIncludeFile): string {
  return source.replace(INCLUDE_LINE, (_, include: string) => {
    if (include === 'fields') return fieldsInclude();
    try {
      return readInclude(include).trimEnd();
    } catch (error) {
      throw new Error(`lua/${name}.lua includes "${include}", which is not a file in lua-includes/ (${(error as Error).message})`, { cause: error });
    }
  });
}

function readIncludeFile(include: string): string {
  return readFileSync(new URL(`./lua-includes/${include}.lua`, import.meta.url), 'utf8');
}

/** Every `redis.call('PUBLISH', …)` of a script: a bell. */
const PUBLISH_CALL = /redis\.call\('PUBLISH',/g;

/**
 * The scripts, loaded once per variant. `shardedPubSub` (a Redis Cluster) rings bells with
 * SPUBLISH: a bell's channel carries its shard's hash tag, so it is in the slot of the keys the
 * script touches and reaches only the node that owns that slot and its replicas, instead of every
 * node of the cluster.
 */
export function loadScripts(options: { shardedPubSub?: boolean } = {}): ScriptSet {
  const sharded = options.shardedPubSub === true;
  const known = cached.get(sharded);
  if (known) return known;
  const scripts = {} as ScriptSet;
  for (const name of SCRIPT_NAMES) {
    const source = expandIncludes(name, readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8'));
    scripts[name] = new LuaScript(name, sharded ? source.replace(PUBLISH_CALL, "redis.call('SPUBLISH',") : source);
  }
  for (const [variant, name] of Object.entries(ALLOW_OOM_VARIANTS)) {
    scripts[variant as keyof typeof ALLOW_OOM_VARIANTS] = new LuaScript(variant, `#!lua flags=allow-oom\n${scripts[name].source}`);
  }
  cached.set(sharded, scripts);
  return scripts;
}
