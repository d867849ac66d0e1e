/**
 * Validates rendered objects against the Kubernetes schemas, offline:
 *
 * - kubernetes-models (5.x): each object against the OpenAPI schema of its apiVersion/kind (types,
 *   formats such as quantities, enums, required fields); @kubernetes-models/prometheus-operator for
 *   ServiceMonitor and PrometheusRule.
 * - Unknown fields, which the OpenAPI schemas allow but the API server rejects (kubectl's strict
 *   field validation) or silently drops (a misspelt `readOnlyRootFilesytem` would be lost): every
 *   field of a built-in type is checked against @kubernetes/client-node's model of that type
 *   (attributeTypeMap: the fields of each Kubernetes type, generated from the same OpenAPI).
 *   The two monitoring.coreos.com types have no such model; their fields are checked against
 *   allow-lists typed with the prometheus-operator models' TypeScript types, so `tsc` fails if a
 *   listed field does not exist upstream.
 * - Gateway API objects (HTTPRoute): against the upstream CRDs vendored in gateway-api/ with their
 *   version, schema and CEL rules (gateway-api.ts); the standard channel, or the experimental one
 *   for a route that uses an experimental field (sessionPersistence).
 */
import * as k8s from '@kubernetes/client-node';
import type { IPrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import type { IServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Lease } from 'kubernetes-models/coordination.k8s.io/v1/Lease';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { validateGatewayApi } from './gateway-api.js';
import type { KubeObject } from './helm.js';

interface Validating {
  validate(): void;
}

/** apiVersion/kind → the kubernetes-models class, and the @kubernetes/client-node model of its fields (built-in types). */
const MODELS: Record<string, { model: new (data: never) => Validating; fields?: string }> = {
  'v1/ConfigMap': { model: ConfigMap, fields: 'V1ConfigMap' },
  'v1/Secret': { model: Secret, fields: 'V1Secret' },
  'v1/Service': { model: Service, fields: 'V1Service' },
  'v1/ServiceAccount': { model: ServiceAccount, fields: 'V1ServiceAccount' },
  'apps/v1/Deployment': { model: Deployment, fields: 'V1Deployment' },
  'apps/v1/StatefulSet': { model: StatefulSet, fields: 'V1StatefulSet' },
  'policy/v1/PodDisruptionBudget': { model: PodDisruptionBudget, fields: 'V1PodDisruptionBudget' },
  'autoscaling/v2/HorizontalPodAutoscaler': { model: HorizontalPodAutoscaler, fields: 'V2HorizontalPodAutoscaler' },
  'networking.k8s.io/v1/Ingress': { model: Ingress, fields: 'V1Ingress' },
  'networking.k8s.io/v1/NetworkPolicy': { model: NetworkPolicy, fields: 'V1NetworkPolicy' },
  'rbac.authorization.k8s.io/v1/Role': { model: Role, fields: 'V1Role' },
  'rbac.authorization.k8s.io/v1/RoleBinding': { model: RoleBinding, fields: 'V1RoleBinding' },
  'coordination.k8s.io/v1/Lease': { model: Lease, fields: 'V1Lease' },
  'apiextensions.k8s.io/v1/CustomResourceDefinition': { model: CustomResourceDefinition, fields: 'V1CustomResourceDefinition' },
  'monitoring.coreos.com/v1/ServiceMonitor': { model: ServiceMonitor },
  'monitoring.coreos.com/v1/PrometheusRule': { model: PrometheusRule },
};

const GATEWAY_API_KINDS = ['gateway.networking.k8s.io/v1/HTTPRoute'];

export const VALIDATED_KINDS: readonly string[] = [...Object.keys(MODELS), ...GATEWAY_API_KINDS];

/** Schema errors of one object (empty when valid), each prefixed with `<Kind>/<name>`. */
export function validateObject(object: KubeObject): string[] {
  const id = `${object.kind}/${object.metadata?.name}`;
  if (GATEWAY_API_KINDS.includes(`${object.apiVersion}/${object.kind}`)) {
    const experimental = (object.spec?.rules ?? []).some((rule: Record<string, unknown>) => rule.sessionPersistence !== undefined);
    const result = validateGatewayApi(object, experimental ? 'experimental' : 'standard');
    return result.valid ? [] : result.errors.map((error) => `${id}: ${error}`);
  }
  const entry = MODELS[`${object.apiVersion}/${object.kind}`];
  if (!entry) return [`${id}: no schema for ${object.apiVersion} ${object.kind} (add it to kube-schema.ts)`];
  const errors: string[] = [];
  try {
    new entry.model(structuredClone(object) as never).validate();
  } catch (error) {
    errors.push(`${id}: ${(error as Error).message}`);
  }
  if (entry.fields) errors.push(...unknownFields(object, entry.fields, '').map((message) => `${id}: ${message}`));
  else errors.push(...unknownMonitoringFields(object).map((message) => `${id}: ${message}`));
  return errors;
}

// ----------------------------------------------------------------------------------- unknown fields

interface AttributeType {
  name: string;
  baseName: string;
  type: string;
}

const models = k8s as unknown as Record<string, { getAttributeTypeMap?: () => AttributeType[] } | undefined>;

/** Fields of `value` that the client-node model `type` does not have, as `path: unknown field "x"`. */
function unknownFields(value: unknown, type: string, path: string): string[] {
  if (value === null || value === undefined) return [];
  const array = /^Array<(.+)>$/.exec(type);
  if (array) return Array.isArray(value) ? value.flatMap((item, index) => unknownFields(item, array[1]!, `${path}[${index}]`)) : [];
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) return typeof value === 'object' ? Object.entries(value).flatMap(([key, item]) => unknownFields(item, map[1]!, `${path}.${key}`)) : [];
  const attributes = models[type]?.getAttributeTypeMap?.();
  if (!attributes || typeof value !== 'object' || Array.isArray(value)) return []; // a scalar, IntOrString, any…
  const byName = new Map(attributes.map((attribute) => [attribute.baseName, attribute]));
  return Object.entries(value).flatMap(([key, item]) => {
    const attribute = byName.get(key);
    const where = path ? `${path}.${key}` : key;
    return attribute ? unknownFields(item, attribute.type, where) : [`${where}: unknown field "${key}" (${type} has no such field)`];
  });
}

