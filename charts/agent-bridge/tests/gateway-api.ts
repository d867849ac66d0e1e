/**
 * Gateway API objects validated the way the API server validates them, offline, against the
 * upstream CRDs vendored in gateway-api/<version>/ (README there: source, tag, commit):
 *
 * - the OpenAPI schema of the served version (types, patterns, enums, bounds, required, unknown
 *   fields as kubectl's strict field validation rejects them), defaults applied first — the same
 *   validator as the FeatureFlags CRD's (@agent-bridge/flags/crd, createCrdValidator);
 * - every CEL rule (`x-kubernetes-validations`) evaluated by a real CEL interpreter
 *   (@bufbuild/cel, Buf's conformant CEL for ECMAScript), not emulated: a rule that does not parse
 *   or plan fails the validator's build. Values are given to CEL as the API server gives them:
 *   objects as maps, whole numbers as int (bigint). Transition rules (those reading `oldSelf`) are
 *   planned but not run: the API server runs them only on updates, and these are creations.
 *
 * Two channels: `standard` (what most clusters install) and `experimental` (adds, among others,
 * HTTPRoute `sessionPersistence`). The standard schema rejects an experimental field as unknown,
 * which is what a cluster with the standard CRDs does too.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { celEnv, parse as parseCel, plan } from '@bufbuild/cel';
import { parse } from 'yaml';
import { createCrdValidator, type CelCompiler, type CrdValidationResult, type CustomResourceDefinition } from '@agent-bridge/flags/crd';
import { CHART_DIR, type KubeObject } from './helm.js';

export const GATEWAY_API_VERSION = 'v1.6.1';
const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';
export type GatewayApiChannel = 'standard' | 'experimental';
type GatewayApiKind = 'HTTPRoute' | 'Gateway' | 'GatewayClass';

const FILES: Record<GatewayApiKind, string> = { HTTPRoute: 'httproutes', Gateway: 'gateways', GatewayClass: 'gatewayclasses' };
const CHANNELS: Record<GatewayApiKind, readonly GatewayApiChannel[]> = { HTTPRoute: ['standard', 'experimental'], Gateway: ['standard'], GatewayClass: ['standard'] };

/** The vendored CRD of a kind and channel, checked to be the release and channel it claims. */
export function gatewayApiCrd(kind: GatewayApiKind, channel: GatewayApiChannel): CustomResourceDefinition {
  if (!CHANNELS[kind].includes(channel)) throw new Error(`no ${channel} CRD of ${kind} is vendored (gateway-api/README.md)`);
  const path = join(CHART_DIR, 'tests/gateway-api', GATEWAY_API_VERSION, `${channel}-${FILES[kind]}.yaml`);
  const crd = parse(readFileSync(path, 'utf8')) as CustomResourceDefinition & { metadata: { annotations?: Record<string, string> } };
  const annotations = crd.metadata.annotations ?? {};
  if (crd.spec.group !== GATEWAY_API_GROUP || crd.spec.names.kind !== kind) throw new Error(`${path}: not the ${kind}.${GATEWAY_API_GROUP} CRD`);
  if (annotations[`${GATEWAY_API_GROUP}/bundle-version`] !== GATEWAY_API_VERSION || annotations[`${GATEWAY_API_GROUP}/channel`] !== channel) {
    throw new Error(`${path}: bundle ${annotations[`${GATEWAY_API_GROUP}/bundle-version`]} channel ${annotations[`${GATEWAY_API_GROUP}/channel`]}, expected ${GATEWAY_API_VERSION} ${channel}`);
  }
  return crd;
}

/** JSON as CEL sees it in Kubernetes: objects are maps, whole numbers int. */
function toCel(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toCel);
  if (value !== null && typeof value === 'object') return new Map(Object.entries(value).map(([key, child]) => [key, toCel(child)]));
  return typeof value === 'number' && Number.isInteger(value) ? BigInt(value) : value;
}

/** CEL rules planned by the interpreter, once each; `self` is the value the rule sits on. An error value fails the rule, as in Kubernetes. */
const compiled = new Map<string, (self: unknown) => boolean>();
const env = celEnv();
const realCel: CelCompiler = (rule) => {
  let check = compiled.get(rule);
  if (!check) {
    const program = plan(env, parseCel(rule));
    // A transition rule (it reads oldSelf) runs only on an update: these are creations.
    check = /\boldSelf\b/.test(rule) ? () => true : (self) => program({ self: toCel(self) } as never) === true;
    compiled.set(rule, check);
  }
  return check;
};

const validators = new Map<string, ReturnType<typeof createCrdValidator>>();

function validatorOf(kind: GatewayApiKind, channel: GatewayApiChannel): ReturnType<typeof createCrdValidator> {
  const key = `${kind}/${channel}`;
  let validator = validators.get(key);
  if (!validator) {
    validator = createCrdValidator(gatewayApiCrd(kind, channel), 'v1', { cel: realCel });
    validators.set(key, validator);
  }
  return validator;
}

/** Validates a Gateway API object (gateway.networking.k8s.io/v1 HTTPRoute, Gateway, GatewayClass) against one channel's CRD. */
export function validateGatewayApi(object: KubeObject, channel: GatewayApiChannel = 'standard'): CrdValidationResult {
  const kind = object.kind as GatewayApiKind;
  if (!(kind in FILES)) return { valid: false, errors: [`${object.kind}: no Gateway API CRD vendored for this kind`] };
  return validatorOf(kind, channel).validate(object);
}

/** The CEL rules of a vendored CRD (every one is compiled when its validator is built). */
export function celRulesOf(kind: GatewayApiKind, channel: GatewayApiChannel): string[] {
  const rules: string[] = [];
  const visit = (node: unknown): void => {
    if (node === null || typeof node !== 'object') return;
    for (const rule of (node as { 'x-kubernetes-validations'?: Array<{ rule: string }> })['x-kubernetes-validations'] ?? []) rules.push(rule.rule);
    for (const child of Object.values(node)) visit(child);
  };
  visit(gatewayApiCrd(kind, channel).spec.versions.find((version) => version.name === 'v1')!.schema.openAPIV3Schema);
  return rules;
}

/** Gateway API durations (`1h30m`, `120s`, `0s`) in milliseconds; 0 means "no timeout" to the API. */
export function gatewayDurationMs(duration: string): number {
  if (!/^([0-9]{1,5}(h|m|s|ms)){1,4}$/.test(duration)) throw new Error(`not a Gateway API duration: ${duration}`);
  const unit: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };
  return [...duration.matchAll(/([0-9]+)(ms|h|m|s)/g)].reduce((sum, [, amount, u]) => sum + Number(amount) * unit[u!]!, 0);
}
