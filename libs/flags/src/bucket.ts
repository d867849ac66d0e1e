import { createHash } from 'node:crypto';

/**
 * The strategy's rollout bucket, 0..99:
 * `int(hashlib.md5(agent_id.encode()).hexdigest()[:8], 16) % 100`.
 * The first 8 hex digits are the first 4 digest bytes read big-endian.
 */
export function agentBucket(agentId: string): number {
  return createHash('md5').update(agentId, 'utf8').digest().readUInt32BE(0) % 100;
}
