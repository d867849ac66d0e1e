/**
 * kube-api-fake: an in-process fake of the Kubernetes API server for tests. It speaks HTTP on
 * 127.0.0.1 and follows the API conventions that controllers rely on, so the real
 * `@kubernetes/client-node` client (1.4.x) can be pointed at it.
 *
 * Served resources (JSON only, namespaced, with the real URL layout; every resource also has the
 * cluster-wide list/watch path, e.g. /apis/agentbridge.io/v1alpha1/featureflags):
 *   - featureflags.agentbridge.io/v1alpha1, kind FeatureFlags (a custom resource with a status subresource)
 *       /apis/agentbridge.io/v1alpha1/namespaces/{ns}/featureflags[/{name}[/status]]
 *   - leases.coordination.k8s.io/v1  /apis/coordination.k8s.io/v1/namespaces/{ns}/leases[/{name}]
 *   - events (core v1)               /api/v1/namespaces/{ns}/events[/{name}]
 *   - events.events.k8s.io/v1        /apis/events.k8s.io/v1/namespaces/{ns}/events[/{name}]
 *     (both event APIs are views of one store, converted field by field as the real server does:
 *     regarding<->involvedObject, note<->message, reportingController<->reportingComponent, ...)
 *   - discovery: /api, /api/v1, /apis, /apis/{group}, /apis/{group}/{version}, /version, /healthz.
 *
 * IMPLEMENTED (as kube-apiserver does it):
 *   - Bearer-token authentication: 401 Status without a known token; each token maps to a user name
 *     recorded with every request and write (writes()/requests() for assertions).
 *   - One global, monotonically increasing resourceVersion (a decimal string) bumped by every create,
 *     update and delete; metadata.uid, creationTimestamp (RFC 3339, seconds), namespace, name,
 *     generateName (5-character random suffix). metadata.generation only on the custom resource: 1 at
 *     create, +1 when anything outside metadata and status changes (i.e. spec), +1 when deletion
 *     starts; never on status writes. Leases and Events have no generation, as in Kubernetes.
 *   - No-op updates (nothing changed) keep the resourceVersion and emit no watch event.
 *   - GET (404 NotFound Status), LIST ({kind: <Kind>List, apiVersion, metadata: {resourceVersion},
 *     items}; items of built-in types carry no apiVersion/kind, as the real server encodes them),
 *     POST (201; 409 AlreadyExists; a metadata.resourceVersion in the body is a 500 as in etcd3),
 *     PUT (409 Conflict with the real "Operation cannot be fulfilled on ..." message when
 *     metadata.resourceVersion is stale; 422 "must be specified for an update" when it is missing and
 *     the type forbids unconditional updates, i.e. the CR and Lease; Events allow it; a body
 *     metadata.uid that differs is a 409 precondition failure; 400 when the body's name/namespace do
 *     not match the URL; PUT of a missing Lease/Event creates it (201), of a missing CR is 404).
 *   - PATCH: application/merge-patch+json (RFC 7386), application/json-patch+json (RFC 6902, all six
 *     ops; a failing op is 422), application/strategic-merge-patch+json for the built-in types only
 *     (merge patch plus the list semantics of metadata.finalizers/ownerReferences); for the custom
 *     resource it is 415 UnsupportedMediaType, exactly like kube-apiserver. The patched object goes
 *     through the same update path, so a stale metadata.resourceVersion in a patch is a 409.
 *   - Status subresource (CR only): PUT/PATCH on /status change only .status (spec and metadata in
 *     the body are ignored); PUT/PATCH on the main resource ignore .status; create drops .status.
 *     The 409/422 resourceVersion rules apply to /status too.
 *   - DELETE: Status Success; DeleteOptions.preconditions (uid, resourceVersion) -> 409; objects with
 *     metadata.finalizers get deletionTimestamp (MODIFIED) and are removed when an update empties the
 *     finalizers; no finalizer may be added while deleting (422). DELETE on the collection.
 *   - WATCH (?watch=true|1): newline-delimited JSON {type, object}; ADDED/MODIFIED/DELETED/BOOKMARK/
 *     ERROR. From resourceVersion=N: only changes after N (replayed from the change log). Without
 *     resourceVersion or with "0": synthetic ADDED for current objects first. N older than the
 *     compaction horizon: HTTP 200, one ERROR event carrying a 410 Expired Status "too old resource
 *     version: N (M)", then the stream ends. timeoutSeconds ends the stream; allowWatchBookmarks sends
 *     BOOKMARK events every bookmarkIntervalMs; sendInitialEvents=true (with
 *     resourceVersionMatch=NotOlderThan) ends the initial events with the k8s.io/initial-events-end
 *     bookmark. Watching one object by its URL works (GET .../{name}?watch=true). An object that stops
 *     (starts) matching the selectors yields DELETED (ADDED), as the watch cache does.
 *   - LIST resourceVersion semantics: unset/"0"/NotOlderThan -> current state (504 "Too large resource
 *     version" for a future one); resourceVersionMatch=Exact -> the state at exactly that version,
 *     rebuilt from the change log, or 410 Expired when compacted. limit/continue pagination with
 *     continue tokens (410 once the snapshot is compacted) and remainingItemCount.
 *   - labelSelector (=, ==, !=, in, notin, exists, !exists, >, <) and fieldSelector (=, ==, != on
 *     metadata.name, metadata.namespace, plus the Event field labels involvedObject.* / regarding.*,
 *     reason, type, source, reportingComponent); other field labels are a 400, as for real.
 *   - Validation: DNS-1123 subdomain names; Lease spec (leaseDurationSeconds > 0, leaseTransitions >= 0);
 *     Event rules (the core/v1 legacy rules and the stricter events.k8s.io/v1 create rules); JSON type
 *     errors and MicroTime fields (Lease acquireTime/renewTime, Event eventTime) that are not RFC 3339
 *     with exactly 6 fractional digits are 400 BadRequest, as the Go decoder rejects them; apiVersion and
 *     kind must match the endpoint. The CR is schema-less here: plug the CRD schema in with the
 *     `validate` hook, whose messages become a 422 Invalid Status with details.causes.
 *   - dryRun=All on writes (validated, not stored).
 *
 * NOT IMPLEMENTED (differences to keep in mind):
 *   - TLS, client certificates, RBAC/authorization (every known token may do everything),
 *     impersonation, audit, admission webhooks, API priority and fairness.
 *   - Server-side apply (application/apply-patch+yaml is 415 here), managedFields, fieldManager,
 *     fieldValidation warnings, pruning/defaulting of unknown CR fields, protobuf/YAML/Table output.
 *   - Namespaces as objects: any namespace name is accepted and never needs to exist.
 *   - Graceful deletion periods, ownerReference garbage collection, propagationPolicy, TTLs.
 *   - A watch from a resourceVersion newer than the current one starts there instead of waiting and
 *     failing with "Too large resource version"; no automatic compaction (call compact()).
 *   - Other resources, other versions of these resources, /scale, label/annotation syntax checks.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// ─────────────────────────────── public types ───────────────────────────────

/** A Kubernetes object as JSON. Loosely typed on purpose: tests read arbitrary fields. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: KubeObjectMeta;
  [field: string]: any;
}

interface KubeObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: Array<Record<string, any>>;
  [field: string]: any;
}

interface KubeStatusCause {
  reason?: string;
  message: string;
  field?: string;
}

interface KubeStatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: KubeStatusCause[];
  retryAfterSeconds?: number;
}

/** The meta/v1 Status object the API server answers errors (and deletions) with. */
export interface KubeStatus {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: KubeStatusDetails;
  code: number;
}

/** The served resources, by short name ('events' is core/v1, 'events.k8s.io' is events.k8s.io/v1). */
type FakeResourceName = 'featureflags' | 'leases' | 'events' | 'events.k8s.io';

/** A validation finding: "field.path: message" strings are split into field and message. */
type KubeValidationMessage = string | { field?: string; message: string; reason?: string };

interface KubeValidateContext {
  /** Qualified resource, e.g. `featureflags.agentbridge.io`. */
  resource: string;
  operation: 'create' | 'update';
  subresource?: 'status';
  /** The stored object before an update (as served by the endpoint's API version). */
  oldObject?: KubeObject;
}

/** Returns messages to reject the write with 422 Invalid; nothing (or []) to accept it. */
type KubeValidateHook = (kind: string, object: KubeObject, context: KubeValidateContext) => KubeValidationMessage[] | undefined | void;

export interface StartKubeApiFakeOptions {
  /** TCP port on 127.0.0.1; default 0 (any free port). */
  port?: number;
  /** Bearer token -> user name. Default: one random token for user `admin`. More with addUser(). */
  tokens?: Record<string, string>;
  /** Extra validation for every write (plug the CRD schema in here); see KubeValidateHook. */
  validate?: KubeValidateHook;
  /** Period of BOOKMARK events on watches that ask for them (allowWatchBookmarks=true). Default 1000 ms. */
  bookmarkIntervalMs?: number;
}

/** What `new KubeConfig().loadFromOptions(...)` (client-node) takes. */
interface KubeConfigOptions {
  clusters: Array<{ name: string; server: string; skipTLSVerify: boolean }>;
  users: Array<{ name: string; token: string }>;
  contexts: Array<{ name: string; cluster: string; user: string; namespace?: string }>;
  currentContext: string;
}

interface KubeConfigFor {
  /** The user (identity) to authenticate as; created with a fresh token if unknown. Default `admin`. */
  user?: string;
  /** Default namespace of the context. */
  namespace?: string;
}

type KubeWriteVerb = 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

/** One write request (successful or not) as the fake saw it. */
export interface KubeWriteRecord {
  seq: number;
  time: Date;
  verb: KubeWriteVerb;
  /** Qualified resource: `featureflags.agentbridge.io`, `leases.coordination.k8s.io`, `events`, `events.events.k8s.io`. */
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  user: string;
  token: string;
  userAgent?: string;
  /** HTTP status answered. */
  code: number;
  /** True when code < 300. */
  ok: boolean;
  /** resourceVersion of the object after a successful write. */
  resourceVersion?: string;
  /** Answered by a failNext() injection. */
  injected: boolean;
  dryRun: boolean;
}

export interface KubeRequestRecord {
  seq: number;
  time: Date;
  method: string;
  /** Path and query as requested. */
  path: string;
  /** get, list, watch, create, update, patch, delete, deletecollection, discovery, or '' (no route). */
  verb: string;
  resource?: string;
  namespace?: string;
  name?: string;
  user?: string;
  userAgent?: string;
  code: number;
}

interface KubeWriteFilter {
  user?: string;
  token?: string;
  userAgent?: string | RegExp;
  verb?: KubeWriteVerb;
  /** Short name (`leases`) or qualified (`leases.coordination.k8s.io`). */
  resource?: FakeResourceName | string;
  namespace?: string;
  name?: string;
  /** true: only successful writes (code < 300); false: only rejected ones. Default: all. */
  ok?: boolean;
}

interface FailNextOptions {
  /** Only requests with this HTTP method. */
  method?: string;
  /** How many matching requests fail; default 1. */
  times?: number;
  reason?: string;
  message?: string;
  /** Sets Retry-After and details.retryAfterSeconds (default 1 for 429). */
  retryAfterSeconds?: number;
}

interface DropWatchesOptions {
  /**
   * false (default): end each stream cleanly, as the server does at a watch timeout.
   * true: destroy the TCP connections, as a crashed server or a broken network does.
   */
  abrupt?: boolean;
}

