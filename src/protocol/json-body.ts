import { InvalidMessageError } from '../errors';
import type { AmqpProperties } from './amqp-properties';
import { loads } from './kombu-json';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The content encodings read as UTF-8 (lower case). */
const UTF8_NAMES: ReadonlySet<string> = new Set(['utf-8', 'utf8']);

/**
 * The decoded kombu-JSON body of a message, after checking what the properties say it is.
 * Accepts `application/json` in `utf-8` (`utf8` too, any case); a compressed body is refused
 * rather than misread.
 *
 * @param context - the start of the error message: `invalid task message x.add[<id>]`, or a
 * function that makes it (called only for a message that is refused).
 * @throws InvalidMessageError `<context>: <reason>`.
 */
export function readJsonBody(content: Buffer, properties: AmqpProperties, context: string | (() => string)): unknown {
  const fail = (reason: string, cause?: unknown): InvalidMessageError =>
    new InvalidMessageError(`${typeof context === 'string' ? context : context()}: ${reason}`, cause);

  const contentType: unknown = properties.contentType;
  if (contentType === undefined || contentType === null || contentType === '') {
    throw fail('content type is missing (expected application/json)');
  }
  if (contentType !== 'application/json' && (typeof contentType !== 'string' || contentType.toLowerCase() !== 'application/json')) {
    throw fail(`content type ${JSON.stringify(contentType)} is not supported (expected application/json)`);
  }
  const encoding: unknown = properties.contentEncoding;
  if (encoding === undefined || encoding === null || encoding === '') {
    throw fail('content encoding is missing (expected utf-8)');
  }
  if (encoding !== 'utf-8' && (typeof encoding !== 'string' || !UTF8_NAMES.has(encoding.toLowerCase()))) {
    throw fail(`content encoding ${JSON.stringify(encoding)} is not supported (expected utf-8)`);
  }
  const compression = properties.headers?.compression;
  if (compression !== undefined && compression !== null) {
    throw fail(`compressed bodies are not supported (compression header: ${JSON.stringify(compression)})`);
  }

  let text: string;
  try {
    text = utf8.decode(content);
  } catch (err) {
    throw fail('body is not valid UTF-8', err);
  }
  try {
    return loads(text);
  } catch (err) {
    if (err instanceof InvalidMessageError) throw fail(`body: ${err.message}`, err);
    // Parsing is recursive: arrays nested a few thousand deep exhaust the stack.
    if (err instanceof RangeError) throw fail('body is nested too deeply to read', err);
    throw fail(`body is not valid JSON: ${err instanceof Error ? err.message : String(err)}`, err);
  }
}
