export { LamportClock } from './lamport-clock';
export { RevokedIds, REVOKES_MAX, REVOKE_EXPIRES_SECONDS } from './revoked-ids';
export { ControlClient, type BroadcastOptions, type NodeReply } from './control-client';
export { Control, Inspect, byNode, type ControlTarget, type ControlCommandOptions, type RepliesByNode } from './control';
export { EventDispatcher, type EventDispatcherOptions } from './event-dispatcher';
export { EventReceiver, type EventReceiverOptions } from './event-receiver';
export {
  buildEvent,
  clientNodeName,
  decodeEvents,
  encodeEvent,
  eventGroup,
  eventRoutingKey,
  softwareInfo,
  utcOffsetHours,
  EVENT_EXCHANGE,
  type CeleryEvent,
  type SoftwareInfo,
} from './celery-events';
export * from './pidbox-protocol';
export { WorkerControl, type WorkerControlOptions } from './worker-control';
export { WorkerEventReporter, exceptionRepr, HEARTBEAT_SECONDS } from './worker-event-reporter';
export { ControlPanel, type PanelContext } from './control-panel';
export { PidboxNode } from './pidbox-node';
export { StateDb } from './state-db';
export { mingle, MINGLE_TIMEOUT_MS } from './mingle';
export { brokerInfo } from './broker-info';
export { FleetState, type WorkerState, type FailureState, type TaskRates } from './fleet-state';
