export * from './reconcile.js';
export * from './status.js';
