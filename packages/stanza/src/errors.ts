import type { NackCode, NackReason } from './nack.js';

/** Stable error codes of this package. */
export type StanzaErrorCode =
  /** The `<gcm>` text is not JSON. */
  | 'STANZA_ERR_MALFORMED_JSON'
  /** The `<gcm>` JSON is valid but not an object (an array, a number, `null`…). */
  | 'STANZA_ERR_NOT_AN_OBJECT'
  /** `message_id` is absent or not a non-empty string where the message kind requires one. */
  | 'STANZA_ERR_MISSING_MESSAGE_ID'
  /** A field the message kind requires is absent or has the wrong type (e.g. upstream `from`). */
  | 'STANZA_ERR_MISSING_FIELD'
  /** A downstream message or ACK breaks a rule CCS enforces (see `ValidationError`). */
  | 'STANZA_ERR_INVALID_MESSAGE';

/** Base class of every error this package produces. */
export class StanzaError extends Error {
  override name = 'StanzaError';
  /** Stable machine-readable code, e.g. `STANZA_ERR_MALFORMED_JSON`. */
  readonly code: StanzaErrorCode;

  constructor(code: StanzaErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

/**
 * An inbound `<message>` whose GCM payload cannot be decoded. Returned (inside a decode result of
 * kind `invalid`), never thrown: the codec does not throw out of the socket's data callback.
 */
export class GcmDecodeError extends StanzaError {
  override name = 'GcmDecodeError';
  /** The stanza `id` attribute, when the message had one. */
  readonly stanzaId: string | undefined;
  /** The JSON field at fault (`message_id`, `from`), or `undefined` for unparsable JSON. */
  readonly field: string | undefined;

  constructor(
    code: StanzaErrorCode,
    message: string,
    stanzaId: string | undefined,
    field?: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.stanzaId = stanzaId;
    this.field = field;
  }
}

/**
 * A downstream message (or ACK) that CCS would refuse. The client uses it to fail a message before
 * sending it; the emulator uses the same object to decide its answer: a NACK with `nackCode` and
 * `ccsError` — or, when `stanzaError` is set (no usable `message_id` to NACK), a 400 `bad-request`
 * stanza error whose text is `ccsError`.
 */
export class ValidationError extends StanzaError {
  override name = 'ValidationError';
  /** The JSON field at fault, dotted for nested ones (`notification.title`, `data.from`); `''` for the root. */
  readonly field: string;
  /** The NACK code CCS answers with (`INVALID_JSON`, `BAD_ACK`). */
  readonly nackCode: NackCode;
  /** The sub-code of the composite CCS error (`INVALID_TTL`, `JSON_TYPE_ERROR`…). */
  readonly reason: NackReason;
  /** What CCS says, in its composite form: `InvalidJson : INVALID_TTL : Invalid value (-1) for "time_to_live": …`. */
  readonly ccsError: string;
  /** True when CCS answers with a stanza error rather than a NACK (the message has no usable `message_id`). */
  readonly stanzaError: boolean;
  /** The message's `message_id` when it had a usable one (what the NACK refers to). */
  readonly messageId: string | undefined;

  constructor(
    field: string,
    nackCode: NackCode,
    reason: NackReason,
    detail: string,
    messageId: string | undefined,
  ) {
    const prefix = nackCode === 'BAD_ACK' ? 'BadAck' : 'InvalidJson';
    const ccsError = `${prefix} : ${reason} : ${detail}\n`;
    super('STANZA_ERR_INVALID_MESSAGE', `${field === '' ? 'message' : `"${field}"`}: ${detail}`);
    this.field = field;
    this.nackCode = nackCode;
    this.reason = reason;
    this.ccsError = ccsError;
    this.stanzaError = messageId === undefined;
    this.messageId = messageId;
  }
}