export interface KubeApiFake {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  /** The newest resourceVersion handed out (a decimal string). */
  readonly resourceVersion: string;
  /** The compaction horizon: watches/Exact lists from an older resourceVersion get 410. */
  readonly compactedResourceVersion: string;
  /** Options for `new KubeConfig().loadFromOptions(...)` authenticating as `user`. */
  kubeConfig(options?: KubeConfigFor): KubeConfigOptions;
  /** The same as a kubeconfig file (JSON, which is YAML): for `loadFromString` or a KUBECONFIG file. */
  kubeConfigYaml(options?: KubeConfigFor): string;
  /** Registers a user (a token is generated unless given) and returns its token. */
  addUser(user: string, token?: string): string;
  tokenFor(user: string): string | undefined;
  /** The stored object as the resource's endpoint would serve it (a copy), or undefined. */
  get(resource: FakeResourceName, namespace: string, name: string): KubeObject | undefined;
  /** Stored objects (copies), sorted by namespace/name; all namespaces when none is given. */
  list(resource: FakeResourceName, namespace?: string): KubeObject[];
  /** Creates an object directly (same rules as POST; throws KubeApiError). Namespace from metadata, default `default`. */
  create(resource: FakeResourceName, object: KubeObject, options?: { user?: string }): KubeObject;
  /** Replaces an object directly (same rules as PUT, `status: true` for /status; throws KubeApiError). */
  replace(resource: FakeResourceName, object: KubeObject, options?: { user?: string; status?: boolean }): KubeObject;
  /** Deletes an object directly (same rules as DELETE; throws KubeApiError). */
  remove(resource: FakeResourceName, namespace: string, name: string, options?: { user?: string }): void;
  /** Forget history up to `resourceVersion` (default: the current one); returns the new horizon. */
  compact(resourceVersion?: string | number): string;
  /** Close all open watch streams (optionally only one resource's); returns how many. */
  dropWatches(options?: DropWatchesOptions & { resource?: FakeResourceName }): number;
  /** Number of open watch streams (optionally of one resource). */
  openWatches(resource?: FakeResourceName): number;
  /**
   * The next request(s) whose path+query contains `pattern` (a string) or matches it (a RegExp)
   * are answered with a Status of `status` (reason defaults from the code) instead of being served.
   */
  failNext(pattern: string | RegExp, status: number, options?: FailNextOptions): void;
  /** Write requests seen (including rejected ones: see `ok`), oldest first. */
  writes(filter?: KubeWriteFilter): KubeWriteRecord[];
  /** All requests seen, oldest first. */
  requests(filter?: { user?: string; verb?: string; method?: string }): KubeRequestRecord[];
  /** Forget recorded writes and requests. */
  clearRecords(): void;
  close(): Promise<void>;
}

/** An API error: `status` is the Status object sent to clients. */
class KubeApiError extends Error {
  readonly code: number;
  constructor(
    readonly status: KubeStatus,
    readonly headers: Record<string, string> = {},
  ) {
    super(status.message ?? status.reason ?? `HTTP ${status.code}`);
    this.name = 'KubeApiError';
    this.code = status.code;
  }
}

// ─────────────────────────────── JSON helpers ───────────────────────────────

type Obj = Record<string, any>;

const isObject = (value: unknown): value is Obj => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A deep copy through JSON, which also drops `undefined` members (as the wire would). */
const jsonClone = <T>(value: T): T => (value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T));

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((item, i) => deepEqual(item, b[i]));
  if (isObject(a) && isObject(b)) {
    const ak = Object.keys(a).filter((k) => a[k] !== undefined);
    const bk = Object.keys(b).filter((k) => b[k] !== undefined);
    return ak.length === bk.length && ak.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** RFC 3339 with seconds, as metav1.Time serialises. */
const nowTime = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

// ─────────────────────────────── Status errors ───────────────────────────────

const OPTIMISTIC_LOCK = 'the object has been modified; please apply your changes to the latest version and try again';
const LIST_EXPIRED = 'The resourceVersion for the provided list is too old.';
const CONTINUE_EXPIRED = 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.';

function failure(code: number, reason: string, message: string, details?: KubeStatusDetails, headers?: Record<string, string>): KubeApiError {
  const status: KubeStatus = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
  if (details) status.details = jsonClone(details);
  return new KubeApiError(status, headers);
}

const REASON_BY_CODE: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  409: 'Conflict',
  410: 'Expired',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

const badRequest = (message: string) => failure(400, 'BadRequest', message);
const internalError = (message: string) => failure(500, 'InternalError', `Internal error occurred: ${message}`, { causes: [{ message }] });
const routeNotFound = () => failure(404, 'NotFound', 'the server could not find the requested resource', {});
const methodNotAllowed = () => failure(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {});

/** A field error as apimachinery's field.Error; rendered into Status causes. */
interface FieldError {
  type: 'Invalid' | 'Required' | 'Forbidden' | 'NotSupported' | 'TooLong';
  field: string;
  /** Already formatted as Go's %#v would print it (strings quoted). */
  value?: string;
  detail?: string;
  reason?: string;
}

function fieldCause(error: FieldError): KubeStatusCause {
  const detail = error.detail ? `: ${error.detail}` : '';
  let message: string;
  switch (error.type) {
    case 'Invalid':
      message = `Invalid value: ${error.value ?? '""'}${detail}`;
      break;
    case 'Required':
      message = `Required value${detail}`;
      break;
    case 'Forbidden':
      message = `Forbidden${detail}`;
      break;
    case 'NotSupported':
      message = `Unsupported value: ${error.value ?? '""'}${detail}`;
      break;
    case 'TooLong':
      message = `Too long${detail}`;
      break;
  }
  return { reason: error.reason ?? `FieldValue${error.type === 'NotSupported' ? 'NotSupported' : error.type}`, message, field: error.field };
}

function invalid(group: string, kind: string, name: string, causes: KubeStatusCause[]): KubeApiError {
  const rendered = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message));
  const summary = rendered.length === 1 ? rendered[0]! : `[${rendered.join(', ')}]`;
  const qualifiedKind = group ? `${kind}.${group}` : kind;
  return failure(422, 'Invalid', `${qualifiedKind} "${name}" is invalid: ${summary}`, { name, group: group || undefined, kind, causes });
}

const quote = (value: unknown): string => JSON.stringify(value);

// ─────────────────────────────── resources ───────────────────────────────

interface ResourceDef {
  name: FakeResourceName;
  group: string;
  version: string;
  plural: string;
  singular: string;
  kind: string;
  listKind: string;
  shortNames: string[];
  /** Storage bucket; the two Event APIs share one. */
  storage: string;
  custom: boolean;
  statusSubresource: boolean;
  generation: boolean;
  allowCreateOnUpdate: boolean;
  allowUnconditionalUpdate: boolean;
  strategicMergePatch: boolean;
  /** Field labels (beyond metadata.name / metadata.namespace), read from the storage form. */
  fieldLabels: Record<string, (stored: Obj) => unknown>;
  /** External (served) form without apiVersion/kind <-> storage form. */
  toStorage(external: Obj): Obj;
  fromStorage(stored: Obj): Obj;
  /** Go-decoder-level type errors (-> 400), on the external form. */
  decode(external: Obj): string | undefined;
  /** Built-in validation on the external form (-> 422). */
  validate(external: Obj, operation: 'create' | 'update'): FieldError[];
}

const apiVersionOf = (def: ResourceDef): string => (def.group ? `${def.group}/${def.version}` : def.version);
const qualifiedResource = (def: ResourceDef): string => (def.group ? `${def.plural}.${def.group}` : def.plural);

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function validateName(name: string): FieldError[] {
  const errors: FieldError[] = [];
  if (name.length > 253) errors.push({ type: 'Invalid', field: 'metadata.name', value: quote(name), detail: 'must be no more than 253 characters' });
  if (!DNS1123_SUBDOMAIN.test(name)) {
    errors.push({
      type: 'Invalid',
      field: 'metadata.name',
      value: quote(name),
      detail:
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    });
  }
  return errors;
}

const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$/;
const TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** metav1.MicroTime decodes with time.Parse(RFC3339Micro): exactly six fractional digits. */
function microTimeError(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') return `json: cannot unmarshal ${jsonTypeName(value)} into Go value of type string`;
  if (MICRO_TIME.test(value)) return undefined;
  const rest = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}/.test(value) ? value.slice(19) : value;
  return `parsing time ${quote(value)} as "2006-01-02T15:04:05.000000Z07:00": cannot parse ${quote(rest)} as ".000000"`;
}

function timeError(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') return `json: cannot unmarshal ${jsonTypeName(value)} into Go value of type string`;
  return TIME.test(value) ? undefined : `parsing time ${quote(value)} as "2006-01-02T15:04:05Z07:00": cannot parse ${quote(value)} as "2006"`;
}

function jsonTypeName(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'object' : typeof value;
}

/** Type checks the Go JSON decoder would fail on: `[path, expected, GoStructField]`. */
function typeError(value: unknown, expected: 'string' | 'int32' | 'object', goField: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  const ok = expected === 'string' ? typeof value === 'string' : expected === 'int32' ? Number.isInteger(value) : isObject(value);
  return ok ? undefined : `json: cannot unmarshal ${jsonTypeName(value)} into Go struct field ${goField} of type ${expected === 'object' ? 'struct' : expected}`;
}

function firstError(...errors: Array<string | undefined>): string | undefined {
  return errors.find((e) => e !== undefined);
}

function metadataDecodeError(external: Obj): string | undefined {
  const meta = external.metadata;
  if (meta === undefined || meta === null) return undefined;
  if (!isObject(meta)) return `json: cannot unmarshal ${jsonTypeName(meta)} into Go struct field .metadata of type v1.ObjectMeta`;
  for (const key of ['labels', 'annotations'] as const) {
    const map = meta[key];
    if (map === undefined || map === null) continue;
    if (!isObject(map) || Object.values(map).some((v) => typeof v !== 'string')) return `json: cannot unmarshal into Go struct field ObjectMeta.metadata.${key} of type map[string]string`;
  }
  if (meta.finalizers !== undefined && meta.finalizers !== null && (!Array.isArray(meta.finalizers) || meta.finalizers.some((f: unknown) => typeof f !== 'string'))) {
    return 'json: cannot unmarshal into Go struct field ObjectMeta.metadata.finalizers of type []string';
  }
  return undefined;
}

// Event field names: events.k8s.io/v1 <-> core/v1 (storage).
const EVENT_RENAMES: Array<[string, string]> = [
  ['regarding', 'involvedObject'],
  ['note', 'message'],
  ['reportingController', 'reportingComponent'],
  ['deprecatedSource', 'source'],
  ['deprecatedFirstTimestamp', 'firstTimestamp'],
  ['deprecatedLastTimestamp', 'lastTimestamp'],
  ['deprecatedCount', 'count'],
];
const EVENT_SAME = ['metadata', 'eventTime', 'series', 'action', 'reason', 'related', 'reportingInstance', 'type'];

function dropEmpty(obj: Obj): Obj {
  for (const [key, value] of Object.entries(obj)) if (value === undefined || value === null || value === '') delete obj[key];
  return obj;
}

function coreEventDefaults(stored: Obj): Obj {
  // How kube-apiserver renders an Event whose optional fields are unset (struct/time fields are not omitted).
  return {
    metadata: stored.metadata,
    involvedObject: stored.involvedObject ?? {},
    ...stored,
    source: stored.source ?? {},
    firstTimestamp: stored.firstTimestamp ?? null,
    lastTimestamp: stored.lastTimestamp ?? null,
    eventTime: stored.eventTime ?? null,
    reportingComponent: stored.reportingComponent ?? '',
    reportingInstance: stored.reportingInstance ?? '',
  };
}

