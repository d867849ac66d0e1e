import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CachedSchemaValidator } from './schema-validator.js';

const schema = () => ({ type: 'object', properties: { ok: { type: 'boolean' }, mail: { type: 'string', format: 'email' } }, required: ['ok'] }) as const;

test('answers are validated against the schema, formats included, with a readable error', () => {
  const validator = new CachedSchemaValidator();
  const validate = validator.getValidator(schema() as never);
  assert.equal(validate({ ok: true, mail: 'a@b.example' }).valid, true);
  const bad = validate({ ok: 'yes', mail: 'not-an-email' });
  assert.equal(bad.valid, false);
  assert.match(bad.errorMessage ?? '', /ok.*boolean/);
});

test('equal schemas arriving as new objects are compiled once, and the cache stays bounded', () => {
  const validator = new CachedSchemaValidator(3);
  for (let i = 0; i < 50; i++) validator.getValidator(schema() as never);
  assert.equal(validator.size, 1);
  for (let i = 0; i < 10; i++) validator.getValidator({ type: 'object', properties: { [`f${i}`]: { type: 'string' } } } as never);
  assert.equal(validator.size, 3);
});
