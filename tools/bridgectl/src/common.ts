import type { OpenedEventStore } from '@agent-bridge/event-store';

export interface Output {
  out(text: string): void;
  err(text: string): void;
}

/**
 * Exit codes: 0 done, 1 the operation failed, 2 the command line (or configuration) was wrong,
 * 3 the store or the controller is unreachable, 4 the controller was asked to do something that
 * changed nothing (already paused, percentage already 0…; its message says why).
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, unavailable: 3, nothing: 4 } as const;

/** A wrong command line: printed with the usage, exit 2. */
export class UsageError extends Error {}

/** Bad input that is not a command-line mistake but still the caller's (an invalid file): exit 2, no usage. */
export class InputError extends Error {}

export function requireReason(reason: unknown): string {
  if (typeof reason !== 'string' || reason.trim() === '') throw new UsageError('say why with --reason "…" (it goes into the audit trail)');
  return reason;
}

/** A fixed-width table: columns padded to their widest cell, two spaces apart. */
export function table(rows: string[][], indent = ''): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => `${indent}${row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')}`.trimEnd()).join('\n') + '\n';
}

/** "3m12s ago" style, for timestamps next to now. */
export function ago(iso: string | undefined, now: number): string {
  if (!iso) return '';
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return '';
  return at > now ? `in ${formatSpan(at - now)}` : `${formatSpan(now - at)} ago`;
}

export function formatSpan(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${s % 60 ? `${String(s % 60).padStart(2, '0')}s` : ''}`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${m % 60 ? `${String(m % 60).padStart(2, '0')}m` : ''}`;
  return `${Math.floor(h / 24)}d${h % 24 ? `${h % 24}h` : ''}`;
}

/** What a command that talks to the controller (or its store) is given. */
export interface ControllerCommandContext {
  env: NodeJS.ProcessEnv;
  io: Output;
  json: boolean;
  actor: string;
  values: Record<string, string | boolean | undefined>;
  openStore: () => Promise<OpenedEventStore>;
  now?: () => number;
}

export function noMoreArgs(command: string, args: string[]): void {
  if (args.length > 0) throw new UsageError(`${command} takes no argument "${args.join(' ')}"`);
}

/** A comma-separated list of agent ids (`--agents a,b,c`). */
export function agentList(value: unknown, flag: string): string[] {
  if (typeof value !== 'string') throw new UsageError(`${flag} needs a comma-separated list of agent ids`);
  const agents = value
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');
  if (agents.length === 0) throw new UsageError(`${flag} needs a comma-separated list of agent ids`);
  return agents;
}
