/**
 * bridgectl's side of the controller's HTTP API (services/controller/src/http-api.ts is the
 * contract): GET /health/status, POST /admin/{rollback,promote,pause,resume,drill} and GET
 * /admin/agents with the admin bearer token. Configuration: BRIDGECTL_CONTROLLER_URL, BRIDGECTL_ADMIN_TOKEN or
 * BRIDGECTL_ADMIN_TOKEN_FILE.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DeprecationStepStatus, FeatureFlagsSpec, FeatureFlagsStatus, FlagSnapshot, RolloutState } from '@agent-bridge/flags';
import type { McpGeneration } from '@agent-bridge/protocol';
import { ConfigError } from '@agent-bridge/service-kit';

/** The repository root (bridgectl runs from its source tree): defaults are relative to it. */
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const DEFAULT_CONTROLLER_URL = 'http://127.0.0.1:8704';
const DEFAULT_ADMIN_TOKEN_FILE = join(REPO_ROOT, '.local', 'admin-token');
export const DEFAULT_FEATURE_FLAGS_FILE = join(REPO_ROOT, 'deploy', 'local', 'featureflags.yaml');

const STATUS_TIMEOUT_MS = 5_000;
/** An admin request waits for the leader's next reconcile pass (and may be relayed to the leader). */
const ADMIN_TIMEOUT_MS = 20_000;

/** What GET /health/status answers (Controller.report()). */
export interface ControllerReport {
  controller: { id: string; leader: boolean; leaderId: string | null; source: 'file' | 'kubernetes' };
  resource: { state: 'ok'; name: string; namespace?: string; generation: number } | { state: 'missing' | 'invalid'; message: string };
  plan?: {
    phase: FeatureFlagsSpec['phase'];
    paused: boolean;
    stages: FeatureFlagsSpec['rollout']['stages'];
    analysis: FeatureFlagsSpec['analysis'];
    rollback: { automatic: boolean; partialStep: number };
    /** Not in the report yet: the flags the spec asks for (see simulate). */
    flags?: unknown;
  };
  status: FeatureFlagsStatus | null;
  /** The health check as last run (absent from a controller older than this bridgectl). */
  healthCheck?: FeatureFlagsStatus['healthCheck'] | null;
  snapshot: Pick<FlagSnapshot, 'version' | 'publishedAt' | 'publishedBy' | 'elicitation' | 'legacyDisabled'> & { rollout: RolloutState; contingencies?: FlagSnapshot['contingencies'] };
  adoption: {
    windowMs: number;
    activeAgents: number;
    elicitationAgents: number;
    legacyAgents: number;
    /** Absent from a controller older than this bridgectl (it counted an agent on both endpoints twice). */
    legacyOnlyAgents?: number;
    elicitationOnlyAgents?: number;
    bothAgents?: number;
    otherAgents?: number;
    /** Absent from a controller older than this bridgectl. */
    agentsByGeneration?: Record<McpGeneration, number>;
    rate: number | null;
    legacyShare: number | null;
  };
  /** The deprecation schedule as planned or run (absent from an older controller; null without spec.deprecation). */
  deprecation?: DeprecationPlan | null;
  /** The system snapshot of the cutover in progress or done (absent from an older controller). */
  cutoverSnapshot?: Record<string, unknown> | null;
}

export interface DeprecationPlan {
  start: string;
  sunset: string;
  dryRun: boolean;
  throttleMs: number;
  migrationGuideUrl: string | null;
  steps: DeprecationStepStatus[];
  next: { name: string; at: string } | null;
  /** Owners a notifying step would tell now (counts; the report is not authenticated). */
  wouldNotify: { owners: number; agents: number; unowned: number } | { error: string } | null;
}

/** What GET /admin/agents answers (services/controller/src/inventory.ts AgentInventory). */
export interface AgentInventory {
  generatedAt: string;
  windowMs: number;
  agents: Array<{
    agentId: string;
    owner: { name: string; contact?: string; team?: string } | null;
    protocol: 'legacy' | 'elicitation' | 'both' | 'none';
    generations: string[];
    lastSeenAt: string | null;
    lastLegacyAt: string | null;
    lastElicitationAt: string | null;
    callsPerDay: number;
    messagesPerDay: number;
  }>;
  byTeam: Array<{ team: string; legacy: number; elicitation: number; both: number; none: number; total: number }>;
  truncated?: boolean;
}

/** What an admin endpoint answers when it handled the request. */
export interface AdminAnswer {
  applied: boolean;
  message: string;
  snapshot_version?: number;
}

