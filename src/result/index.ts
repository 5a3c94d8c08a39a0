export { AsyncResult, type AsyncResultEvents, type ResultProgress, type ResultState, type ResultUpdate, type RemoteError, type GetOptions, type RevokeOptions, type Revoker } from './async-result';
export { RedisResultBackend, type RedisResultBackendOptions } from './redis-result-backend';
export { RpcResultStore } from './rpc-result-store';
export { ResultTracker, DEFAULT_MAX_TRACKED_RESULTS, MAX_TIMED_OUT_RESULTS, type ResultTrackerOptions } from './result-tracker';
export { RpcResultBackend } from './rpc-result-backend';
export { GroupResult, type GroupMember } from './group-result';