function eventsV1FromCore(stored: Obj): Obj {
  const out: Obj = {};
  for (const key of EVENT_SAME) if (stored[key] !== undefined) out[key] = stored[key];
  for (const [v1, core] of EVENT_RENAMES) if (stored[core] !== undefined) out[v1] = stored[core];
  out.metadata = stored.metadata;
  out.eventTime = stored.eventTime ?? null;
  out.regarding = out.regarding ?? {};
  out.deprecatedSource = out.deprecatedSource ?? {};
  out.deprecatedFirstTimestamp = out.deprecatedFirstTimestamp ?? null;
  out.deprecatedLastTimestamp = out.deprecatedLastTimestamp ?? null;
  return out;
}

function coreFromEventsV1(external: Obj): Obj {
  const out: Obj = {};
  for (const key of EVENT_SAME) if (external[key] !== undefined) out[key] = external[key];
  for (const [v1, core] of EVENT_RENAMES) if (external[v1] !== undefined) out[core] = external[v1];
  return normalizeCoreEvent(out);
}

function normalizeCoreEvent(event: Obj): Obj {
  const out = dropEmpty({ ...event });
  for (const key of ['involvedObject', 'source']) if (isObject(out[key]) && Object.keys(out[key]).length === 0) delete out[key];
  return out;
}

function eventDecodeError(external: Obj, v1: boolean): string | undefined {
  const struct = 'Event';
  return firstError(
    metadataDecodeError(external),
    microTimeError(external.eventTime),
    isObject(external.series) ? microTimeError(external.series.lastObservedTime) : undefined,
    typeError(external[v1 ? 'deprecatedCount' : 'count'], 'int32', `${struct}.${v1 ? 'deprecatedCount' : 'count'}`),
    timeError(external[v1 ? 'deprecatedFirstTimestamp' : 'firstTimestamp']),
    timeError(external[v1 ? 'deprecatedLastTimestamp' : 'lastTimestamp']),
    typeError(external[v1 ? 'regarding' : 'involvedObject'], 'object', `${struct}.${v1 ? 'regarding' : 'involvedObject'}`),
    typeError(external[v1 ? 'note' : 'message'], 'string', `${struct}.${v1 ? 'note' : 'message'}`),
    typeError(external.reason, 'string', `${struct}.reason`),
    typeError(external.type, 'string', `${struct}.type`),
  );
}

/** core/v1 Event rules (apis/core/validation legacyValidateEvent), applied to both APIs' writes. */
function validateEventLegacy(stored: Obj, reportingField: string): FieldError[] {
  const errors: FieldError[] = [];
  const ns: string = stored.metadata?.namespace ?? '';
  const involvedNs: string = stored.involvedObject?.namespace ?? '';
  const regardingField = reportingField === 'reportingController' ? 'regarding' : 'involvedObject';
  if (!stored.eventTime) {
    if (involvedNs === '' ? ns !== '' && ns !== 'default' : ns !== involvedNs) {
      errors.push({ type: 'Invalid', field: `${regardingField}.namespace`, value: quote(involvedNs), detail: 'does not match event.namespace' });
    }
  } else {
    if (involvedNs === '' && ns !== 'default' && ns !== 'kube-system') {
      errors.push({ type: 'Invalid', field: `${regardingField}.namespace`, value: quote(involvedNs), detail: 'does not match event.namespace' });
    }
    if (!stored.reportingComponent) errors.push({ type: 'Required', field: reportingField });
    if (!stored.reportingInstance) errors.push({ type: 'Required', field: 'reportingInstance' });
    if (!stored.action) errors.push({ type: 'Required', field: 'action' });
  }
  return errors;
}

/** The stricter events.k8s.io/v1 create rules (ValidateEventCreate for non-legacy versions). */
function validateEventsV1Create(external: Obj): FieldError[] {
  const errors: FieldError[] = [];
  if (!external.eventTime) errors.push({ type: 'Required', field: 'eventTime' });
  if (external.type !== 'Normal' && external.type !== 'Warning') errors.push({ type: 'Invalid', field: 'type', value: '""', detail: `has invalid value: ${external.type ?? ''}` });
  for (const field of ['deprecatedFirstTimestamp', 'deprecatedLastTimestamp']) if (external[field]) errors.push({ type: 'Invalid', field, value: '""', detail: 'needs to be unset' });
  if (external.deprecatedCount) errors.push({ type: 'Invalid', field: 'deprecatedCount', value: '""', detail: 'needs to be unset' });
  if (isObject(external.deprecatedSource) && (external.deprecatedSource.component || external.deprecatedSource.host)) {
    errors.push({ type: 'Invalid', field: 'deprecatedSource', value: '""', detail: 'needs to be unset' });
  }
  if (!external.reason) errors.push({ type: 'Required', field: 'reason' });
  if (typeof external.note === 'string' && external.note.length > 1024) errors.push({ type: 'TooLong', field: 'note', detail: 'may not be more than 1024 bytes' });
  return errors;
}

const commonFieldLabels = {};

const eventFieldLabels: Record<string, (stored: Obj) => unknown> = {
  'involvedObject.kind': (o) => o.involvedObject?.kind,
  'involvedObject.namespace': (o) => o.involvedObject?.namespace,
  'involvedObject.name': (o) => o.involvedObject?.name,
  'involvedObject.uid': (o) => o.involvedObject?.uid,
  'involvedObject.apiVersion': (o) => o.involvedObject?.apiVersion,
  'involvedObject.resourceVersion': (o) => o.involvedObject?.resourceVersion,
  'involvedObject.fieldPath': (o) => o.involvedObject?.fieldPath,
  reason: (o) => o.reason,
  reportingComponent: (o) => o.reportingComponent,
  source: (o) => o.source?.component,
  type: (o) => o.type,
};

const eventsV1FieldLabels: Record<string, (stored: Obj) => unknown> = {
  ...eventFieldLabels,
  ...Object.fromEntries(
    Object.entries(eventFieldLabels)
      .filter(([label]) => label.startsWith('involvedObject.'))
      .map(([label, get]) => [label.replace('involvedObject.', 'regarding.'), get]),
  ),
  reportingController: (o) => o.reportingComponent,
};

const identity = (o: Obj): Obj => o;

const RESOURCES: ResourceDef[] = [
  {
    name: 'featureflags',
    group: 'agentbridge.io',
    version: 'v1alpha1',
    plural: 'featureflags',
    singular: 'featureflags',
    // libs/flags/src/resource.ts: FEATURE_FLAGS_KIND = 'FeatureFlags' (so the list kind is FeatureFlagsList).
    kind: 'FeatureFlags',
    listKind: 'FeatureFlagsList',
    shortNames: [],
    storage: 'featureflags.agentbridge.io',
    custom: true,
    statusSubresource: true,
    generation: true,
    allowCreateOnUpdate: false,
    allowUnconditionalUpdate: false,
    strategicMergePatch: false,
    fieldLabels: commonFieldLabels,
    toStorage: identity,
    fromStorage: identity,
    decode: (external) => metadataDecodeError(external),
    validate: () => [],
  },
  {
    name: 'leases',
    group: 'coordination.k8s.io',
    version: 'v1',
    plural: 'leases',
    singular: 'lease',
    kind: 'Lease',
    listKind: 'LeaseList',
    shortNames: [],
    storage: 'leases.coordination.k8s.io',
    custom: false,
    statusSubresource: false,
    generation: false,
    allowCreateOnUpdate: true,
    allowUnconditionalUpdate: false,
    strategicMergePatch: true,
    fieldLabels: commonFieldLabels,
    toStorage: identity,
    fromStorage: identity,
    decode(external) {
      const spec = external.spec;
      if (spec !== undefined && spec !== null && !isObject(spec)) return `json: cannot unmarshal ${jsonTypeName(spec)} into Go struct field Lease.spec of type v1.LeaseSpec`;
      const s: Obj = spec ?? {};
      return firstError(
        metadataDecodeError(external),
        typeError(s.holderIdentity, 'string', 'LeaseSpec.spec.holderIdentity'),
        typeError(s.leaseDurationSeconds, 'int32', 'LeaseSpec.spec.leaseDurationSeconds'),
        typeError(s.leaseTransitions, 'int32', 'LeaseSpec.spec.leaseTransitions'),
        microTimeError(s.acquireTime),
        microTimeError(s.renewTime),
      );
    },
    validate(external) {
      const errors: FieldError[] = [];
      const spec: Obj = external.spec ?? {};
      if (spec.leaseDurationSeconds !== undefined && spec.leaseDurationSeconds !== null && spec.leaseDurationSeconds <= 0) {
        errors.push({ type: 'Invalid', field: 'spec.leaseDurationSeconds', value: String(spec.leaseDurationSeconds), detail: 'must be greater than 0' });
      }
      if (spec.leaseTransitions !== undefined && spec.leaseTransitions !== null && spec.leaseTransitions < 0) {
        errors.push({ type: 'Invalid', field: 'spec.leaseTransitions', value: String(spec.leaseTransitions), detail: 'must be greater than or equal to 0' });
      }
      return errors;
    },
  },
  {
    name: 'events',
    group: '',
    version: 'v1',
    plural: 'events',
    singular: 'event',
    kind: 'Event',
    listKind: 'EventList',
    shortNames: ['ev'],
    storage: 'events',
    custom: false,
    statusSubresource: false,
    generation: false,
    allowCreateOnUpdate: true,
    allowUnconditionalUpdate: true,
    strategicMergePatch: true,
    fieldLabels: eventFieldLabels,
    toStorage: normalizeCoreEvent,
    fromStorage: coreEventDefaults,
    decode: (external) => eventDecodeError(external, false),
    validate: (external) => validateEventLegacy(normalizeCoreEvent(external), 'reportingComponent'),
  },
  {
    name: 'events.k8s.io',
    group: 'events.k8s.io',
    version: 'v1',
    plural: 'events',
    singular: 'event',
    kind: 'Event',
    listKind: 'EventList',
    shortNames: ['ev'],
    storage: 'events',
    custom: false,
    statusSubresource: false,
    generation: false,
    allowCreateOnUpdate: true,
    allowUnconditionalUpdate: true,
    strategicMergePatch: true,
    fieldLabels: eventsV1FieldLabels,
    toStorage: coreFromEventsV1,
    fromStorage: eventsV1FromCore,
    decode: (external) => eventDecodeError(external, true),
    validate(external, operation) {
      const errors = validateEventLegacy(coreFromEventsV1(external), 'reportingController');
      if (operation === 'create') errors.push(...validateEventsV1Create(external));
      return errors;
    },
  },
];

const RESOURCE_BY_NAME = new Map(RESOURCES.map((def) => [def.name, def]));

function resourceDef(name: FakeResourceName): ResourceDef {
  const def = RESOURCE_BY_NAME.get(name);
  if (!def) throw new Error(`kube-api-fake: unknown resource ${name} (known: ${RESOURCES.map((r) => r.name).join(', ')})`);
  return def;
}

/** The object as the endpoint serves it. Built-in list items carry no apiVersion/kind, as in kube-apiserver. */
function present(def: ResourceDef, stored: Obj, options: { listItem?: boolean } = {}): Obj {
  const external = def.fromStorage(jsonClone(stored));
  if (options.listItem && !def.custom) return external;
  const { apiVersion: _a, kind: _k, ...rest } = external;
  return { apiVersion: apiVersionOf(def), kind: def.kind, ...rest };
}

