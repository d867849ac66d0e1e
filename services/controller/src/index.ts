export * from './reconcile.js';
export * from './status.js';
export * from './analysis.js';
export * from './alerts.js';
export * from './controller.js';
export * from './inventory.js';
export * from './leader.js';
export * from './config.js';
export * from './service.js';
export * from './sources/source.js';
export * from './sources/file-source.js';
// The Kubernetes parts (kube.ts, sources/kube-*.ts) are imported from their own modules: loading
// @kubernetes/client-node takes seconds, and only SOURCE=kubernetes needs it.
