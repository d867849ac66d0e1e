export * from './ids.js';
export * from './envelope.js';
export * from './lane-payloads.js';
export * from './adapter.js';
export * from './wire-errors.js';
export * from './tool-schemas.js';
export * from './form-schema.js';
export * from './mcp-generation.js';
