import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formAnswerProblems, formSchemaProblems, type FormSchema } from './form-schema.js';

const approval: FormSchema = {
  type: 'object',
  properties: {
    approved: { type: 'boolean', title: 'Approved' },
    reason: { type: 'string', maxLength: 20 },
    priority: { type: 'string', enum: ['low', 'high'] },
    count: { type: 'integer', minimum: 1, maximum: 3 },
  },
  required: ['approved'],
};

test('a flat form of primitive properties is a valid requested schema', () => {
  assert.deepEqual(formSchemaProblems(approval), []);
  assert.deepEqual(formSchemaProblems({ type: 'object', properties: { when: { type: 'string', format: 'date-time' } } }), []);
});

test('nested objects, arrays, unknown keywords and dangling required names are refused with the path of each problem', () => {
  const problems = formSchemaProblems({
    type: 'object',
    properties: { nested: { type: 'object', properties: {} }, list: { type: 'array' }, name: { type: 'string', pattern: '^a' } },
    required: ['missing'],
    additionalProperties: false,
  });
  assert.ok(problems.some((p) => p.startsWith('requested_schema.properties.nested.type')));
  assert.ok(problems.some((p) => p.startsWith('requested_schema.properties.list.type')));
  assert.ok(problems.some((p) => p.includes('properties.name.pattern is not allowed')));
  assert.ok(problems.some((p) => p.includes('"missing", which is not a property')));
  assert.ok(problems.some((p) => p.startsWith('requested_schema.additionalProperties')));
  assert.deepEqual(formSchemaProblems({ type: 'object', properties: {} }), ['requested_schema.properties must be an object with at least one property']);
  assert.deepEqual(formSchemaProblems('nope'), ['requested_schema must be a JSON object']);
});

test('an answer is checked against the form: types, bounds, enums, required fields, unknown fields', () => {
  assert.deepEqual(formAnswerProblems(approval, { approved: true, priority: 'high', count: 2 }), []);
  assert.deepEqual(formAnswerProblems(approval, { approved: 'yes' }), ['"approved" must be true or false']);
  assert.deepEqual(formAnswerProblems(approval, { approved: true, count: 2.5 }), ['"count" must be a whole number']);
  assert.deepEqual(formAnswerProblems(approval, { approved: true, count: 9 }), ['"count" must be at most 3']);
  assert.deepEqual(formAnswerProblems(approval, { approved: true, priority: 'urgent' }), ['"priority" must be one of low, high']);
  assert.deepEqual(formAnswerProblems(approval, { reason: 'x' }), ['"approved" is required']);
  assert.deepEqual(formAnswerProblems(approval, { approved: false, extra: 1 }), ['"extra" is not a field of the form']);
});

test('a requested schema is bounded: depth, size, number of properties and text lengths, each with its figure', () => {
  const oneOf = { type: 'object', properties: { pick: { type: 'string', oneOf: [{ const: 'a', title: 'A' }] } } };
  assert.deepEqual(formSchemaProblems(oneOf), [], 'a oneOf option list (5 levels) is a valid form');
  let deep: Record<string, unknown> = { x: 1 };
  for (let i = 0; i < 100_000; i++) deep = { a: deep };
  assert.deepEqual(formSchemaProblems({ type: 'object', properties: { p: { type: 'string', title: deep } } }), ['requested_schema nests deeper than 6 levels; a form is a flat object of primitive properties']);
  const many = { type: 'object', properties: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`p${i}`, { type: 'boolean' }])) };
  assert.deepEqual(formSchemaProblems(many), ['requested_schema has 65 properties; the limit is 64']);
  const large = { type: 'object', properties: { pick: { type: 'string', enum: Array.from({ length: 2_000 }, (_, i) => `option-${i}`) } } };
  assert.match(formSchemaProblems(large)[0] ?? '', /^requested_schema is \d+ bytes of JSON; the limit is 16384$/);
  const titled = { type: 'object', title: 'x'.repeat(1_025), properties: { p: { type: 'boolean', description: { not: 'text' } } } };
  assert.deepEqual(formSchemaProblems(titled), ['requested_schema.title must be a string of at most 1024 characters', 'requested_schema.properties.p.description must be a string of at most 1024 characters']);
});
