/**
 * The FeatureFlags CustomResourceDefinition (charts/agent-bridge/crds/featureflags.agentbridge.io.yaml)
 * as code: load it, and validate a resource against its OpenAPI schema roughly the way the
 * Kubernetes API server and `kubectl apply` do — for tests, the Helm chart's checks and the
 * Kubernetes API fake. The controller itself validates with parseFeatureFlags (resource.ts); the
 * two agree, and crd.test.ts fails when they stop agreeing.
 *
 * What the API server does, and what validateAgainstCrd does in its place:
 * - null in a field that is not `nullable` is dropped, then `default`s are applied: same.
 * - the OpenAPI schema (types, enums, bounds, patterns, formats, required): Ajv, after turning the
 *   OpenAPI/Kubernetes dialect into JSON Schema (`nullable` → a type list, `x-kubernetes-int-or-string`
 *   → anyOf, `x-kubernetes-*` keys dropped).
 * - unknown fields: kubectl's default strict field validation rejects them (`unknown field "…"`);
 *   here an object with `properties` and without `x-kubernetes-preserve-unknown-fields` gets
 *   `additionalProperties: false`.
 * - `x-kubernetes-list-type: map | set`: duplicate keys or items are rejected (`Duplicate value`).
 * - `x-kubernetes-validations` (CEL): there is no CEL interpreter here, so each rule the CRD uses is
 *   emulated by a JavaScript function keyed by the rule's exact text (CEL_RULES below). A rule without
 *   an emulation makes the validator refuse to build, so adding a CEL rule to the CRD without teaching
 *   this module fails the tests instead of silently skipping the rule.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';
import { DURATION_PATTERN, FEATURE_FLAGS_GROUP, FEATURE_FLAGS_KIND, FEATURE_FLAGS_VERSION, parseDuration } from './resource.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv, options?: { formats?: string[] }) => Ajv;

/** The CRD file, resolved from this module (the same relative path from src/ and from dist/). */
export const FEATURE_FLAGS_CRD_PATH = fileURLToPath(new URL('../../../charts/agent-bridge/crds/featureflags.agentbridge.io.yaml', import.meta.url));

/** One node of a Kubernetes structural OpenAPI v3 schema (the keys this CRD uses, and the usual others). */
export interface OpenApiSchema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  properties?: Record<string, OpenApiSchema>;
  additionalProperties?: OpenApiSchema | boolean;
  items?: OpenApiSchema;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  nullable?: boolean;
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  allOf?: OpenApiSchema[];
  anyOf?: OpenApiSchema[];
  oneOf?: OpenApiSchema[];
  not?: OpenApiSchema;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
  'x-kubernetes-validations'?: CelValidationRule[];
}

export interface CelValidationRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  /** Relative path (`.prometheusUrl`) of the field the error is reported on. */
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

export interface PrinterColumn {
  name: string;
  type: 'integer' | 'number' | 'string' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  format?: string;
  priority?: number;
}

export interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
  subresources?: { status?: Record<string, never>; scale?: Record<string, unknown> };
  additionalPrinterColumns?: PrinterColumn[];
  schema: { openAPIV3Schema: OpenApiSchema };
}

export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: {
    group: string;
    names: { kind: string; listKind?: string; plural: string; singular?: string; shortNames?: string[]; categories?: string[] };
    scope: 'Namespaced' | 'Cluster';
    versions: CrdVersion[];
  };
}

/** Reads and parses the CRD file (a fresh object on every call: callers may change it). */
export function loadFeatureFlagsCrd(path: string = FEATURE_FLAGS_CRD_PATH): CustomResourceDefinition {
  const crd = parse(readFileSync(path, 'utf8')) as CustomResourceDefinition | null;
  if (crd?.kind !== 'CustomResourceDefinition' || crd.spec?.group !== FEATURE_FLAGS_GROUP || crd.spec.names?.kind !== FEATURE_FLAGS_KIND) {
    throw new Error(`${path}: not the ${FEATURE_FLAGS_KIND}.${FEATURE_FLAGS_GROUP} CustomResourceDefinition`);
  }
  return crd;
}

/** The OpenAPI schema of one served version of the CRD (v1alpha1 by default). */
export function featureFlagsCrdSchema(crd: CustomResourceDefinition = loadFeatureFlagsCrd(), version: string = FEATURE_FLAGS_VERSION): OpenApiSchema {
  const served = crd.spec.versions.find((candidate) => candidate.name === version && candidate.served);
  if (!served) throw new Error(`the ${FEATURE_FLAGS_KIND} CRD serves no version ${version}`);
  return served.schema.openAPIV3Schema;
}

export type CrdValidationResult = { valid: true } | { valid: false; errors: string[] };

