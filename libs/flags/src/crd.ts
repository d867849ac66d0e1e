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
 *   emulated by a JavaScript function keyed by the rule's exact text (CEL_RULES in crd/cel.ts). A rule without
 *   an emulation makes the validator refuse to build, so adding a CEL rule to the CRD without teaching
 *   this module fails the tests instead of silently skipping the rule.
 *
 * The pieces: crd/types.ts (the CRD as TypeScript), crd/json-schema.ts (OpenAPI → JSON Schema),
 * crd/cel.ts (the CEL emulations), crd/messages.ts (kubectl's wording of each error).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';
import { checkCelRules, checkCelRulesAreEmulated, emulatedCel, type CelCompiler } from './crd/cel.js';
import { toJsonSchema } from './crd/json-schema.js';
import { describeValue, formatAjvError, formatPath, isPlainObject } from './crd/messages.js';
import type { CustomResourceDefinition, OpenApiSchema } from './crd/types.js';
import { FEATURE_FLAGS_GROUP, FEATURE_FLAGS_KIND, FEATURE_FLAGS_VERSION } from './resource.js';

export { toJsonSchema } from './crd/json-schema.js';
export type { CelCompiler } from './crd/cel.js';
export type { CustomResourceDefinition, OpenApiSchema } from './crd/types.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv, options?: { formats?: string[] }) => Ajv;

/** The CRD file, resolved from this module (the same relative path from src/ and from dist/). */
const FEATURE_FLAGS_CRD_PATH = fileURLToPath(new URL('../../../charts/agent-bridge/crds/featureflags.agentbridge.io.yaml', import.meta.url));

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

/**
 * Builds a validator for a given CRD (validateAgainstCrd uses the one on disk); any CRD's served
 * version works. `cel` compiles its CEL rules (default: the emulations of the FeatureFlags rules).
 */
export function createCrdValidator(crd: CustomResourceDefinition = loadFeatureFlagsCrd(), version: string = FEATURE_FLAGS_VERSION, options: { cel?: CelCompiler } = {}): { validate(resource: unknown): CrdValidationResult } {
  const schema = featureFlagsCrdSchema(crd, version);
  const apiVersion = `${crd.spec.group}/${version}`;
  const kind = crd.spec.names.kind;
  const cel = options.cel ?? emulatedCel;
  checkCelRulesAreEmulated(schema, '', cel);
  const ajv = new Ajv({ strict: false, allErrors: true, useDefaults: true, validateSchema: false });
  addFormats(ajv);
  const validateSchema: ValidateFunction = ajv.compile(toJsonSchema(schema, ajv));

  return {
    validate(resource: unknown): CrdValidationResult {
      if (!isPlainObject(resource)) return { valid: false, errors: [`(top level): Invalid value: ${describeValue(resource)}: expected a ${kind} object`] };
      const errors: string[] = [];
      if (resource.apiVersion !== apiVersion || resource.kind !== kind) {
        errors.push(
          `apiVersion/kind: Invalid value: ${JSON.stringify(`${String(resource.apiVersion)}, Kind=${String(resource.kind)}`)}: no matches for kind ${JSON.stringify(String(resource.kind))} in version ${JSON.stringify(String(resource.apiVersion))} (this CRD serves ${apiVersion}, Kind=${kind})`,
        );
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
      walk(schema, object, [], errors, cel);
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

// ------------------------------------------------------------------ pruning, list types

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

function walk(schema: OpenApiSchema, value: unknown, path: Array<string | number>, errors: string[], cel: CelCompiler): void {
  if (value === undefined || value === null || !hasType(value, schema)) return;
  if (Array.isArray(value)) {
    checkListType(schema, value, path, errors);
    if (schema.items) value.forEach((item, index) => walk(schema.items!, item, [...path, index], errors, cel));
  } else if (isPlainObject(value) && schema.properties) {
    for (const [key, child] of Object.entries(schema.properties)) walk(child, value[key], [...path, key], errors, cel);
  }
  checkCelRules(schema, value, path, errors, cel);
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
