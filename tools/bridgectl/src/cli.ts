import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { openEventStore, type OpenedEventStore } from '@agent-bridge/event-store';
import { FLAG_PATHS, FlagsError, applyFlagAssignment, flagSettingsOf, parseFlagFile, publishFlags, readPublishedFlags, renderFlagFile, type FlagSettings } from '@agent-bridge/flags';
import { ConfigError, commonSettings, loadConfig } from '@agent-bridge/service-kit';
import { EXIT, InputError, UsageError, requireReason, type Output } from './common.js';
import { ControllerRequestError, ControllerUnavailableError, DEFAULT_CONTROLLER_URL } from './controller-client.js';
import { CONTROLLER_COMMANDS, runControllerCommand } from './controller-commands.js';
import { renderAuditEntry } from './history.js';
import { reshardCommand } from './reshard-command.js';

export { EXIT, type Output } from './common.js';

const USAGE = `bridgectl — operate agent-bridge

Usage:
  bridgectl flags show [--json]                      the flag snapshot every service applies
  bridgectl flags set <flag>=<value>... --reason R   change flags (published as a new version, audited);
                                                     refused while a controller runs, unless --force
  bridgectl flags apply -f <file.yaml> --reason R    publish the flags of a YAML flag file
  bridgectl history [--limit N] [--json]             the audit trail (flag changes, controller actions), oldest first
  bridgectl message <message_id> [--json]            one message's lifecycle from the ledger
  bridgectl reshard --to N [--dry-run] [--json]      change the shard count of a drained, stopped bridge (every agent's
                                                     keys move to its new shard; docs/operations.md "Changing the shard count")

The controller (its HTTP API; see docs/operations.md, "bridgectl and the controller"):
  bridgectl status [--json]                          the controller: phase, stage, pause, rollback, adoption, gates
  bridgectl rollback <full|partial|canary> --reason R [--step N] [--agents a,b*]
                                                     roll back (partial: --step points, default the plan's partialStep;
                                                     canary: --agents, default the plan's canary agents)
  bridgectl promote [--full] [--reason R]            skip the rest of the hold (--full: to the last stage)
  bridgectl pause --reason R                         hold the current stage (no promotion, no analysis)
  bridgectl resume [--reason R]                      lift a pause or a rollback
  bridgectl read-only <on|off> --reason R            read-only mode: new sends refused (READ_ONLY), delivery goes on
  bridgectl simulate (--agents a,b,c | --present [--window 5m] [--limit N]) [--file featureflags.yaml] [--json]
                                                     who is on elicitation at each stage of the plan (and now)
  bridgectl ab [--json]                              the A/B test: legacy against elicitation per metric, with the
                                                     interval, p-value and verdict (spec.abTest)
  bridgectl scorecard [--json]                       the go/no-go scorecard: decision points, phase gates, final
                                                     acceptance, each pass / fail / pending with its value
  bridgectl drill [--agent ID] [--no-wait]           a rollback drill: the agent (default spec.rollback.drill.agent)
                                                     to legacy and back, trigger-to-effect time measured
  bridgectl deprecation [--json]                     the deprecation schedule: each step, when, what it does or did, and
                                                     (dry run) what would happen when and how many owners would be told
  bridgectl cutover [--json]                         the cutover sequence: guard, system snapshot, watch, outcome
  bridgectl cutover rollback --reason R              trip the cutover's breaker: legacy serves again with the snapshot's flags
  bridgectl agents [--protocol legacy|elicitation|both|none] [--json]
                                                     the legacy inventory: each agent's protocol, MCP generations,
                                                     last seen, calls and messages per day, owner, contact, team
  bridgectl notifications [--milestone M] [--json]   owner notifications per milestone and channel: sent, pending,
                                                     skipped, failed (--milestone: each owner's)
  bridgectl apply -f <featureflags.yaml>             local mode: validate the FeatureFlags file and write it where
                                                     the controller watches (BRIDGECTL_FEATURE_FLAGS_FILE)

Flags: ${FLAG_PATHS.join(', ')}
Lists (elicitation.agents, elicitation.excludedAgents) are comma-separated; "*" globs are allowed.

Environment: REDIS_URL, SHARD_COUNT, KEY_PREFIX (the same values the services use);
BRIDGECTL_CONTROLLER_URL (default ${DEFAULT_CONTROLLER_URL});
BRIDGECTL_ADMIN_TOKEN, or BRIDGECTL_ADMIN_TOKEN_FILE (default .local/admin-token, written by make up);
BRIDGECTL_FEATURE_FLAGS_FILE (default deploy/local/featureflags.yaml, what make up's controller watches);
BRIDGECTL_ACTOR names you in the audit trail (default: your login name).

Exit codes: 0 done, 1 failed, 2 wrong command line, configuration or file, 3 store or controller
unreachable, 4 the controller changed nothing (already paused, already rolled back…).
`;

