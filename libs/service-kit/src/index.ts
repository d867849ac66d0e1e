export * from './config.js';
export * from './auth.js';
export * from './http.js';
export * from './shutdown.js';
export * from './mcp.js';
export * from './probes.js';
export * from './runtime.js';
export * from './schema-validator.js';
