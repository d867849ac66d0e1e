/** Validation errors worded the way the API server and kubectl word them, with the field's path. */
import type { ErrorObject } from 'ajv';

export function formatAjvError(error: ErrorObject, root: unknown): string | undefined {
  const segments =
    error.instancePath === ''
      ? []
      : error.instancePath
          .slice(1)
          .split('/')
          .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'));
  const path = typedPath(segments, root);
  const at = formatPath(path);
  const value = valueAt(root, path);
  const shown = describeValue(value);
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return `${formatPath([...path, String(params.missingProperty)])}: Required value`;
    case 'additionalProperties': {
      const field = formatPath([...path, String(params.additionalProperty)]);
      return `${field}: unknown field ${JSON.stringify(field)}`;
    }
    case 'type':
      return `${at}: Invalid value: ${JSON.stringify(typeName(value))}: ${at} in body must be of type ${[params.type].flat().join(' or ')}: ${JSON.stringify(typeName(value))}`;
    case 'enum':
      return `${at}: Unsupported value: ${shown}: supported values: ${(params.allowedValues as unknown[]).map((allowed) => JSON.stringify(allowed)).join(', ')}`;
    case 'minimum':
      return `${at}: Invalid value: ${shown}: ${at} in body should be greater than or equal to ${String(params.limit)}`;
    case 'exclusiveMinimum':
      return `${at}: Invalid value: ${shown}: ${at} in body should be greater than ${String(params.limit)}`;
    case 'maximum':
      return `${at}: Invalid value: ${shown}: ${at} in body should be less than or equal to ${String(params.limit)}`;
    case 'exclusiveMaximum':
      return `${at}: Invalid value: ${shown}: ${at} in body should be less than ${String(params.limit)}`;
    case 'pattern':
      return `${at}: Invalid value: ${shown}: ${at} in body should match '${String(params.pattern)}'`;
    case 'minLength':
      return `${at}: Invalid value: ${shown}: ${at} in body should be at least ${String(params.limit)} chars long`;
    case 'maxLength':
      return `${at}: Too long: ${at} in body should be at most ${String(params.limit)} chars long`;
    case 'minItems':
      return `${at}: Invalid value: ${Array.isArray(value) ? value.length : shown}: ${at} in body should have at least ${String(params.limit)} items`;
    case 'maxItems':
      return `${at}: Too many: ${Array.isArray(value) ? value.length : shown}: must have at most ${String(params.limit)} items`;
    case 'format':
      return `${at}: Invalid value: ${shown}: ${at} in body must be of type ${String(params.format)}: ${shown}`;
    case 'anyOf':
    case 'oneOf':
      return undefined; // the branches' own errors say what is wrong
    default:
      return `${at}: Invalid value: ${shown}: ${error.message ?? error.keyword}`;
  }
}

/** JSON-pointer segments with array indexes as numbers (decided by the data, not by the text). */
function typedPath(segments: string[], root: unknown): Array<string | number> {
  const path: Array<string | number> = [];
  let current = root;
  for (const segment of segments) {
    if (Array.isArray(current) && /^\d+$/.test(segment)) {
      path.push(Number(segment));
      current = current[Number(segment)];
    } else {
      path.push(segment);
      current = isPlainObject(current) ? current[segment] : undefined;
    }
  }
  return path;
}

export function formatPath(path: ReadonlyArray<string | number>): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else text += text === '' ? segment : `.${segment}`;
  }
  return text === '' ? '(top level)' : text;
}

function valueAt(root: unknown, path: ReadonlyArray<string | number>): unknown {
  let current = root;
  for (const segment of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string | number, unknown>)[segment];
  }
  return current;
}

export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

export function describeValue(value: unknown): string {
  if (value === undefined) return '"undefined"';
  if (value === null || Array.isArray(value) || typeof value === 'object') return JSON.stringify(typeName(value));
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}..."` : text;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
