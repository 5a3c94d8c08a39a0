export { AsyncResult, type ResultState, type ResultUpdate, type RemoteError, type GetOptions } from './async-result';
export { RpcResultBackend } from './rpc-result-backend';
