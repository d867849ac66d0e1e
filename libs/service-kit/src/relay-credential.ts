import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';

/**
 * The inter-replica credential (docs/decisions/0011-inter-replica-credential.md). A replica that
 * relays a request to another (an elicitation replica to the owner of a session, a controller to
 * the leader) never passes the caller's bearer token on: it sends a short-lived assertion, signed
 * (HMAC-SHA256) with a key every replica shares, that says who the caller was authenticated as,
 * for which replica, for which request, and until when. The receiving replica checks it and serves
 * the request as that identity. The addresses relays go to are read from Redis; what a forged
 * address receives is an assertion good for a few seconds, for one other replica, one request and
 * one use — never a token.
 *
 * Wire form (header `x-agentbridge-relay-assertion`): `abr1.<key id>.<base64url JSON>.<base64url MAC>`.
 * The key id names the signing key, so that during a rotation assertions signed with the previous
 * key still verify.
 */
export const RELAY_ASSERTION_HEADER = 'x-agentbridge-relay-assertion';
/** The relaying replica's id; informational (the assertion is what is trusted). */
export const RELAYED_BY_HEADER = 'x-agentbridge-forwarded-by';

/** How long an assertion is valid after it was issued: a relay sends it at once. */
export const RELAY_ASSERTION_LIFETIME_MS = 5_000;
/** Clocks of two pods may differ by this much. */
const CLOCK_SKEW_MS = 2_000;
/** Nonces remembered against replays, at most (the oldest are forgotten first). */
const MAX_REMEMBERED_NONCES = 100_000;
const VERSION = 'abr1';
const MIN_KEY_BYTES = 32;

/** What an assertion asserts. */
export interface RelayClaims {
  /** The authenticated identity: an agent id, or `admin` / `webhook` for the controller's API. */
  identity: string;
  /** The receiving replica: `<service>/<replica id>`. */
  audience: string;
  method: string;
  /** The request target on the receiving replica (path and query). */
  path: string;
  /** SHA-256 of the request body, base64url. */
  bodySha256: string;
  issuedAt: number;
  expiresAt: number;
  nonce: string;
}

/** Why an assertion was refused: a bounded metric label. */
export type RelayRefusalReason = 'missing' | 'malformed' | 'unknown_key' | 'bad_signature' | 'expired' | 'wrong_audience' | 'wrong_request' | 'replayed' | 'wrong_body' | 'wrong_identity';

export class RelayRefusal extends Error {
  constructor(
    readonly reason: RelayRefusalReason,
    message: string,
  ) {
    super(message);
    this.name = 'RelayRefusal';
  }
}

/** Wire names of the claims (short: the header travels with every relayed request). */
interface WireClaims {
  sub: string;
  aud: string;
  m: string;
  p: string;
  b: string;
  iat: number;
  exp: number;
  n: string;
}

export interface RelayCredentialOptions {
  /** Keys, newest first: the first signs, every one verifies (rotation). At least 32 bytes each. */
  keys: readonly Buffer[];
  now?: () => number;
}

export class RelayCredential {
  private readonly keys: Array<{ id: string; key: Buffer }>;
  private readonly now: () => number;
  /** Nonces of assertions already accepted, with their expiry (insertion order is expiry order). */
  private readonly seen = new Map<string, number>();

  constructor(options: RelayCredentialOptions) {
    if (options.keys.length === 0) throw new Error('RelayCredential needs at least one key');
    for (const key of options.keys) if (key.length < MIN_KEY_BYTES) throw new Error(`inter-replica keys must be at least ${MIN_KEY_BYTES} bytes`);
    this.keys = options.keys.map((key) => ({ id: createHash('sha256').update('abr1-key-id').update(key).digest('base64url').slice(0, 8), key }));
    this.now = options.now ?? Date.now;
  }

  /**
   * The credential of a service from INTER_REPLICA_KEY (and INTER_REPLICA_PREVIOUS_KEY). Without a
   * key, a random one of this process: relays from other processes are then refused, which is
   * right for one replica and says so in the log otherwise.
   */
  static fromSettings(settings: RelaySettings, warn: (message: string) => void): RelayCredential {
    const keys = [settings.INTER_REPLICA_KEY, settings.INTER_REPLICA_PREVIOUS_KEY].filter((key): key is string => key !== undefined).map((key) => Buffer.from(key, 'utf8'));
    if (keys.length === 0) {
      warn('INTER_REPLICA_KEY is not set: relayed requests are signed with a random key of this process, so other replicas refuse them; set the same key on every replica');
      keys.push(randomBytes(MIN_KEY_BYTES));
    }
    return new RelayCredential({ keys });
  }

