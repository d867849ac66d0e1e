/**
 * The delivery side of envelope checksums (decision 0024): before a lane entry reaches its agent
 * (a poll, a push, a 2026 round) its payload is checked against the checksum the sender's copy got
 * when it was stored. A mismatch is never delivered: the entry is dead-lettered (its ledger record
 * ends `dead_lettered`, the shard's mismatch count rises, and the controller switches read-only mode
 * on when configured), counted and logged. Entries without a checksum (routed before checksums
 * existed) are delivered as before.
 */
import type { IntegrityStore, LaneKind } from '@agent-bridge/event-store';
import type { BridgeMetrics, Logger } from '@agent-bridge/observability';
import { lanePayloadIntact, type PollLanePayload, type PushLanePayload } from '@agent-bridge/protocol';

export interface IntegrityDeps {
  store: Pick<IntegrityStore, 'deadLetterLaneEntry'>;
  metrics: BridgeMetrics;
  logger: Logger;
}

export type DeliveryStage = 'poll' | 'push' | 'round';

/**
 * True when the entry may be delivered; false when it failed its checksum, or its payload no longer
 * decodes (`corrupt`), and it was dead-lettered: either way the stored copy is not what the sender
 * sent, and the lane goes on past it.
 */
export async function deliverable(
  deps: IntegrityDeps,
  stage: DeliveryStage,
  agentId: string,
  entry: { id: string; messageId: string; checksum?: string | undefined; corrupt?: string | undefined; payload: PollLanePayload | PushLanePayload },
): Promise<boolean> {
  if (entry.corrupt === undefined && lanePayloadIntact(entry.payload, agentId, entry.checksum)) return true;
  const lane: LaneKind = stage === 'poll' ? 'poll' : 'push';
  const reason = entry.corrupt === undefined ? `envelope checksum mismatch at ${stage} delivery: the ${lane} lane entry is not what the sender sent` : `undecodable ${lane} lane entry at ${stage} delivery: ${entry.corrupt}`;
  deps.logger.error(
    { agentId, messageId: entry.messageId, laneEntryId: entry.id, stage, ...(entry.corrupt !== undefined ? { corrupt: entry.corrupt } : {}) },
    entry.corrupt === undefined ? 'envelope checksum mismatch: the message is dead-lettered, not delivered' : 'undecodable lane entry: the message is dead-lettered, not delivered',
  );
  if (await deps.store.deadLetterLaneEntry(agentId, lane, { id: entry.id, messageId: entry.messageId }, reason)) deps.metrics.checksumMismatches.inc({ stage });
  return false;
}