/**
 * Validates a FeatureFlags resource (the object, not YAML) against the CRD's schema. Each error
 * names the field the way kubectl does, e.g.
 * `spec.rollout.stages[1].hold: Invalid value: "1x": spec.rollout.stages[1].hold in body should match '^([0-9]+(ms|s|m|h))+$'`.
 */
export function validateAgainstCrd(resource: unknown): CrdValidationResult {
  return defaultValidator().validate(resource);
}

/** Builds a validator for a given CRD (validateAgainstCrd uses the one on disk). */
export function createCrdValidator(crd: CustomResourceDefinition = loadFeatureFlagsCrd(), version: string = FEATURE_FLAGS_VERSION): { validate(resource: unknown): CrdValidationResult } {
  const schema = featureFlagsCrdSchema(crd, version);
  const apiVersion = `${crd.spec.group}/${version}`;
  const kind = crd.spec.names.kind;
  checkCelRulesAreEmulated(schema, '');
  const ajv = new Ajv({ strict: false, allErrors: true, useDefaults: true, validateSchema: false });
  addFormats(ajv);
  const validateSchema: ValidateFunction = ajv.compile(toJsonSchema(schema, ajv));

  return {
    validate(resource: unknown): CrdValidationResult {
      if (!isPlainObject(resource)) return { valid: false, errors: [`(top level): Invalid value: ${describeValue(resource)}: expected a ${kind} object`] };
      const errors: string[] = [];
      if (resource.apiVersion !== apiVersion || resource.kind !== kind) {
        errors.push(`apiVersion/kind: Invalid value: ${JSON.stringify(`${String(resource.apiVersion)}, Kind=${String(resource.kind)}`)}: no matches for kind ${JSON.stringify(String(resource.kind))} in version ${JSON.stringify(String(resource.apiVersion))} (this CRD serves ${apiVersion}, Kind=${kind})`);
      }
      const metadata = resource.metadata;
      const name = isPlainObject(metadata) ? metadata.name : undefined;
      if (name === undefined || name === '') errors.push('metadata.name: Required value: name or generateName is required');
      else if (typeof name !== 'string' || name.length > 253 || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name)) {
        errors.push(`metadata.name: Invalid value: ${describeValue(name)}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`);
      }

      // What the API server stores: nulls of non-nullable fields pruned, then defaults applied (by Ajv).
      const object = pruneNulls(structuredClone(resource), schema) as Record<string, unknown>;
      if (!validateSchema(object)) {
        for (const error of validateSchema.errors ?? []) {
          const line = formatAjvError(error, object);
          if (line !== undefined) errors.push(line);
        }
      }
      walk(schema, object, [], errors);
      const unique = [...new Set(errors)];
      return unique.length === 0 ? { valid: true } : { valid: false, errors: unique };
    },
  };
}

let cachedValidator: ReturnType<typeof createCrdValidator> | undefined;

function defaultValidator(): ReturnType<typeof createCrdValidator> {
  cachedValidator ??= createCrdValidator();
  return cachedValidator;
}

// ------------------------------------------------------------------ OpenAPI → JSON Schema (Ajv)

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

// ------------------------------------------------------------------ pruning, list types, CEL

function pruneNulls(value: unknown, schema: OpenApiSchema | undefined): unknown {
  if (schema === undefined) return value;
  if (Array.isArray(value)) return value.map((item) => pruneNulls(item, schema.items));
  if (isPlainObject(value) && schema.properties) {
    for (const [key, child] of Object.entries(value)) {
      const childSchema = schema.properties[key];
      if (childSchema === undefined) continue;
      if (child === null && childSchema.nullable !== true) delete value[key];
      else value[key] = pruneNulls(child, childSchema);
    }
  }
  return value;
}

function walk(schema: OpenApiSchema, value: unknown, path: Array<string | number>, errors: string[]): void {
  if (value === undefined || value === null || !hasType(value, schema)) return;
  if (Array.isArray(value)) {
    checkListType(schema, value, path, errors);
    if (schema.items) value.forEach((item, index) => walk(schema.items!, item, [...path, index], errors));
  } else if (isPlainObject(value) && schema.properties) {
    for (const [key, child] of Object.entries(schema.properties)) walk(child, value[key], [...path, key], errors);
  }
  for (const rule of schema['x-kubernetes-validations'] ?? []) {
    const check = emulationOf(rule.rule);
    let passed: boolean;
    try {
      passed = check!(value);
    } catch {
      passed = false;
    }
    if (passed) continue;
    const fieldPath = rule.fieldPath ? [...path, ...rule.fieldPath.replace(/^\./, '').split('.')] : path;
    const message = rule.message ?? `failed rule: ${rule.rule}`;
    const at = formatPath(fieldPath);
    switch (rule.reason) {
      case 'FieldValueRequired':
        errors.push(`${at}: Required value: ${message}`);
        break;
      case 'FieldValueForbidden':
        errors.push(`${at}: Forbidden: ${message}`);
        break;
      case 'FieldValueDuplicate':
        errors.push(`${at}: Duplicate value: ${message}`);
        break;
      default:
        errors.push(`${at}: Invalid value: ${JSON.stringify(typeName(value))}: ${message}`);
    }
  }
}