  /** An assertion for one relayed request, signed with the current key. */
  sign(request: { identity: string; audience: string; method: string; path: string; body: Buffer }): string {
    const issuedAt = this.now();
    const claims: WireClaims = {
      sub: request.identity,
      aud: request.audience,
      m: request.method.toUpperCase(),
      p: request.path,
      b: bodyDigest(request.body),
      iat: issuedAt,
      exp: issuedAt + RELAY_ASSERTION_LIFETIME_MS,
      n: randomBytes(16).toString('base64url'),
    };
    const signer = this.keys[0]!;
    const head = `${VERSION}.${signer.id}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    return `${head}.${mac(signer.key, head)}`;
  }

  /**
   * The claims of a valid assertion for this replica and this request (method and path; the body
   * is checked with `bodyMatches` once it is read), accepted once. Anything else is a RelayRefusal
   * whose message says what was wrong.
   */
  verify(assertion: string | undefined, expected: { audience: string; method: string; path: string }): RelayClaims {
    if (assertion === undefined || assertion === '') throw new RelayRefusal('missing', `a relayed request must carry the ${RELAY_ASSERTION_HEADER} header a replica signs; none was sent`);
    const parts = assertion.split('.');
    if (parts.length !== 4 || parts[0] !== VERSION) throw new RelayRefusal('malformed', 'the relay assertion is not one a replica issues');
    const [version, keyId, payload, signature] = parts as [string, string, string, string];
    const signer = this.keys.find((candidate) => candidate.id === keyId);
    if (!signer) throw new RelayRefusal('unknown_key', 'the relay assertion was signed with a key this replica does not hold: every replica needs the same INTER_REPLICA_KEY (during a rotation, the old one as INTER_REPLICA_PREVIOUS_KEY)');
    const expectedMac = Buffer.from(mac(signer.key, `${version}.${keyId}.${payload}`));
    const given = Buffer.from(signature);
    if (given.length !== expectedMac.length || !timingSafeEqual(given, expectedMac)) throw new RelayRefusal('bad_signature', 'the relay assertion does not verify (it was altered or forged)');
    const claims = decode(payload);
    const now = this.now();
    if (!(claims.exp > now) || claims.iat > now + CLOCK_SKEW_MS || claims.exp - claims.iat > RELAY_ASSERTION_LIFETIME_MS) {
      throw new RelayRefusal('expired', `the relay assertion is valid from ${new Date(claims.iat).toISOString()} to ${new Date(claims.exp).toISOString()}, not now (${new Date(now).toISOString()}); check the clocks of the pods`);
    }
    if (claims.aud !== expected.audience) throw new RelayRefusal('wrong_audience', `the relay assertion is for ${claims.aud}, not for this replica (${expected.audience})`);
    if (claims.m !== expected.method.toUpperCase() || claims.p !== expected.path) {
      throw new RelayRefusal('wrong_request', `the relay assertion is for ${claims.m} ${claims.p}, not for ${expected.method.toUpperCase()} ${expected.path}`);
    }
    this.forgetExpired(now);
    if (this.seen.has(claims.n)) throw new RelayRefusal('replayed', 'the relay assertion was already used; a replica signs a new one for every request');
    this.seen.set(claims.n, claims.exp + CLOCK_SKEW_MS);
    if (this.seen.size > MAX_REMEMBERED_NONCES) this.seen.delete(this.seen.keys().next().value!);
    return { identity: claims.sub, audience: claims.aud, method: claims.m, path: claims.p, bodySha256: claims.b, issuedAt: claims.iat, expiresAt: claims.exp, nonce: claims.n };
  }

  /** Whether the body that arrived is the one the assertion was signed for. */
  bodyMatches(claims: RelayClaims, body: Buffer): boolean {
    const given = Buffer.from(bodyDigest(body));
    const signed = Buffer.from(claims.bodySha256);
    return given.length === signed.length && timingSafeEqual(given, signed);
  }

  private forgetExpired(now: number): void {
    for (const [nonce, until] of this.seen) {
      if (until > now) break;
      this.seen.delete(nonce);
    }
  }
}

/** Whether a request claims to be relayed by a replica (it then has to prove it with an assertion). */
export function claimsRelayed(headers: IncomingHttpHeaders): boolean {
  return headers[RELAY_ASSERTION_HEADER] !== undefined || headers[RELAYED_BY_HEADER] !== undefined;
}

/** The assertion header of a request (the first, if several were sent). */
export function relayAssertionOf(headers: IncomingHttpHeaders): string | undefined {
  const value = headers[RELAY_ASSERTION_HEADER];
  return Array.isArray(value) ? value[0] : value;
}

/** Headers a relay never passes on: the caller's credentials, and what only the relay itself may set. */
export const RELAY_STRIPPED_HEADERS: ReadonlySet<string> = new Set(['authorization', 'proxy-authorization', 'cookie', RELAY_ASSERTION_HEADER, RELAYED_BY_HEADER]);

function decode(payload: string): WireClaims {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw new RelayRefusal('malformed', 'the relay assertion cannot be decoded');
  }
  const claims = value as Partial<WireClaims> | null;
  const strings = [claims?.sub, claims?.aud, claims?.m, claims?.p, claims?.b, claims?.n];
  if (!claims || strings.some((field) => typeof field !== 'string') || typeof claims.iat !== 'number' || typeof claims.exp !== 'number') {
    throw new RelayRefusal('malformed', 'the relay assertion lacks some of its claims');
  }
  return claims as WireClaims;
}

function bodyDigest(body: Buffer): string {
  return createHash('sha256').update(body).digest('base64url');
}

function mac(key: Buffer, text: string): string {
  return createHmac('sha256', key).update(text).digest('base64url');
}

const key = () => z.string().min(MIN_KEY_BYTES, `must be at least ${MIN_KEY_BYTES} characters (e.g. openssl rand -base64 48)`);

/** Settings of every service that relays requests or receives relayed ones (docs/configuration.md). */
export const relayKeySettings = {
  /**
   * HMAC key of the inter-replica credential; every replica of every relaying service needs the
   * same one (from a Secret). Unset: a random key per process, so relays between processes fail.
   */
  INTER_REPLICA_KEY: key().optional(),
  /** The previous INTER_REPLICA_KEY during a rotation: assertions it signed still verify. */
  INTER_REPLICA_PREVIOUS_KEY: key().optional(),
};

export interface RelaySettings {
  INTER_REPLICA_KEY?: string | undefined;
  INTER_REPLICA_PREVIOUS_KEY?: string | undefined;
}
