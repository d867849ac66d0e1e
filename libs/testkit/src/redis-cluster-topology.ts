/**
 * Reading a Redis Cluster's state from its nodes' own words: CLUSTER NODES, CLUSTER INFO
 * and INFO replication, parsed, and the one health rule the harness waits for.
 */

export const CLUSTER_SLOTS = 16384;

export type ClusterRole = 'primary' | 'replica';

/** A slot range, both ends included. */
export type SlotRange = readonly [number, number];

/** One line of CLUSTER NODES. */
export interface ClusterNodesLine {
  id: string;
  port: number;
  myself: boolean;
  role: ClusterRole;
  /** Id of the primary a replica follows; undefined for a primary. */
  primaryId: string | undefined;
  /** `fail` or `fail?` (PFAIL) is set: the node that printed the line cannot reach this one. */
  failing: boolean;
  slots: SlotRange[];
}

/**
 * Parse CLUSTER NODES: `<id> <ip:port@cport[,hostname]> <flags> <primary> <ping-sent>
 * <pong-recv> <config-epoch> <link-state> <slot>...`. Slots being migrated
 * (`[slot->-id]`, `[slot-<-id]`) are not owned yet and are left out.
 */
export function parseClusterNodes(text: string): ClusterNodesLine[] {
  const lines: ClusterNodesLine[] = [];
  for (const raw of text.split('\n')) {
    const fields = raw.trim().split(' ');
    if (fields.length < 8) continue;
    const [id = '', address = '', flagList = '', primary = '-'] = fields;
    const flags = flagList.split(',');
    const port = Number(/:(\d+)@/.exec(address)?.[1]);
    const slots: SlotRange[] = [];
    for (const slot of fields.slice(8)) {
      if (slot.startsWith('[')) continue;
      const [first, last = first] = slot.split('-').map(Number);
      if (first !== undefined && last !== undefined) slots.push([first, last]);
    }
    lines.push({
      id,
      port,
      myself: flags.includes('myself'),
      role: flags.includes('slave') ? 'replica' : 'primary',
      primaryId: primary === '-' ? undefined : primary,
      failing: flags.includes('fail') || flags.includes('fail?'),
      slots,
    });
  }
  return lines;
}

/** `key:value` lines (CLUSTER INFO, INFO sections) as a map. */
export function parseInfoFields(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const at = line.indexOf(':');
    if (at > 0) fields.set(line.slice(0, at), line.slice(at + 1).trim());
  }
  return fields;
}

function slotCount(slots: readonly SlotRange[]): number {
  return slots.reduce((sum, [first, last]) => sum + last - first + 1, 0);
}

export function ownsSlot(slots: readonly SlotRange[], slot: number): boolean {
  return slots.some(([first, last]) => slot >= first && slot <= last);
}

/** What one running node answered. */
export interface NodeReport {
  port: number;
  clusterInfo: Map<string, string>;
  nodes: ClusterNodesLine[];
  replication: Map<string, string>;
  persistence: Map<string, string>;
}

/** The line a node printed about itself. */
export function selfLine(report: NodeReport): ClusterNodesLine | undefined {
  return report.nodes.find((line) => line.myself);
}

/**
 * Why the cluster formed by these running nodes is not healthy yet, or undefined when it is:
 * every node says cluster_state:ok with all slots served, every node sees every other
 * running node reachable and in the role that node gives itself (so a failover has
 * reached everyone), the running primaries own all slots between them, and every
 * replica's link to its primary is up.
 */
export function unhealthyReason(reports: readonly NodeReport[]): string | undefined {
  const selves = new Map<string, ClusterNodesLine>();
  for (const report of reports) {
    const self = selfLine(report);
    if (!self) return `node ${report.port} printed no 'myself' line in CLUSTER NODES`;
    selves.set(self.id, self);
  }
  for (const report of reports) {
    const state = report.clusterInfo.get('cluster_state');
    if (state !== 'ok') return `node ${report.port} says cluster_state:${state ?? '(missing)'}`;
    const slotsOk = Number(report.clusterInfo.get('cluster_slots_ok'));
    if (slotsOk !== CLUSTER_SLOTS) return `node ${report.port} serves ${slotsOk} of ${CLUSTER_SLOTS} slots`;
    for (const self of selves.values()) {
      const seen = report.nodes.find((line) => line.id === self.id);
      if (!seen) return `node ${report.port} does not know node ${self.port} yet`;
      if (seen.failing) return `node ${report.port} sees node ${self.port} as failing`;
      if (seen.role !== self.role || seen.primaryId !== self.primaryId) {
        return `node ${report.port} still sees node ${self.port} as ${seen.role}, while it is a ${self.role} now`;
      }
    }
  }
  const owned = [...selves.values()].filter((self) => self.role === 'primary').reduce((sum, self) => sum + slotCount(self.slots), 0);
  if (owned !== CLUSTER_SLOTS) return `the running primaries own ${owned} of ${CLUSTER_SLOTS} slots`;
  for (const report of reports) {
    const self = selfLine(report);
    if (self?.role !== 'replica') continue;
    const primary = self.primaryId === undefined ? undefined : selves.get(self.primaryId);
    if (!primary) return `replica ${report.port} follows a primary that is not running`;
    const link = report.replication.get('master_link_status');
    if (link !== 'up') return `replica ${report.port} has master_link_status:${link ?? '(missing)'}`;
    if (Number(report.replication.get('master_port')) !== primary.port) {
      return `replica ${report.port} replicates from port ${report.replication.get('master_port')}, not from its primary ${primary.port}`;
    }
  }
  return undefined;
}

/**
 * Which node is still writing the AOF it starts from, or undefined. A replica rewrites its AOF
 * after every full sync, and redis 7.0 refuses a SIGTERM meanwhile ("Writing initial AOF, can't
 * exit") and forgets the signal, so a node that just joined is not done until that rewrite is.
 */
export function aofRewriteReason(reports: readonly NodeReport[]): string | undefined {
  for (const report of reports) {
    if (report.persistence.get('aof_rewrite_in_progress') !== '0' || report.persistence.get('aof_rewrite_scheduled') !== '0') {
      return `node ${report.port} is still rewriting its AOF`;
    }
  }
  return undefined;
}
