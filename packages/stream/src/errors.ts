/**
 * Stream-level error conditions of RFC 6120 §4.9.3. The parser and the connection only ever raise
 * a subset of them, but a peer may send any, so the type lists them all.
 */
export type StreamErrorCondition =
  | 'bad-format'
  | 'bad-namespace-prefix'
  | 'conflict'
  | 'connection-timeout'
  | 'host-gone'
  | 'host-unknown'
  | 'improper-addressing'
  | 'internal-server-error'
  | 'invalid-from'
  | 'invalid-namespace'
  | 'invalid-xml'
  | 'not-authorized'
  | 'not-well-formed'
  | 'policy-violation'
  | 'remote-connection-failed'
  | 'reset'
  | 'resource-constraint'
  | 'restricted-xml'
  | 'see-other-host'
  | 'system-shutdown'
  | 'undefined-condition'
  | 'unsupported-encoding'
  | 'unsupported-feature'
  | 'unsupported-stanza-type'
  | 'unsupported-version';

/** Every condition of RFC 6120 §4.9.3, for validating what a peer sends. */
export const STREAM_ERROR_CONDITIONS: ReadonlySet<string> = new Set<StreamErrorCondition>([
  'bad-format', 'bad-namespace-prefix', 'conflict', 'connection-timeout', 'host-gone',
  'host-unknown', 'improper-addressing', 'internal-server-error', 'invalid-from',
  'invalid-namespace', 'invalid-xml', 'not-authorized', 'not-well-formed', 'policy-violation',
  'remote-connection-failed', 'reset', 'resource-constraint', 'restricted-xml', 'see-other-host',
  'system-shutdown', 'undefined-condition', 'unsupported-encoding', 'unsupported-feature',
  'unsupported-stanza-type', 'unsupported-version',
]);

/** Stable error codes of this package. */
export type StreamErrorCode =
  | 'STREAM_ERR_NOT_WELL_FORMED'
  | 'STREAM_ERR_RESTRICTED_XML'
  | 'STREAM_ERR_BAD_FORMAT'
  | 'STREAM_ERR_INVALID_NAMESPACE'
  | 'STREAM_ERR_UNSUPPORTED_ENCODING'
  | 'STREAM_ERR_UNSUPPORTED_VERSION'
  | 'STREAM_ERR_STANZA_TOO_LARGE'
  | 'STREAM_ERR_TOO_DEEP'
  | 'STREAM_ERR_RECEIVED'
  | 'STREAM_ERR_IDLE_TIMEOUT'
  | 'STREAM_ERR_CONNECT'
  | 'STREAM_ERR_SOCKET'
  | 'STREAM_ERR_PEER_CLOSED'
  | 'STREAM_ERR_HANDLER'
  | 'STREAM_ERR_REENTRANT_WRITE'
  | 'STREAM_ERR_CLOSED';

/** Base class of every error this package produces. */
export class StreamError extends Error {
  override name = 'StreamError';
  /** Stable machine-readable code, e.g. `STREAM_ERR_STANZA_TOO_LARGE`. */
  readonly code: StreamErrorCode;
  /** The RFC 6120 stream error condition that goes (or came) on the wire with this error. */
  readonly condition: StreamErrorCondition;
  /** Optional human-readable text carried in `<text>`; never contains secrets. */
  readonly text: string | undefined;

  constructor(
    code: StreamErrorCode,
    condition: StreamErrorCondition,
    message: string,
    options?: { cause?: unknown; text?: string },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.condition = condition;
    this.text = options?.text;
  }
}

/**
 * A `<stream:error>` the parser refused the input with (a local protocol violation by the peer).
 * The connection answers it by sending the same condition and closing.
 */
export class StreamParseError extends StreamError {
  override name = 'StreamParseError';
  /** Byte offset (from the start of the current stream, restarted at each reset) where it was found. */
  readonly offset: number;
  constructor(code: StreamErrorCode, condition: StreamErrorCondition, message: string, offset: number) {
    super(code, condition, message);
    this.offset = offset;
  }
}

/** The peer sent us `<stream:error>`: its condition and optional text. */
export class StreamErrorReceived extends StreamError {
  override name = 'StreamErrorReceived';
  constructor(condition: StreamErrorCondition, text: string | undefined) {
    super(
      'STREAM_ERR_RECEIVED',
      condition,
      `peer sent stream error <${condition}/>${text ? `: ${text}` : ''}`,
      { text },
    );
  }
}

/** A connection-level failure: connect/TLS errors, socket errors, idle timeout, closed stream. */
export class ConnectionError extends StreamError {
  override name = 'ConnectionError';
}
