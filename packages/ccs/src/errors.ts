import type { NackCode, NackReason, RetryClass, DownstreamMessage, ValidationError } from '@ccs-xmpp/stanza';

/**
 * A message id, or a string the server chose, as an error message quotes it: JSON, cut to its first
 * 100 characters. CCS sets no length on an id, a misbehaving server none on anything, and an error's
 * text goes to logs; the whole id stays in the error's fields.
 */
export function quote(text: string): string {
  return text.length > 100 ? `${JSON.stringify(text.slice(0, 100))}…` : JSON.stringify(text);
}

/** Stable error codes of this package. */
export type CcsErrorCode =
  /** TCP/TLS connect or certificate failure. */
  | 'CCS_ERR_TLS'
  /** The server's stream header or features were missing or wrong, or the stream broke during the handshake. */
  | 'CCS_ERR_STREAM'
  /** SASL failed (`not-authorized` for a wrong sender ID / API key). */
  | 'CCS_ERR_AUTH'
  /** Resource binding failed. */
  | 'CCS_ERR_BIND'
  /** The session IQ failed. */
  | 'CCS_ERR_SESSION'
  /** A handshake step took longer than `handshakeTimeoutMs`. */
  | 'CCS_ERR_HANDSHAKE_TIMEOUT'
  /** The server sent more than `maxEarlyMessages` / `maxEarlyBytes` before the connection came online (a `HandshakeError`). */
  | 'CCS_ERR_EARLY_OVERFLOW'
  /** CCS answered a downstream message with a NACK (or a stanza error) that is not retried. */
  | 'CCS_ERR_NACK'
  /** `send()` was given a message CCS would refuse, or one JSON cannot carry (`InvalidMessageError`). */
  | 'CCS_ERR_INVALID_MESSAGE'
  /** The per-call timeout expired before the message was answered. */
  | 'CCS_ERR_TIMEOUT'
  /** The per-call `AbortSignal` fired. */
  | 'CCS_ERR_ABORTED'
  /** The client is closing or closed. */
  | 'CCS_ERR_CLOSED'
  /** The send queue is full (backpressure): wait for `drain` / `waitForCapacity()`. */
  | 'CCS_ERR_QUEUE_FULL'
  /** The server sent something this client cannot use (reported on `error`, never fatal). */
  | 'CCS_ERR_PROTOCOL'
  /** An upstream handler threw or rejected; the message was not ACKed. */
  | 'CCS_ERR_HANDLER'
  /** A connection closed unexpectedly (reported on `offline` / `error`; pending messages are resent). */
  | 'CCS_ERR_CONNECTION_LOST'
  /** `reconnectStrategy` returned `false` and no connection was left: the client closed, failing what it held. */
  | 'CCS_ERR_RECONNECT_STOPPED'
  /** `send()` with a `message_id` that is still awaiting its answer. */
  | 'CCS_ERR_DUPLICATE_ID'
  /** An option (or what an option's hook returned, e.g. `reconnectStrategy`) is unusable. */
  | 'CCS_ERR_INVALID_OPTION'
  /** A store (`store` / `dedupStore`) could not record or read: a send refused, an upstream message not ACKed. */
  | 'CCS_ERR_STORE'
  /** A `send(…, { receipt: true })`'s receipt did not arrive within `receiptTimeoutMs` (a `ReceiptError`). */
  | 'CCS_ERR_RECEIPT_TIMEOUT'
  /** More than `maxReceiptWaiters` receipts were awaited: the oldest wait was given up (a `ReceiptError`). */
  | 'CCS_ERR_RECEIPT_OVERFLOW';

/** Base class of every error this package produces. Messages never contain the API key. */
export class CcsError extends Error {
  override name = 'CcsError';
  /** Stable machine-readable code, e.g. `CCS_ERR_NACK`. */
  readonly code: CcsErrorCode;

