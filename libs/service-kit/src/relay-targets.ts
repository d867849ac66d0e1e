import { BlockList, isIP } from 'node:net';
import { z } from 'zod';
import { ConfigError } from './config.js';

/**
 * Where a replica may relay requests to (RELAY_ALLOWED_TARGETS). The addresses of other replicas
 * come from Redis (the replica registry); an address that does not pass this rule is never
 * contacted, so an entry written by someone who can write to Redis reaches nothing outside the
 * bridge's own pods.
 *
 * Entries: an IP address or CIDR (`127.0.0.0/8`, `10.244.0.0/16`, `::1`, `fd00::/8`), matched
 * against an address written as an IP; or a host name, exact (`localhost`) or with `*` standing
 * for exactly one DNS label (`*.agent-bridge-elicitation-replicas.prod.svc`), matched against an
 * address written as a name. Names are not resolved: a name is trusted for what the cluster's DNS
 * makes of it. Any port; the scheme must be http or https, and the address carries no user info.
 */
export class RelayTargetPolicy {
  private readonly networks = new BlockList();
  private readonly names: RegExp[] = [];

  constructor(readonly entries: readonly string[]) {
    for (const entry of entries) {
      const network = parseNetwork(entry);
      if (network) this.networks.addSubnet(network.address, network.prefix, network.family);
      else this.names.push(namePattern(entry));
    }
  }

  static fromSettings(settings: { RELAY_ALLOWED_TARGETS: string[] }): RelayTargetPolicy {
    return new RelayTargetPolicy(settings.RELAY_ALLOWED_TARGETS);
  }

  /** The URL to relay to, or why an address may not be contacted (a sentence for logs and answers). */
  check(address: string): { allowed: true; url: URL } | { allowed: false; why: string } {
    let url: URL;
    try {
      url = new URL(address);
    } catch {
      return { allowed: false, why: 'it is not a URL' };
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return { allowed: false, why: `its scheme ${url.protocol} is not http or https` };
    if (url.username !== '' || url.password !== '') return { allowed: false, why: 'it carries user info' };
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const family = isIP(host);
    const allowed = family !== 0 ? this.networks.check(host, family === 4 ? 'ipv4' : 'ipv6') : this.names.some((pattern) => pattern.test(host.toLowerCase()));
    if (!allowed) return { allowed: false, why: `its host ${host} does not pass RELAY_ALLOWED_TARGETS (${this.entries.length === 0 ? 'none' : this.entries.join(', ')})` };
    return { allowed: true, url };
  }
}

function parseNetwork(entry: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [address, prefixText] = entry.split('/') as [string, string | undefined];
  const family = isIP(address);
  if (family === 0) return undefined;
  const max = family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  return { address, prefix, family: family === 4 ? 'ipv4' : 'ipv6' };
}

function namePattern(entry: string): RegExp {
  const labels = entry
    .toLowerCase()
    .split('.')
    .map((label) => (label === '*' ? '[a-z0-9]([a-z0-9-]*[a-z0-9])?' : label.replace(/[-]/g, '\\-')));
  return new RegExp(`^${labels.join('\\.')}$`);
}

const LABEL = '[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?';
const NAME_ENTRY = new RegExp(`^(\\*|${LABEL})(\\.(\\*|${LABEL}))*$`, 'i');

function validEntry(entry: string): boolean {
  const [address, prefix, extra] = entry.split('/');
  const family = isIP(address!);
  if (family !== 0) return extra === undefined && (prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128)));
  return prefix === undefined && NAME_ENTRY.test(entry);
}

/** Settings of every service that relays requests (docs/configuration.md). */
export const relayTargetSettings = {
  /** Where relayed requests may go: IPs/CIDRs and host names (`*` = one label), comma-separated; `none`: nowhere. */
  RELAY_ALLOWED_TARGETS: z
    .string()
    .transform((value) =>
      value.trim() === 'none'
        ? []
        : value
            .split(',')
            .map((entry) => entry.trim())
            .filter((entry) => entry !== ''),
    )
    .refine((entries) => entries.every(validEntry), 'must be a comma-separated list of IP addresses or CIDRs (10.244.0.0/16, ::1) and host names (localhost, *.agent-bridge-elicitation-replicas.prod.svc, with * for one label), or none')
    .default(['127.0.0.0/8', '::1', 'localhost']),
};

/**
 * In ADVERTISE_URL, stands for the pod's IP (POD_IP) with `.` and `:` written as `-`: the name
 * cluster DNS (CoreDNS) gives each pod behind a headless Service, e.g.
 * `http://{pod-ip-dashed}.agent-bridge-elicitation-replicas.prod.svc:8702`. Such a name resolves
 * only to a pod that Service selects, so an allow rule of `*.<that service>.<namespace>.svc`
 * admits exactly the release's own pods.
 */
const POD_IP_DASHED = '{pod-ip-dashed}';

const advertiseUrl = z.string().refine((value) => URL.canParse(value.replaceAll(POD_IP_DASHED, '10-0-0-1')), `must be a URL such as http://10.0.0.1:8702 (it may contain ${POD_IP_DASHED})`);

/** How the other replicas reach this one (relayed requests). */
export const advertiseSettings = {
  /** How the other replicas reach this one; may contain {pod-ip-dashed}. Default: http://127.0.0.1:PORT. */
  ADVERTISE_URL: advertiseUrl.optional(),
  /** The pod's IP (the chart sets it from the downward API); only read for {pod-ip-dashed}. */
  POD_IP: z
    .string()
    .refine((value) => isIP(value) !== 0, 'must be an IP address')
    .optional(),
};

/** ADVERTISE_URL with {pod-ip-dashed} filled in; a ConfigError-worthy sentence when POD_IP is missing. */
export function resolveAdvertiseUrl<C extends { ADVERTISE_URL?: string | undefined; POD_IP?: string | undefined }>(config: C): C {
  if (!config.ADVERTISE_URL?.includes(POD_IP_DASHED)) return config;
  if (!config.POD_IP) throw new ConfigError(`ADVERTISE_URL contains ${POD_IP_DASHED} but POD_IP is not set: set POD_IP to the pod's IP (fieldRef status.podIP) or give ADVERTISE_URL without it. See docs/configuration.md.`);
  return { ...config, ADVERTISE_URL: config.ADVERTISE_URL.replaceAll(POD_IP_DASHED, config.POD_IP.replace(/[.:]/g, '-')) };
}
