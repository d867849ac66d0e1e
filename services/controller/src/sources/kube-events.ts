/** What the controller does, as core/v1 Events on the FeatureFlags object (`kubectl describe` shows them). */
import { V1MicroTime, type CoreV1Event } from '@kubernetes/client-node';
import { FEATURE_FLAGS_API_VERSION, FEATURE_FLAGS_KIND } from '@agent-bridge/flags';
import type { ControllerEvent } from '../reconcile.js';

/** What Events name as their source (source.component / reportingComponent). */
const CONTROLLER_COMPONENT = 'agent-bridge-controller';

/** `stage.promoted` → `StagePromoted`; a rollback carries its level: `RollbackFull`, `RollbackPartial`, `RollbackCanary`. */
export function eventReason(event: ControllerEvent): string {
  const camel = event.action
    .split(/[._-]/)
    .filter((part) => part !== '')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
  const level = event.action === 'rollback' ? event.details?.level : undefined;
  return typeof level === 'string' && level !== '' ? `${camel}${level.charAt(0).toUpperCase()}${level.slice(1)}` : camel;
}

export interface EventTarget {
  namespace: string;
  name: string;
  uid?: string;
  resourceVersion?: string;
  /** The controller, as reportingInstance. */
  controllerId: string;
}

/**
 * The Event body for one controller event: reason from the action, type from the severity, the
 * event's reason as message. `seq` makes names unique within a millisecond.
 */
export function featureFlagsEvent(event: ControllerEvent, target: EventTarget, now: Date, seq: number): CoreV1Event {
  const { namespace, name, controllerId } = target;
  const reason = eventReason(event);
  const unique = (BigInt(now.getTime()) * 1_000_000n + BigInt(seq % 1_000_000)).toString(16);
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${name.slice(0, 253 - unique.length - 1)}.${unique}`, namespace },
    involvedObject: {
      apiVersion: FEATURE_FLAGS_API_VERSION,
      kind: FEATURE_FLAGS_KIND,
      name,
      namespace,
      ...(target.uid ? { uid: target.uid } : {}),
      ...(target.resourceVersion ? { resourceVersion: target.resourceVersion } : {}),
    },
    reason,
    message: event.reason.length > 1024 ? `${event.reason.slice(0, 1021)}...` : event.reason,
    type: event.severity,
    action: reason,
    source: { component: CONTROLLER_COMPONENT },
    reportingComponent: CONTROLLER_COMPONENT,
    reportingInstance: controllerId,
    count: 1,
    firstTimestamp: now,
    lastTimestamp: now,
    eventTime: new V1MicroTime(now.getTime()),
  };
}