export type AdminPath = '/admin/rollback' | '/admin/promote' | '/admin/pause' | '/admin/resume' | '/admin/drill' | '/admin/cutover/rollback' | '/admin/read-only';

/** The controller could not be reached (connection refused, timeout, DNS…). */
export class ControllerUnavailableError extends Error {
  readonly code = 'CONTROLLER_UNAVAILABLE';
}

/** The controller answered with an error (`{error: {code, message}}`). */
export class ControllerRequestError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
  ) {
    super(message);
  }
}

export function controllerUrl(env: NodeJS.ProcessEnv): string {
  const raw = env.BRIDGECTL_CONTROLLER_URL?.trim() || DEFAULT_CONTROLLER_URL;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`BRIDGECTL_CONTROLLER_URL must be an http(s) URL such as ${DEFAULT_CONTROLLER_URL} (got "${raw}")`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`BRIDGECTL_CONTROLLER_URL must be an http(s) URL such as ${DEFAULT_CONTROLLER_URL} (got "${raw}")`);
  return raw.replace(/\/+$/, '');
}

export interface AdminToken {
  token: string;
  /** Where it came from, for error messages (never the token itself). */
  source: string;
}

/** The admin token: BRIDGECTL_ADMIN_TOKEN, else the file BRIDGECTL_ADMIN_TOKEN_FILE (default .local/admin-token). */
export function adminToken(env: NodeJS.ProcessEnv): AdminToken {
  const direct = env.BRIDGECTL_ADMIN_TOKEN?.trim();
  if (direct) return { token: direct, source: 'BRIDGECTL_ADMIN_TOKEN' };
  const file = env.BRIDGECTL_ADMIN_TOKEN_FILE?.trim() || DEFAULT_ADMIN_TOKEN_FILE;
  const named = env.BRIDGECTL_ADMIN_TOKEN_FILE?.trim() ? `BRIDGECTL_ADMIN_TOKEN_FILE (${file})` : `the default token file ${file}`;
  if (!existsSync(file)) {
    throw new ConfigError(
      `no admin token: BRIDGECTL_ADMIN_TOKEN is not set and ${named} does not exist. ` +
        "Set BRIDGECTL_ADMIN_TOKEN to the controller's ADMIN_TOKEN, or point BRIDGECTL_ADMIN_TOKEN_FILE at a file holding it (`make up` writes .local/admin-token).",
    );
  }
  let token: string;
  try {
    token = readFileSync(file, 'utf8').trim();
  } catch (error) {
    throw new ConfigError(`no admin token: cannot read ${named}: ${(error as Error).message}`);
  }
  if (!token) throw new ConfigError(`no admin token: ${named} is empty. Put the controller's ADMIN_TOKEN in it, or set BRIDGECTL_ADMIN_TOKEN.`);
  return { token, source: named };
}

async function call(base: string, path: string, init: RequestInit, timeoutMs: number): Promise<{ status: number; body: unknown }> {
  let response: Response;
  try {
    response = await fetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    throw new ControllerUnavailableError(`cannot reach the controller at ${base}: ${describeFetchError(error, timeoutMs)}. Is it running? Set BRIDGECTL_CONTROLLER_URL to its address.`);
  }
  const text = await response.text().catch(() => '');
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    throw new ControllerRequestError(`${base}${path} answered ${response.status} with something that is not JSON (${JSON.stringify(text.slice(0, 80))}); is BRIDGECTL_CONTROLLER_URL the controller?`, response.status, 'NOT_JSON');
  }
  return { status: response.status, body };
}

