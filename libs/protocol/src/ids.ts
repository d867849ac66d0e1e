import { createHash, randomBytes } from 'node:crypto';

/** Agent ids: 1–128 characters, letters, digits, `.`, `_`, `-`, starting with a letter or digit. */
export const AGENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const AGENT_ID_RULE = '1 to 128 characters: letters, digits, ".", "_" or "-", starting with a letter or digit';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * Message ids are ULIDs prefixed with `msg_`: sortable by creation time, unique without
 * coordination, safe inside Redis key names.
 */
export function newMessageId(now: number = Date.now()): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32]! + time;
    t = Math.floor(t / 32);
  }
  const random = randomBytes(16);
  let tail = '';
  for (let i = 0; i < 16; i++) tail += CROCKFORD[random[i]! % 32]!;
  return `msg_${time}${tail}`;
}

export const MESSAGE_ID_PATTERN = /^msg_[0-9A-HJKMNP-TV-Z]{26}$/;

export function isMessageId(value: unknown): value is string {
  return typeof value === 'string' && MESSAGE_ID_PATTERN.test(value);
}

/**
 * A message id derived from another one, the same every time: the reply an elicitation answer
 * produces gets `derivedMessageId(originalId, 'answer')`, so appending it twice (after a crash)
 * stores it once.
 */
export function derivedMessageId(fromId: string, purpose: string): string {
  const digest = createHash('sha256').update(`${fromId}:${purpose}`).digest();
  let id = '';
  for (let i = 0; i < 26; i++) id += CROCKFORD[digest[i]! % 32]!;
  return `msg_${id}`;
}