function checkListType(schema: OpenApiSchema, list: unknown[], path: Array<string | number>, errors: string[]): void {
  const listType = schema['x-kubernetes-list-type'];
  if (listType !== 'map' && listType !== 'set') return;
  const keys = schema['x-kubernetes-list-map-keys'] ?? [];
  const seen = new Set<string>();
  list.forEach((item, index) => {
    const identity = listType === 'set' ? JSON.stringify(item) : isPlainObject(item) ? JSON.stringify(Object.fromEntries(keys.map((key) => [key, item[key]]))) : undefined;
    if (identity === undefined) return;
    if (seen.has(identity)) errors.push(`${formatPath([...path, index])}: Duplicate value: ${identity}`);
    seen.add(identity);
  });
}

/**
 * JavaScript equivalents of the CEL rules the CRD uses, keyed by the exact rule text. Kubernetes
 * evaluates the CEL itself; these let tests and the API fake reject what the API server rejects.
 */
const CEL_RULES: Record<string, (self: unknown) => boolean> = {
  // stages: percentages sorted and each one unique = strictly ascending
  'self.map(s, s.percentage).isSorted() && self.all(s, self.exists_one(t, t.percentage == s.percentage))': (self) => {
    const percentages = (self as Array<{ percentage?: unknown }>).map((stage) => stage.percentage);
    return percentages.every((percentage, i) => i === 0 || (typeof percentage === 'number' && typeof percentages[i - 1] === 'number' && percentage > (percentages[i - 1] as number)));
  },
  '!has(self.metrics) || size(self.metrics) == 0 || has(self.prometheusUrl)': (self) => {
    const analysis = self as { metrics?: unknown[]; prometheusUrl?: unknown };
    return analysis.metrics === undefined || analysis.metrics.length === 0 || analysis.prometheusUrl !== undefined;
  },
  'has(self.max) || has(self.min)': (self) => {
    const metric = self as { max?: unknown; min?: unknown };
    return metric.max !== undefined || metric.min !== undefined;
  },
};

const DURATION_AT_LEAST = /^duration\(self\) >= duration\('([^']+)'\)$/;

function emulationOf(rule: string): ((self: unknown) => boolean) | undefined {
  const known = CEL_RULES[rule];
  if (known) return known;
  const minimum = DURATION_AT_LEAST.exec(rule)?.[1];
  if (minimum !== undefined && DURATION_PATTERN.test(minimum)) {
    const floor = parseDuration(minimum);
    // A string that is not a duration already fails the field's pattern; the rule adds nothing.
    return (self) => typeof self !== 'string' || !DURATION_PATTERN.test(self) || parseDuration(self) >= floor;
  }
  return undefined;
}

function checkCelRulesAreEmulated(schema: OpenApiSchema, path: string): void {
  for (const rule of schema['x-kubernetes-validations'] ?? []) {
    if (!emulationOf(rule.rule)) throw new Error(`the CEL rule at ${path || '(top level)'} is not emulated by libs/flags/src/crd.ts (add it to CEL_RULES): ${rule.rule}`);
  }
  for (const [key, child] of Object.entries(schema.properties ?? {})) checkCelRulesAreEmulated(child, path ? `${path}.${key}` : key);
  if (schema.items) checkCelRulesAreEmulated(schema.items, `${path}[]`);
}

// ------------------------------------------------------------------ error messages

function formatAjvError(error: ErrorObject, root: unknown): string | undefined {
  const segments = error.instancePath === '' ? [] : error.instancePath.slice(1).split('/').map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'));
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

function formatPath(path: ReadonlyArray<string | number>): string {
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

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function describeValue(value: unknown): string {
  if (value === undefined) return '"undefined"';
  if (value === null || Array.isArray(value) || typeof value === 'object') return JSON.stringify(typeName(value));
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}..."` : text;
}

function hasType(value: unknown, schema: OpenApiSchema): boolean {
  switch (schema.type) {
    case 'object':
      return isPlainObject(value);
    case 'array':
      return Array.isArray(value);
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number';
    case 'boolean':
      return typeof value === 'boolean';
    default:
      return true;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