function stripTypeMeta(obj: Obj): Obj {
  const { apiVersion: _a, kind: _k, ...rest } = obj;
  return rest;
}

const SYSTEM_META = ['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'selfLink', 'managedFields'];

function userMeta(meta: unknown): Obj {
  const out: Obj = isObject(meta) ? jsonClone(meta) : {};
  for (const key of SYSTEM_META) delete out[key];
  return out;
}

function storageKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

// ─────────────────────────────── selectors ───────────────────────────────

interface LabelRequirement {
  key: string;
  op: 'exists' | '!exists' | '=' | '!=' | 'in' | 'notin' | 'gt' | 'lt';
  values: string[];
}

function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

function parseLabelSelector(text: string | null): LabelRequirement[] {
  if (!text) return [];
  return splitTopLevel(text).map((part): LabelRequirement => {
    let m = /^([^\s=!<>(),]+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(part);
    if (m) return { key: m[1]!, op: m[2] as 'in' | 'notin', values: m[3]!.split(',').map((v) => v.trim()) };
    m = /^!\s*([^\s=!<>(),]+)$/.exec(part);
    if (m) return { key: m[1]!, op: '!exists', values: [] };
    m = /^([^\s=!<>(),]+)\s*(==|=|!=)\s*([^\s=!<>(),]*)$/.exec(part);
    if (m) return { key: m[1]!, op: m[2] === '!=' ? '!=' : '=', values: [m[3]!] };
    m = /^([^\s=!<>(),]+)\s*(>|<)\s*(-?\d+)$/.exec(part);
    if (m) return { key: m[1]!, op: m[2] === '>' ? 'gt' : 'lt', values: [m[3]!] };
    m = /^([^\s=!<>(),]+)$/.exec(part);
    if (m) return { key: m[1]!, op: 'exists', values: [] };
    throw badRequest(`unable to parse requirement: ${part}`);
  });
}

function labelsMatch(requirements: LabelRequirement[], labels: Record<string, string> | undefined): boolean {
  return requirements.every(({ key, op, values }) => {
    const has = labels !== undefined && Object.hasOwn(labels, key);
    const value = has ? labels[key]! : undefined;
    switch (op) {
      case 'exists':
        return has;
      case '!exists':
        return !has;
      case '=':
        return has && value === values[0];
      case '!=':
        return !has || value !== values[0];
      case 'in':
        return has && values.includes(value!);
      case 'notin':
        return !has || !values.includes(value!);
      case 'gt':
        return has && /^-?\d+$/.test(value!) && Number(value) > Number(values[0]);
      case 'lt':
        return has && /^-?\d+$/.test(value!) && Number(value) < Number(values[0]);
    }
  });
}

interface FieldRequirement {
  get: (stored: Obj) => unknown;
  op: '=' | '!=';
  value: string;
}

function parseFieldSelector(def: ResourceDef, text: string | null): FieldRequirement[] {
  if (!text) return [];
  return text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .map((part): FieldRequirement => {
      const m = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(part);
      if (!m) throw badRequest(`invalid selector: '${text}'; can't understand '${part}'`);
      const field = m[1]!;
      const get = field === 'metadata.name' ? (o: Obj) => o.metadata?.name : field === 'metadata.namespace' ? (o: Obj) => o.metadata?.namespace : def.fieldLabels[field];
      if (!get) throw badRequest(`field label not supported: ${field}`);
      return { get, op: m[2] === '!=' ? '!=' : '=', value: m[3]!.replace(/\\(.)/g, '$1') };
    });
}

function fieldsMatch(requirements: FieldRequirement[], stored: Obj): boolean {
  return requirements.every(({ get, op, value }) => {
    const actual = get(stored);
    const text = actual === undefined || actual === null ? '' : String(actual);
    return op === '=' ? text === value : text !== value;
  });
}

/** Namespace + label + field selection of stored objects. */
interface Selection {
  namespace?: string;
  labels: LabelRequirement[];
  fields: FieldRequirement[];
}

function selects(selection: Selection, stored: Obj | undefined): boolean {
  if (!stored) return false;
  if (selection.namespace !== undefined && stored.metadata?.namespace !== selection.namespace) return false;
  return labelsMatch(selection.labels, stored.metadata?.labels) && fieldsMatch(selection.fields, stored);
}

// ─────────────────────────────── patches ───────────────────────────────

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return jsonClone(patch);
  const result: Obj = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

/**
 * Strategic merge patch for the built-in types served here: a merge patch, except that
 * metadata.finalizers merges as a set and metadata.ownerReferences merges by uid (their patch
 * strategies), `$patch: replace|delete` on maps and `$deleteFromPrimitiveList/<list>` are honoured
 * and other directives ($setElementOrder, $retainKeys) are ignored.
 */
function strategicMergePatch(target: unknown, patch: unknown, path = ''): unknown {
  if (!isObject(patch)) return jsonClone(patch);
  if (patch.$patch === 'replace') {
    const { $patch: _p, ...rest } = patch;
    return jsonClone(rest);
  }
  if (patch.$patch === 'delete') return undefined;
  const result: Obj = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$setElementOrder/') || key === '$retainKeys' || key === '$patch') continue;
    if (key.startsWith('$deleteFromPrimitiveList/')) {
      const list = key.slice('$deleteFromPrimitiveList/'.length);
      if (Array.isArray(result[list]) && Array.isArray(value)) result[list] = result[list].filter((item: unknown) => !value.includes(item));
      continue;
    }
    const childPath = `${path}.${key}`;
    if (value === null) delete result[key];
    else if (childPath === '.metadata.finalizers' && Array.isArray(value) && Array.isArray(result[key])) {
      result[key] = [...result[key], ...value.filter((v: unknown) => !result[key].includes(v))];
    } else if (childPath === '.metadata.ownerReferences' && Array.isArray(value) && Array.isArray(result[key])) {
      const merged: Obj[] = jsonClone(result[key]);
      for (const ref of value) {
        if (!isObject(ref)) continue;
        const at = merged.findIndex((r) => r.uid === ref.uid);
        if (ref.$patch === 'delete') {
          if (at >= 0) merged.splice(at, 1);
        } else if (at >= 0) merged[at] = strategicMergePatch(merged[at], ref, `${childPath}[]`) as Obj;
        else merged.push(jsonClone(ref));
      }
      result[key] = merged;
    } else {
      const next = strategicMergePatch(result[key], value, childPath);
      if (next === undefined) delete result[key];
      else result[key] = next;
    }
  }
  return result;
}

function patchFailure(message: string): KubeApiError {
  return failure(422, 'Invalid', message, {});
}

function parsePointer(pointer: unknown, op: string): string[] {
  if (typeof pointer !== 'string') throw badRequest(`${op} operation: path is missing or not a string`);
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw patchFailure(`${op} operation does not apply: invalid JSON pointer ${quote(pointer)}`);
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function arrayIndex(token: string, length: number, allowEnd: boolean, op: string, pointer: string): number {
  if (allowEnd && token === '-') return length;
  if (!/^(0|[1-9]\d*)$/.test(token)) throw patchFailure(`${op} operation does not apply: invalid array index ${quote(token)} in ${pointer}`);
  const index = Number(token);
  if (index > length || (!allowEnd && index === length)) throw patchFailure(`${op} operation does not apply: index out of bounds: ${pointer}`);
  return index;
}

function pointerGet(doc: unknown, tokens: string[], op: string, pointer: string): unknown {
  let current = doc;
  for (const token of tokens) {
    if (Array.isArray(current)) current = current[arrayIndex(token, current.length, false, op, pointer)];
    else if (isObject(current) && Object.hasOwn(current, token)) current = current[token];
    else throw patchFailure(`${op} operation does not apply: doc is missing path: ${quote(pointer)}`);
  }
  return current;
}

/** RFC 6902 JSON patch on a copy of `doc`. */
function jsonPatch(doc: unknown, operations: unknown): unknown {
  if (!Array.isArray(operations)) throw badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  let root = jsonClone(doc);
  const parentOf = (tokens: string[], op: string, pointer: string): { parent: unknown; last: string } => ({
    parent: pointerGet(root, tokens.slice(0, -1), op, pointer),
    last: tokens[tokens.length - 1]!,
  });
  const add = (tokens: string[], value: unknown, op: string, pointer: string) => {
    if (tokens.length === 0) {
      root = jsonClone(value);
      return;
    }
    const { parent, last } = parentOf(tokens, op, pointer);
    if (Array.isArray(parent)) parent.splice(arrayIndex(last, parent.length, true, op, pointer), 0, jsonClone(value));
    else if (isObject(parent)) parent[last] = jsonClone(value);
    else throw patchFailure(`${op} operation does not apply: doc is missing path: ${quote(pointer)}`);
  };
  const remove = (tokens: string[], op: string, pointer: string): unknown => {
    if (tokens.length === 0) throw patchFailure(`${op} operation does not apply: cannot remove the document root`);
    const { parent, last } = parentOf(tokens, op, pointer);
    if (Array.isArray(parent)) return parent.splice(arrayIndex(last, parent.length, false, op, pointer), 1)[0];
    if (isObject(parent) && Object.hasOwn(parent, last)) {
      const value = parent[last];
      delete parent[last];
      return value;
    }
    throw patchFailure(`${op} operation does not apply: doc is missing key: ${pointer}`);
  };
  for (const operation of operations) {
    if (!isObject(operation)) throw badRequest('json: cannot unmarshal into Go value of type jsonpatch.Operation');
    const op = operation.op;
    const pointer = operation.path as string;
    const tokens = parsePointer(operation.path, String(op));
    switch (op) {
      case 'add':
        if (!Object.hasOwn(operation, 'value')) throw patchFailure('add operation does not apply: missing value');
        add(tokens, operation.value, op, pointer);
        break;
      case 'remove':
        remove(tokens, op, pointer);
        break;
      case 'replace':
        if (!Object.hasOwn(operation, 'value')) throw patchFailure('replace operation does not apply: missing value');
        pointerGet(root, tokens, op, pointer);
        if (tokens.length === 0) root = jsonClone(operation.value);
        else {
          const { parent, last } = parentOf(tokens, op, pointer);
          if (Array.isArray(parent)) parent[arrayIndex(last, parent.length, false, op, pointer)] = jsonClone(operation.value);
          else (parent as Obj)[last] = jsonClone(operation.value);
        }
        break;
      case 'move': {
        const from = parsePointer(operation.from, op);
        const value = remove(from, op, String(operation.from));
        add(tokens, value, op, pointer);
        break;
      }
      case 'copy': {
        const from = parsePointer(operation.from, op);
        add(tokens, pointerGet(root, from, op, String(operation.from)), op, pointer);
        break;
      }
      case 'test': {
        const actual = tokens.length === 0 ? root : pointerGet(root, tokens, op, pointer);
        if (!deepEqual(actual, operation.value)) throw patchFailure(`testing value ${pointer} failed: test failed`);
        break;
      }
      default:
        throw badRequest(`Unexpected kind: ${String(op)}`);
    }
  }
  return root;
}

// ─────────────────────────────── object store + change log ───────────────────────────────

type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

interface Change {
  rv: number;
  storage: string;
  key: string;
  type: EventType;
  /** The object after the change (for DELETED: its last state, carrying the deletion's resourceVersion). */
  object: Obj;
  /** The object before the change (undefined for ADDED). */
  prev?: Obj;
}

class ObjectStore {
  /** Newest resourceVersion handed out. */
  rv = 1000;
  /** Changes at or below the horizon are forgotten. */
  horizon = 1000;
  private readonly buckets = new Map<string, Map<string, Obj>>();
  private log: Change[] = [];
  private readonly listeners = new Set<(change: Change) => void>();

  private bucket(storage: string): Map<string, Obj> {
    let bucket = this.buckets.get(storage);
    if (!bucket) {
      bucket = new Map();
      this.buckets.set(storage, bucket);
    }
    return bucket;
  }

  get(storage: string, key: string): Obj | undefined {
    return this.bucket(storage).get(key);
  }

  /** Current objects sorted by key (namespace/name), as etcd lists them. */
  all(storage: string): Array<[string, Obj]> {
    return [...this.bucket(storage).entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** Objects as they were at resourceVersion `rv` (which must not be older than the horizon). */
  at(storage: string, rv: number): Array<[string, Obj]> {
    const state = new Map(this.bucket(storage));
    for (let i = this.log.length - 1; i >= 0 && this.log[i]!.rv > rv; i--) {
      const change = this.log[i]!;
      if (change.storage !== storage) continue;
      if (change.prev === undefined) state.delete(change.key);
      else state.set(change.key, change.prev);
    }
    return [...state.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** Changes after `rv`, oldest first. */
  since(rv: number): Change[] {
    let lo = 0;
    let hi = this.log.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.log[mid]!.rv <= rv) lo = mid + 1;
      else hi = mid;
    }
    return this.log.slice(lo);
  }

  commit(storage: string, key: string, type: EventType, object: Obj, prev: Obj | undefined): Change {
    this.rv += 1;
    const stored = jsonClone(object);
    stored.metadata.resourceVersion = String(this.rv);
    deepFreeze(stored);
    if (type === 'DELETED') this.bucket(storage).delete(key);
    else this.bucket(storage).set(key, stored);
    const change: Change = { rv: this.rv, storage, key, type, object: stored, prev };
    this.log.push(change);
    for (const listener of this.listeners) listener(change);
    return change;
  }

  compact(to: number): number {
    this.horizon = Math.max(this.horizon, Math.min(to, this.rv));
    this.log = this.since(this.horizon);
    return this.horizon;
  }

  onChange(listener: (change: Change) => void): void {
    this.listeners.add(listener);
  }
}

// ─────────────────────────────── watch hub ───────────────────────────────

interface WatchEvent {
  type: EventType | 'BOOKMARK' | 'ERROR';
  object: Obj;
}

class WatchSession {
  private closed = false;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    readonly def: ResourceDef,
    private readonly selection: Selection,
    private readonly res: ServerResponse,
    private readonly onClose: (session: WatchSession) => void,
  ) {
    res.on('close', () => this.finish());
  }

  send(event: WatchEvent): void {
    if (this.closed) return;
    this.res.write(`${JSON.stringify(event)}\n`);
  }

  /** Translate a stored change into what this watch should see (nothing, ADDED, MODIFIED or DELETED). */
  deliver(change: Change): void {
    if (change.storage !== this.def.storage) return;
    const now = change.type !== 'DELETED' && selects(this.selection, change.object);
    const before = change.type === 'ADDED' ? false : change.type === 'DELETED' ? selects(this.selection, change.object) : selects(this.selection, change.prev);
    if (change.type === 'DELETED') {
      if (before) this.send({ type: 'DELETED', object: present(this.def, change.object) });
    } else if (now && before) this.send({ type: 'MODIFIED', object: present(this.def, change.object) });
    else if (now) this.send({ type: 'ADDED', object: present(this.def, change.object) });
    else if (before && change.prev) {
      // Left the selection: the watch cache reports a deletion of the old state at the new version.
      const gone = jsonClone(change.prev);
      gone.metadata.resourceVersion = String(change.rv);
      this.send({ type: 'DELETED', object: present(this.def, gone) });
    }
  }

  bookmark(resourceVersion: string, annotations?: Record<string, string>): void {
    const metadata: Obj = { resourceVersion };
    if (annotations) metadata.annotations = annotations;
    this.send({ type: 'BOOKMARK', object: { kind: this.def.kind, apiVersion: apiVersionOf(this.def), metadata } });
  }

  every(ms: number, fn: () => void): void {
    const timer = setInterval(fn, ms);
    timer.unref();
    this.timers.push(timer);
  }

  after(ms: number, fn: () => void): void {
    const timer = setTimeout(fn, ms);
    timer.unref();
    this.timers.push(timer);
  }

  /** End the stream cleanly (what the server does at timeoutSeconds). */
  end(): void {
    if (this.closed) return;
    this.res.end();
    this.finish();
  }

  /** Drop the TCP connection mid-stream. */
  destroy(): void {
    if (this.closed) return;
    this.res.socket?.destroy();
    this.res.destroy();
    this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    this.onClose(this);
  }
}

class WatchHub {
  readonly sessions = new Set<WatchSession>();

  add(session: WatchSession): void {
    this.sessions.add(session);
  }

  remove(session: WatchSession): void {
    this.sessions.delete(session);
  }

  dispatch(change: Change): void {
    for (const session of [...this.sessions]) session.deliver(change);
  }

  drop(abrupt: boolean, resource?: FakeResourceName): number {
    const victims = [...this.sessions].filter((s) => resource === undefined || s.def.name === resource);
    for (const session of victims) {
      if (abrupt) session.destroy();
      else session.end();
    }
    return victims.length;
  }
}

// ─────────────────────────────── API semantics (transport-independent) ───────────────────────────────

interface WriteResult {
  code: number;
  body: Obj;
  name?: string;
  resourceVersion?: string;
}

interface WriteContext {
  dryRun: boolean;
}

const GENERATE_NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

function generateNameSuffix(): string {
  const bytes = randomBytes(5);
  return [...bytes].map((b) => GENERATE_NAME_ALPHABET[b % GENERATE_NAME_ALPHABET.length]).join('');
}

function parseResourceVersion(value: string, what = 'resourceVersion'): number {
  if (!/^\d+$/.test(value)) throw badRequest(`${what}: Invalid value: ${quote(value)}: strconv.ParseUint: parsing ${quote(value)}: invalid syntax`);
  return Number(value);
}

function listOptionsInvalid(field: string, detail: string, type: FieldError['type'] = 'Forbidden', value?: string): KubeApiError {
  return invalid('meta.k8s.io', 'ListOptions', '', [fieldCause({ type, field, detail, value })]);
}

class ApiServer {
  constructor(
    readonly store: ObjectStore,
    private readonly hook: KubeValidateHook | undefined,
  ) {}

  private checkTypeMeta(def: ResourceDef, body: Obj): FieldError[] {
    const want = apiVersionOf(def);
    if (def.custom) {
      if (typeof body.kind !== 'string' || body.kind === '') throw badRequest(`Object 'Kind' is missing in '${JSON.stringify(body)}'`);
      if (typeof body.apiVersion !== 'string' || body.apiVersion === '') throw badRequest(`Object 'apiVersion' is missing in '${JSON.stringify(body)}'`);
    }
    if (body.apiVersion !== undefined && body.apiVersion !== want) {
      throw badRequest(`the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${want})`);
    }
    if (body.kind !== undefined && body.kind !== def.kind) {
      if (def.custom) return [{ type: 'Invalid', field: 'kind', value: quote(body.kind), detail: `must be ${def.kind}` }];
      throw badRequest(`no kind ${quote(body.kind)} is registered for version ${quote(want)}`);
    }
    return [];
  }

  private decode(def: ResourceDef, body: unknown): Obj {
    if (!isObject(body)) {
      if (def.custom) throw badRequest(`Object 'Kind' is missing in '${JSON.stringify(body)}'`);
      throw badRequest(`${def.kind} in version ${quote(def.version)} cannot be handled as a ${def.kind}: json: cannot unmarshal ${jsonTypeName(body)} into Go value of type ${def.version}.${def.kind}`);
    }
    const error = def.decode(body);
    if (error) throw badRequest(`${def.kind} in version ${quote(def.version)} cannot be handled as a ${def.kind}: ${error}`);
    return body;
  }

  private validate(def: ResourceDef, external: Obj, errors: FieldError[], context: KubeValidateContext): void {
    const causes = errors.map(fieldCause);
    if (this.hook) {
      const messages = this.hook(def.kind, present(def, def.toStorage(jsonClone(external))) as KubeObject, context) ?? [];
      for (const message of messages) {
        if (typeof message !== 'string') causes.push({ reason: message.reason ?? 'FieldValueInvalid', message: message.message, field: message.field });
        else {
          const m = /^([A-Za-z0-9_.[\]-]+): (.+)$/s.exec(message);
          causes.push(m ? { reason: 'FieldValueInvalid', message: m[2]!, field: m[1]! } : { reason: 'FieldValueInvalid', message });
        }
      }
    }
    if (causes.length > 0) throw invalid(def.group, def.kind, external.metadata?.name ?? '', causes);
  }

  get(def: ResourceDef, namespace: string, name: string): Obj {
    const stored = this.store.get(def.storage, storageKey(namespace, name));
    if (!stored) throw this.notFound(def, name);
    return present(def, stored);
  }

  notFound(def: ResourceDef, name: string): KubeApiError {
    return failure(404, 'NotFound', `${qualifiedResource(def)} ${quote(name)} not found`, { name, group: def.group || undefined, kind: def.plural });
  }

  conflict(def: ResourceDef, name: string, message: string): KubeApiError {
    return failure(409, 'Conflict', `Operation cannot be fulfilled on ${qualifiedResource(def)} ${quote(name)}: ${message}`, {
      name,
      group: def.group || undefined,
      kind: def.plural,
    });
  }

  list(def: ResourceDef, selection: Selection, query: URLSearchParams): Obj {
    const rvParam = query.get('resourceVersion') ?? '';
    const match = query.get('resourceVersionMatch') ?? '';
    const continueToken = query.get('continue') ?? '';
    const limitParam = query.get('limit');
    const limit = limitParam ? Number(limitParam) : 0;
    if (limitParam && (!Number.isInteger(limit) || limit < 0)) throw badRequest(`limit: Invalid value: ${quote(limitParam)}`);
    if (match && !rvParam) throw listOptionsInvalid('resourceVersionMatch', 'resourceVersionMatch is forbidden unless resourceVersion is provided');
    if (match && match !== 'Exact' && match !== 'NotOlderThan') {
      throw listOptionsInvalid('resourceVersionMatch', 'supported values: "Exact", "NotOlderThan"', 'NotSupported', quote(match));
    }
    if (continueToken && rvParam && rvParam !== '0') throw listOptionsInvalid('resourceVersion', 'specifying resource version is not allowed when using continue');
    if (match === 'Exact' && rvParam === '0') throw listOptionsInvalid('resourceVersionMatch', 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"');

    let snapshotRv = this.store.rv;
    let startAfter = '';
    if (continueToken) {
      let decoded: Obj;
      try {
        decoded = JSON.parse(Buffer.from(continueToken, 'base64').toString('utf8')) as Obj;
      } catch {
        throw badRequest('continue key is not valid: illegal base64 data');
      }
      if (decoded.v !== 'meta.k8s.io/v1' || typeof decoded.rv !== 'number' || typeof decoded.start !== 'string') throw badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
      if (decoded.rv < this.store.horizon) throw failure(410, 'Expired', CONTINUE_EXPIRED);
      snapshotRv = decoded.rv;
      startAfter = decoded.start;
    } else if (rvParam && rvParam !== '0') {
      const rv = parseResourceVersion(rvParam);
      if (rv > this.store.rv) {
        throw failure(504, 'Timeout', `Too large resource version: ${rv}, current: ${this.store.rv}`, {
          causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
          retryAfterSeconds: 1,
        });
      }
      if (match === 'Exact') {
        if (rv < this.store.horizon) throw failure(410, 'Expired', LIST_EXPIRED);
        snapshotRv = rv;
      }
    }
    const entries = snapshotRv === this.store.rv ? this.store.all(def.storage) : this.store.at(def.storage, snapshotRv);
    const matching = entries.filter(([key, stored]) => key > startAfter && selects(selection, stored));
    const page = limit > 0 ? matching.slice(0, limit) : matching;
    const metadata: Obj = { resourceVersion: String(snapshotRv) };
    if (limit > 0 && matching.length > limit) {
      const lastKey = page[page.length - 1]![0];
      metadata.continue = Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: snapshotRv, start: `${lastKey}\u0000` })).toString('base64');
      if (selection.labels.length === 0 && selection.fields.length === 0) metadata.remainingItemCount = matching.length - limit;
    }
    return {
      kind: def.listKind,
      apiVersion: apiVersionOf(def),
      metadata,
      items: page.map(([, stored]) => present(def, stored, { listItem: true })),
    };
  }

  create(def: ResourceDef, namespace: string, body: unknown, ctx: WriteContext): WriteResult {
    const input = this.decode(def, body);
    const errors = this.checkTypeMeta(def, input);
    const meta: Obj = isObject(input.metadata) ? input.metadata : {};
    if (meta.namespace && meta.namespace !== namespace) throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    if (meta.resourceVersion) throw internalError('resourceVersion should not be set on objects to be created');

    const external = stripTypeMeta(jsonClone(input));
    const generated = !meta.name && typeof meta.generateName === 'string' && meta.generateName !== '';
    let name: string = typeof meta.name === 'string' ? meta.name : '';
    for (let attempt = 0; generated && attempt < 8; attempt++) {
      name = `${(meta.generateName as string).slice(0, 58)}${generateNameSuffix()}`;
      if (!this.store.get(def.storage, storageKey(namespace, name))) break;
    }
    external.metadata = {
      ...userMeta(meta),
      name: name || undefined,
      namespace,
      uid: randomUUID(),
      creationTimestamp: nowTime(),
      generation: def.generation ? 1 : undefined,
    };
    if (def.statusSubresource) delete external.status;
    if (!name) errors.push({ type: 'Required', field: 'metadata.name', detail: 'name or generateName is required' });
    else errors.push(...validateName(name));
    errors.push(...def.validate(external, 'create'));
    this.validate(def, external, errors, { resource: qualifiedResource(def), operation: 'create' });

    const stored = jsonClone(def.toStorage(external));
    const key = storageKey(namespace, name);
    if (this.store.get(def.storage, key)) {
      throw failure(409, 'AlreadyExists', `${qualifiedResource(def)} ${quote(name)} already exists`, { name, group: def.group || undefined, kind: def.plural });
    }
    if (ctx.dryRun) return { code: 201, body: present(def, stored), name };
    const change = this.store.commit(def.storage, key, 'ADDED', stored, undefined);
    return { code: 201, body: present(def, change.object), name, resourceVersion: String(change.rv) };
  }

  update(def: ResourceDef, namespace: string, name: string, body: unknown, subresource: 'status' | undefined, ctx: WriteContext): WriteResult {
    const input = this.decode(def, body);
    const typeErrors = this.checkTypeMeta(def, input);
    const meta: Obj = isObject(input.metadata) ? input.metadata : {};
    if ((meta.name ?? '') !== name) throw badRequest(`the name of the object (${meta.name ?? ''}) does not match the name on the URL (${name})`);
    if (meta.namespace && meta.namespace !== namespace) throw badRequest('the namespace of the provided object does not match the namespace sent on the request');

    const key = storageKey(namespace, name);
    const existing = this.store.get(def.storage, key);
    if (!existing) {
      if (subresource || !def.allowCreateOnUpdate) throw this.notFound(def, name);
      const { resourceVersion: _rv, ...createMeta } = meta;
      return this.create(def, namespace, { ...input, metadata: createMeta }, ctx);
    }
    if (meta.uid && meta.uid !== existing.metadata.uid) {
      throw this.conflict(def, name, `Precondition failed: UID in precondition: ${String(meta.uid)}, UID in object meta: ${String(existing.metadata.uid)}`);
    }
    if (!meta.resourceVersion) {
      if (!def.allowUnconditionalUpdate) {
        throw invalid(def.group, def.plural, name, [fieldCause({ type: 'Invalid', field: 'metadata.resourceVersion', value: '0x0', detail: 'must be specified for an update' })]);
      }
    } else {
      parseResourceVersion(String(meta.resourceVersion), 'metadata.resourceVersion');
      if (String(meta.resourceVersion) !== existing.metadata.resourceVersion) throw this.conflict(def, name, OPTIMISTIC_LOCK);
    }

    const oldExternal = def.fromStorage(jsonClone(existing));
    const incoming = stripTypeMeta(jsonClone(input));
    let next: Obj;
    const errors: FieldError[] = [...typeErrors];
    if (subresource === 'status') {
      next = jsonClone(oldExternal);
      if (Object.hasOwn(incoming, 'status')) next.status = incoming.status;
      else delete next.status;
    } else {
      next = incoming;
      if (def.statusSubresource) {
        if (Object.hasOwn(oldExternal, 'status')) next.status = jsonClone(oldExternal.status);
        else delete next.status;
      }
      const old = existing.metadata as Obj;
      next.metadata = {
        ...userMeta(meta),
        name,
        namespace,
        uid: old.uid,
        creationTimestamp: old.creationTimestamp,
        deletionTimestamp: old.deletionTimestamp,
        deletionGracePeriodSeconds: old.deletionGracePeriodSeconds,
        generation: old.generation,
      };
      if (old.deletionTimestamp) {
        const added = ((next.metadata.finalizers ?? []) as string[]).filter((f) => !((old.finalizers ?? []) as string[]).includes(f));
        if (added.length > 0) {
          errors.push({
            type: 'Forbidden',
            field: 'metadata.finalizers',
            detail: `no new finalizers can be added if the object is being deleted, found new finalizers []string{${added.map((f) => quote(f)).join(', ')}}`,
          });
        }
      }
      if (def.generation) {
        const { metadata: _m1, status: _s1, ...oldContent } = oldExternal;
        const { metadata: _m2, status: _s2, ...newContent } = next;
        if (!deepEqual(oldContent, newContent)) next.metadata.generation = (old.generation ?? 0) + 1;
      }
    }
    errors.push(...def.validate(next, 'update'));
    this.validate(def, next, errors, {
      resource: qualifiedResource(def),
      operation: 'update',
      subresource,
      oldObject: present(def, existing) as KubeObject,
    });

    const stored = jsonClone(def.toStorage(next));
    stored.metadata.resourceVersion = existing.metadata.resourceVersion;
    if (deepEqual(stored, existing)) return { code: 200, body: present(def, existing), name, resourceVersion: existing.metadata.resourceVersion };
    const finishesDeletion = Boolean(stored.metadata.deletionTimestamp) && !(stored.metadata.finalizers?.length > 0);
    if (ctx.dryRun) return { code: 200, body: present(def, stored), name };
    const change = this.store.commit(def.storage, key, finishesDeletion ? 'DELETED' : 'MODIFIED', stored, existing);
    return { code: 200, body: present(def, change.object), name, resourceVersion: String(change.rv) };
  }

  patch(def: ResourceDef, namespace: string, name: string, contentType: string, text: string, subresource: 'status' | undefined, ctx: WriteContext): WriteResult {
    const mediaType = contentType.split(';')[0]!.trim().toLowerCase();
    const accepted = ['application/json-patch+json', 'application/merge-patch+json', ...(def.strategicMergePatch ? ['application/strategic-merge-patch+json'] : []), 'application/apply-patch+yaml'];
    if (!accepted.includes(mediaType) || mediaType === 'application/apply-patch+yaml') {
      throw failure(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`, {});
    }
    const existing = this.store.get(def.storage, storageKey(namespace, name));
    if (!existing) throw this.notFound(def, name);
    let patch: unknown;
    try {
      patch = JSON.parse(text);
    } catch (err) {
      throw badRequest(`error decoding patch: ${(err as Error).message}`);
    }
    const current = present(def, existing);
    let patched: unknown;
    if (mediaType === 'application/json-patch+json') patched = jsonPatch(current, patch);
    else if (mediaType === 'application/merge-patch+json') {
      if (!isObject(patch)) throw badRequest('error decoding patch: merge patch must be a JSON object');
      patched = mergePatch(current, patch);
    } else {
      if (!isObject(patch)) throw badRequest('error decoding patch: strategic merge patch must be a JSON object');
      patched = strategicMergePatch(current, patch);
    }
    if (isObject(patched) && isObject(patched.metadata) && patched.metadata.name !== name) {
      throw badRequest(`the name of the object (${String(patched.metadata.name ?? '')}) does not match the name on the URL (${name})`);
    }
    return this.update(def, namespace, name, patched, subresource, ctx);
  }

  delete(def: ResourceDef, namespace: string, name: string, options: Obj, ctx: WriteContext): WriteResult {
    const key = storageKey(namespace, name);
    const existing = this.store.get(def.storage, key);
    if (!existing) throw this.notFound(def, name);
    const preconditions: Obj = isObject(options.preconditions) ? options.preconditions : {};
    if (preconditions.uid && preconditions.uid !== existing.metadata.uid) {
      throw this.conflict(def, name, `Precondition failed: UID in precondition: ${String(preconditions.uid)}, UID in object meta: ${String(existing.metadata.uid)}`);
    }
    if (preconditions.resourceVersion && preconditions.resourceVersion !== existing.metadata.resourceVersion) {
      throw this.conflict(def, name, `Precondition failed: ResourceVersion in precondition: ${String(preconditions.resourceVersion)}, ResourceVersion in object meta: ${String(existing.metadata.resourceVersion)}`);
    }
    if (existing.metadata.finalizers?.length > 0) {
      if (existing.metadata.deletionTimestamp) return { code: 200, body: present(def, existing), name, resourceVersion: existing.metadata.resourceVersion };
      const next = jsonClone(existing);
      next.metadata.deletionTimestamp = nowTime();
      next.metadata.deletionGracePeriodSeconds = 0;
      if (next.metadata.generation) next.metadata.generation += 1;
      if (ctx.dryRun) return { code: 200, body: present(def, next), name };
      const change = this.store.commit(def.storage, key, 'MODIFIED', next, existing);
      return { code: 200, body: present(def, change.object), name, resourceVersion: String(change.rv) };
    }
    const success = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Success',
      details: jsonClone({ name, group: def.group || undefined, kind: def.plural, uid: existing.metadata.uid }),
    };
    if (ctx.dryRun) return { code: 200, body: success, name };
    const change = this.store.commit(def.storage, key, 'DELETED', existing, existing);
    return { code: 200, body: success, name, resourceVersion: String(change.rv) };
  }

  deleteCollection(def: ResourceDef, selection: Selection, options: Obj, ctx: WriteContext): WriteResult {
    const deleted: Obj[] = [];
    for (const [, stored] of this.store.all(def.storage)) {
      if (!selects(selection, stored)) continue;
      const result = this.delete(def, stored.metadata.namespace, stored.metadata.name, options, ctx);
      deleted.push(result.body.kind === 'Status' ? present(def, stored, { listItem: true }) : result.body);
    }
    return { code: 200, body: { kind: def.listKind, apiVersion: apiVersionOf(def), metadata: { resourceVersion: String(this.store.rv) }, items: deleted } };
  }
}

// ─────────────────────────────── URL router ───────────────────────────────

type Route = { type: 'resource'; def: ResourceDef; namespace?: string; name?: string; subresource?: string } | { type: 'discovery'; body: Obj } | { type: 'health' };

function apiResourceList(group: string, version: string): Obj {
  const defs = RESOURCES.filter((d) => d.group === group && d.version === version);
  const verbs = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
  const resources: Obj[] = [];
  for (const def of defs) {
    resources.push({ name: def.plural, singularName: def.singular, namespaced: true, kind: def.kind, verbs, shortNames: def.shortNames.length ? def.shortNames : undefined });
    if (def.statusSubresource) resources.push({ name: `${def.plural}/status`, singularName: '', namespaced: true, kind: def.kind, verbs: ['get', 'patch', 'update'] });
  }
  return jsonClone({ kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources });
}

function apiGroup(group: string): Obj {
  const versions = [...new Set(RESOURCES.filter((d) => d.group === group).map((d) => d.version))].map((version) => ({ groupVersion: `${group}/${version}`, version }));
  return { kind: 'APIGroup', apiVersion: 'v1', name: group, versions, preferredVersion: versions[0] };
}

function route(pathname: string): Route | undefined {
  let segments: string[];
  try {
    segments = pathname
      .split('/')
      .filter((s) => s !== '')
      .map(decodeURIComponent);
  } catch {
    return undefined;
  }
  const [root, a, b] = segments;
  if (segments.length === 1 && (root === 'healthz' || root === 'livez' || root === 'readyz')) return { type: 'health' };
  if (segments.length === 1 && root === 'version') {
    return { type: 'discovery', body: { major: '1', minor: '31', gitVersion: 'v1.31.0-kube-api-fake', platform: `${process.platform}/${process.arch}` } };
  }
  if (root === 'api') {
    if (segments.length === 1) return { type: 'discovery', body: { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1' }] } };
    if (a !== 'v1') return undefined;
    if (segments.length === 2) return { type: 'discovery', body: apiResourceList('', 'v1') };
    return resourceRoute('', 'v1', segments.slice(2));
  }
  if (root === 'apis') {
    const groups = [...new Set(RESOURCES.filter((d) => d.group !== '').map((d) => d.group))];
    if (segments.length === 1) return { type: 'discovery', body: { kind: 'APIGroupList', apiVersion: 'v1', groups: groups.map(apiGroup) } };
    if (!a || !groups.includes(a)) return undefined;
    if (segments.length === 2) return { type: 'discovery', body: apiGroup(a) };
    if (!RESOURCES.some((d) => d.group === a && d.version === b)) return undefined;
    if (segments.length === 3) return { type: 'discovery', body: apiResourceList(a, b!) };
    return resourceRoute(a, b!, segments.slice(3));
  }
  return undefined;
}

function resourceRoute(group: string, version: string, rest: string[]): Route | undefined {
  const find = (plural: string | undefined) => RESOURCES.find((d) => d.group === group && d.version === version && d.plural === plural);
  if (rest.length === 1) {
    const def = find(rest[0]);
    return def ? { type: 'resource', def } : undefined;
  }
  if (rest[0] !== 'namespaces' || rest.length < 3 || rest.length > 5) return undefined;
  const def = find(rest[2]);
  if (!def) return undefined;
  const subresource = rest[4];
  if (subresource !== undefined && !(subresource === 'status' && def.statusSubresource)) return undefined;
  return { type: 'resource', def, namespace: rest[1], name: rest[3], subresource };
}

// ─────────────────────────────── HTTP server ───────────────────────────────

const MAX_BODY_BYTES = 3 * 1024 * 1024;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(failure(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${MAX_BODY_BYTES}`));
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-cache, private', ...headers });
  res.end(text);
}

interface Injection {
  pattern: string | RegExp;
  status: number;
  options: FailNextOptions;
  remaining: number;
}

interface RequestIdentity {
  user: string;
  token: string;
}

const WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

function verbOf(method: string, hasName: boolean, watch: boolean): string {
  switch (method) {
    case 'GET':
      return watch ? 'watch' : hasName ? 'get' : 'list';
    case 'POST':
      return hasName ? '' : 'create';
    case 'PUT':
      return hasName ? 'update' : '';
    case 'PATCH':
      return hasName ? 'patch' : '';
    case 'DELETE':
      return hasName ? 'delete' : 'deletecollection';
    default:
      return '';
  }
}

function isTrue(value: string | null): boolean {
  return value === 'true' || value === '1';
}

class KubeApiFakeServer implements KubeApiFake {
  readonly store = new ObjectStore();
  readonly hub = new WatchHub();
  readonly api: ApiServer;
  private readonly tokens = new Map<string, string>();
  private readonly injections: Injection[] = [];
  private writeLog: KubeWriteRecord[] = [];
  private requestLog: KubeRequestRecord[] = [];
  private seq = 0;
  private server?: Server;
  private address?: AddressInfo;
  private readonly bookmarkIntervalMs: number;

  constructor(options: StartKubeApiFakeOptions) {
    this.api = new ApiServer(this.store, options.validate);
    this.bookmarkIntervalMs = options.bookmarkIntervalMs ?? 1000;
    this.store.onChange((change) => this.hub.dispatch(change));
    const tokens = options.tokens ?? { [randomBytes(16).toString('hex')]: 'admin' };
    for (const [token, user] of Object.entries(tokens)) this.tokens.set(token, user);
  }

  async listen(port: number): Promise<void> {
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) sendJson(res, 500, internalError(String(err)).status);
        else res.destroy();
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host: '127.0.0.1' }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.address = server.address() as AddressInfo;
  }

  get port(): number {
    return this.address?.port ?? 0;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get resourceVersion(): string {
    return String(this.store.rv);
  }

  get compactedResourceVersion(): string {
    return String(this.store.horizon);
  }

  // ── identities and kubeconfig ──

  addUser(user: string, token?: string): string {
    const value = token ?? `${user.replace(/[^A-Za-z0-9_-]/g, '-')}-${randomBytes(12).toString('hex')}`;
    this.tokens.set(value, user);
    return value;
  }

  tokenFor(user: string): string | undefined {
    for (const [token, name] of this.tokens) if (name === user) return token;
    return undefined;
  }

  kubeConfig(options: KubeConfigFor = {}): KubeConfigOptions {
    const user = options.user ?? 'admin';
    const token = this.tokenFor(user) ?? this.addUser(user);
    const context: KubeConfigOptions['contexts'][number] = { name: `kube-api-fake-${user}`, cluster: 'kube-api-fake', user };
    if (options.namespace) context.namespace = options.namespace;
    return {
      // client-node refuses http:// servers unless skipTLSVerify is set ("HTTP protocol is not allowed...").
      clusters: [{ name: 'kube-api-fake', server: this.url, skipTLSVerify: true }],
      users: [{ name: user, token }],
      contexts: [context],
      currentContext: context.name,
    };
  }

  kubeConfigYaml(options: KubeConfigFor = {}): string {
    const config = this.kubeConfig(options);
    const context = config.contexts[0]!;
    const file = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'kube-api-fake', cluster: { server: this.url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: context.user, user: { token: config.users[0]!.token } }],
      contexts: [{ name: context.name, context: { cluster: context.cluster, user: context.user, namespace: context.namespace } }],
      'current-context': context.name,
    };
    return `${JSON.stringify(file, null, 2)}\n`;
  }

  // ── direct store access ──

  get(resource: FakeResourceName, namespace: string, name: string): KubeObject | undefined {
    const def = resourceDef(resource);
    const stored = this.store.get(def.storage, storageKey(namespace, name));
    return stored ? (present(def, stored) as KubeObject) : undefined;
  }

  list(resource: FakeResourceName, namespace?: string): KubeObject[] {
    const def = resourceDef(resource);
    return this.store
      .all(def.storage)
      .filter(([, stored]) => namespace === undefined || stored.metadata.namespace === namespace)
      .map(([, stored]) => present(def, stored) as KubeObject);
  }

  private direct(verb: KubeWriteVerb, def: ResourceDef, namespace: string, name: string | undefined, user: string, run: () => WriteResult): WriteResult {
    const record = this.newWrite(verb, def, namespace, name, undefined, { user, token: '' }, undefined, false);
    try {
      const result = run();
      this.finishWrite(record, result.code, result.name, result.resourceVersion);
      return result;
    } catch (err) {
      this.finishWrite(record, err instanceof KubeApiError ? err.code : 500);
      throw err;
    }
  }

  create(resource: FakeResourceName, object: KubeObject, options: { user?: string } = {}): KubeObject {
    const def = resourceDef(resource);
    const namespace = object.metadata?.namespace ?? 'default';
    const body = { apiVersion: apiVersionOf(def), kind: def.kind, ...jsonClone(object) };
    return this.direct('create', def, namespace, object.metadata?.name, options.user ?? 'kube-api-fake', () => this.api.create(def, namespace, body, { dryRun: false })).body as KubeObject;
  }

  replace(resource: FakeResourceName, object: KubeObject, options: { user?: string; status?: boolean } = {}): KubeObject {
    const def = resourceDef(resource);
    const namespace = object.metadata?.namespace ?? 'default';
    const name = object.metadata?.name ?? '';
    const body = { apiVersion: apiVersionOf(def), kind: def.kind, ...jsonClone(object) };
    const sub = options.status ? 'status' : undefined;
    return this.direct('update', def, namespace, name, options.user ?? 'kube-api-fake', () => this.api.update(def, namespace, name, body, sub, { dryRun: false })).body as KubeObject;
  }

  remove(resource: FakeResourceName, namespace: string, name: string, options: { user?: string } = {}): void {
    const def = resourceDef(resource);
    this.direct('delete', def, namespace, name, options.user ?? 'kube-api-fake', () => this.api.delete(def, namespace, name, {}, { dryRun: false }));
  }

  // ── test controls ──

  compact(resourceVersion?: string | number): string {
    const to = resourceVersion === undefined ? this.store.rv : Number(resourceVersion);
    if (!Number.isFinite(to)) throw new Error(`kube-api-fake: compact(${String(resourceVersion)}): not a resourceVersion`);
    return String(this.store.compact(to));
  }

  dropWatches(options: DropWatchesOptions & { resource?: FakeResourceName } = {}): number {
    return this.hub.drop(options.abrupt ?? false, options.resource);
  }

  openWatches(resource?: FakeResourceName): number {
    return [...this.hub.sessions].filter((s) => resource === undefined || s.def.name === resource).length;
  }

  failNext(pattern: string | RegExp, status: number, options: FailNextOptions = {}): void {
    this.injections.push({ pattern, status, options, remaining: options.times ?? 1 });
  }

  writes(filter: KubeWriteFilter = {}): KubeWriteRecord[] {
    return this.writeLog.filter(
      (w) =>
        (filter.user === undefined || w.user === filter.user) &&
        (filter.token === undefined || w.token === filter.token) &&
        (filter.userAgent === undefined || (typeof filter.userAgent === 'string' ? w.userAgent === filter.userAgent : filter.userAgent.test(w.userAgent ?? ''))) &&
        (filter.verb === undefined || w.verb === filter.verb) &&
        (filter.resource === undefined || w.resource === filter.resource || (RESOURCE_BY_NAME.has(filter.resource as FakeResourceName) && w.resource === qualifiedResource(resourceDef(filter.resource as FakeResourceName)))) &&
        (filter.namespace === undefined || w.namespace === filter.namespace) &&
        (filter.name === undefined || w.name === filter.name) &&
        (filter.ok === undefined || w.ok === filter.ok),
    );
  }

  requests(filter: { user?: string; verb?: string; method?: string } = {}): KubeRequestRecord[] {
    return this.requestLog.filter((r) => (filter.user === undefined || r.user === filter.user) && (filter.verb === undefined || r.verb === filter.verb) && (filter.method === undefined || r.method === filter.method));
  }

  clearRecords(): void {
    this.writeLog = [];
    this.requestLog = [];
  }

  async close(): Promise<void> {
    this.hub.drop(true);
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  // ── request handling ──

  private newWrite(
    verb: KubeWriteVerb,
    def: ResourceDef,
    namespace: string | undefined,
    name: string | undefined,
    subresource: string | undefined,
    identity: RequestIdentity,
    userAgent: string | undefined,
    dryRun: boolean,
  ): KubeWriteRecord {
    const record: KubeWriteRecord = {
      seq: ++this.seq,
      time: new Date(),
      verb,
      resource: qualifiedResource(def),
      subresource,
      namespace,
      name,
      user: identity.user,
      token: identity.token,
      userAgent,
      code: 0,
      ok: false,
      injected: false,
      dryRun,
    };
    this.writeLog.push(record);
    return record;
  }

  private finishWrite(record: KubeWriteRecord, code: number, name?: string, resourceVersion?: string): void {
    record.code = code;
    record.ok = code < 300;
    if (name && !record.name) record.name = name;
    if (resourceVersion && record.ok) record.resourceVersion = resourceVersion;
  }

  private takeInjection(method: string, target: string): Injection | undefined {
    const index = this.injections.findIndex((i) => (i.options.method === undefined || i.options.method.toUpperCase() === method) && (typeof i.pattern === 'string' ? target.includes(i.pattern) : i.pattern.test(target)));
    if (index < 0) return undefined;
    const injection = this.injections[index]!;
    injection.remaining -= 1;
    if (injection.remaining <= 0) this.injections.splice(index, 1);
    return injection;
  }

  private injectedError(injection: Injection, r: Route | undefined): KubeApiError {
    const { status, options } = injection;
    const reason = options.reason ?? REASON_BY_CODE[status] ?? 'Unknown';
    let message = options.message;
    let details: KubeStatusDetails = {};
    if (r?.type === 'resource') {
      details = { name: r.name, group: r.def.group || undefined, kind: r.def.plural };
      if (!message && status === 409) message = `Operation cannot be fulfilled on ${qualifiedResource(r.def)} ${quote(r.name ?? '')}: ${OPTIMISTIC_LOCK}`;
      if (!message && status === 404) message = `${qualifiedResource(r.def)} ${quote(r.name ?? '')} not found`;
    }
    message ??= `injected failure (kube-api-fake failNext): HTTP ${status}`;
    const headers: Record<string, string> = {};
    const retryAfter = options.retryAfterSeconds ?? (status === 429 ? 1 : undefined);
    if (retryAfter !== undefined) {
      details.retryAfterSeconds = retryAfter;
      headers['Retry-After'] = String(retryAfter);
    }
    return failure(status, reason, message, details, headers);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const target = req.url ?? '/';
    const url = new URL(target, 'http://127.0.0.1');
    const query = url.searchParams;
    const userAgent = req.headers['user-agent'];
    const r = route(url.pathname);
    const watch = method === 'GET' && isTrue(query.get('watch'));
    const verb = r?.type === 'resource' ? verbOf(method, r.name !== undefined, watch) : r ? 'discovery' : '';
    const request: KubeRequestRecord = { seq: ++this.seq, time: new Date(), method, path: target, verb, userAgent, code: 0 };
    if (r?.type === 'resource') Object.assign(request, { resource: qualifiedResource(r.def), namespace: r.namespace, name: r.name });
    this.requestLog.push(request);

    let write: KubeWriteRecord | undefined;
    const respond = (code: number, body: unknown, headers?: Record<string, string>) => {
      request.code = code;
      sendJson(res, code, body, headers);
    };
    try {
      const body = method === 'GET' || method === 'HEAD' ? '' : await readBody(req);
      if (r?.type === 'health') {
        request.code = 200;
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('ok');
        return;
      }
      const identity = this.authenticate(req);
      if (!identity && !(r?.type === 'discovery' && url.pathname === '/version')) throw failure(401, 'Unauthorized', 'Unauthorized');
      request.user = identity?.user;
      if (identity && r?.type === 'resource' && WRITE_VERBS.has(verb)) {
        write = this.newWrite(verb as KubeWriteVerb, r.def, r.namespace, r.name, r.subresource, identity, userAgent, query.get('dryRun') === 'All');
      }
      const injection = this.takeInjection(method, target);
      if (injection) {
        if (write) write.injected = true;
        throw this.injectedError(injection, r);
      }
      if (!r) throw routeNotFound();
      if (r.type === 'discovery') {
        if (method !== 'GET') throw methodNotAllowed();
        respond(200, r.body);
        return;
      }
      if (!verb) throw methodNotAllowed();
      const ctx: WriteContext = { dryRun: query.get('dryRun') === 'All' };
      if (query.get('dryRun') !== null && !ctx.dryRun) throw badRequest(`dryRun: Unsupported value: ${quote(query.get('dryRun'))}: supported values: "All"`);
      const def = r.def;
      const namespace = r.namespace;
      const sub = r.subresource === 'status' ? 'status' : undefined;
      const parseBody = (): unknown => {
        if (body.trim() === '') return undefined;
        try {
          return JSON.parse(body);
        } catch (err) {
          throw badRequest(`${def.kind} in version ${quote(def.version)} cannot be handled as a ${def.kind}: ${(err as Error).message}`);
        }
      };
      const checkJsonContent = () => {
        const type = (req.headers['content-type'] ?? 'application/json').split(';')[0]!.trim().toLowerCase();
        if (type !== 'application/json' && type !== '*/*') {
          throw failure(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf`, {});
        }
      };
      const selection = (): Selection => ({
        namespace,
        labels: parseLabelSelector(query.get('labelSelector')),
        fields: [...parseFieldSelector(def, query.get('fieldSelector')), ...(r.name !== undefined ? parseFieldSelector(def, `metadata.name=${r.name}`) : [])],
      });
      let result: WriteResult | undefined;
      switch (verb) {
        case 'get':
          if (!namespace || !r.name) throw routeNotFound();
          respond(200, this.api.get(def, namespace, r.name));
          return;
        case 'list':
          respond(200, this.api.list(def, selection(), query));
          return;
        case 'watch':
          this.watch(def, selection(), query, res, request);
          return;
        case 'create': {
          if (!namespace || sub) throw methodNotAllowed();
          checkJsonContent();
          const input = parseBody();
          if (write && isObject(input) && isObject(input.metadata) && typeof input.metadata.name === 'string') write.name = input.metadata.name;
          result = this.api.create(def, namespace, input, ctx);
          break;
        }
        case 'update':
          checkJsonContent();
          result = this.api.update(def, namespace!, r.name!, parseBody(), sub, ctx);
          break;
        case 'patch':
          result = this.api.patch(def, namespace!, r.name!, req.headers['content-type'] ?? '', body, sub, ctx);
          break;
        case 'delete': {
          if (sub) throw methodNotAllowed();
          const options = parseBody();
          result = this.api.delete(def, namespace!, r.name!, isObject(options) ? options : {}, ctx);
          break;
        }
        case 'deletecollection': {
          if (!namespace) throw methodNotAllowed();
          const options = parseBody();
          result = this.api.deleteCollection(def, selection(), isObject(options) ? options : {}, ctx);
          break;
        }
        default:
          throw methodNotAllowed();
      }
      if (write) this.finishWrite(write, result.code, result.name, result.resourceVersion);
      respond(result.code, result.body);
    } catch (err) {
      const error = err instanceof KubeApiError ? err : internalError(err instanceof Error ? err.message : String(err));
      if (write) this.finishWrite(write, error.code);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      respond(error.code, error.status, error.headers);
    }
  }

  private authenticate(req: IncomingMessage): RequestIdentity | undefined {
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) return undefined;
    const user = this.tokens.get(m[1]!);
    return user === undefined ? undefined : { user, token: m[1]! };
  }

  private watch(def: ResourceDef, selection: Selection, query: URLSearchParams, res: ServerResponse, request: KubeRequestRecord): void {
    const rvParam = query.get('resourceVersion') ?? '';
    const match = query.get('resourceVersionMatch') ?? '';
    const sendInitialEvents = query.get('sendInitialEvents');
    const bookmarks = isTrue(query.get('allowWatchBookmarks'));
    const timeoutParam = query.get('timeoutSeconds');
    const timeoutSeconds = timeoutParam === null ? undefined : Number(timeoutParam);
    if (timeoutParam !== null && !(Number.isFinite(timeoutSeconds) && timeoutSeconds! >= 0)) throw badRequest(`timeoutSeconds: Invalid value: ${quote(timeoutParam)}`);
    if (sendInitialEvents !== null) {
      if (match !== 'NotOlderThan') throw listOptionsInvalid('resourceVersionMatch', 'sendInitialEvents requires setting resourceVersionMatch to NotOlderThan');
    } else if (match) throw listOptionsInvalid('resourceVersionMatch', 'resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided');
    const fromRv = rvParam === '' || rvParam === '0' ? undefined : parseResourceVersion(rvParam);

    request.code = 200;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    // The session ends itself when the client goes away (res 'close').
    const session = new WatchSession(def, selection, res, (s) => this.hub.remove(s));

    if (fromRv !== undefined && fromRv < this.store.horizon && !isTrue(sendInitialEvents)) {
      // What kube-apiserver's watch cache does for a compacted resourceVersion: 200, one ERROR event, end.
      session.send({
        type: 'ERROR',
        object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${fromRv} (${this.store.horizon})`, reason: 'Expired', code: 410 },
      });
      session.end();
      return;
    }
    // Initial state / replay, then live changes; nothing can interleave (no await from here on).
    if (fromRv === undefined || isTrue(sendInitialEvents)) {
      for (const [, stored] of this.store.all(def.storage)) if (selects(selection, stored)) session.send({ type: 'ADDED', object: present(def, stored) });
      if (isTrue(sendInitialEvents) && bookmarks) session.bookmark(String(this.store.rv), { 'k8s.io/initial-events-end': 'true' });
    } else {
      for (const change of this.store.since(fromRv)) session.deliver(change);
    }
    this.hub.add(session);
    if (bookmarks) session.every(this.bookmarkIntervalMs, () => session.bookmark(String(this.store.rv)));
    if (timeoutSeconds !== undefined && timeoutSeconds > 0) session.after(timeoutSeconds * 1000, () => session.end());
  }
}

/**
 * Start the fake on 127.0.0.1 (a free port unless `port` is given).
 *
 *   const fake = await startKubeApiFake();
 *   const kc = new KubeConfig();
 *   kc.loadFromOptions(fake.kubeConfig({ user: 'controller-a' }));
 *   const api = kc.makeApiClient(CustomObjectsApi);
 */
export async function startKubeApiFake(options: StartKubeApiFakeOptions = {}): Promise<KubeApiFake> {
  const fake = new KubeApiFakeServer(options);
  await fake.listen(options.port ?? 0);
  return fake;
}
