import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { openEventStore, type OpenedEventStore } from '@agent-bridge/event-store';
import {
  FLAG_PATHS,
  FlagsError,
  applyFlagAssignment,
  flagSettingsOf,
  parseFlagFile,
  publishFlags,
  readPublishedFlags,
  renderFlagFile,
  type FlagSettings,
} from '@agent-bridge/flags';
import { ConfigError, commonSettings, loadConfig } from '@agent-bridge/service-kit';

export interface Output {
  out(text: string): void;
  err(text: string): void;
}

/** Exit codes: 0 done, 1 the operation failed, 2 the command line was wrong, 3 the store is unreachable. */
export const EXIT = { ok: 0, failed: 1, usage: 2, unavailable: 3 } as const;

const USAGE = `bridgectl — operate agent-bridge

Usage:
  bridgectl flags show [--json]                      the flag snapshot every service applies
  bridgectl flags set <flag>=<value>... --reason R   change flags (published as a new version, audited)
  bridgectl flags apply -f <file.yaml> --reason R    publish the flags of a YAML flag file
  bridgectl history [--limit N] [--json]             the audit trail (flag changes), oldest first
  bridgectl message <message_id> [--json]            one message's lifecycle from the ledger

Flags: ${FLAG_PATHS.join(', ')}
Lists (elicitation.agents, elicitation.excludedAgents) are comma-separated; "*" globs are allowed.

Environment: REDIS_URL, SHARD_COUNT, KEY_PREFIX (the same values the services use);
BRIDGECTL_ACTOR names you in the audit trail (default: your login name).
`;

const cliSettings = z.object({ REDIS_URL: commonSettings.REDIS_URL, SHARD_COUNT: commonSettings.SHARD_COUNT, KEY_PREFIX: commonSettings.KEY_PREFIX });

class UsageError extends Error {}

export async function runBridgectl(argv: string[], env: NodeJS.ProcessEnv, io: Output): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: false,
    options: {
      json: { type: 'boolean' },
      reason: { type: 'string' },
      file: { type: 'string', short: 'f' },
      limit: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, sub, ...rest] = positionals;
  if (values.help || !command) {
    io.out(USAGE);
    return values.help ? EXIT.ok : EXIT.usage;
  }
  const json = values.json === true;
  const actor = env.BRIDGECTL_ACTOR ?? `${safeUser()}@bridgectl`;
  let opened: OpenedEventStore | undefined;
  try {
    const config = loadConfig('bridgectl', cliSettings, env);
    const open = async () =>
      (opened ??= await openEventStore({ url: config.REDIS_URL, name: 'bridgectl', shardCount: config.SHARD_COUNT, keyPrefix: config.KEY_PREFIX, commandTimeoutMs: 3_000 }));

    switch (`${command} ${sub ?? ''}`.trim()) {
      case 'flags show': {
        const { store } = await open();
        const snapshot = await readPublishedFlags(store);
        if (json) io.out(`${JSON.stringify(snapshot, null, 2)}\n`);
        else io.out(`# version ${snapshot.version}, published ${snapshot.publishedAt} by ${snapshot.publishedBy}\n${renderFlagFile(flagSettingsOf(snapshot))}`);
        return EXIT.ok;
      }
      case 'flags set': {
        if (rest.length === 0) throw new UsageError('flags set needs at least one <flag>=<value>');
        const reason = requireReason(values.reason);
        const assignments = rest.map((arg) => {
          const eq = arg.indexOf('=');
          if (eq <= 0) throw new UsageError(`"${arg}" is not <flag>=<value>`);
          return [arg.slice(0, eq), arg.slice(eq + 1)] as const;
        });
        const { store } = await open();
        const result = await publishFlags(
          store,
          (current) => assignments.reduce<FlagSettings>((settings, [path, value]) => applyFlagAssignment(settings, path, value), current),
          { actor, reason, trigger: 'cli' },
        );
        return report(io, json, result);
      }
      case 'flags apply': {
        if (!values.file || typeof values.file !== 'string') throw new UsageError('flags apply needs -f <file.yaml>');
        const reason = requireReason(values.reason);
        const file = values.file;
        const settings = parseFlagFile(readFileSync(file, 'utf8'), file);
        const { store } = await open();
        const result = await publishFlags(store, () => settings, { actor, reason, trigger: 'flag-file', details: { file } });
        return report(io, json, result);
      }
      case 'history': {
        const limit = Number(values.limit ?? 20);
        if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new UsageError('--limit must be a whole number from 1 to 10000');
        const { store } = await open();
        const entries = await store.readAudit(limit);
        if (json) {
          io.out(`${JSON.stringify(entries, null, 2)}\n`);
          return EXIT.ok;
        }
        if (entries.length === 0) io.out('no audit entries yet\n');
        for (const entry of entries) {
          io.out(`${entry.at}  ${entry.action}  by ${entry.actor}${entry.trigger ? ` (${entry.trigger})` : ''}: ${entry.reason}\n`);
          for (const change of entry.changes ?? []) io.out(`    ${change.flag}: ${JSON.stringify(change.oldValue)} -> ${JSON.stringify(change.newValue)}\n`);
        }
        return EXIT.ok;
      }
      default:
        if (command === 'message') {
          if (!sub) throw new UsageError('message needs a message id');
          const { store } = await open();
          const record = await store.getMessage(sub);
          if (!record) {
            io.err(`no ledger record for ${sub} (unknown id, or kept past its retention)\n`);
            return EXIT.failed;
          }
          if (json) io.out(`${JSON.stringify(record, null, 2)}\n`);
          else
            io.out(
              Object.entries(record)
                .filter(([, v]) => v !== undefined)
                .map(([k, v]) => `${k.padEnd(14)} ${k.endsWith('At') && typeof v === 'number' ? new Date(v).toISOString() : String(v)}`)
                .join('\n') + '\n',
            );
          return EXIT.ok;
        }
        throw new UsageError(`unknown command "${positionals.join(' ')}"`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`bridgectl: ${error.message}\n\n${USAGE}`);
      return EXIT.usage;
    }
    if (error instanceof FlagsError || error instanceof ConfigError) {
      io.err(`bridgectl: ${error.message}\n`);
      return error instanceof ConfigError ? EXIT.usage : EXIT.failed;
    }
    const code = (error as { code?: string }).code;
    if (code === 'STORE_UNAVAILABLE' || code === 'STORE_DEADLINE_EXCEEDED') {
      io.err(`bridgectl: cannot reach the event store: ${(error as Error).message}. Check REDIS_URL.\n`);
      return EXIT.unavailable;
    }
    io.err(`bridgectl: ${(error as Error).message}\n`);
    return EXIT.failed;
  } finally {
    await opened?.close();
  }
}

function requireReason(reason: unknown): string {
  if (typeof reason !== 'string' || reason.trim() === '') throw new UsageError('say why with --reason "…" (it goes into the audit trail)');
  return reason;
}

function report(io: Output, json: boolean, result: Awaited<ReturnType<typeof publishFlags>>): number {
  if (json) {
    io.out(`${JSON.stringify(result, null, 2)}\n`);
    return EXIT.ok;
  }
  if (result.status === 'unchanged') {
    io.out(`nothing to change: version ${result.snapshot.version} already has these values\n`);
    return EXIT.ok;
  }
  io.out(`published flag snapshot version ${result.snapshot.version} (was ${result.previous.version})\n`);
  for (const change of result.changes) io.out(`  ${change.flag}: ${JSON.stringify(change.oldValue)} -> ${JSON.stringify(change.newValue)}\n`);
  return EXIT.ok;
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}
