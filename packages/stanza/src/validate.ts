/**
 * Validation before sending, mirroring what CCS would NACK (PROTOCOL.md "Downstream"; CCS doc
 * §"Request format", §"NACK message"). The client fails a message locally instead of spending a
 * round trip on it; the emulator uses the very same function to pick its answer, so every error
 * carries the NACK code and the composite `error` text CCS would send, and the field it is about.
 *
 * The functions return the first error (checked in a fixed order, so the answer is deterministic)
 * or `undefined`; they never throw. Unknown top-level fields are allowed, as CCS ignores them.
 */
import { ValidationError } from './errors.js';
import type { NackReason } from './nack.js';
import type { DownstreamMessage, JsonObject, OutboundAck } from './types.js';

/** Largest `time_to_live`: 4 weeks in seconds. */
export const MAX_TTL = 2419200;
/** Largest `data` payload: UTF-8 bytes of keys and values. */
export const MAX_DATA_BYTES = 4096;
/** Most `&&` / `||` operators in a `condition`. */
export const MAX_CONDITION_OPERATORS = 2;

/** The boolean flags (a type only: they are checked one by one, see `validateDownstream`). */
type BooleanField = 'content_available' | 'mutable_content' | 'delay_while_idle' | 'delivery_receipt_requested' | 'dry_run';
const NOTIFICATION_STRINGS = [
  'title', 'body', 'icon', 'sound', 'badge', 'tag', 'color', 'click_action', 'body_loc_key', 'title_loc_key',
] as const;
const NOTIFICATION_ARRAYS = ['body_loc_args', 'title_loc_args'] as const;

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const hasOwn = Object.prototype.hasOwnProperty;

function has(o: JsonObject, key: string): boolean {
  return o[key] !== undefined && hasOwn.call(o, key);
}

/**
 * `v`, read by the caller as `o[key]` (a constant key there is a plain property read), when it is
 * an own property of `o`; else `undefined` (an inherited value never counts). Most optional fields
 * are absent, and then the read is the only work.
 */
function ifOwn(o: JsonObject, key: string, v: unknown): unknown {
  return v !== undefined && hasOwn.call(o, key) ? v : undefined;
}

/** A value as CCS quotes it in an error text, cut short. */
function show(v: unknown): string {
  let s: string;
  try {
    s = typeof v === 'string' ? v : JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 64 ? `${s.slice(0, 61)}...` : s;
}

const JAVA_TYPE = { string: 'java.lang.String', boolean: 'java.lang.Boolean', number: 'java.lang.Number', object: 'java.util.Map', array: 'java.util.List' } as const;

function typeError(field: string, expected: keyof typeof JAVA_TYPE, value: unknown, messageId: string): ValidationError {
  return new ValidationError(field, 'INVALID_JSON', 'JSON_TYPE_ERROR', `Field "${field}" must be a JSON ${JAVA_TYPE[expected]}: ${show(value)}`, messageId);
}

function invalid(field: string, reason: NackReason, detail: string, messageId: string | undefined): ValidationError {
  return new ValidationError(field, 'INVALID_JSON', reason, detail, messageId);
}

// A JSON number, or a string of decimal digits (with an optional sign) as CCS's Java JSON parser
// read a number field from a string: the CCS document's own request example sends
// `"time_to_live":"600"`. Anything else ("abc", "6e2", " 600", "") is a type error, as there.
const NUMERIC_STRING = /^[+-]?[0-9]{1,16}$/;

/**
 * The number a `time_to_live` value stands for, as CCS read it: a JSON number as itself, a numeric
 * string (`"600"`) as its value; `undefined` when it is neither (a JSON type error). The range is
 * the caller's check: `-1` and `"-1"` come back as -1.
 */
export function ttlValue(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && NUMERIC_STRING.test(v)) return Number(v);
  return undefined;
}

/** Counts `&&` and `||` in a condition expression. */
function countOperators(condition: string): number {
  let n = 0;
  for (let i = 0; i + 1 < condition.length; i++) {
    const c = condition.charCodeAt(i);
    if ((c === 0x26 || c === 0x7c) && condition.charCodeAt(i + 1) === c) {
      n++;
      i++;
    }
  }
  return n;
}

/**
 * UTF-8 size of `data`'s keys and values (strings as themselves, anything else as its JSON). An
 * entry JSON leaves out (an `undefined`, a function or a symbol value) is not sent, and not counted.
 */
export function dataByteLength(data: JsonObject): number {
  let n = 0;
  for (const key of Object.keys(data)) {
    const v = data[key];
    const text = typeof v === 'string' ? v : JSON.stringify(v);
    if (text !== undefined) n += Buffer.byteLength(key) + Buffer.byteLength(text);
  }
  return n;
}

/**
 * Checks `data`'s keys, and its size when it may be too big: a UTF-16 code unit is at most 3 UTF-8
 * bytes, so while three times the code units of keys and string values stays within the limit the
 * exact count (a native call per string) is not needed.
 */
