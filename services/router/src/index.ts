export * from './config.js';
export * from './routing-policy.js';
export * from './shard-balancer.js';
export * from './routing-decisions.js';
export * from './shard-worker.js';
export * from './service.js';
