import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { ToolError } from '@agent-bridge/protocol';

/**
 * Sealed `requestState` for 2026-07-28 multi round-trip calls. The state travels through the
 * client and comes back on the retry, possibly to another replica, so it is untrusted input: it is
 * signed (HMAC-SHA256), bound to the agent it was issued to and to an expiry, and bounded in size.
 * It is signed, not encrypted: it must carry nothing the agent may not read.
 *
 * Wire form: `ab1.<key id>.<base64url JSON>.<base64url MAC>`. The key id names the signing key so
 * that, during a rotation, state signed with the previous key still verifies.
 */
export interface RequestStateSealerOptions {
  /** Signing keys, newest first: the first signs, every one verifies (rotation). At least 32 bytes each. */
  keys: readonly Buffer[];
  /** A sealed state longer than this is refused (and never issued). */
  maxBytes: number;
}

interface Sealed<T> {
  /** agent id */
  a: string;
  /** expiry, epoch ms */
  x: number;
  d: T;
}

const VERSION = 'ab1';

export class RequestStateSealer {
  private readonly keys: Array<{ id: string; key: Buffer }>;

  constructor(private readonly options: RequestStateSealerOptions) {
    if (options.keys.length === 0) throw new Error('RequestStateSealer needs at least one key');
    for (const key of options.keys) if (key.length < 32) throw new Error('request state keys must be at least 32 bytes');
    this.keys = options.keys.map((key) => ({ id: createHash('sha256').update(key).digest('base64url').slice(0, 8), key }));
  }

  seal<T>(data: T, binding: { agentId: string; expiresAt: number }): string {
    const payload = Buffer.from(JSON.stringify({ a: binding.agentId, x: binding.expiresAt, d: data } satisfies Sealed<T>)).toString('base64url');
    const signer = this.keys[0]!;
    const head = `${VERSION}.${signer.id}.${payload}`;
    const sealed = `${head}.${mac(signer.key, head)}`;
    // A bug, not bad input: callers bound what they put in the state.
    if (sealed.length > this.options.maxBytes) throw new Error(`sealed request state is ${sealed.length} bytes; the limit is ${this.options.maxBytes}`);
    return sealed;
  }

  /**
   * The data of a state sealed for `agentId` that has not expired. Anything else is a ToolError
   * with a stable code (REQUEST_STATE_INVALID, REQUEST_STATE_FOREIGN, REQUEST_STATE_EXPIRED).
   */
  open<T>(sealed: unknown, agentId: string, now = Date.now()): T {
    const invalid = (why: string) => new ToolError('REQUEST_STATE_INVALID', `the requestState of this retry ${why}. Call wait_for_messages again without requestState; undelivered messages are offered again.`);
    if (typeof sealed !== 'string') throw invalid('is not a string');
    if (sealed.length > this.options.maxBytes) throw invalid(`is ${sealed.length} bytes, more than the ${this.options.maxBytes} the bridge issues`);
    const parts = sealed.split('.');
    if (parts.length !== 4 || parts[0] !== VERSION) throw invalid('is not one the bridge issued');
    const [version, keyId, payload, signature] = parts as [string, string, string, string];
    const signer = this.keys.find((candidate) => candidate.id === keyId);
    if (!signer) throw invalid('was signed with a key this bridge no longer accepts');
    const expected = Buffer.from(mac(signer.key, `${version}.${keyId}.${payload}`));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid('does not verify (it was altered)');
    let state: Sealed<T>;
    try {
      state = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Sealed<T>;
    } catch {
      throw invalid('cannot be decoded');
    }
    if (state.a !== agentId) {
      throw new ToolError('REQUEST_STATE_FOREIGN', 'the requestState of this retry was issued to another agent. Use only the state your own calls returned; nothing was settled.');
    }
    if (!(state.x > now)) {
      throw new ToolError(
        'REQUEST_STATE_EXPIRED',
        `the requestState of this retry expired at ${new Date(state.x).toISOString()}: answers must come back within the elicitation timeout. Nothing was settled; call wait_for_messages again and the same messages are offered again.`,
        { details: { expired_at: new Date(state.x).toISOString() } },
      );
    }
    return state.d;
  }
}

function mac(key: Buffer, text: string): string {
  return createHmac('sha256', key).update(text).digest('base64url');
}
