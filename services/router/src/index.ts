export * from './config.js';
export * from './routing-policy.js';
export * from './router.js';
export * from './shard-worker.js';
export * from './service.js';
