/**
 * The black-box kit of the e2e tests, the benches and the chart tests: a whole bridge as OS
 * processes (startBridge), agents of every MCP generation, assertions on the store, nginx, an OTLP
 * receiver, the dashboards and alert rules. Imported as '@agent-bridge/testkit/bridge'; it depends
 * on the libs, so the testkit's base ('@agent-bridge/testkit') stays free of them and the libs' own
 * tests can use it.
 */
export * from './assertions.js';
export * from './bridge.js';
export * from './dashboards.js';
export * from './holding-proxy.js';
export * from './modern.js';
export * from './nginx.js';
export * from './otlp-receiver.js';
export * from './participants.js';
export * from './stateless.js';
export * from './traffic.js';
export { sleep } from '../wait.js';
