export { copiedProperties, type AmqpProperties, type IncomingMessage } from './amqp-properties';
export { republishTaskMessage, type RepublishChanges, type RepublishedTaskMessage } from './republish-task-message';
export type { SignatureDict, TaskEmbed, TaskMessage, TaskMessageHeaders, TimeLimit } from './task-message';
export {
  encodeTaskMessage,
  type EncodeTaskMessageInput,
  type EncodedTaskMessage,
  type TaskMessageProperties,
} from './encode-task-message';
export { decodeTaskMessage } from './decode-task-message';
export { DEFAULT_MAX_MESSAGE_BYTES, maxMessageBytes } from './message-size';
export {
  encodeResultMessage,
  type EncodeResultMessageInput,
  type EncodedResultMessage,
  type ResultMessageProperties,
} from './encode-result-message';
export { decodeResultMessage, type ResultMessage } from './decode-result-message';
export { EXCEPTION_STATES, READY_STATES, type TaskState, type TaskStatus } from './task-state';
export { encodeError, formatTraceback, JS_ERROR_MODULE, type EncodedError } from './encode-error';
export { decodeError, type DecodedError } from './decode-error';
export { dumps, loads, JSON_DATES, type JsonDates } from './kombu-json';
export { decodeResultMeta, encodeChordPart, encodeResultMeta, readResultMeta, type EncodeResultMetaInput, type ResultMeta } from './result-meta';
export { clip, isPlainObject } from './describe-value';
export { pythonRepr } from './python-repr';
export { formatIsoDatetime, parseIsoDatetime } from './iso-datetime';