const cliSettings = z.object({ REDIS_URL: commonSettings.REDIS_URL, REDIS_CLUSTER_NODES: commonSettings.REDIS_CLUSTER_NODES, SHARD_COUNT: commonSettings.SHARD_COUNT, KEY_PREFIX: commonSettings.KEY_PREFIX });

export async function runBridgectl(argv: string[], env: NodeJS.ProcessEnv, io: Output): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: false,
    options: {
      json: { type: 'boolean' },
      force: { type: 'boolean' },
      reason: { type: 'string' },
      file: { type: 'string', short: 'f' },
      limit: { type: 'string' },
      step: { type: 'string' },
      agents: { type: 'string' },
      full: { type: 'boolean' },
      present: { type: 'boolean' },
      window: { type: 'string' },
      agent: { type: 'string' },
      'no-wait': { type: 'boolean' },
      protocol: { type: 'string' },
      milestone: { type: 'string' },
      to: { type: 'string' },
      'dry-run': { type: 'boolean' },
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
      (opened ??= await openEventStore({
        url: config.REDIS_URL,
        ...(config.REDIS_CLUSTER_NODES ? { clusterNodes: config.REDIS_CLUSTER_NODES } : {}),
        name: 'bridgectl',
        shardCount: config.SHARD_COUNT,
        keyPrefix: config.KEY_PREFIX,
        commandTimeoutMs: 3_000,
      }));

    if (CONTROLLER_COMMANDS.has(command)) {
      return await runControllerCommand(command, positionals.slice(1), { env, io, json, actor, values, openStore: open });
    }
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
        await refuseWhileControllerLeads(store, values.force === true);
        const result = await publishFlags(store, (current) => assignments.reduce<FlagSettings>((settings, [path, value]) => applyFlagAssignment(settings, path, value), current), { actor, reason, trigger: 'cli' });
        return report(io, json, result);
      }
      case 'flags apply': {
        if (!values.file || typeof values.file !== 'string') throw new UsageError('flags apply needs -f <file.yaml>');
        const reason = requireReason(values.reason);
        const file = values.file;
        const settings = parseFlagFile(readFileSync(file, 'utf8'), file);
        const { store } = await open();
        await refuseWhileControllerLeads(store, values.force === true);
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
        for (const entry of entries) io.out(renderAuditEntry(entry));
        return EXIT.ok;
      }
      case 'reshard':
        return await reshardCommand(values.to, values['dry-run'] === true, json, open, io);
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
    if (error instanceof InputError) {
      io.err(`bridgectl: ${error.message}\n`);
      return EXIT.usage;
    }
    if (error instanceof ControllerUnavailableError) {
      io.err(`bridgectl: ${error.message}\n`);
      return EXIT.unavailable;
    }
    if (error instanceof ControllerRequestError) {
      const plain = error.status === 401 || error.code.startsWith('HTTP_') || error.code === 'NOT_JSON' || error.code === 'NOT_A_REPORT' || error.code === 'BAD_ANSWER';
      io.err(`bridgectl: ${plain ? '' : `the controller answered ${error.code}: `}${error.message}\n`);
      // 400: the arguments were wrong; 502/503: no leader can act now (retry); anything else failed.
      return error.status === 400 ? EXIT.usage : error.status === 502 || error.status === 503 ? EXIT.unavailable : EXIT.failed;
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

/**
 * A running controller republishes its own computation within a second, so a direct publication
 * would silently come undone: say so, unless --force (e.g. the controller is wedged).
 */
async function refuseWhileControllerLeads(store: { controllerLeaseHolder(): Promise<string | null> }, force: boolean): Promise<void> {
  const leader = await store.controllerLeaseHolder();
  if (leader && !force) {
    throw new FlagsError(
      'FLAGS_OWNED_BY_CONTROLLER',
      `controller ${leader} owns the flag snapshot and would publish its own flags again within a second; change the FeatureFlags resource (bridgectl apply -f) or use bridgectl rollback|promote|pause|resume — or add --force to publish anyway`,
    );
  }
}
