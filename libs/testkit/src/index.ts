export { startRedis } from './redis-server.js';
export type { RedisServerHandle, StartRedisOptions } from './redis-server.js';
export { startService, freePort, REPO_ROOT } from './service-process.js';
export type { ServiceExit, ServiceHandle, StartServiceOptions } from './service-process.js';
export { connectAgent, parseToolError, ToolCallError } from './mcp-client.js';
export type { AgentCallOptions, AgentClient, AnyAgentClient, ClientGeneration, ConnectAgentOptions, ElicitationHandler, V2Generation } from './mcp-client.js';
export { sleep, waitFor, waitForValue, withTimeout } from './wait.js';
export type { WaitForOptions } from './wait.js';
export { alertmanagerConfig, prometheusConfig, startAlertmanager, startPrometheus } from './monitoring.js';
export type {
  AlertmanagerAlert,
  AlertmanagerHandle,
  AlertmanagerWebhook,
  DaemonExit,
  PrometheusHandle,
  PrometheusSample,
  StartAlertmanagerOptions,
  StartPrometheusOptions,
} from './monitoring.js';
export * from './kube-api-fake.js';
