import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse, stringify } from 'yaml';
import { z } from 'zod';
import { createCrdValidator, featureFlagsCrdSchema, loadFeatureFlagsCrd, toJsonSchema, validateAgainstCrd, type CustomResourceDefinition, type OpenApiSchema } from './crd.js';
import { FlagsError } from './errors.js';
import { FEATURE_FLAGS_API_VERSION, FEATURE_FLAGS_GROUP, FEATURE_FLAGS_KIND, FEATURE_FLAGS_PLURAL, FEATURE_FLAGS_VERSION, featureFlagsSpecSchema, parseFeatureFlags } from './resource.js';
import { MIGRATION_PHASES } from './snapshot.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const samplesDir = join(repo, 'deploy/samples');
const fixturesDir = fileURLToPath(new URL('./fixtures/invalid-featureflags/', import.meta.url));

const crd = loadFeatureFlagsCrd();
const root = featureFlagsCrdSchema(crd);
const specSchema = root.properties!.spec!;
const statusSchema = root.properties!.status!;

function readYaml(path: string): Record<string, unknown> {
  return parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}

const samples = readdirSync(samplesDir)
  .filter((file) => /^featureflags-.*\.ya?ml$/.test(file))
  .sort()
  .map((file) => ({ file, resource: readYaml(join(samplesDir, file)) }));

type Spec = {
  phase?: string;
  flags?: { elicitation?: { agents?: string[] }; legacyDisabled?: boolean; deprecation?: { warnings?: boolean; throttleMs?: number } };
  rollout?: { stages?: Array<{ percentage: number; hold: string }> };
  analysis?: { metrics?: Array<{ name: string; query: string }> };
  rollback?: { alerts?: Array<{ alertName: string; level: string }> };
  cutover?: { maxLegacyShare?: number; window?: string };
};

function specOf(file: string): Spec {
  const sample = samples.find((candidate) => candidate.file === file);
  assert.ok(sample, `deploy/samples/${file} exists`);
  return sample.resource.spec as Spec;
}

/** Every schema node with its dotted path (`spec.rollout.stages[]` for list items). */
function nodes(schema: OpenApiSchema, path = ''): Array<{ path: string; node: OpenApiSchema }> {
  const found = [{ path: path || '(root)', node: schema }];
  for (const [key, child] of Object.entries(schema.properties ?? {})) found.push(...nodes(child, path ? `${path}.${key}` : key));
  if (schema.items) found.push(...nodes(schema.items, `${path}[]`));
  if (typeof schema.additionalProperties === 'object') found.push(...nodes(schema.additionalProperties, `${path}{}`));
  return found;
}

// ---------------------------------------------------------------------------------- the CRD itself

