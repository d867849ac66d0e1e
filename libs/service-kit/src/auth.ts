import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { AGENT_ID_PATTERN, AGENT_ID_RULE } from '@agent-bridge/protocol';
import { ConfigError } from './config.js';
import { sendJson } from './http.js';

/**
 * Agent tokens file: only SHA-256 hashes of tokens are stored, so the file (a Kubernetes Secret, or
 * .local/ in dev) never holds a usable credential.
 *   { "agents": [ { "id": "alice", "tokenSha256": "<64 hex>" } ] }
 */
const agentTokensFileSchema = z
  .object({
    agents: z.array(
      z
        .object({
          id: z.string().regex(AGENT_ID_PATTERN, `agent ids must be ${AGENT_ID_RULE}`),
          tokenSha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be the lowercase hex SHA-256 of the token'),
        })
        .strict(),
    ),
  })
  .strict();

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function newAgentToken(): string {
  return `abt_${randomBytes(24).toString('base64url')}`;
}

export class AgentRegistry {
  private readonly byHash = new Map<string, string>();
  private readonly agents = new Set<string>();

  constructor(entries: Array<{ id: string; tokenSha256: string }>) {
    for (const { id, tokenSha256 } of entries) {
      this.byHash.set(tokenSha256, id);
      this.agents.add(id);
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
      const issue = result.error.issues[0]!;
      throw new ConfigError(`AGENT_TOKENS_FILE ${path}: ${issue.path.join('.') || '(file)'} ${issue.message}`);
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

  get size(): number {
    return this.agents.size;
  }
}

/** The answer to a request without a valid agent token (MCP clients read the JSON-RPC error). */
export function sendUnauthorized(response: ServerResponse): void {
  sendJson(response, 401, { jsonrpc: '2.0', error: { code: -32001, message: 'missing or invalid bearer token: send "Authorization: Bearer <your agent token>"' }, id: null }, { 'www-authenticate': 'Bearer realm="agent-bridge"' });
}
