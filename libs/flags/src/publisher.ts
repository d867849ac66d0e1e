import { FlagsError } from './errors.js';
import { diffFlags, type FlagChange } from './flag-file.js';
import { isDeepStrictEqual } from 'node:util';
import { DEFAULT_FLAGS, flagSettingsOf, parseFlagSnapshot, type Contingencies, type FlagSettings, type FlagSnapshot, type RolloutState } from './snapshot.js';

/** What the publisher needs from the store (the event store's ControlStore satisfies it). */
export interface FlagPublicationStore {
  readFlagSnapshotJson(): Promise<string | null>;
  publishFlagSnapshotJson(
    snapshotJson: string,
    expectedVersion: number,
    audit: { at: string; actor: string; action: string; reason: string; trigger?: string; changes?: FlagChange[]; details?: Record<string, unknown> },
    leaseValue?: string,
    controllerStatusJson?: string,
  ): Promise<{ status: 'published'; version: number; auditId: string } | { status: 'conflict' | 'fenced'; currentVersion: number }>;
}

export interface PublishRequest {
  actor: string;
  reason: string;
  /** What caused the change: `cli`, `flag-file`, `controller`, `alert:<name>`… */
  trigger: string;
  details?: Record<string, unknown>;
  /** The controller's lease: publish only while it is held (a deposed leader publishes nothing). */
  leaseValue?: string;
  /** Changes the rollout state (phase, stage, rollbacks); without it the current state is carried forward. */
  rollout?: (current: RolloutState) => RolloutState;
  /** The contingencies in force (read-only mode, load shedding); without it the current ones are carried forward. */
  contingencies?: Contingencies;
  /** The controller's status with the snapshot of `version`, stored in the same atomic step as the snapshot. */
  controllerStatus?: (version: number) => string;
}

export type PublishFlagsResult = { status: 'published'; snapshot: FlagSnapshot; previous: FlagSnapshot; changes: FlagChange[]; auditId: string } | { status: 'unchanged'; snapshot: FlagSnapshot };

export async function readPublishedFlags(store: FlagPublicationStore): Promise<FlagSnapshot> {
  const json = await store.readFlagSnapshotJson();
  return json === null ? DEFAULT_FLAGS : parseFlagSnapshot(JSON.parse(json));
}

/**
 * Publishes new flag settings as the next snapshot version, with one audit entry listing every
 * changed flag (old and new value), the actor, trigger and reason. `edit` receives the current
 * settings; when another publisher wins the race the edit is re-applied to the newer snapshot.
 * Publishing settings equal to the current ones does nothing and says so.
 */
export async function publishFlags(store: FlagPublicationStore, edit: (current: FlagSettings) => FlagSettings, request: PublishRequest): Promise<PublishFlagsResult> {
  if (request.reason.trim() === '') throw new FlagsError('FLAGS_INVALID', 'a flag change needs a reason (it goes into the audit trail)');
  for (let attempt = 0; attempt < 5; attempt++) {
    const previous = await readPublishedFlags(store);
    const settings = edit(flagSettingsOf(previous));
    const changes = diffFlags(flagSettingsOf(previous), settings);
    const rollout = request.rollout ? request.rollout(structuredClone(previous.rollout)) : previous.rollout;
    const rolloutChanged = !isDeepStrictEqual(rollout, previous.rollout);
    const contingencies = request.contingencies ?? previous.contingencies;
    const contingenciesChanged = !isDeepStrictEqual(contingencies, previous.contingencies);
    if (changes.length === 0 && !rolloutChanged && !contingenciesChanged && previous.version > 0) return { status: 'unchanged', snapshot: previous };
    const snapshot = parseFlagSnapshot({
      ...settings,
      rollout,
      contingencies,
      version: previous.version + 1,
      publishedAt: new Date().toISOString(),
      publishedBy: request.actor,
    });
    const outcome = await store.publishFlagSnapshotJson(
      JSON.stringify(snapshot),
      previous.version,
      {
        at: snapshot.publishedAt,
        actor: request.actor,
        action: 'flags.publish',
        reason: request.reason,
        trigger: request.trigger,
        changes,
        details: {
          version: snapshot.version,
          ...(rolloutChanged ? { rollout: { from: previous.rollout, to: snapshot.rollout } } : {}),
          ...(contingenciesChanged ? { contingencies: { from: previous.contingencies, to: snapshot.contingencies } } : {}),
          ...(request.details ?? {}),
        },
      },
      request.leaseValue,
      request.controllerStatus?.(snapshot.version),
    );
    if (outcome.status === 'published') return { status: 'published', snapshot, previous, changes, auditId: outcome.auditId };
    if (outcome.status === 'fenced') throw new FlagsError('FLAGS_FENCED', `${request.actor} no longer holds the controller lease; the snapshot was not published`);
  }
  throw new FlagsError('FLAGS_CONFLICT', 'the flag snapshot kept changing under us (5 attempts); try again');
}