function checkData(data: JsonObject, id: string): ValidationError | undefined {
  let units = 0;
  let exact = false;
  for (const key in data) {
    if (!hasOwn.call(data, key)) continue;
    if (key === 'from' || key.startsWith('google')) {
      return invalid(`data.${key}`, 'INVALID_DATA_KEY', `Invalid data key "${show(key)}": "from" and keys starting with "google" are reserved`, id);
    }
    const v = data[key];
    if (typeof v === 'string') units += key.length + v.length;
    else exact = true;
  }
  if (!exact && 3 * units <= MAX_DATA_BYTES) return undefined;
  let size: number;
  try {
    size = dataByteLength(data);
  } catch (err) {
    // A BigInt or a cycle: JSON.stringify refuses it, and so would the encoder.
    return invalid('data', 'JSON_TYPE_ERROR', `Field "data" cannot be written as JSON: ${(err as Error).message.split('\n')[0]}`, id);
  }
  if (size > MAX_DATA_BYTES) {
    return invalid('data', 'MESSAGE_TOO_BIG', `"data" is ${size} bytes; at most ${MAX_DATA_BYTES} are allowed`, id);
  }
  return undefined;
}

/** Checks `message_id`; the error is a stanza error (there is no id to NACK). */
function checkMessageId(m: JsonObject): ValidationError | string {
  if (!has(m, 'message_id')) {
    return invalid('message_id', 'JSON_PARSING_ERROR', 'Missing Required Field: message_id', undefined);
  }
  return checkIdValue(m['message_id']);
}

/** A `message_id` value: a non-empty string, or a stanza error. */
function checkIdValue(id: unknown): ValidationError | string {
  if (typeof id !== 'string' || id === '') {
    return invalid('message_id', 'JSON_PARSING_ERROR', `Field "message_id" must be a non-empty JSON string: ${show(id)}`, undefined);
  }
  return id;
}

/**
 * Checks a downstream message against every rule CCS enforces (PROTOCOL.md "Downstream"):
 * `message_id` a non-empty string; exactly one of `to` (non-empty string) / `condition` (non-empty
 * string with at most 2 `&&`/`||`); `collapse_key` a string; `priority` `normal`|`high`; the
 * boolean flags boolean; `time_to_live` an integer 0…2419200, as a JSON number or a numeric string
 * (`"600"`, which CCS accepted); no `registration_ids` (CCS has no multicast); `data` an object of at most 4096
 * bytes with no key `from` or starting with `google`; `notification` an object whose known fields
 * have the right types. Returns the first error, or `undefined` when the message is valid.
 * `messageId` stands in for a `message_id` the message does not have (the one a sender assigns).
 */