/** `keysOf<T>()([...])`: a list of field names that tsc checks are fields of T. */
const keysOf =
  <T>() =>
  <K extends keyof NonNullable<T> & string>(keys: readonly K[]): readonly string[] =>
    keys;

type ServiceMonitorSpec = IServiceMonitor['spec'];
type ServiceMonitorEndpoint = NonNullable<ServiceMonitorSpec['endpoints']>[number];
type PrometheusRuleSpec = IPrometheusRule['spec'];
type RuleGroup = NonNullable<PrometheusRuleSpec['groups']>[number];
type Rule = NonNullable<RuleGroup['rules']>[number];

/** The monitoring.coreos.com fields the chart may use (a field added to the templates must be added here). */
const MONITORING_FIELDS = {
  top: ['apiVersion', 'kind', 'metadata', 'spec'],
  serviceMonitorSpec: keysOf<ServiceMonitorSpec>()(['selector', 'namespaceSelector', 'endpoints', 'jobLabel', 'targetLabels', 'podTargetLabels', 'sampleLimit']),
  serviceMonitorEndpoint: keysOf<ServiceMonitorEndpoint>()(['port', 'targetPort', 'path', 'scheme', 'interval', 'scrapeTimeout', 'honorLabels', 'honorTimestamps', 'relabelings', 'metricRelabelings']),
  prometheusRuleSpec: keysOf<PrometheusRuleSpec>()(['groups']),
  ruleGroup: keysOf<RuleGroup>()(['name', 'interval', 'rules', 'labels', 'limit', 'partial_response_strategy', 'query_offset']),
  rule: keysOf<Rule>()(['alert', 'record', 'expr', 'for', 'keep_firing_for', 'labels', 'annotations']),
} as const;

function extraKeys(value: unknown, allowed: readonly string[], path: string): string[] {
  if (value === null || typeof value !== 'object') return [];
  return Object.keys(value)
    .filter((key) => !allowed.includes(key))
    .map((key) => `${path}.${key}: unknown field "${key}"`);
}

function unknownMonitoringFields(object: KubeObject): string[] {
  const errors = [...extraKeys(object, MONITORING_FIELDS.top, '(top)'), ...unknownFields(object.metadata, 'V1ObjectMeta', 'metadata')];
  if (object.kind === 'ServiceMonitor') {
    errors.push(...extraKeys(object.spec, MONITORING_FIELDS.serviceMonitorSpec, 'spec'));
    errors.push(...unknownFields(object.spec?.selector, 'V1LabelSelector', 'spec.selector'));
    errors.push(...extraKeys(object.spec?.namespaceSelector, ['any', 'matchNames'], 'spec.namespaceSelector'));
    (object.spec?.endpoints ?? []).forEach((endpoint: unknown, index: number) => errors.push(...extraKeys(endpoint, MONITORING_FIELDS.serviceMonitorEndpoint, `spec.endpoints[${index}]`)));
  } else {
    errors.push(...extraKeys(object.spec, MONITORING_FIELDS.prometheusRuleSpec, 'spec'));
    (object.spec?.groups ?? []).forEach((group: { rules?: unknown[] }, g: number) => {
      errors.push(...extraKeys(group, MONITORING_FIELDS.ruleGroup, `spec.groups[${g}]`));
      (group.rules ?? []).forEach((rule, r) => errors.push(...extraKeys(rule, MONITORING_FIELDS.rule, `spec.groups[${g}].rules[${r}]`)));
    });
  }
  return errors;
}
