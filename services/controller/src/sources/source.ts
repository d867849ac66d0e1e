import type { FeatureFlagsResource, FeatureFlagsStatus } from '@agent-bridge/flags';
import type { ControllerEvent } from '../reconcile.js';

/** The resource as last read: its spec and generation, or why it cannot be used. */
export type ResourceView = { state: 'ok'; resource: FeatureFlagsResource; generation: number } | { state: 'missing'; message: string } | { state: 'invalid'; message: string; generation: number };

/**
 * Where the FeatureFlags resource lives: the Kubernetes API (status subresource, Events) or a local
 * YAML file (status in the store). The controller reads and writes only through this.
 */
export interface ResourceSource {
  readonly kind: 'file' | 'kubernetes';
  /** Starts watching; `onChange` is called after every change of the resource. */
  start(onChange: () => void): Promise<void>;
  current(): ResourceView;
  readStatus(): Promise<FeatureFlagsStatus | null>;
  /**
   * Writes the status. `guard` is called right before the write and must throw when this process
   * is no longer the leader (a deposed leader writes nothing).
   */
  writeStatus(status: FeatureFlagsStatus, guard: () => void): Promise<void>;
  /** A Kubernetes Event for the resource (no-op for the file source: the audit trail has it). */
  recordEvent(event: ControllerEvent, guard: () => void): Promise<void>;
  stop(): Promise<void>;
}
