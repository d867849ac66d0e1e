/**
 * The CRD's `x-kubernetes-validations` (CEL) rules. There is no CEL interpreter here, so each rule
 * the CRD uses is emulated by a JavaScript function keyed by the rule's exact text; a rule without
 * an emulation makes the validator refuse to build (checkCelRulesAreEmulated).
 */
import { DURATION_PATTERN, parseDuration } from '../resource.js';
import { formatPath, typeName } from './messages.js';
import type { OpenApiSchema } from './types.js';

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

/**
 * Turns a rule's text into a check of `self` (true: the value passes), or undefined when it cannot.
 * The default emulates the FeatureFlags CRD's rules; a real CEL interpreter can take its place
 * (createCrdValidator's `cel` option), e.g. for a third-party CRD whose rules are too many to emulate.
 */
export type CelCompiler = (rule: string) => ((self: unknown) => boolean) | undefined;

export const emulatedCel: CelCompiler = emulationOf;

export function checkCelRulesAreEmulated(schema: OpenApiSchema, path: string, compile: CelCompiler = emulatedCel): void {
  for (const rule of schema['x-kubernetes-validations'] ?? []) {
    if (compile(rule.rule)) continue;
    const at = path || '(top level)';
    throw new Error(compile === emulatedCel ? `the CEL rule at ${at} is not emulated by libs/flags/src/crd/cel.ts (add it to CEL_RULES): ${rule.rule}` : `the CEL rule at ${at} does not compile: ${rule.rule}`);
  }
  for (const [key, child] of Object.entries(schema.properties ?? {})) checkCelRulesAreEmulated(child, path ? `${path}.${key}` : key, compile);
  if (schema.items) checkCelRulesAreEmulated(schema.items, `${path}[]`, compile);
}

/** Each CEL rule on this node that the value breaks, as kubectl words it. */
export function checkCelRules(schema: OpenApiSchema, value: unknown, path: Array<string | number>, errors: string[], compile: CelCompiler = emulatedCel): void {
  for (const rule of schema['x-kubernetes-validations'] ?? []) {
    const check = compile(rule.rule);
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
