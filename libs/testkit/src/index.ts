export { startRedis } from './redis-server.js';
export type { RedisServerHandle } from './redis-server.js';
export { startRedisCluster } from './redis-cluster.js';
export type { RedisClusterHandle, RedisClusterNode, StartRedisClusterOptions } from './redis-cluster.js';
export { startService, runProgram, freePort, REPO_ROOT } from './service-process.js';
export type { ServiceHandle } from './service-process.js';
export { connectAgent, ToolCallError } from './mcp-client.js';
export type { AgentClient, AnyAgentClient, ClientGeneration } from './mcp-client.js';
export { sleep, waitFor, waitForValue } from './wait.js';

export { startAlertmanager, startPrometheus } from './monitoring.js';
export type { AlertmanagerHandle, AlertmanagerWebhook, PrometheusHandle, PrometheusSample } from './monitoring.js';
export * from './kube-api-fake.js';
export { startLatencyProxy } from './latency-proxy.js';
export type { LatencyProxy } from './latency-proxy.js';
