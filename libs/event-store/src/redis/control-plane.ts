/**
 * The control plane (ControlStore, and ControllerStore but for its leases and adoption numbers):
 * the effective flag snapshot and its publication (publish_flags), the audit trail, which snapshot
 * each process applies, the controller's status and its admin requests, the communication log.
 */
import { decodeAuditEntry, decodeCommunicationEvent, LOG_FIELDS } from '../entry-codec.js';
import type { AdminRequestReservation, CommunicationLogStore, ControllerStore, ControlStore } from '../store.js';
import type { AppliedFlags, AuditEntry, CommunicationEvent, ControllerLease, PublishOutcome } from '../types.js';
import type { RedisContext, Reply } from './context.js';

/** A report of a process that stopped reporting this long ago is pruned by the next reader. */
const APPLIED_REPORT_LIFETIME_MS = 3_600_000;

type ControllerParts = Pick<ControllerStore, 'reserveAdminRequest' | 'completeAdminRequest' | 'abandonAdminRequest' | 'readControllerStatusJson' | 'writeControllerStatusJson'>;

export class RedisControlPlane implements ControlStore, ControllerParts, CommunicationLogStore {
  constructor(private readonly context: RedisContext) {}

  async readFlagSnapshotJson(): Promise<string | null> {
    return this.context.call('get flags', () => this.context.redis.get(this.context.keys.flagSnapshot()));
  }

  async publishFlagSnapshotJson(snapshotJson: string, expectedVersion: number, audit: AuditEntry, leaseValue = '', controllerStatusJson = ''): Promise<PublishOutcome> {
    const { keys, scripts, options } = this.context;
    const [status, version, auditId] = (await this.context.run(
      scripts.publish_flags,
      [keys.flagSnapshot(), keys.audit(), keys.controllerLease(), keys.controllerStatus()],
      [expectedVersion, snapshotJson, keys.flagChannel(), JSON.stringify(audit), options.auditMaxLength, leaseValue, controllerStatusJson],
    )) as Reply;
    if (status === 'OK') return { status: 'published', version: Number(version), auditId: String(auditId) };
    if (status === 'FENCED') return { status: 'fenced', currentVersion: Number(version) };
    return { status: 'conflict', currentVersion: Number(version) };
  }

  async appendAudit(entry: AuditEntry, leaseValue?: string): Promise<string> {
    const { keys, scripts, options, redis } = this.context;
    if (leaseValue === undefined) {
      return this.context.call('xadd audit', async () => (await redis.xadd(keys.audit(), 'MAXLEN', '~', options.auditMaxLength, '*', LOG_FIELDS.audit, JSON.stringify(entry)))!);
    }
    return String(await this.context.run(scripts.fenced_write, [keys.controllerLease(), keys.audit()], [leaseValue, 'xadd', JSON.stringify(entry), options.auditMaxLength]));
  }

  async readAudit(count: number): Promise<Array<AuditEntry & { id: string }>> {
    const raw = await this.context.call('xrevrange audit', () => this.context.redis.xrevrange(this.context.keys.audit(), '+', '-', 'COUNT', count));
    return raw.reverse().map(([id, flat]) => decodeAuditEntry(id, flat));
  }

  async recordFlagsApplied(service: string, replica: string, version: number): Promise<void> {
    // Reports of processes that died stay behind until someone prunes them: readers drop reports
    // older than APPLIED_REPORT_LIFETIME_MS and ignore the ones older than their window.
    await this.context.call('record flags applied', () => this.context.redis.hset(this.context.keys.flagsApplied(), `${service}/${replica}`, JSON.stringify({ version, at: Date.now() })));
  }

  async readFlagsApplied(since: number): Promise<AppliedFlags[]> {
    const key = this.context.keys.flagsApplied();
    const hash = await this.context.call('read flags applied', () => this.context.redis.hgetall(key));
    const reports: AppliedFlags[] = [];
    const stale: string[] = [];
    for (const [field, json] of Object.entries(hash)) {
      const [service = '', replica = ''] = field.split('/');
      try {
        const { version, at } = JSON.parse(json) as { version: number; at: number };
        if (at >= since) reports.push({ service, replica, version, at });
        else if (at < Date.now() - APPLIED_REPORT_LIFETIME_MS) stale.push(field);
      } catch {
        stale.push(field);
      }
    }
    if (stale.length > 0) await this.context.call('prune flags applied', () => this.context.redis.hdel(key, ...stale));
    return reports;
  }

  async reserveAdminRequest(idempotencyKey: string, fingerprint: string, ttlSeconds: number): Promise<AdminRequestReservation> {
    const { keys, redis } = this.context;
    const key = keys.adminRequest(idempotencyKey);
    const reserved = await this.context.call('reserve admin request', () => redis.set(key, JSON.stringify({ fingerprint }), 'EX', ttlSeconds, 'NX'));
    if (reserved === 'OK') return { status: 'new' };
    const raw = await this.context.call('read admin request', () => redis.get(key));
    if (raw === null) return this.reserveAdminRequest(idempotencyKey, fingerprint, ttlSeconds); // expired in between
    const record = JSON.parse(raw) as { fingerprint: string; answer?: unknown };
    if (record.fingerprint !== fingerprint) return { status: 'conflict' };
    return record.answer === undefined ? { status: 'pending' } : { status: 'done', answer: record.answer };
  }

  async completeAdminRequest(idempotencyKey: string, fingerprint: string, answer: unknown, ttlSeconds: number): Promise<void> {
    await this.context.call('complete admin request', () => this.context.redis.set(this.context.keys.adminRequest(idempotencyKey), JSON.stringify({ fingerprint, answer }), 'EX', ttlSeconds));
  }

  async abandonAdminRequest(idempotencyKey: string): Promise<void> {
    await this.context.call('abandon admin request', () => this.context.redis.del(this.context.keys.adminRequest(idempotencyKey)));
  }

  async readControllerStatusJson(): Promise<string | null> {
    return this.context.call('get controller status', () => this.context.redis.get(this.context.keys.controllerStatus()));
  }

  async writeControllerStatusJson(json: string, lease: ControllerLease): Promise<void> {
    const { keys, scripts } = this.context;
    await this.context.run(scripts.fenced_write, [keys.controllerLease(), keys.controllerStatus()], [lease.value, 'set', json, 0]);
  }

  async writeSystemSnapshotJson(id: string, json: string, lease: ControllerLease): Promise<void> {
    const { keys, scripts } = this.context;
    await this.context.run(scripts.fenced_write, [keys.controllerLease(), keys.systemSnapshot(id)], [lease.value, 'set', json, 0]);
    await this.context.run(scripts.fenced_write, [keys.controllerLease(), keys.latestSystemSnapshot()], [lease.value, 'set', id, 0]);
  }

  async readSystemSnapshotJson(id?: string): Promise<string | null> {
    const { keys, redis } = this.context;
    const wanted = id ?? (await this.context.call('get latest system snapshot', () => redis.get(keys.latestSystemSnapshot())));
    return wanted ? this.context.call('get system snapshot', () => redis.get(keys.systemSnapshot(wanted))) : null;
  }

  async readCommunicationLog(shard: number, count: number): Promise<Array<CommunicationEvent & { id: string }>> {
    const raw = await this.context.call('xrevrange comm', () => this.context.redis.xrevrange(this.context.keys.communicationLog(shard), '+', '-', 'COUNT', count));
    return raw.reverse().map(([id, flat]) => decodeCommunicationEvent(id, flat));
  }
}
