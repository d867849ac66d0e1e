import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventStore } from '@agent-bridge/event-store';
import { httpMethodLabel, type BridgeMetrics, type Logger } from '@agent-bridge/observability';
import { HttpError, InboundRelay, RELAY_ASSERTION_HEADER, RELAYED_BY_HEADER, claimsRelayed, readRawBody, sendJson, type AgentRegistry, type OriginPolicy, type RelayCredential, type RelayTargetPolicy } from '@agent-bridge/service-kit';
import { forwardRequest } from './forwarder.js';

export interface SessionRelayDeps {
  service: string;
  replicaId: string;
  store: Pick<EventStore, 'lookupReplica'>;
  credential: RelayCredential;
  targets: RelayTargetPolicy;
  origins: OriginPolicy;
  registry: AgentRegistry;
  metrics: BridgeMetrics;
  logger: Logger;
  bodyLimit: number;
}

/** Serves a request of a session this replica holds; false when it holds no such session. */
export type ServeSession = (sessionId: string, agentId: string, request: IncomingMessage, response: ServerResponse, raw: Buffer) => Promise<boolean>;

/**
 * Requests of sessions held by another replica, both ways (docs/decisions/0011-inter-replica-credential.md):
 * relayed to the owner at the address the registry in Redis gives, if it passes
 * RELAY_ALLOWED_TARGETS, with an assertion of the agent's identity instead of its token; and
 * received from another replica, served as the identity its assertion names.
 */
export class SessionRelay {
  private readonly audience: string;
  private readonly inbound: InboundRelay;

  constructor(private readonly deps: SessionRelayDeps) {
    this.audience = `${deps.service}/${deps.replicaId}`;
    this.inbound = new InboundRelay({
      credential: deps.credential,
      metrics: deps.metrics,
      logger: deps.logger,
      answerRefusal: (response, why) =>
        sendJson(response, 401, {
          jsonrpc: '2.0',
          error: {
            code: -32001,
            message: `this request claims to be relayed by another replica but is refused: ${why}. Agents: do not send ${RELAY_ASSERTION_HEADER} or ${RELAYED_BY_HEADER}; authenticate with "Authorization: Bearer <your agent token>".`,
          },
          id: null,
        }),
    });
  }

  /** Whether a request claims to come from another replica (it is then judged by its assertion alone). */
  claimsRelayed(request: IncomingMessage): boolean {
    return claimsRelayed(request.headers);
  }

  /** Relays a request for `owner`'s session there; false when the owner is not registered (answer 404). */
  async toOwner(request: IncomingMessage, response: ServerResponse, raw: Buffer, agentId: string, owner: string): Promise<boolean> {
    const { deps } = this;
    const ownerUrl = await deps.store.lookupReplica(deps.service, owner);
    if (!ownerUrl) return false;
    const target = deps.targets.check(ownerUrl);
    if (!target.allowed) {
      deps.metrics.relaysRefused.inc({ direction: 'outbound', reason: 'target_not_allowed' });
      deps.logger.warn({ owner, address: ownerUrl, agentId, why: target.why }, 'relay target refused: the registered address of the replica owning this session was not contacted');
      sendJson(response, 502, {
        jsonrpc: '2.0',
        error: {
          code: -32603,
          message: `replica ${owner}, which owns this session, is registered at an address this replica may not relay to (RELAY_ALLOWED_TARGETS), so the request was not forwarded. Start a new session with initialize; operators: see the "relay target refused" log line.`,
        },
        id: null,
      });
      return true;
    }
    deps.metrics.forwardedRequests.inc({ method: httpMethodLabel(request.method) });
    const assertion = deps.credential.sign({ identity: agentId, audience: `${deps.service}/${owner}`, method: request.method ?? 'GET', path: '/mcp', body: raw });
    await forwardRequest(request, response, raw, target.url, { forwardedBy: deps.replicaId, assertion });
    return true;
  }

  /**
   * A request another replica relayed here: the agent is who the assertion says (the relay kept
   * the token), and it must be for a session this replica holds (a relayed request is never
   * relayed again). Without a valid assertion it is refused, whoever sent it.
   */
  async receive(request: IncomingMessage, response: ServerResponse, serve: ServeSession, notFound: (response: ServerResponse) => void): Promise<void> {
    const { deps } = this;
    const claims = this.inbound.verify(request, response, { audience: this.audience, method: request.method ?? 'GET', path: request.url ?? '/mcp' });
    if (!claims) return;
    // The caller's Origin travelled with the request; the Host is this replica's address (the
    // front door's Host check was made where the request came in).
    const refusal = deps.origins.refusal(request, { relayed: true });
    if (refusal) throw new HttpError(403, refusal);
    if (!deps.registry.knows(claims.identity)) return this.inbound.refuse(request, response, 'wrong_identity', `the relay assertion names agent ${claims.identity}, which this replica does not know`);
    const raw = await readRawBody(request, deps.bodyLimit);
    if (!this.inbound.bodyMatches(request, response, claims, raw)) return;
    const sessionId = request.headers['mcp-session-id'];
    if (typeof sessionId === 'string' && sessionId !== '' && (await serve(sessionId, claims.identity, request, response, raw))) return;
    notFound(response);
  }
}
