/**
 * The receiving end of a relayed request, for every service that relays (the controller to its
 * leader, an elicitation replica to the one holding a session): the assertion is verified, and a
 * refusal is counted, logged and answered the same way everywhere — only the shape of the answer
 * (a JSON error, a JSON-RPC error) is the service's.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BridgeMetrics, Logger } from '@agent-bridge/observability';
import { RELAY_ASSERTION_HEADER, RELAYED_BY_HEADER, RelayRefusal, relayAssertionOf, type RelayClaims, type RelayCredential, type RelayRefusalReason } from './relay-credential.js';

export interface InboundRelayOptions {
  credential: RelayCredential;
  metrics: Pick<BridgeMetrics, 'relaysRefused'>;
  logger: Logger;
  /** Answers a refused request in the service's protocol; `why` is the sentence to give. */
  answerRefusal(response: ServerResponse, why: string): void;
}

export class InboundRelay {
  constructor(private readonly options: InboundRelayOptions) {}

  /** The claims of the request's valid assertion for `expected`; null when it was refused (and answered). */
  verify(request: IncomingMessage, response: ServerResponse, expected: { audience: string; method: string; path: string }): RelayClaims | null {
    try {
      return this.options.credential.verify(relayAssertionOf(request.headers), expected);
    } catch (error) {
      if (!(error instanceof RelayRefusal)) throw error;
      this.refuse(request, response, error.reason, error.message);
      return null;
    }
  }

  /** Whether the body is the one the assertion was signed for; refused (and answered) otherwise. */
  bodyMatches(request: IncomingMessage, response: ServerResponse, claims: RelayClaims, body: Buffer): boolean {
    if (this.options.credential.bodyMatches(claims, body)) return true;
    this.refuse(request, response, 'wrong_body', 'the body is not the one the relay assertion was signed for');
    return false;
  }

  refuse(request: IncomingMessage, response: ServerResponse, reason: RelayRefusalReason, why: string): void {
    this.options.metrics.relaysRefused.inc({ direction: 'inbound', reason });
    this.options.logger.warn({ reason, why, relayedBy: request.headers[RELAYED_BY_HEADER] }, 'relayed request refused');
    this.options.answerRefusal(response, why);
  }
}

/** The headers a relaying process adds: who relays, and the assertion of the identity it vouches for (never the caller's token). */
export function relayHeaders(relayedBy: string, assertion: string): Record<string, string> {
  return { [RELAYED_BY_HEADER]: relayedBy, [RELAY_ASSERTION_HEADER]: assertion };
}