  constructor(code: CcsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

/** Where a connection handshake was when it failed. */
export type HandshakeStep = 'tls' | 'stream' | 'auth' | 'bind' | 'session';

const STEP_CODE: Record<HandshakeStep, CcsErrorCode> = {
  tls: 'CCS_ERR_TLS',
  stream: 'CCS_ERR_STREAM',
  auth: 'CCS_ERR_AUTH',
  bind: 'CCS_ERR_BIND',
  session: 'CCS_ERR_SESSION',
};

/**
 * A connection could not come online. `step` says where it failed; `code` is the step's code, or
 * `CCS_ERR_HANDSHAKE_TIMEOUT` (with `timedOut`) when the step ran out of time, or
 * `CCS_ERR_EARLY_OVERFLOW` when the server flooded messages before the connection was online.
 */
export class HandshakeError extends CcsError {
  override name = 'HandshakeError';
  /** The handshake step that failed. */
  readonly step: HandshakeStep;
  /** True when the step timed out rather than failed. */
  readonly timedOut: boolean;
  /**
   * For `auth`: the SASL condition (`not-authorized`…); for `bind`/`session`: the stanza error
   * condition; for a stream error the server sent during the handshake: its condition (`system-shutdown`…).
   */
  readonly condition: string | undefined;
  /** False for failures that retrying with the same settings cannot fix (bad credentials, bad certificate). */
  readonly retryable: boolean;

  constructor(step: HandshakeStep, message: string, options?: { cause?: unknown; timedOut?: boolean; condition?: string; retryable?: boolean; code?: 'CCS_ERR_EARLY_OVERFLOW' }) {
    super(options?.code ?? (options?.timedOut ? 'CCS_ERR_HANDSHAKE_TIMEOUT' : STEP_CODE[step]), message, options);
    this.step = step;
    this.timedOut = options?.timedOut === true;
    this.condition = options?.condition;
    this.retryable = options?.retryable ?? true;
  }
}

/**
 * CCS refused a downstream message for good (a NACK of a class that is not retried, or a retried
 * class that ran out of attempts), or answered it with a stanza error.
 */
export class NackError extends CcsError {
  override name = 'NackError';
  /** The normalised NACK code (`BAD_REGISTRATION`, `INVALID_JSON`…). */
  readonly nackCode: NackCode;
  /** Sub-code of a composite error (`INVALID_TTL`), if any. */
  readonly reason: NackReason | undefined;
  /** CCS's description. */
  readonly description: string;
  /** What the retry policy makes of this code. */
  readonly retryClass: RetryClass;
  /** The `message_id` of the refused message. */
  readonly messageId: string;
  /** The refused message as it was sent. */
  readonly ccsMessage: DownstreamMessage;
  /** How many times the message had been retried before this final answer. */
  readonly retries: number;
  /** True when the answer was a `<message type="error">` rather than a NACK. */
  readonly stanzaError: boolean;
  /** The `error` field exactly as received. */
  readonly raw: string;

  constructor(fields: {
    nackCode: NackCode; reason: NackReason | undefined; description: string; retryClass: RetryClass;
    message: DownstreamMessage; retries: number; stanzaError: boolean; raw: string;
  }) {
    super('CCS_ERR_NACK', `CCS refused message ${quote(fields.message.message_id)}: ${fields.nackCode}${fields.reason ? ` (${fields.reason})` : ''}: ${fields.description}`);
    this.nackCode = fields.nackCode;
    this.reason = fields.reason;
    this.description = fields.description;
    this.retryClass = fields.retryClass;
    this.messageId = fields.message.message_id;
    this.ccsMessage = fields.message;
    this.retries = fields.retries;
    this.stanzaError = fields.stanzaError;
    this.raw = fields.raw;
  }
}

/** The per-call timeout expired. If the message was already written, it may still be delivered. */
export class TimeoutError extends CcsError {
  override name = 'TimeoutError';
  /** The message's `message_id`. */
  readonly messageId: string;
  /** True when the message had been written to a connection (its fate is then unknown). */
  readonly written: boolean;
  constructor(messageId: string, timeoutMs: number, written: boolean) {
    super('CCS_ERR_TIMEOUT', `message ${quote(messageId)} was not answered within ${timeoutMs} ms${written ? ' (it was sent; it may still be delivered)' : ' (it was never sent)'}`);
    this.messageId = messageId;
    this.written = written;
  }
}

/** The per-call `AbortSignal` fired. If the message was already written, it may still be delivered. */
export class AbortError extends CcsError {
  override name = 'AbortError';
  /** The message's `message_id`. */
  readonly messageId: string;
  /** True when the message had been written to a connection (its fate is then unknown). */
  readonly written: boolean;
  constructor(messageId: string, written: boolean, cause?: unknown) {
    super('CCS_ERR_ABORTED', `sending ${quote(messageId)} was aborted${written ? ' after it was sent' : ' before it was sent'}`, { cause });
    this.messageId = messageId;
    this.written = written;
  }
}

/** The client is closing or closed (or was destroyed). */
export class ClosedError extends CcsError {
  override name = 'ClosedError';
  constructor(message = 'the client is closed', options?: { cause?: unknown }) {
    super('CCS_ERR_CLOSED', message, options);
  }
}

/**
 * `reconnectStrategy` returned `false` and no connection was left: the client closed. A
 * `ClosedError` with a code of its own — this process gave up, the message did not fail, so a
 * durable store keeps its record for another instance. `cause`: the error of the last attempt.
 */
export class ReconnectStoppedError extends ClosedError {
  override name = 'ReconnectStoppedError';
  override readonly code: CcsErrorCode = 'CCS_ERR_RECONNECT_STOPPED';
}

/** The send queue is at `maxQueued`. Wait for the `drain` event or `await client.waitForCapacity()`. */
export class QueueFullError extends CcsError {
  override name = 'QueueFullError';
  constructor(maxQueued: number) {
    super('CCS_ERR_QUEUE_FULL', `the send queue is full (${maxQueued} messages); wait for 'drain' or waitForCapacity()`);
  }
}

/**
 * `send()` was given a `message_id` that an earlier, still unanswered `send()` uses. CCS matches
 * answers by `message_id`, so two live messages with one id would get one answer between them.
 */
export class DuplicateIdError extends CcsError {
  override name = 'DuplicateIdError';
  readonly messageId: string;
  /** @param what what the first send still waits for: its answer (ACK/NACK), or its delivery receipt. */
  constructor(messageId: string, what: 'answer' | 'receipt' = 'answer') {
    super('CCS_ERR_DUPLICATE_ID', `message_id ${quote(messageId)} is already waiting for its ${what === 'answer' ? 'answer' : 'delivery receipt'}; use a new id, or wait for the first send${what === 'answer' ? '' : "'s receipt"} to settle`);
    this.messageId = messageId;
  }
}

/**
 * A store could not do what the client asked: record a message (the send is refused, never held),
 * record an upstream completion (the message is not ACKed, so CCS delivers it again), or read.
 * Thrown by store implementations such as `@ccs-xmpp/store-redis`.
 */
export class StoreError extends CcsError {
  override name = 'StoreError';
  /** What the store was doing (`append`, `claim`, `complete`…). */
  readonly operation: string;
  /** True when the store could not be reached at all (rather than refusing one command). */
  readonly unavailable: boolean;
  constructor(operation: string, message: string, options?: { cause?: unknown; unavailable?: boolean }) {
    super('CCS_ERR_STORE', message, options);
    this.operation = operation;
    this.unavailable = options?.unavailable ?? false;
  }
}

/**
 * `send()` was given a message CCS would refuse (it would NACK it `INVALID_JSON` or answer with a
 * stanza error), or one JSON cannot carry (a BigInt, a cycle): nothing was sent. The validator's
 * detail is copied into fields; its `ValidationError` (from `@ccs-xmpp/stanza`) is the `cause`.
 */
export class InvalidMessageError extends CcsError {
  override name = 'InvalidMessageError';
  /** The JSON field at fault, dotted for nested ones (`notification.title`, `data.from`); `''` for the message itself. */
  readonly field: string;
  /** The NACK code CCS would answer with (`INVALID_JSON`). */
  readonly nackCode: NackCode;
  /** The sub-code of CCS's composite error (`INVALID_TTL`, `JSON_TYPE_ERROR`…). */
  readonly reason: NackReason;
  /** What CCS would say, in its composite form: `InvalidJson : INVALID_TTL : …`. */
  readonly ccsError: string;
  /** The message's `message_id` (given, or the one the client assigned), when it had a usable one. */
  readonly messageId: string | undefined;
  declare readonly cause: ValidationError;

  constructor(validation: ValidationError) {
    super('CCS_ERR_INVALID_MESSAGE', `invalid message: ${validation.message}`, { cause: validation });
    this.field = validation.field;
    this.nackCode = validation.nackCode;
    this.reason = validation.reason;
    this.ccsError = validation.ccsError;
    this.messageId = validation.messageId;
  }
}

/**
 * The delivery receipt a `send(…, { receipt: true })` asked for will not be awaited any longer:
 * `CCS_ERR_RECEIPT_TIMEOUT` (none within `receiptTimeoutMs`; the device may be offline) or
 * `CCS_ERR_RECEIPT_OVERFLOW` (`maxReceiptWaiters` waits were open and this was the oldest). The
 * message itself was ACKed (or, for an overflow, may still be): if the receipt comes later it is
 * still emitted as the `receipt` event. (Closing the client rejects a wait with `ClosedError`.)
 */
export class ReceiptError extends CcsError {
  override name = 'ReceiptError';
  declare readonly code: 'CCS_ERR_RECEIPT_TIMEOUT' | 'CCS_ERR_RECEIPT_OVERFLOW';
  /** The `message_id` whose receipt was awaited. */
  readonly messageId: string;
  constructor(code: 'CCS_ERR_RECEIPT_TIMEOUT' | 'CCS_ERR_RECEIPT_OVERFLOW', messageId: string, limit: number) {
    super(code, code === 'CCS_ERR_RECEIPT_TIMEOUT'
      ? `no delivery receipt for message ${quote(messageId)} within ${limit} ms (the device may be offline; a later receipt still fires the 'receipt' event)`
      : `gave up waiting for the delivery receipt of message ${quote(messageId)}: it was the oldest of ${limit} awaited receipts (maxReceiptWaiters); a later receipt still fires the 'receipt' event`);
    this.messageId = messageId;
  }
}
