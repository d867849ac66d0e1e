export * from './mailbox-tools.js';
export * from './error-mapping.js';
export * from './settings.js';
export * from './send-gate.js';
export * from './round-delivery.js';
export * from './deprecation.js';
export * from './delivery-integrity.js';
