/**
 * Redis connections per process (CLIENT LIST). The services name their connections
 * (`<service>:<replica>:<role>`, libs/event-store/src/connection.ts), so a connection belongs to
 * the process its name's first two parts name; an unnamed one is matched by its source port to the
 * process holding that socket (/proc/net/tcp inodes against each process's /proc/<pid>/fd).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { Redis } from 'ioredis';

export interface ConnectionCount {
  /** The process: `<service>:<replica>` from the connection name, or a name given to a pid. */
  owner: string;
  connections: number;
  /** The roles (third part of the names: commands, doorbell, …) with their counts. */
  roles: Record<string, number>;
}

/** The socket inodes of the local TCP ports (IPv4 and IPv6) of this network namespace. */
function inodesByLocalPort(): Map<number, string> {
  const byPort = new Map<number, string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10) continue;
      const port = Number.parseInt(fields[1]!.split(':')[1]!, 16);
      byPort.set(port, fields[9]!);
    }
  }
  return byPort;
}

function socketInodesOf(pid: number): Set<string> {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (match) inodes.add(match[1]!);
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    // exited
  }
  return inodes;
}

/**
 * Every client connection of the Redis `admin` is connected to, by owning process. `pids` names
 * the processes an unnamed connection may belong to; one matching none is counted as "unknown".
 */
export async function connectionsByProcess(admin: Redis, pids: Record<string, number | undefined>): Promise<ConnectionCount[]> {
  const list = (await admin.client('LIST')) as string;
  const ownId = Number(await admin.client('ID'));
  const counts = new Map<string, ConnectionCount>();
  const add = (owner: string, role: string) => {
    const count = counts.get(owner) ?? { owner, connections: 0, roles: {} };
    count.connections++;
    count.roles[role] = (count.roles[role] ?? 0) + 1;
    counts.set(owner, count);
  };
  let inodes: Map<number, string> | undefined;
  let socketsOf: Map<string, Set<string>> | undefined;
  for (const line of list.split('\n').filter((l) => l.trim())) {
    if (Number(/(?:^| )id=(\d+)/.exec(line)?.[1]) === ownId) continue;
    const name = /(?:^| )name=(\S*)/.exec(line)?.[1] ?? '';
    const parts = name.split(':');
    if (parts.length >= 2 && parts[0]) {
      add(`${parts[0]}:${parts[1]}`, parts.slice(2).join(':') || '-');
      continue;
    }
    const port = Number(/(?:^| )addr=\S*:(\d+)(?: |$)/.exec(line)?.[1]);
    inodes ??= inodesByLocalPort();
    socketsOf ??= new Map(Object.entries(pids).flatMap(([owner, pid]) => (pid === undefined ? [] : [[owner, socketInodesOf(pid)] as const])));
    const inode = inodes.get(port);
    const owner = [...socketsOf].find(([, sockets]) => inode !== undefined && sockets.has(inode))?.[0] ?? 'unknown';
    add(owner, name || 'unnamed');
  }
  return [...counts.values()].sort((a, b) => b.connections - a.connections);
}
