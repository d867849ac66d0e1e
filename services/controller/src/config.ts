import { hostname } from 'node:os';
import { z } from 'zod';
import { progressPort, progressSettings } from './progress/settings.js';
import { DAY_MS, USAGE_RETENTION_DAYS } from '@agent-bridge/event-store';
import { checkNotifySettings, notifySettings } from './notify/settings.js';
import { advertiseSettings, commonSettings, httpSettings, loadConfig, relayKeySettings, relayTargetSettings, resolveAdvertiseUrl, settingHelpers } from '@agent-bridge/service-kit';

const { int } = settingHelpers;

/** controller settings, read once at start-up. Defaults are listed in docs/configuration.md. */
export const controllerConfigSchema = z
  .object({
    ...commonSettings,
    ...httpSettings,
    PORT: httpSettings.PORT.default(8704),
    /** Names this controller in the leader lease, the audit trail and the replica registry. */
    CONTROLLER_ID: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,100}$/, 'must be 1 to 100 letters, digits, ".", "_" or "-"')
      .default(
        `${hostname()
          .replace(/[^A-Za-z0-9._-]/g, '-')
          .slice(0, 60)}-${process.pid}`,
      ),
    /** How the other controllers reach this one (admin requests are relayed to the leader). Default: http://127.0.0.1:PORT. */
    ...advertiseSettings,
    /** The relay to the leader carries an assertion signed with this key, to addresses that pass the allow rule. */
    ...relayKeySettings,
    ...relayTargetSettings,
    /** Where the FeatureFlags resource comes from: a local YAML file, or the Kubernetes API. */
    SOURCE: z.enum(['file', 'kubernetes']).default('file'),
    /** SOURCE=file: the FeatureFlags YAML (watched; status is kept in the store). */
    FEATURE_FLAGS_FILE: z.string().min(1).optional(),
    /** SOURCE=kubernetes: the resource's namespace (default: the pod's own) and name. */
    KUBE_NAMESPACE: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a namespace name')
      .optional(),
    /** SOURCE=kubernetes: the coordination.k8s.io Lease the controllers elect their leader with. */
    KUBE_LEASE_NAME: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, 'must be a resource name')
      .default('agent-bridge-controller'),
    FEATURE_FLAGS_NAME: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, 'must be a resource name')
      .default('agent-bridge'),
    /** Bearer token of the admin API (POST /admin/…), or a file holding it. One of the two is required. */
    ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
    ADMIN_TOKEN_FILE: z.string().min(1).optional(),
    /** Bearer token Alertmanager sends to POST /webhook/alertmanager, or a file holding it. One of the two is required. */
    WEBHOOK_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
    WEBHOOK_TOKEN_FILE: z.string().min(1).optional(),
    /** Leader lease time to live: a dead leader is replaced after at most this long. */
    LEADER_LEASE_TTL_MS: int(1_000, 120_000).default(10_000),
    /** How often the leader reconciles without a trigger (holds, analysis intervals). */
    RECONCILE_INTERVAL_MS: int(100, 60_000).default(1_000),
    /** Deadline of each Prometheus query. */
    PROMETHEUS_TIMEOUT_MS: int(100, 60_000).default(5_000),
    /** An agent counts as active when it used an endpoint within this window (bridgectl status). */
    ACTIVE_AGENT_WINDOW_MS: int(10_000, 24 * 60 * 60 * 1000).default(5 * 60 * 1000),
    /**
     * The health-check trigger probes these /readyz URLs (comma-separated; in Kubernetes the
     * elicitation Service) besides every elicitation replica the store knows.
     */
    ELICITATION_HEALTH_URLS: z
      .string()
      .default('')
      .transform((text) =>
        text
          .split(',')
          .map((url) => url.trim())
          .filter(Boolean),
      )
      .pipe(z.array(z.url({ error: 'must be a comma-separated list of http(s) URLs such as http://elicitation:8702/readyz' }))),
    /** The elicitation endpoint agents move to, as they reach it (through the Ingress): said in owner notices. */
    ELICITATION_ENDPOINT_URL: z.url({ error: 'must be the http(s) URL agents connect to, such as https://agents.example.com/mcp' }).optional(),
    /**
     * The agent registry (the same file the endpoints read, without using its tokens): the legacy
     * inventory lists every registered agent with its owner. Without it, only agents seen, owner null.
     */
    AGENT_TOKENS_FILE: z.string().min(1).optional(),
    /** The legacy inventory's window: an agent's protocol is what it used within it; calls and messages per day are averaged over it. */
    INVENTORY_WINDOW_MS: int(60 * 60 * 1000, (USAGE_RETENTION_DAYS - 1) * DAY_MS).default(7 * DAY_MS),
    /** Agents the inventory lists at most (GET /admin/agents, bridgectl agents); the most recently seen first. */
    INVENTORY_MAX_AGENTS: int(1, 100_000).default(10_000),
    /** How often the leader sets agentbridge_agents_by_team from the inventory. */
    INVENTORY_METRIC_INTERVAL_MS: int(5_000, 60 * 60 * 1000).default(60_000),
    /** How long the controller watches a rollback take effect (routers applied it, push lanes drained). */
    EFFECT_TIMEOUT_MS: int(1_000, 600_000).default(30_000),
    /** The public migration progress page, on its own port (progress/settings.ts). */
    ...progressSettings,
    /** Owner notifications: channels (webhook, SMTP), retries, ledger bounds (notify/settings.ts). */
    ...notifySettings,
  })
  .superRefine((config, context) => {
    if (config.SOURCE === 'file' && !config.FEATURE_FLAGS_FILE) context.addIssue({ code: 'custom', path: ['FEATURE_FLAGS_FILE'], message: 'must name the FeatureFlags YAML file when SOURCE=file' });
    if (!config.ADMIN_TOKEN && !config.ADMIN_TOKEN_FILE) context.addIssue({ code: 'custom', path: ['ADMIN_TOKEN_FILE'], message: 'or ADMIN_TOKEN must be set: the admin API needs a bearer token' });
    if (config.PROGRESS_ENABLED && config.PORT !== 0 && progressPort(config) === config.PORT)
      context.addIssue({ code: 'custom', path: ['PROGRESS_PORT'], message: `must differ from the controller's admin port (${config.PORT}): the public page has a listener of its own` });
    if (!config.WEBHOOK_TOKEN && !config.WEBHOOK_TOKEN_FILE) context.addIssue({ code: 'custom', path: ['WEBHOOK_TOKEN_FILE'], message: 'or WEBHOOK_TOKEN must be set: the Alertmanager webhook needs a bearer token' });
    checkNotifySettings(config, context);
  });

export type ControllerConfig = z.infer<typeof controllerConfigSchema>;

export function loadControllerConfig(env: NodeJS.ProcessEnv = process.env): ControllerConfig {
  return resolveAdvertiseUrl(loadConfig('controller', controllerConfigSchema, env));
}