describe('the FeatureFlags CRD', () => {
  test('names the resource the controller watches: agentbridge.io FeatureFlags, namespaced, v1alpha1 with a status subresource', () => {
    assert.equal(crd.apiVersion, 'apiextensions.k8s.io/v1');
    assert.equal(crd.metadata.name, `${FEATURE_FLAGS_PLURAL}.${FEATURE_FLAGS_GROUP}`);
    assert.equal(crd.spec.group, FEATURE_FLAGS_GROUP);
    assert.deepEqual(crd.spec.names, {
      kind: FEATURE_FLAGS_KIND,
      listKind: `${FEATURE_FLAGS_KIND}List`,
      plural: FEATURE_FLAGS_PLURAL,
      singular: 'featureflags',
      shortNames: ['abflags'],
      categories: ['agentbridge'],
    });
    assert.equal(crd.spec.scope, 'Namespaced');
    assert.equal(crd.spec.versions.length, 1);
    const [version] = crd.spec.versions;
    assert.equal(version!.name, FEATURE_FLAGS_VERSION);
    assert.equal(version!.served, true);
    assert.equal(version!.storage, true);
    assert.deepEqual(version!.subresources, { status: {} });
    assert.deepEqual(root.required, ['spec']);
  });

  test('the schema is structural: every node typed, no additionalProperties beside properties, no forbidden keywords', () => {
    const problems: string[] = [];
    const forbidden = ['$ref', '$schema', 'definitions', 'dependencies', 'patternProperties', 'additionalItems', 'id', 'allOf', 'anyOf', 'oneOf', 'not'];
    const kubernetesFormats = new Set([
      'bsonobjectid',
      'uri',
      'email',
      'hostname',
      'ipv4',
      'ipv6',
      'cidr',
      'mac',
      'uuid',
      'uuid3',
      'uuid4',
      'uuid5',
      'isbn',
      'isbn10',
      'isbn13',
      'creditcard',
      'ssn',
      'hexcolor',
      'rgbcolor',
      'byte',
      'password',
      'date',
      'duration',
      'datetime',
      'date-time',
      'int32',
      'int64',
      'float',
      'double',
    ]);
    for (const { path, node } of nodes(root)) {
      if (node.type === undefined && node['x-kubernetes-int-or-string'] !== true) problems.push(`${path}: no type`);
      if (node.properties && node.additionalProperties !== undefined) problems.push(`${path}: additionalProperties beside properties`);
      if (node.additionalProperties === false) problems.push(`${path}: additionalProperties: false (unknown fields are pruned; strict field validation rejects them)`);
      for (const key of forbidden) if (key in node) problems.push(`${path}: ${key} is not allowed in a structural schema`);
      if ((node as { uniqueItems?: boolean }).uniqueItems === true) problems.push(`${path}: uniqueItems: true is not allowed (use x-kubernetes-list-type: set)`);
      if (node.type === 'object' && !node.properties && node.additionalProperties === undefined && node['x-kubernetes-preserve-unknown-fields'] !== true && path !== 'metadata') {
        problems.push(`${path}: an object with neither properties nor x-kubernetes-preserve-unknown-fields keeps nothing`);
      }
      if (node.type === 'array' && (node.items === undefined || Array.isArray(node.items))) problems.push(`${path}: an array needs one items schema`);
      if (node.format !== undefined && !kubernetesFormats.has(node.format)) problems.push(`${path}: format ${node.format} is not one Kubernetes validates`);
      if (node.enum) for (const value of node.enum) if (!matchesType(value, node.type)) problems.push(`${path}: enum value ${JSON.stringify(value)} is not a ${node.type}`);
      if ((node.minimum !== undefined || node.maximum !== undefined) && node.type !== 'integer' && node.type !== 'number') problems.push(`${path}: bounds on a ${node.type}`);
      if ((node.pattern !== undefined || node.minLength !== undefined || node.maxLength !== undefined) && node.type !== 'string') problems.push(`${path}: string constraints on a ${node.type}`);
      if ((node.minItems !== undefined || node.maxItems !== undefined) && node.type !== 'array') problems.push(`${path}: item counts on a ${node.type}`);
      if (node.pattern !== undefined && /\(\?[=!<]|\\[1-9]/.test(node.pattern)) problems.push(`${path}: pattern uses lookaround or backreferences, which Go's RE2 does not support`);
      if (node.required) for (const name of node.required) if (!node.properties?.[name]) problems.push(`${path}: requires ${name}, which it does not define`);
      if (node['x-kubernetes-preserve-unknown-fields'] === true && path !== 'status.history[].details') problems.push(`${path}: x-kubernetes-preserve-unknown-fields outside status.history[].details`);
      if (path.startsWith('metadata') && node.default !== undefined) problems.push(`${path}: defaults are not allowed in metadata`);
      const listType = node['x-kubernetes-list-type'];
      if (listType !== undefined && node.type !== 'array') problems.push(`${path}: x-kubernetes-list-type on a ${node.type}`);
      if (listType === 'map') {
        const item = node.items!;
        if (item.type !== 'object') problems.push(`${path}: a map list needs object items`);
        for (const key of node['x-kubernetes-list-map-keys'] ?? []) {
          const field = item.properties?.[key];
          if (!field || !['string', 'integer', 'number', 'boolean'].includes(field.type ?? '')) problems.push(`${path}: map key ${key} must be a scalar field`);
          if (!item.required?.includes(key) && field?.default === undefined) problems.push(`${path}: map key ${key} must be required or defaulted`);
        }
        if (!node['x-kubernetes-list-map-keys']?.length) problems.push(`${path}: a map list needs x-kubernetes-list-map-keys`);
      }
      if (listType === 'set' && ['object', 'array'].includes(node.items?.type ?? '')) problems.push(`${path}: a set list needs scalar items`);
      for (const rule of node['x-kubernetes-validations'] ?? []) {
        if (!rule.rule?.trim()) problems.push(`${path}: a CEL validation without a rule`);
        if (!rule.message || /\n/.test(rule.message)) problems.push(`${path}: CEL rule ${rule.rule} needs a one-line message`);
        if (rule.fieldPath !== undefined) {
          const target = rule.fieldPath
            .replace(/^\./, '')
            .split('.')
            .reduce<OpenApiSchema | undefined>((at, key) => at?.properties?.[key], node);
          if (!target) problems.push(`${path}: CEL fieldPath ${rule.fieldPath} names no field`);
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  test('every default is valid for its field, as the API server requires', () => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    for (const { path, node } of nodes(root)) {
      if (node.default === undefined) continue;
      const { default: _default, ...withoutDefault } = node;
      const validate = ajv.compile(toJsonSchema(withoutDefault, ajv));
      assert.ok(validate(structuredClone(node.default)), `${path}: default ${JSON.stringify(node.default)} is invalid: ${ajv.errorsText(validate.errors)}`);
    }
  });

  test('every field has an operator-facing description', () => {
    const missing = nodes(root)
      .filter(({ node }) => typeof node.description !== 'string' || node.description.trim().length < 3)
      .map(({ path }) => path);
    assert.deepEqual(missing, []);
  });

  test('kubectl get abflags shows Phase, Stage, Percentage, Last Rollback and Age (Paused with -o wide)', () => {
    const columns = crd.spec.versions[0]!.additionalPrinterColumns ?? [];
    assert.deepEqual(
      columns.map(({ name, type, jsonPath, priority }) => ({ name, type, jsonPath, priority: priority ?? 0 })),
      [
        { name: 'Phase', type: 'string', jsonPath: '.status.phase', priority: 0 },
        { name: 'Stage', type: 'integer', jsonPath: '.status.stage', priority: 0 },
        { name: 'Percentage', type: 'integer', jsonPath: '.status.effectivePercentage', priority: 0 },
        { name: 'Paused', type: 'boolean', jsonPath: '.status.paused', priority: 1 },
        { name: 'Last Rollback', type: 'date', jsonPath: '.status.lastRollback.at', priority: 0 },
        { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', priority: 0 },
      ],
    );
    for (const column of columns) {
      if (column.jsonPath === '.metadata.creationTimestamp') continue;
      const field = column.jsonPath
        .slice(1)
        .split('.')
        .reduce<OpenApiSchema | undefined>((at, key) => at?.properties?.[key], root);
      assert.ok(field, `${column.name}: ${column.jsonPath} is a field of the schema`);
      const expected = column.type === 'date' ? 'string' : column.type;
      assert.equal(field.type, expected, `${column.name}: ${column.jsonPath} is a ${column.type}`);
      if (column.type === 'date') assert.equal(field.format, 'date-time');
    }
  });

  test('the status conditions are standard conditions, keyed by type, and each one the controller sets is documented', () => {
    const conditions = statusSchema.properties!.conditions!;
    assert.equal(conditions['x-kubernetes-list-type'], 'map');
    assert.deepEqual(conditions['x-kubernetes-list-map-keys'], ['type']);
    const item = conditions.items!;
    assert.deepEqual([...item.required!].sort(), ['lastTransitionTime', 'message', 'reason', 'status', 'type']);
    assert.deepEqual(Object.keys(item.properties!).sort(), ['lastTransitionTime', 'message', 'observedGeneration', 'reason', 'status', 'type']);
    assert.deepEqual(item.properties!.status!.enum, ['True', 'False', 'Unknown']);
    for (const type of ['Ready', 'Progressing', 'Paused', 'StagesComplete', 'RolledBack', 'CutoverBlocked']) {
      assert.match(conditions.description!, new RegExp(`\\b${type}\\b`), `conditions description documents ${type}`);
    }
    assert.match(conditions.description!, /kubectl wait --for=condition=Ready/);
  });

  test('the status holds everything the controller resumes from, bounded', () => {
    const status = statusSchema.properties!;
    assert.deepEqual(
      Object.keys(status).sort(),
      [
        'abTest',
        'appliedRequestId',
        'conditions',
        'drill',
        'healthCheck',
        'lastDrill',
        'scorecard',
        'readOnly',
        'checksums',
        'cutover',
        'deprecation',
        'effectivePercentage',
        'failedChecks',
        'handledAlerts',
        'history',
        'lastAnalysisAt',
        'lastMetrics',
        'lastRollback',
        'observedGeneration',
        'paused',
        'pauseReason',
        'pausedAt',
        'phase',
        'rollback',
        'snapshotVersion',
        'stage',
        'stageStartedAt',
      ].sort(),
    );
    assert.deepEqual(status.phase!.enum, [...MIGRATION_PHASES]);
    assert.equal(status.history!.maxItems, 50);
    assert.equal(status.handledAlerts!.maxItems, 100);
    assert.equal(status.lastMetrics!.items!.properties!.value!.nullable, true);
    assert.equal(status.history!.items!.properties!.details!['x-kubernetes-preserve-unknown-fields'], true);
    const valid = validateAgainstCrd({
      apiVersion: FEATURE_FLAGS_API_VERSION,
      kind: FEATURE_FLAGS_KIND,
      metadata: { name: 'agent-bridge' },
      spec: {},
      status: {
        observedGeneration: 3,
        phase: 'rollout',
        stage: 2,
        effectivePercentage: 15,
        stageStartedAt: '2025-03-01T10:00:00.000Z',
        paused: false,
        failedChecks: 1,
        lastAnalysisAt: '2025-03-01T10:05:00.000Z',
        lastMetrics: [{ name: 'elicitation-latency-p99', value: null, max: 1, result: 'inconclusive', at: '2025-03-01T10:05:00.000Z' }],
        rollback: { level: 'partial', trigger: 'alert', reason: 'ElicitationErrorSpike', at: '2025-03-01T09:00:00.000Z', percentage: 10 },
        lastRollback: { level: 'partial', trigger: 'alert', reason: 'ElicitationErrorSpike', at: '2025-03-01T09:00:00.000Z', effectMs: 412 },
        appliedRequestId: 'drill-1',
        handledAlerts: [{ fingerprint: 'a1b2', startsAt: '2025-03-01T08:59:00.000Z' }],
        snapshotVersion: 17,
        cutover: { ready: false, forced: false, message: 'legacy share 12% is above 5% (24h)', checkedAt: '2025-03-01T10:05:00.000Z' },
        conditions: [{ type: 'Ready', status: 'True', reason: 'Reconciled', message: 'generation 3 reconciled', lastTransitionTime: '2025-03-01T10:00:00.000Z', observedGeneration: 3 }],
        history: [{ at: '2025-03-01T09:00:00.000Z', action: 'rollback', actor: 'alertmanager', reason: 'ElicitationErrorSpike', details: { level: 'partial', metrics: [{ value: 0.02 }] } }],
        abTest: {
          name: 'week-6',
          state: 'running',
          startedAt: '2025-03-01T00:00:00.000Z',
          endsAt: '2025-03-08T00:00:00.000Z',
          evaluatedAt: '2025-03-01T10:05:00.000Z',
          windowSeconds: 36300,
          confidence: 0.95,
          verdict: 'improved',
          note: 'latency improved; success-rate and cost not worse',
          metrics: [
            {
              name: 'latency',
              goal: 'improve',
              test: 'bootstrap over histogram buckets (mean)',
              control: { estimate: 0.12, n: 5000 },
              treatment: { estimate: 0.03, n: 5100 },
              improvement: 0.75,
              interval: [0.7, 0.8],
              pValue: 0.0005,
              minimumImprovement: 0.1,
              verdict: 'improved',
              note: 'improvement 75 % (95 % CI 70–80 %) reaches 10 %',
            },
            {
              name: 'success-rate',
              goal: 'not-worse',
              test: 'two-proportion z-test',
              control: { estimate: null, n: 0 },
              treatment: { estimate: 1, n: 10 },
              improvement: null,
              interval: null,
              pValue: null,
              minimumImprovement: 0.1,
              verdict: 'not-enough-data',
              note: 'fewer than 100 messages',
            },
          ],
        },
        scorecard: {
          evaluatedAt: '2025-03-01T10:05:00.000Z',
          summary: { pass: 1, fail: 0, pending: 1 },
          criteria: [
            { id: 'canary-zero-loss', group: 'phase-gate', section: 'canary success', title: 'Zero message loss', threshold: '0 lost', value: 0, display: '0 lost', window: '24h', result: 'pass', source: 'prometheus' },
            {
              id: 'staging-tests',
              group: 'decision-point',
              section: 'end of week 2',
              title: 'Staging tests pass',
              threshold: 'attested pass',
              value: null,
              display: 'not attested',
              result: 'pending',
              source: 'attestation',
              note: 'attest it in spec.attestations',
            },
          ],
        },
        healthCheck: { consecutiveFailures: 0, lastCheckAt: '2025-03-01T10:05:00.000Z', lastResult: 'healthy', message: '2 of 2 replicas ready' },
        drill: { id: 'drill-7', agent: 'drill-agent', trigger: 'schedule', actor: 'controller', state: 'rolling-back', startedAt: '2025-03-01T10:05:00.000Z' },
        lastDrill: {
          id: 'drill-6',
          agent: 'drill-agent',
          trigger: 'cli',
          actor: 'alice',
          startedAt: '2025-03-01T09:05:00.000Z',
          at: '2025-03-01T09:05:01.000Z',
          result: 'passed',
          effectMs: 180,
          restoreMs: 160,
          message: 'rolled back in 180 ms, restored in 160 ms',
        },
      },
    });
    assert.deepEqual(valid, { valid: true });
  });
});

// ---------------------------------------------------------------------------------- CRD ↔ resource.ts

type Shape = Record<string, unknown>;
const COMPARED = ['type', 'nullable', 'enum', 'minimum', 'maximum', 'pattern', 'minLength', 'maxLength', 'minItems', 'maxItems', 'format', 'default', 'required'] as const;

/**
 * Bounds the CRD states that the zod schema only implies. Strictly ascending integer percentages
 * from 0 to 100 allow at most 101 stages; the CRD says so because Kubernetes needs a bound on a list
 * its CEL rule walks twice.
 */
const CRD_ONLY_BOUNDS: Record<string, Shape> = {};

/** Flattens a JSON Schema (zod's or the CRD's) into `path → the keywords that matter`. */
function flatten(schema: Record<string, unknown>, side: 'zod' | 'crd', path = '', out = new Map<string, Shape>()): Map<string, Shape> {
  let node = schema;
  let nullable = node.nullable === true;
  const anyOf = node.anyOf as Array<Record<string, unknown>> | undefined;
  if (anyOf?.length === 2 && anyOf.some((branch) => branch.type === 'null')) {
    node = { ...anyOf.find((branch) => branch.type !== 'null')!, ...(node.default !== undefined ? { default: node.default } : {}) };
    nullable = true;
  }
  const shape: Shape = {};
  for (const key of COMPARED) if (node[key] !== undefined) shape[key] = structuredClone(node[key]);
  if (nullable) shape.nullable = true;
  else delete shape.nullable;
  if (Array.isArray(shape.required)) shape.required = [...(shape.required as string[])].sort();
  if (side === 'zod') {
    if (typeof shape.pattern === 'string') shape.pattern = shape.pattern.replaceAll('\\d', '[0-9]');
    if (shape.maximum === Number.MAX_SAFE_INTEGER) delete shape.maximum; // z.int()'s implicit safe-integer bounds
    if (shape.minimum === Number.MIN_SAFE_INTEGER) delete shape.minimum;
  } else {
    for (const [key, value] of Object.entries(CRD_ONLY_BOUNDS[path] ?? {})) if (shape[key] === value) delete shape[key];
  }
  if (path !== '') out.set(path, shape);
  for (const [key, child] of Object.entries((node.properties as Record<string, Record<string, unknown>>) ?? {})) flatten(child, side, path ? `${path}.${key}` : key, out);
  if (node.items) flatten(node.items as Record<string, unknown>, side, `${path}[]`, out);
  return out;
}

function disagreements(crdSpec: OpenApiSchema, zodSpec: Record<string, unknown>): string[] {
  const fromCrd = flatten(crdSpec as Record<string, unknown>, 'crd');
  const fromZod = flatten(zodSpec, 'zod');
  const problems: string[] = [];
  for (const path of fromZod.keys()) if (!fromCrd.has(path)) problems.push(`spec.${path}: in resource.ts, missing from the CRD`);
  for (const path of fromCrd.keys()) if (!fromZod.has(path)) problems.push(`spec.${path}: in the CRD, missing from resource.ts`);
  for (const [path, crdShape] of fromCrd) {
    const zodShape = fromZod.get(path);
    if (!zodShape) continue;
    for (const key of new Set([...Object.keys(crdShape), ...Object.keys(zodShape)])) {
      if (JSON.stringify(crdShape[key]) !== JSON.stringify(zodShape[key])) {
        problems.push(`spec.${path}: ${key} is ${JSON.stringify(crdShape[key])} in the CRD but ${JSON.stringify(zodShape[key])} in resource.ts`);
      }
    }
  }
  return problems;
}

/** The spec as the controller reads it, before defaults are filled in (what an operator may write). */
const zodSpec = z.toJSONSchema(featureFlagsSpecSchema, { io: 'input' }) as Record<string, unknown>;

describe('the CRD and the controller schema (resource.ts) agree', () => {
  test('every spec field exists on both sides with the same type, enum, bounds, pattern, default and required-ness', () => {
    assert.deepEqual(disagreements(specSchema, zodSpec), []);
  });

  test('the agreement check notices a field added, or a bound changed, on one side only', () => {
    const widened = structuredClone(specSchema);
    widened.properties!.rollout!.properties!.maxSurge = { type: 'integer', description: 'not in resource.ts' };
    widened.properties!.flags!.properties!.elicitation!.properties!.percentage!.maximum = 1000;
    const problems = disagreements(widened, zodSpec);
    assert.ok(problems.includes('spec.rollout.maxSurge: in the CRD, missing from resource.ts'), problems.join('\n'));
    assert.ok(
      problems.some((problem) => problem.startsWith('spec.flags.elicitation.percentage: maximum is 1000')),
      problems.join('\n'),
    );

    const narrowed = structuredClone(specSchema);
    delete narrowed.properties!.cutover!.properties!.force;
    assert.ok(disagreements(narrowed, zodSpec).includes('spec.cutover.force: in resource.ts, missing from the CRD'));
  });

  test('a spec with every field left out is valid on both sides, and the CRD defaults are what the controller fills in', () => {
    const minimal = { apiVersion: FEATURE_FLAGS_API_VERSION, kind: FEATURE_FLAGS_KIND, metadata: { name: 'agent-bridge' }, spec: {} };
    assert.deepEqual(validateAgainstCrd(minimal), { valid: true });
    const parsed = parseFeatureFlags(minimal);
    for (const key of ['phase', 'paused', 'flags', 'rollout', 'analysis', 'rollback', 'cutover'] as const) {
      assert.deepEqual(parsed.spec[key], specSchema.properties![key]!.default, `spec.${key} default`);
    }
  });
});

// ---------------------------------------------------------------------------------- samples

describe('the sample resources in deploy/samples', () => {
  test('there is one sample per migration phase, each for the resource named agent-bridge', () => {
    assert.deepEqual(
      samples.map((sample) => sample.file),
      MIGRATION_PHASES.map((phase) => `featureflags-${phase}.yaml`).sort(),
    );
    for (const { file, resource } of samples) {
      assert.equal(resource.apiVersion, FEATURE_FLAGS_API_VERSION, file);
      assert.equal(resource.kind, FEATURE_FLAGS_KIND, file);
      assert.equal((resource.metadata as { name?: string }).name, 'agent-bridge', file);
      assert.equal((resource.spec as Spec).phase, file.replace(/^featureflags-|\.yaml$/g, ''), file);
    }
  });

  test('every sample FeatureFlags resource is accepted by the CRD schema and by the controller', () => {
    for (const { file, resource } of samples) {
      assert.deepEqual(validateAgainstCrd(resource), { valid: true }, file);
      assert.doesNotThrow(() => parseFeatureFlags(resource, file), file);
    }
  });

  test('the canary sample opts in the strategy canary agents and runs its week-4 stages under its gate', () => {
    const canary = specOf('featureflags-canary.yaml');
    assert.deepEqual(canary.flags?.elicitation?.agents, ['test_agent_alpha', 'test_agent_beta', 'monitoring_agent']);
    const stages = canary.rollout!.stages!;
    assert.deepEqual(stages.slice(-3), [
      { percentage: 1, hold: '4h' },
      { percentage: 2, hold: '4h' },
      { percentage: 5, hold: '24h' },
    ]);
    const parsed = parseFeatureFlags(samples.find((sample) => sample.file === 'featureflags-canary.yaml')!.resource);
    const thresholds = Object.fromEntries(parsed.spec.analysis.metrics.map((metric) => [metric.name, { max: metric.max, min: metric.min }]));
    assert.deepEqual(thresholds, {
      'elicitation-error-rate': { max: 0.001, min: undefined }, // error rate < 0.1 %
      'elicitation-latency-p99': { max: 1, min: undefined }, // p99 < 1000 ms (the histogram is in seconds)
      'message-delivery-ratio': { max: undefined, min: 0.999 }, // delivery > 99.9 %
    });
  });

  test('the rollout sample runs the strategy progressive stages and continues the canary sample stage numbering', () => {
    const canary = specOf('featureflags-canary.yaml').rollout!.stages!;
    const rollout = specOf('featureflags-rollout.yaml').rollout!.stages!;
    // The controller keeps status.stage across a phase change, so the canary stages come first, unchanged.
    assert.deepEqual(rollout.slice(0, canary.length), canary);
    assert.deepEqual(rollout.slice(canary.length, canary.length + 6), [
      { percentage: 10, hold: '2h' },
      { percentage: 15, hold: '4h' },
      { percentage: 20, hold: '8h' },
      { percentage: 25, hold: '24h' },
      { percentage: 50, hold: '168h' },
      { percentage: 75, hold: rollout[canary.length + 5]!.hold },
    ]);
    assert.equal(rollout.at(-1)!.percentage, 100);
  });

  test('stabilization is at 100 % with deprecation warnings and a throttle; completion disables legacy behind the guard', () => {
    const stabilization = parseFeatureFlags(samples.find((sample) => sample.file === 'featureflags-stabilization.yaml')!.resource).spec;
    assert.equal(stabilization.flags.elicitation?.percentage, 100);
    assert.equal(stabilization.flags.deprecation?.warnings, true);
    assert.deepEqual(
      stabilization.deprecation?.steps.map((step) => [step.name, step.after, step.actions.join('+')]),
      [
        ['day-1', '0s', 'warnings'],
        ['day-3', '48h', 'headers+throttle'],
        ['day-5', '96h', 'notify-owners'],
        ['day-7', '144h', 'final-notice'],
      ],
      "the strategy's week-9 campaign",
    );
    assert.equal(stabilization.deprecation?.throttleMs, 100, 'week 9 day 3: "introduce 100ms artificial delay"');
    const completion = parseFeatureFlags(samples.find((sample) => sample.file === 'featureflags-completion.yaml')!.resource).spec;
    assert.equal(completion.flags.legacyDisabled, true);
    assert.equal(completion.cutover.force, undefined, 'the sample does not force the cutover');
    assert.equal(completion.cutover.maxLegacyShare, 0.05);
    // What the guard needs before it can ever pass: Prometheus, and the rollout done (no stages: 100 %).
    assert.ok(completion.analysis.prometheusUrl, 'the cutover guard asks Prometheus');
    assert.deepEqual(completion.rollout.stages, []);
    assert.equal(completion.flags.elicitation?.percentage, 100);
  });

  test('each sample maps every project alert to a rollback level, and names no alert the rules do not define', () => {
    const rules = parse(readFileSync(join(repo, 'deploy/prometheus/agent-bridge.rules.yaml'), 'utf8')) as {
      groups: Array<{ rules: Array<{ alert?: string; labels?: { rollback?: string } }> }>;
    };
    const alerts = rules.groups.flatMap((group) => group.rules).filter((rule) => rule.alert !== undefined);
    const defined = new Set(alerts.map((rule) => rule.alert!));
    for (const { file, resource } of samples) {
      const mapped = ((resource.spec as Spec).rollback?.alerts ?? []).map((entry) => entry.alertName);
      assert.deepEqual([...mapped].sort(), [...defined].sort(), `${file}: rollback.alerts lists exactly the alerts of agent-bridge.rules.yaml`);
    }
    // Where legacy is still served, the samples follow the rules' own `rollback` labels.
    for (const file of ['featureflags-rollout.yaml', 'featureflags-stabilization.yaml', 'featureflags-preparation.yaml']) {
      const levels = Object.fromEntries(specOf(file).rollback!.alerts!.map((entry) => [entry.alertName, entry.level]));
      for (const rule of alerts) assert.equal(levels[rule.alert!], rule.labels?.rollback, `${file}: ${rule.alert}`);
    }
  });

  test('every metric the sample analysis queries use is exported by the services', () => {
    const metricsSource = readFileSync(join(repo, 'libs/observability/src/metrics.ts'), 'utf8');
    const exported = new Set([...metricsSource.matchAll(/name: '(agentbridge_[a-z_]+)'/g)].map((match) => match[1]!));
    assert.ok(exported.size > 10, 'found the metric definitions in libs/observability/src/metrics.ts');
    for (const { file } of samples) {
      for (const metric of specOf(file).analysis?.metrics ?? []) {
        for (const [name] of metric.query.matchAll(/agentbridge_[a-z_]+/g)) {
          assert.ok(exported.has(name.replace(/_(bucket|sum|count)$/, '')), `${file}: ${metric.name} uses ${name}, which no service exports`);
        }
      }
    }
  });

  test('every sample analysis query is valid PromQL (promtool check rules)', () => {
    const queries = samples.flatMap(({ file }) => (specOf(file).analysis?.metrics ?? []).map((metric) => ({ record: `sample:${file.replace(/\W/g, '_')}:${metric.name.replaceAll('-', '_')}`, expr: metric.query })));
    assert.ok(queries.length > 0);
    const dir = mkdtempSync(join(tmpdir(), 'featureflags-queries-'));
    try {
      writeFileSync(join(dir, 'queries.yaml'), stringify({ groups: [{ name: 'featureflags-samples', rules: queries }] }));
      const promtool = process.env.PROMTOOL ?? 'promtool';
      const result = spawnSync(promtool, ['check', 'rules', 'queries.yaml'], { cwd: dir, encoding: 'utf8' });
      if (result.error) throw new Error(`cannot run ${promtool} (install the Debian "prometheus" package; make test does): ${result.error.message}`);
      assert.equal(result.status, 0, result.stdout + result.stderr);
      assert.match(result.stdout, new RegExp(`SUCCESS: ${queries.length} rules found`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------- invalid resources

const fixtures = readdirSync(fixturesDir)
  .filter((file) => file.endsWith('.yaml'))
  .sort()
  .map((file) => {
    const text = readFileSync(join(fixturesDir, file), 'utf8');
    const [first = '', second = ''] = text.split('\n');
    const expect = /^# expect: (\S+) (.+)$/.exec(first);
    const crdRule = /^# crd: (structural|cel) (.+)$/.exec(second);
    assert.ok(expect, `${file}: first line is "# expect: <field path> <what>"`);
    assert.ok(crdRule, `${file}: second line is "# crd: structural|cel <what the CRD reports>"`);
    return { file, resource: parse(text) as unknown, path: expect[1]!, what: expect[2]!, crdKind: crdRule[1] as 'structural' | 'cel', crdWhat: crdRule[2]! };
  });

function celRules(schema: OpenApiSchema): Array<{ path: string; rule: string; message: string }> {
  return nodes(schema).flatMap(({ path, node }) => (node['x-kubernetes-validations'] ?? []).map((rule) => ({ path, rule: rule.rule, message: rule.message ?? '' })));
}

describe('invalid FeatureFlags resources (libs/flags/src/fixtures/invalid-featureflags)', () => {
  test('there is a fixture for each rule: percentage, stage order, duration, rollback level, agent selector, unknown field, metric threshold, Prometheus URL', () => {
    assert.deepEqual(
      fixtures.map((fixture) => fixture.file),
      [
        'analysis-interval-too-short.yaml',
        'bad-duration.yaml',
        'descending-stages.yaml',
        'duplicate-metric-name.yaml',
        'empty-agent-selector.yaml',
        'metric-without-threshold.yaml',
        'metrics-without-prometheus-url.yaml',
        'percentage-above-100.yaml',
        'unknown-field.yaml',
        'unknown-rollback-level.yaml',
      ],
    );
  });

  for (const fixture of fixtures) {
    test(`${fixture.file}: the controller rejects it naming ${fixture.path}`, () => {
      let error: unknown;
      try {
        parseFeatureFlags(fixture.resource, fixture.file);
      } catch (caught) {
        error = caught;
      }
      assert.ok(error instanceof FlagsError, `${fixture.file} was accepted by parseFeatureFlags`);
      assert.equal(error.code, 'FLAGS_INVALID');
      assert.ok(
        error.issues.some((issue) => issue.startsWith(`${fixture.path}: `) && issue.includes(fixture.what)),
        `expected an issue "${fixture.path}: …${fixture.what}…", got:\n${error.issues.join('\n')}`,
      );
    });

    test(`${fixture.file}: the API server rejects it too (${fixture.crdKind === 'cel' ? 'CEL rule' : 'OpenAPI schema'})`, () => {
      if (fixture.crdKind === 'cel') {
        // Kubernetes evaluates the CEL; here the rule must exist with a message naming the field…
        const rule = celRules(root).find((candidate) => candidate.message.includes(fixture.crdWhat));
        assert.ok(rule, `the CRD has a CEL rule whose message says "${fixture.crdWhat}"`);
        const field = fixture.crdWhat.split(':')[0]!;
        assert.ok(rule.message.startsWith(field), `the CEL message names the field (${field}): ${rule.message}`);
      }
      // …and the validator (schema plus the CEL emulation) rejects the resource with that message.
      const result = validateAgainstCrd(fixture.resource);
      assert.equal(result.valid, false, `${fixture.file} was accepted by the CRD schema`);
      assert.ok(!result.valid && result.errors.some((line) => line.includes(fixture.crdWhat)), `expected an error containing "${fixture.crdWhat}", got:\n${result.valid ? '' : result.errors.join('\n')}`);
      if (fixture.crdKind === 'structural') {
        // A structural rule is enforced by the OpenAPI schema alone, without any CEL.
        const withoutCel = structuredClone(crd);
        for (const { node } of nodes(featureFlagsCrdSchema(withoutCel))) delete node['x-kubernetes-validations'];
        assert.equal(createCrdValidator(withoutCel).validate(fixture.resource).valid, false);
      }
    });
  }
});

// ---------------------------------------------------------------------------------- validateAgainstCrd

describe('validateAgainstCrd', () => {
  const base = { apiVersion: FEATURE_FLAGS_API_VERSION, kind: FEATURE_FLAGS_KIND, metadata: { name: 'agent-bridge' } };

  test('reports each problem with its field path the way kubectl does', () => {
    const result = validateAgainstCrd({
      ...base,
      spec: {
        phase: 'beta',
        rollout: { stages: [{ percentage: 10, hold: '2h' }, { percentage: 20, hold: '1x' }, { percentage: 30 }] },
        rollback: { partialStep: 0 },
      },
    });
    assert.deepEqual(result.valid ? [] : [...result.errors].sort(), [
      'spec.phase: Unsupported value: "beta": supported values: "preparation", "canary", "rollout", "stabilization", "completion"',
      'spec.rollback.partialStep: Invalid value: 0: spec.rollback.partialStep in body should be greater than or equal to 1',
      `spec.rollout.stages[1].hold: Invalid value: "1x": spec.rollout.stages[1].hold in body should match '^([0-9]+(ms|s|m|h))+$'`,
      'spec.rollout.stages[2].hold: Required value',
    ]);
  });

  test('checks what the API server checks outside the spec schema: apiVersion, kind and name', () => {
    const result = validateAgainstCrd({ apiVersion: 'agentbridge.io/v1', kind: FEATURE_FLAGS_KIND, metadata: {}, spec: {} });
    assert.equal(result.valid, false);
    assert.ok(!result.valid && result.errors.some((line) => line.startsWith('apiVersion/kind: ') && line.includes('agentbridge.io/v1alpha1')));
    assert.ok(!result.valid && result.errors.includes('metadata.name: Required value: name or generateName is required'));
    assert.deepEqual(validateAgainstCrd('phase: canary'), { valid: false, errors: ['(top level): Invalid value: "phase: canary": expected a FeatureFlags object'] });
  });

  test('drops null in fields that are not nullable and applies defaults, like the API server, without changing its input', () => {
    const resource = { ...base, spec: { paused: null, flags: { elicitation: null }, analysis: { metrics: [{ name: 'x', query: 'up', max: 1 }], prometheusUrl: 'http://prometheus:9090' } } };
    const before = structuredClone(resource);
    assert.deepEqual(validateAgainstCrd(resource), { valid: true });
    assert.deepEqual(resource, before);
  });

  test('refuses to build when the CRD has a CEL rule it cannot emulate, so no rule is silently skipped', () => {
    const changed: CustomResourceDefinition = structuredClone(crd);
    featureFlagsCrdSchema(changed).properties!.spec!.properties!.paused!['x-kubernetes-validations'] = [{ rule: 'self == oldSelf', message: 'spec.paused: immutable' }];
    assert.throws(() => createCrdValidator(changed), /spec\.paused is not emulated/);
  });
});

function matchesType(value: unknown, type: OpenApiSchema['type']): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number';
    case 'boolean':
      return typeof value === 'boolean';
    default:
      return false;
  }
}