export function validateDownstream(msg: unknown, messageId?: string): ValidationError | undefined {
  if (!isObject(msg)) {
    return invalid('', 'JSON_PARSING_ERROR', `Message must be a JSON object: ${show(msg)}`, undefined);
  }
  // A sender that assigns the id itself (and writes it with `encodeDownstream(msg, messageId)`)
  // validates the message as it will go out, without copying it first.
  const idOrError = messageId !== undefined && msg['message_id'] === undefined ? checkIdValue(messageId) : checkMessageId(msg);
  if (typeof idOrError !== 'string') return idOrError;
  const id = idOrError;

  // CCS has no multiple recipients (CCS document §"Message Format": "to" replaces
  // "registration_ids"); a sender that still writes it would otherwise reach only `to`, or no one.
  if (ifOwn(msg, 'registration_ids', msg['registration_ids']) !== undefined) {
    return invalid('registration_ids', 'INVALID_TARGET', 'Field "registration_ids" is not supported on CCS (no multiple recipients): send one message per token with "to"', id);
  }
  const to = ifOwn(msg, 'to', msg['to']);
  const condition = ifOwn(msg, 'condition', msg['condition']);
  if (to !== undefined && condition !== undefined) {
    return invalid('condition', 'INVALID_TARGET', 'Must specify exactly one of "to" and "condition", not both', id);
  }
  if (to === undefined && condition === undefined) return invalid('to', 'JSON_PARSING_ERROR', 'Missing Required Field: to', id);
  if (to !== undefined) {
    if (typeof to !== 'string') return typeError('to', 'string', to, id);
    if (to === '') return invalid('to', 'INVALID_TARGET', 'Field "to" must not be empty', id);
  } else {
    if (typeof condition !== 'string') return typeError('condition', 'string', condition, id);
    if (condition.trim() === '') return invalid('condition', 'INVALID_CONDITION', 'Field "condition" must not be empty', id);
    const ops = countOperators(condition);
    if (ops > MAX_CONDITION_OPERATORS) {
      return invalid('condition', 'INVALID_CONDITION', `Condition has ${ops} operators; at most ${MAX_CONDITION_OPERATORS} are allowed`, id);
    }
  }

  const collapseKey = ifOwn(msg, 'collapse_key', msg['collapse_key']);
  if (collapseKey !== undefined && typeof collapseKey !== 'string') return typeError('collapse_key', 'string', collapseKey, id);
  const p = ifOwn(msg, 'priority', msg['priority']);
  if (p !== undefined) {
    if (typeof p !== 'string') return typeError('priority', 'string', p, id);
    if (p !== 'normal' && p !== 'high') {
      return invalid('priority', 'INVALID_PRIORITY', `Invalid value (${show(p)}) for "priority": must be "normal" or "high"`, id);
    }
  }
  // Spelled out rather than looped over the field names: a constant key is a plain property read.
  const flagError =
    checkBoolean(msg, 'content_available', msg['content_available'], id) ??
    checkBoolean(msg, 'mutable_content', msg['mutable_content'], id) ??
    checkBoolean(msg, 'delay_while_idle', msg['delay_while_idle'], id) ??
    checkBoolean(msg, 'delivery_receipt_requested', msg['delivery_receipt_requested'], id) ??
    checkBoolean(msg, 'dry_run', msg['dry_run'], id);
  if (flagError !== undefined) return flagError;
  const ttl = ifOwn(msg, 'time_to_live', msg['time_to_live']);
  if (ttl !== undefined) {
    const seconds = ttlValue(ttl);
    if (seconds === undefined) return typeError('time_to_live', 'number', ttl, id);
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_TTL) {
      return invalid('time_to_live', 'INVALID_TTL', `Invalid value (${show(ttl)}) for "time_to_live": must be between 0 and "${MAX_TTL}"`, id);
    }
  }
  const data = ifOwn(msg, 'data', msg['data']);
  if (data !== undefined) {
    if (!isObject(data)) return typeError('data', 'object', data, id);
    const dataError = checkData(data, id);
    if (dataError !== undefined) return dataError;
  }
  const n = ifOwn(msg, 'notification', msg['notification']);
  if (n !== undefined) {
    if (!isObject(n)) return typeError('notification', 'object', n, id);
    for (const field of NOTIFICATION_STRINGS) {
      if (has(n, field) && typeof n[field] !== 'string') return typeError(`notification.${field}`, 'string', n[field], id);
    }
    for (const field of NOTIFICATION_ARRAYS) {
      if (!has(n, field)) continue;
      const v = n[field];
      if (!Array.isArray(v)) return typeError(`notification.${field}`, 'array', v, id);
      for (let i = 0; i < v.length; i++) {
        if (typeof v[i] !== 'string') return typeError(`notification.${field}[${i}]`, 'string', v[i], id);
      }
    }
  }
  return undefined;
}

function checkBoolean(msg: JsonObject, field: BooleanField, value: unknown, id: string): ValidationError | undefined {
  const v = ifOwn(msg, field, value);
  return v !== undefined && typeof v !== 'boolean' ? typeError(field, 'boolean', v, id) : undefined;
}

/**
 * Checks an ACK the app server sends for an upstream message or receipt: `message_id` a non-empty
 * string, `to` a non-empty string, `message_type` `"ack"`. CCS answers a bad one with `BAD_ACK`.
 */
export function validateAck(msg: unknown): ValidationError | undefined {
  if (!isObject(msg)) {
    return invalid('', 'JSON_PARSING_ERROR', `Message must be a JSON object: ${show(msg)}`, undefined);
  }
  const idOrError = checkMessageId(msg);
  if (typeof idOrError !== 'string') return idOrError;
  const to = msg['to'];
  if (typeof to !== 'string' || to === '') {
    return new ValidationError('to', 'BAD_ACK', 'INVALID_ACK', `Field "to" of an ACK must be a non-empty JSON string: ${show(to)}`, idOrError);
  }
  if (msg['message_type'] !== 'ack') {
    return new ValidationError('message_type', 'BAD_ACK', 'INVALID_ACK', `Field "message_type" of an ACK must be "ack": ${show(msg['message_type'])}`, idOrError);
  }
  return undefined;
}

/**
 * Checks anything an app server may send on a CCS connection: an ACK when `message_type` is
 * `"ack"`, a downstream message when it is absent. Any other `message_type` is refused (app servers
 * never send NACKs, receipts or control messages). This is the emulator's entry point.
 */
export function validateOutbound(msg: unknown): ValidationError | undefined {
  if (isObject(msg) && has(msg, 'message_type')) {
    if (msg['message_type'] === 'ack') return validateAck(msg);
    const idOrError = checkMessageId(msg);
    if (typeof idOrError !== 'string') return idOrError;
    return invalid('message_type', 'JSON_PARSING_ERROR', `Invalid value (${show(msg['message_type'])}) for "message_type": an app server sends only "ack"`, idOrError);
  }
  return validateDownstream(msg);
}

/** Type guard over `validateDownstream`. */
export function isValidDownstream(msg: unknown): msg is DownstreamMessage {
  return validateDownstream(msg) === undefined;
}

/** Type guard over `validateAck`. */
export function isValidAck(msg: unknown): msg is OutboundAck {
  return validateAck(msg) === undefined;
}
