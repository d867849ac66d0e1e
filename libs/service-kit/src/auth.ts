import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { AGENT_ID_PATTERN, AGENT_ID_RULE } from '@agent-bridge/protocol';
import { ConfigError } from './config.js';
import { sendJson } from './http.js';

/** Who answers for an agent: the person or team the legacy inventory names and the notifications reach. */
export interface AgentOwner {
  name: string;
  /** An email address or an http(s) URL (a chat channel, a ticket queue). */
  contact?: string;
  team?: string;
}

const EMAIL = /^[^\s@<>()",;:]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

function isContact(value: string): boolean {
  if (EMAIL.test(value)) return true;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

/** A printable one-line text of 1 to `max` characters. */
const ownerText = (what: string, max: number) =>
  z
    .string({ error: `${what} must be a text` })
    .trim()
    .min(1, { error: `${what} must not be empty` })
    .max(max, { error: `${what} must be at most ${max} characters` })
    .regex(/^[^\p{Cc}]*$/u, { error: `${what} must be one line without control characters` });

const ownerSchema = z.strictObject(
  {
    name: ownerText('owner.name', 200),
    contact: ownerText('owner.contact', 320).refine(isContact, { error: 'owner.contact must be an email address (owner@example.com) or an http(s) URL (https://chat.example.com/team-channel)' }).optional(),
    team: ownerText('owner.team', 100).optional(),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `owner has unknown keys (${issue.keys.map((key) => key.slice(0, 40)).join(', ')}): only name, contact and team are allowed`
        : 'owner must be an object {"name": "…", "contact": "…", "team": "…"} (name required)',
  },
);

/**
 * Agent tokens file: only SHA-256 hashes of tokens are stored, so the file (a Kubernetes Secret, or
 * .local/ in dev) never holds a usable credential. `owner` (optional) names who answers for the
 * agent (the legacy inventory, owner notifications).
 *   { "agents": [ { "id": "alice", "tokenSha256": "<64 hex>", "owner": { "name": "Alice Doe", "contact": "alice@example.com", "team": "search" } } ] }
 */
const agentTokensFileSchema = z
  .object({
    agents: z.array(
      z
        .object({
          id: z.string().regex(AGENT_ID_PATTERN, `agent ids must be ${AGENT_ID_RULE}`),
          tokenSha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be the lowercase hex SHA-256 of the token'),
          owner: ownerSchema.optional(),
        })
        .strict(),
    ),
  })
  .strict();

/** One entry of the registry, without its token hash. */
export interface RegisteredAgent {
  id: string;
  owner: AgentOwner | null;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function newAgentToken(): string {
  return `abt_${randomBytes(24).toString('base64url')}`;
}

export class AgentRegistry {
  private readonly byHash = new Map<string, string>();
  /** Agent id → owner (null: none given). An agent listed twice keeps the first owner given. */
  private readonly agents = new Map<string, AgentOwner | null>();

  constructor(entries: Array<{ id: string; tokenSha256: string; owner?: AgentOwner | undefined }>) {
    for (const { id, tokenSha256, owner } of entries) {
      this.byHash.set(tokenSha256, id);
      if (!this.agents.get(id)) this.agents.set(id, owner ? { ...owner } : null);
    }
  }

  static fromFile(path: string): AgentRegistry {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      throw new ConfigError(`AGENT_TOKENS_FILE ${path} cannot be read as JSON: ${(error as Error).message}`, { cause: error });
    }
    const result = agentTokensFileSchema.safeParse(parsed);
    if (!result.success) {
      throw new ConfigError(`AGENT_TOKENS_FILE ${path}: ${describeIssue(result.error.issues[0]!, parsed)}`);
    }
    return new AgentRegistry(result.data.agents);
  }

  /** The agent a bearer token belongs to, or null. Looks up the token's hash, so timing says nothing about stored tokens. */
  authenticate(request: IncomingMessage): string | null {
    const header = request.headers.authorization;
    if (!header) return null;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) return null;
    return this.byHash.get(hashToken(match[1]!)) ?? null;
  }

  knows(agentId: string): boolean {
    return this.agents.has(agentId);
  }

  /** The agent's owner as the file gives it; null for an agent without one, or not registered. */
  owner(agentId: string): AgentOwner | null {
    const owner = this.agents.get(agentId);
    return owner ? { ...owner } : null;
  }

  /** Every registered agent with its owner, in the file's order. */
  entries(): RegisteredAgent[] {
    return [...this.agents].map(([id, owner]) => ({ id, owner: owner ? { ...owner } : null }));
  }

  get size(): number {
    return this.agents.size;
  }
}

/** Where in the file an issue is ("agents[2] (alice) tokenSha256 …"), and what is wrong. */
function describeIssue(issue: z.core.$ZodIssue, parsed: unknown): string {
  const [top, index] = issue.path;
  if (top !== 'agents' || typeof index !== 'number') return `${issue.path.join('.') || '(file)'} ${issue.message}`;
  const id = (parsed as { agents: Array<{ id?: unknown } | null> }).agents[index]?.id;
  const entry = `agents[${index}]${typeof id === 'string' ? ` (${id.slice(0, 100)})` : ''}`;
  const field = issue.path.slice(2).join('.');
  // Owner messages name their field themselves ("owner.contact must be …").
  return issue.message.startsWith('owner') ? `${entry}: ${issue.message}` : `${entry}${field ? ` ${field}` : ''}: ${issue.message}`;
}

/** The answer to a request without a valid agent token (MCP clients read the JSON-RPC error). */
export function sendUnauthorized(response: ServerResponse): void {
  sendJson(response, 401, { jsonrpc: '2.0', error: { code: -32001, message: 'missing or invalid bearer token: send "Authorization: Bearer <your agent token>"' }, id: null }, { 'www-authenticate': 'Bearer realm="agent-bridge"' });
}
