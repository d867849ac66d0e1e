/**
 * OpenAPI/Kubernetes dialect → JSON Schema that Ajv understands: `nullable` becomes a type list,
 * `x-kubernetes-int-or-string` an anyOf, other `x-kubernetes-*` keys are dropped, and an object with
 * `properties` forbids unknown fields (kubectl's strict field validation).
 */
import type { Ajv } from 'ajv';
import type { OpenApiSchema } from './types.js';

const AJV_FORMATS = new Set(['date', 'time', 'date-time', 'duration', 'uri', 'uri-reference', 'email', 'hostname', 'ipv4', 'ipv6', 'uuid', 'byte', 'int32', 'int64', 'float', 'double', 'password', 'binary']);

/** The OpenAPI node as JSON Schema Ajv understands, with unknown fields forbidden (strict decoding). */
export function toJsonSchema(node: OpenApiSchema, ajv?: Ajv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node) as Array<[keyof OpenApiSchema, unknown]>) {
    if (key.startsWith('x-kubernetes-') || key === 'nullable') continue;
    switch (key) {
      case 'properties':
        out.properties = Object.fromEntries(Object.entries(value as Record<string, OpenApiSchema>).map(([name, child]) => [name, toJsonSchema(child, ajv)]));
        break;
      case 'items':
        out.items = toJsonSchema(value as OpenApiSchema, ajv);
        break;
      case 'additionalProperties':
        out.additionalProperties = typeof value === 'boolean' ? value : toJsonSchema(value as OpenApiSchema, ajv);
        break;
      case 'allOf':
      case 'anyOf':
      case 'oneOf':
        out[key] = (value as OpenApiSchema[]).map((child) => toJsonSchema(child, ajv));
        break;
      case 'not':
        out.not = toJsonSchema(value as OpenApiSchema, ajv);
        break;
      case 'format':
        // The API server ignores formats it does not know; so does this.
        if (AJV_FORMATS.has(value as string) && (ajv === undefined || ajv.formats[value as string] !== undefined)) out.format = value;
        break;
      case 'exclusiveMinimum':
      case 'exclusiveMaximum': {
        // OpenAPI 3.0 booleans → JSON Schema draft-07 numbers.
        const bound = key === 'exclusiveMinimum' ? node.minimum : node.maximum;
        if (value === true && bound !== undefined) {
          out[key] = bound;
          delete out[key === 'exclusiveMinimum' ? 'minimum' : 'maximum'];
        }
        break;
      }
      case 'minimum':
      case 'maximum': {
        const exclusive = key === 'minimum' ? node.exclusiveMinimum : node.exclusiveMaximum;
        if (exclusive !== true) out[key] = value;
        break;
      }
      default:
        out[key] = structuredClone(value);
    }
  }
  if (node.nullable === true && typeof node.type === 'string') out.type = [node.type, 'null'];
  if (node['x-kubernetes-int-or-string'] === true) {
    delete out.type;
    out.anyOf = [{ type: 'integer' }, { type: 'string' }];
  }
  if (node.properties !== undefined && node.additionalProperties === undefined && node['x-kubernetes-preserve-unknown-fields'] !== true) {
    out.additionalProperties = false;
  }
  return out;
}
