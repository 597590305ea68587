/**
 * The SASL failure conditions of RFC 6120 §6.5, carried as the child of `<failure>`.
 */
export type SaslFailureCondition =
  | 'aborted'
  | 'account-disabled'
  | 'credentials-expired'
  | 'encryption-required'
  | 'incorrect-encoding'
  | 'invalid-authzid'
  | 'invalid-mechanism'
  | 'malformed-request'
  | 'mechanism-too-weak'
  | 'not-authorized'
  | 'temporary-auth-failure';

/** Every condition of RFC 6120 §6.5, for validating what a peer sends. */
export const SASL_FAILURE_CONDITIONS: ReadonlySet<SaslFailureCondition> = new Set<SaslFailureCondition>([
  'aborted', 'account-disabled', 'credentials-expired', 'encryption-required', 'incorrect-encoding',
  'invalid-authzid', 'invalid-mechanism', 'malformed-request', 'mechanism-too-weak', 'not-authorized',
  'temporary-auth-failure',
]);

/** Stable error codes of this package. */
export type SaslErrorCode =
  // One per RFC 6120 §6.5 condition received in <failure> (see FAILURE_CODES).
  | 'SASL_ERR_ABORTED'
  | 'SASL_ERR_ACCOUNT_DISABLED'
  | 'SASL_ERR_CREDENTIALS_EXPIRED'
  | 'SASL_ERR_ENCRYPTION_REQUIRED'
  | 'SASL_ERR_INCORRECT_ENCODING'
  | 'SASL_ERR_INVALID_AUTHZID'
  | 'SASL_ERR_INVALID_MECHANISM'
  | 'SASL_ERR_MALFORMED_REQUEST'
  | 'SASL_ERR_MECHANISM_TOO_WEAK'
  | 'SASL_ERR_NOT_AUTHORIZED'
  | 'SASL_ERR_TEMPORARY_AUTH_FAILURE'
  // Local refusals and protocol violations by the peer.
  | 'SASL_ERR_NO_COMMON_MECHANISM'
  | 'SASL_ERR_PLAIN_UNENCRYPTED'
  | 'SASL_ERR_INVALID_INPUT'
  | 'SASL_ERR_PROTOCOL'
  | 'SASL_ERR_MECHANISM'
  | 'SASL_ERR_SEND_FAILED'
  | 'SASL_ERR_INVALID_STATE';

/** The code a received (or sent) `<failure>` condition maps to. */
export const FAILURE_CODES: Readonly<Record<SaslFailureCondition, SaslErrorCode>> = {
  'aborted': 'SASL_ERR_ABORTED',
  'account-disabled': 'SASL_ERR_ACCOUNT_DISABLED',
  'credentials-expired': 'SASL_ERR_CREDENTIALS_EXPIRED',
  'encryption-required': 'SASL_ERR_ENCRYPTION_REQUIRED',
  'incorrect-encoding': 'SASL_ERR_INCORRECT_ENCODING',
  'invalid-authzid': 'SASL_ERR_INVALID_AUTHZID',
  'invalid-mechanism': 'SASL_ERR_INVALID_MECHANISM',
  'malformed-request': 'SASL_ERR_MALFORMED_REQUEST',
  'mechanism-too-weak': 'SASL_ERR_MECHANISM_TOO_WEAK',
  'not-authorized': 'SASL_ERR_NOT_AUTHORIZED',
  'temporary-auth-failure': 'SASL_ERR_TEMPORARY_AUTH_FAILURE',
};

/** Options common to every error of this package. */
export interface SaslErrorOptions {
  /** The underlying error, if any. Never a value derived from a credential. */
  cause?: unknown;
  /** The RFC 6120 §6.5 condition that went (or came) on the wire, if any. */
  condition?: SaslFailureCondition;
  /** The `<text>` of a `<failure>`, as the server wrote it. */
  text?: string;
  /** The mechanism in use when the error happened. */
  mechanism?: string;
}

/**
 * Base class of every error this package produces.
 *
 * Messages are built only from codes, conditions, mechanism names and the server's `<text>`:
 * never from credentials or SASL payloads, which may carry a password (RFC 4616 sends it in the
 * clear inside base64).
 */
export class SaslError extends Error {
  override name = 'SaslError';
  /** Stable machine-readable code, e.g. `SASL_ERR_NOT_AUTHORIZED`. */
  readonly code: SaslErrorCode;
  /** The RFC 6120 §6.5 condition, when one was sent or received. */
  readonly condition: SaslFailureCondition | undefined;
  /** The optional human-readable `<text>` of a `<failure>`. */
  readonly text: string | undefined;
  /** The mechanism that was being negotiated, if one had been chosen. */
  readonly mechanism: string | undefined;

  constructor(code: SaslErrorCode, message: string, options?: SaslErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.condition = options?.condition;
    this.text = options?.text;
    this.mechanism = options?.mechanism;
  }
}

/**
 * The server answered `<failure>` (RFC 6120 §6.4.5). `code` follows the condition; `retryable`
 * says whether the same credentials may succeed later (`temporary-auth-failure` only).
 */
export class SaslFailureError extends SaslError {
  override name = 'SaslFailureError';
  /** Only `temporary-auth-failure` is worth retrying with the same credentials (RFC 6120 §6.5.11). */
  readonly retryable: boolean;
  // `condition` is always set on this subclass; the override narrows the type.
  declare readonly condition: SaslFailureCondition;

  constructor(condition: SaslFailureCondition, text: string | undefined, mechanism: string | undefined) {
    super(
      FAILURE_CODES[condition],
      `SASL authentication failed${mechanism ? ` (${mechanism})` : ''}: <${condition}/>${text ? `: ${text}` : ''}`,
      { condition, ...(text === undefined ? {} : { text }), ...(mechanism === undefined ? {} : { mechanism }) },
    );
    this.retryable = condition === 'temporary-auth-failure';
  }
}

/** The local side aborted the exchange (`abort()` was called). Code `SASL_ERR_ABORTED`. */
export class SaslAbortError extends SaslError {
  override name = 'SaslAbortError';
  constructor(mechanism: string | undefined, reason?: string) {
    super('SASL_ERR_ABORTED', `SASL authentication aborted${reason ? `: ${reason}` : ''}`, {
      condition: 'aborted',
      ...(mechanism === undefined ? {} : { mechanism }),
    });
  }
}

/**
 * The client refused to start: no usable mechanism in common (`SASL_ERR_NO_COMMON_MECHANISM`), or
 * the only one would send a password over an unencrypted stream (`SASL_ERR_PLAIN_UNENCRYPTED`).
 */
export class SaslNegotiationError extends SaslError {
  override name = 'SaslNegotiationError';
}

/** The peer broke the SASL protocol: bad base64, an unexpected element, a challenge PLAIN cannot take. */
export class SaslProtocolError extends SaslError {
  override name = 'SaslProtocolError';
}

/**
 * Credentials or a payload are unusable: a NUL in a PLAIN field, an empty authcid or password,
 * a lone surrogate that UTF-8 cannot carry. Code `SASL_ERR_INVALID_INPUT`; the message names the
 * field, never its value.
 */
export class SaslInputError extends SaslError {
  override name = 'SaslInputError';
  constructor(message: string, options?: SaslErrorOptions) {
    super('SASL_ERR_INVALID_INPUT', message, options);
  }
}
