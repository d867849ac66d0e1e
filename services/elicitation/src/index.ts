export * from './config.js';
export * from './sessions.js';
export * from './push-deliverer.js';
export * from './elicit-tool.js';
export * from './service.js';
