import { reshardBlockers, reshardStore, type OpenedEventStore } from '@agent-bridge/event-store';
import { EXIT, UsageError, type Output } from './common.js';

/**
 * `bridgectl reshard --to N [--dry-run]`: the shard count of a drained, stopped bridge
 * (docs/operations.md, "Changing the shard count"). Refused, with every reason, while a service
 * runs or anything accepted is still on its way.
 */
export async function reshardCommand(to: unknown, dryRun: boolean, json: boolean, open: () => Promise<OpenedEventStore>, io: Output): Promise<number> {
  const count = typeof to === 'string' && /^\d+$/.test(to) ? Number(to) : NaN;
  if (!Number.isInteger(count) || count < 1 || count > 4096) throw new UsageError('reshard needs --to <shard count>, a whole number from 1 to 4096');
  const { store, redis, keys } = await open();
  if (count === keys.shardCount) {
    io.err(`bridgectl: the store already has ${count} shards (SHARD_COUNT); nothing to do\n`);
    return EXIT.nothing;
  }
  const blockers = await reshardBlockers(store, redis, keys);
  if (blockers.length > 0) {
    io.err(
      `bridgectl: cannot change the shard count now:\n${blockers.map((b) => `  - ${b}\n`).join('')}Switch read-only mode on, wait for a backlog of 0, stop every service, then run this again (docs/operations.md, "Changing the shard count").\n`,
    );
    return EXIT.failed;
  }
  const report = await reshardStore(redis, keys, count, { dryRun });
  if (json) {
    io.out(`${JSON.stringify(report, null, 2)}\n`);
    return EXIT.ok;
  }
  const moved = Object.entries(report.moved)
    .map(([kind, n]) => `${kind} ${n}`)
    .join(', ');
  io.out(
    `${dryRun ? 'would move' : 'moved'} the keys of ${report.agents} agent(s) from ${report.from} to ${report.to} shards: ${moved || 'none had to move'}; ${report.usageListed} agent(s) listed again for the inventory; ${report.leftBehind} key(s) of the shards beyond ${report.to} left behind (dead letters, communication log, counters, ledger records of delivered messages)\n`,
  );
  io.out(dryRun ? 'nothing was changed (--dry-run)\n' : `start every service with SHARD_COUNT=${report.to}\n`);
  return EXIT.ok;
}
