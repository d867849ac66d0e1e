/**
 * MCP elicitation accepts only restricted form schemas (spec 2025-11-25): a flat object whose
 * properties are primitives — string (optionally with a format, length bounds or an enum), number,
 * integer, boolean — with titles, descriptions, defaults and a `required` list. This module
 * checks a requested schema and validates an answer against it.
 */

export type FormSchema = {
  type: 'object';
  properties: Record<string, FormProperty>;
  required?: string[];
  title?: string;
  description?: string;
};

type FormProperty = Record<string, unknown> & { type: 'string' | 'number' | 'integer' | 'boolean' };

import { jsonDepthExceeds } from './json-depth.js';

const STRING_FORMATS = new Set(['email', 'uri', 'date', 'date-time']);
const COMMON_KEYS = new Set(['type', 'title', 'description', 'default']);
const KEYS_BY_TYPE: Record<string, Set<string>> = {
  string: new Set([...COMMON_KEYS, 'minLength', 'maxLength', 'format', 'enum', 'enumNames', 'oneOf']),
  number: new Set([...COMMON_KEYS, 'minimum', 'maximum']),
  integer: new Set([...COMMON_KEYS, 'minimum', 'maximum']),
  boolean: new Set(COMMON_KEYS),
};

/** Bounds of a requested schema: it travels with the question to the target and is stored with it. */
const FORM_SCHEMA_LIMITS = { bytes: 16 * 1024, properties: 64, depth: 6, textChars: 1024 } as const;

/** Returns the problems of a requested schema; an empty list means it is a valid form schema. */
export function formSchemaProblems(schema: unknown): string[] {
  const problems: string[] = [];
  if (!isRecord(schema)) return ['requested_schema must be a JSON object'];
  // Checked first: a form is flat, so anything deeper (or larger) is refused before it is walked.
  if (jsonDepthExceeds(schema, FORM_SCHEMA_LIMITS.depth)) return [`requested_schema nests deeper than ${FORM_SCHEMA_LIMITS.depth} levels; a form is a flat object of primitive properties`];
  const bytes = Buffer.byteLength(JSON.stringify(schema), 'utf8');
  if (bytes > FORM_SCHEMA_LIMITS.bytes) return [`requested_schema is ${bytes} bytes of JSON; the limit is ${FORM_SCHEMA_LIMITS.bytes}`];
  if (isRecord(schema.properties) && Object.keys(schema.properties).length > FORM_SCHEMA_LIMITS.properties) {
    return [`requested_schema has ${Object.keys(schema.properties).length} properties; the limit is ${FORM_SCHEMA_LIMITS.properties}`];
  }
  for (const key of ['title', 'description'] as const) {
    if (schema[key] !== undefined && (typeof schema[key] !== 'string' || schema[key].length > FORM_SCHEMA_LIMITS.textChars)) problems.push(`requested_schema.${key} must be a string of at most ${FORM_SCHEMA_LIMITS.textChars} characters`);
  }
  if (schema.type !== 'object') problems.push('requested_schema.type must be "object"');
  for (const key of Object.keys(schema)) {
    if (!['type', 'properties', 'required', 'title', 'description', '$schema'].includes(key)) {
      problems.push(`requested_schema.${key} is not allowed in a form schema (allowed: type, properties, required, title, description)`);
    }
  }
  if (!isRecord(schema.properties) || Object.keys(schema.properties).length === 0) {
    problems.push('requested_schema.properties must be an object with at least one property');
    return problems;
  }
  for (const [name, property] of Object.entries(schema.properties)) {
    const at = `requested_schema.properties.${name}`;
    if (!isRecord(property)) {
      problems.push(`${at} must be an object`);
      continue;
    }
    const type = property.type;
    if (typeof type !== 'string' || !KEYS_BY_TYPE[type]) {
      problems.push(`${at}.type must be one of string, number, integer, boolean (nested objects and arrays are not allowed in forms)`);
      continue;
    }
    for (const key of Object.keys(property)) {
      if (!KEYS_BY_TYPE[type]!.has(key)) problems.push(`${at}.${key} is not allowed for a ${type} property`);
    }
    for (const key of ['title', 'description'] as const) {
      if (property[key] !== undefined && (typeof property[key] !== 'string' || property[key].length > FORM_SCHEMA_LIMITS.textChars)) problems.push(`${at}.${key} must be a string of at most ${FORM_SCHEMA_LIMITS.textChars} characters`);
    }
    if (property.format !== undefined && !STRING_FORMATS.has(String(property.format))) {
      problems.push(`${at}.format must be one of ${[...STRING_FORMATS].join(', ')}`);
    }
    if (property.enum !== undefined && (!Array.isArray(property.enum) || property.enum.length === 0 || !property.enum.every((v) => typeof v === 'string'))) {
      problems.push(`${at}.enum must be a non-empty list of strings`);
    }
    if (property.oneOf !== undefined) {
      const ok = Array.isArray(property.oneOf) && property.oneOf.length > 0 && property.oneOf.every((o) => isRecord(o) && typeof o.const === 'string');
      if (!ok) problems.push(`${at}.oneOf must be a non-empty list of { const, title } options`);
    }
    for (const bound of ['minLength', 'maxLength', 'minimum', 'maximum']) {
      if (property[bound] !== undefined && typeof property[bound] !== 'number') problems.push(`${at}.${bound} must be a number`);
    }
    if (property.default !== undefined && valueProblem(property as FormProperty, property.default) !== undefined) {
      problems.push(`${at}.default does not match the property`);
    }
  }
  if (schema.required !== undefined) {
    if (!Array.isArray(schema.required) || !schema.required.every((r) => typeof r === 'string')) problems.push('requested_schema.required must be a list of property names');
    else for (const name of schema.required) if (!(name in schema.properties)) problems.push(`requested_schema.required names "${name}", which is not a property`);
  }
  return problems;
}

/** Problems of an answer against a (valid) form schema; empty when it conforms. */
export function formAnswerProblems(schema: FormSchema, answer: unknown): string[] {
  if (!isRecord(answer)) return ['the answer must be a JSON object'];
  const problems: string[] = [];
  for (const name of schema.required ?? []) if (answer[name] === undefined) problems.push(`"${name}" is required`);
  for (const [name, value] of Object.entries(answer)) {
    const property = schema.properties[name];
    if (!property) {
      problems.push(`"${name}" is not a field of the form`);
      continue;
    }
    const problem = valueProblem(property, value);
    if (problem) problems.push(`"${name}" ${problem}`);
  }
  return problems;
}

function valueProblem(property: FormProperty, value: unknown): string | undefined {
  switch (property.type) {
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'must be true or false';
    case 'integer':
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return 'must be a number';
      if (property.type === 'integer' && !Number.isInteger(value)) return 'must be a whole number';
      if (typeof property.minimum === 'number' && value < property.minimum) return `must be at least ${property.minimum}`;
      if (typeof property.maximum === 'number' && value > property.maximum) return `must be at most ${property.maximum}`;
      return undefined;
    }
    case 'string': {
      if (typeof value !== 'string') return 'must be a string';
      if (typeof property.minLength === 'number' && value.length < property.minLength) return `must have at least ${property.minLength} characters`;
      if (typeof property.maxLength === 'number' && value.length > property.maxLength) return `must have at most ${property.maxLength} characters`;
      const allowed = Array.isArray(property.enum) ? (property.enum as string[]) : Array.isArray(property.oneOf) ? (property.oneOf as Array<{ const: string }>).map((o) => o.const) : undefined;
      if (allowed && !allowed.includes(value)) return `must be one of ${allowed.join(', ')}`;
      return undefined;
    }
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