function describeFetchError(error: unknown, timeoutMs: number): string {
  const err = error as Error & { cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return `no answer within ${timeoutMs / 1000} s`;
  const cause = err.cause;
  if (cause?.code) return cause.message?.includes(cause.code) ? cause.message : `${cause.code}${cause.message ? ` (${cause.message})` : ''}`;
  return cause?.message ?? err.message;
}

function errorOf(base: string, path: string, status: number, body: unknown): ControllerRequestError {
  const error = (body as { error?: unknown } | undefined)?.error;
  if (error && typeof error === 'object' && typeof (error as { message?: unknown }).message === 'string') {
    const { code, message } = error as { code?: string; message: string };
    return new ControllerRequestError(message, status, code ?? `HTTP_${status}`);
  }
  const said = typeof error === 'string' ? ` (${error})` : '';
  return new ControllerRequestError(`${base}${path} answered HTTP ${status}${said}, not an answer of the controller's API; is BRIDGECTL_CONTROLLER_URL the controller?`, status, `HTTP_${status}`);
}

export async function fetchStatus(baseUrl: string, timeoutMs = STATUS_TIMEOUT_MS): Promise<ControllerReport> {
  const { status, body } = await call(baseUrl, '/health/status', { method: 'GET', headers: { accept: 'application/json' } }, timeoutMs);
  if (status !== 200) throw errorOf(baseUrl, '/health/status', status, body);
  const report = body as Partial<ControllerReport> | undefined;
  if (!report || typeof report !== 'object' || !report.controller || !report.snapshot) {
    throw new ControllerRequestError(`${baseUrl}/health/status did not answer a controller report; is BRIDGECTL_CONTROLLER_URL the controller?`, status, 'NOT_A_REPORT');
  }
  return report as ControllerReport;
}

/** The legacy inventory (GET /admin/agents, admin token), all agents or those of one protocol. */
export async function fetchInventory(baseUrl: string, token: AdminToken, protocol?: string, timeoutMs = STATUS_TIMEOUT_MS): Promise<AgentInventory> {
  const path = `/admin/agents${protocol ? `?protocol=${encodeURIComponent(protocol)}` : ''}`;
  const { status, body } = await call(baseUrl, path, { method: 'GET', headers: { authorization: `Bearer ${token.token}`, accept: 'application/json' } }, timeoutMs);
  if (status === 401) throw new ControllerRequestError(`the controller at ${baseUrl} refused the admin token from ${token.source}; it must equal the controller's ADMIN_TOKEN`, status, 'UNAUTHORIZED');
  if (status !== 200) throw errorOf(baseUrl, path, status, body);
  const inventory = body as Partial<AgentInventory> | undefined;
  if (!inventory || !Array.isArray(inventory.agents) || !Array.isArray(inventory.byTeam)) {
    throw new ControllerRequestError(`${baseUrl}${path} did not answer an agent inventory; is BRIDGECTL_CONTROLLER_URL the controller (and as new as bridgectl)?`, status, 'BAD_ANSWER');
  }
  return inventory as AgentInventory;
}

/** Attempts of one admin action when the controller cannot be reached or cannot reach its leader. */
const ADMIN_ATTEMPTS = 3;
const ADMIN_RETRY_PAUSE_MS = 1_000;

/**
 * Posts one admin action. It carries an Idempotency-Key made for this action, and is tried again
 * with the same key when the controller is unreachable or answers 502/503 (a relay to the leader that
 * timed out, no leader yet): the controller applies it once and answers each retry with the first
 * answer, so a rollback whose answer was lost on the way never lowers the percentage twice.
 */
export async function postAdmin(baseUrl: string, token: AdminToken, path: AdminPath, payload: Record<string, unknown>, idempotencyKey = `bridgectl-${randomUUID()}`): Promise<AdminAnswer> {
  const attempt = () =>
    call(
      baseUrl,
      path,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${token.token}`, 'content-type': 'application/json', accept: 'application/json', 'idempotency-key': idempotencyKey },
        body: JSON.stringify(payload),
      },
      ADMIN_TIMEOUT_MS,
    );
  let answered: { status: number; body: unknown } | undefined;
  for (let tried = 1; ; tried++) {
    try {
      answered = await attempt();
      const retryable = answered.status === 502 || answered.status === 503 || (answered.status === 409 && (answered.body as { error?: { code?: string } })?.error?.code === 'REQUEST_IN_PROGRESS');
      if (!retryable || tried >= ADMIN_ATTEMPTS) break;
    } catch (error) {
      if (!(error instanceof ControllerUnavailableError) || tried >= ADMIN_ATTEMPTS) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, ADMIN_RETRY_PAUSE_MS));
  }
  const { status, body } = answered;
  if (status !== 200) {
    const error = errorOf(baseUrl, path, status, body);
    if (status === 401) {
      throw new ControllerRequestError(`the controller at ${baseUrl} refused the admin token from ${token.source} (${error.message}); it must equal the controller's ADMIN_TOKEN`, status, error.code);
    }
    throw error;
  }
  const answer = body as Partial<AdminAnswer> | undefined;
  if (!answer || typeof answer.applied !== 'boolean' || typeof answer.message !== 'string') {
    throw new ControllerRequestError(`${baseUrl}${path} answered 200 without {applied, message}; is BRIDGECTL_CONTROLLER_URL the controller?`, status, 'BAD_ANSWER');
  }
  return answer as AdminAnswer;
}
