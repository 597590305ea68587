/**
 * NACK normalisation (PROTOCOL.md, "Downstream" table; CCS doc §"NACK message").
 *
 * CCS sent two shapes in `error`: a plain code (`"BAD_REGISTRATION"`) and, in older NACKs, a
 * composite `"InvalidJson : INVALID_TTL : Invalid value (-1) for …\n"`. Both come out of
 * `normalizeNack` as one `NackError`: the code class, the sub-code, a description and what the
 * client should do about it.
 */

/** The NACK codes this stack acts on. Anything else is treated as `INTERNAL_SERVER_ERROR`. */
export type NackCode =
  | 'INVALID_JSON'
  | 'BAD_REGISTRATION'
  | 'DEVICE_UNREGISTERED'
  | 'BAD_ACK'
  | 'SERVICE_UNAVAILABLE'
  | 'INTERNAL_SERVER_ERROR'
  | 'DEVICE_MESSAGE_RATE_EXCEEDED'
  | 'TOPICS_MESSAGE_RATE_EXCEEDED'
  | 'CONNECTION_DRAINING'
  | 'AUTHENTICATION_FAILED'
  | 'QUOTA_EXCEEDED';

/**
 * The sub-code of an `INVALID_JSON` NACK. The first three are CCS's own; the others are the names
 * this project's validator (and so the emulator) uses where CCS documented none.
 */
export type NackReason =
  | 'INVALID_TTL'
  | 'JSON_TYPE_ERROR'
  | 'JSON_PARSING_ERROR'
  | 'INVALID_TARGET'
  | 'INVALID_CONDITION'
  | 'INVALID_PRIORITY'
  | 'INVALID_DATA_KEY'
  | 'MESSAGE_TOO_BIG'
  | 'INVALID_ACK'
  // Any other sub-code CCS sends is kept verbatim.
  | (string & {});

/**
 * What the client does with a NACKed message:
 * - `never`: fail it (malformed message, dead token, our bug);
 * - `backoff`: retry with exponential backoff (from 1 s);
 * - `other-connection`: retry at once on another connection (this one is draining);
 * - `slow-down-device` / `slow-down-topic`: retry later, throttling that device / topic.
 */
export type RetryClass = 'never' | 'backoff' | 'other-connection' | 'slow-down-device' | 'slow-down-topic';

/** A NACK's error, normalised. */
export interface NackError {
  /** The code class; unknown codes become `INTERNAL_SERVER_ERROR` (see `known`). */
  code: NackCode;
  /** Sub-code of a composite or legacy error (`INVALID_TTL`), else `undefined`. */
  reason: NackReason | undefined;
  /** Human-readable description: `error_description`, else the composite's tail, else the code's meaning. */
  description: string;
  /** What to do with the message. */
  retry: RetryClass;
  /** False when the code was not one CCS documents (it is then handled as `INTERNAL_SERVER_ERROR`). */
  known: boolean;
  /** The `error` field exactly as received (`''` when absent or not a string). */
  raw: string;
}

interface CodeInfo { retry: RetryClass; meaning: string }

const CODES: Record<NackCode, CodeInfo> = {
  INVALID_JSON: { retry: 'never', meaning: 'The message is malformed.' },
  BAD_REGISTRATION: { retry: 'never', meaning: 'The registration token is invalid or belongs to another sender.' },
  DEVICE_UNREGISTERED: { retry: 'never', meaning: 'The device is not registered (app uninstalled or token expired).' },
  BAD_ACK: { retry: 'never', meaning: 'An ACK sent on this connection was malformed.' },
  SERVICE_UNAVAILABLE: { retry: 'backoff', meaning: 'The server is temporarily unavailable.' },
  INTERNAL_SERVER_ERROR: { retry: 'backoff', meaning: 'The server encountered an error.' },
  DEVICE_MESSAGE_RATE_EXCEEDED: { retry: 'slow-down-device', meaning: 'Too many messages to this device.' },
  TOPICS_MESSAGE_RATE_EXCEEDED: { retry: 'slow-down-topic', meaning: 'Too many messages to this topic.' },
  CONNECTION_DRAINING: { retry: 'other-connection', meaning: 'This connection is being drained.' },
  AUTHENTICATION_FAILED: { retry: 'never', meaning: 'The sender account failed to authenticate.' },
  QUOTA_EXCEEDED: { retry: 'never', meaning: 'The sender quota is exceeded.' },
};

// Legacy plain codes that are really sub-codes of INVALID_JSON (the seed document lists INVALID_TTL
// and JSON_TYPE_ERROR as NACK codes of their own).
const INVALID_JSON_REASONS: ReadonlySet<string> = new Set([
  'INVALID_TTL', 'JSON_TYPE_ERROR', 'JSON_PARSING_ERROR', 'MISSING_REQUIRED_FIELD',
]);

const UPPER_SNAKE = /^[A-Z][A-Z0-9_]*$/;

/** `InvalidJson` → `INVALID_JSON`; `BAD_ACK` stays. */
function toUpperSnake(s: string): string {
  if (UPPER_SNAKE.test(s)) return s;
  return s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/[\s-]+/g, '_').toUpperCase();
}

function isNackCode(s: string): s is NackCode {
  return Object.prototype.hasOwnProperty.call(CODES, s);
}

/** The retry class of a (normalised) NACK code. */
export function nackRetryClass(code: NackCode): RetryClass {
  return CODES[code].retry;
}

/**
 * Splits a CCS composite error text (`InvalidJson : INVALID_TTL : detail`, or the stanza-error
 * text `InvalidJson: JSON_PARSING_ERROR : Missing Required Field: message_id`) into its parts.
 * A plain code comes back as `{ head: code, reason: undefined, detail: '' }`.
 */
export function splitCcsError(text: string): { head: string; reason: string | undefined; detail: string } {
  const s = text.trim();
  const c1 = s.indexOf(':');
  if (c1 === -1) return { head: s, reason: undefined, detail: '' };
  const head = s.slice(0, c1).trim();
  const rest = s.slice(c1 + 1);
  const c2 = rest.indexOf(':');
  if (c2 !== -1) {
    const second = rest.slice(0, c2).trim();
    if (UPPER_SNAKE.test(second)) return { head, reason: second, detail: rest.slice(c2 + 1).trim() };
  }
  const only = rest.trim();
  // `InvalidJson : INVALID_TTL` with no detail.
  if (UPPER_SNAKE.test(only)) return { head, reason: only, detail: '' };
  return { head, reason: undefined, detail: only };
}

/**
 * Normalises a NACK's `error` and `error_description` fields (both as received: any JSON value).
 * Never throws.
 */
export function normalizeNack(error: unknown, description?: unknown): NackError {
  const raw = typeof error === 'string' ? error : '';
  const { head, reason: subReason, detail } = splitCcsError(raw);
  let name = toUpperSnake(head);
  let reason: string | undefined = subReason;
  if (INVALID_JSON_REASONS.has(name)) {
    reason = name;
    name = 'INVALID_JSON';
  }
  const known = isNackCode(name);
  const code: NackCode = known ? (name as NackCode) : 'INTERNAL_SERVER_ERROR';
  const info = CODES[code];
  let desc = typeof description === 'string' ? description.trim() : '';
  // The later shape puts the code alone in `error` and the composite text in `error_description`
  // (`"error":"INVALID_JSON","error_description":"InvalidJson : INVALID_TTL : …"`): the sub-code is
  // read from there, so both shapes give the same `reason`.
  // (A description without a colon, or of another code, splits into no sub-code for this one.)
  if (reason === undefined) {
    const fromDesc = splitCcsError(desc);
    if (toUpperSnake(fromDesc.head) === name) reason = fromDesc.reason;
  }
  if (desc === '') desc = detail;
  if (desc === '') desc = known ? info.meaning : `Unknown NACK error ${JSON.stringify(raw)}; handled as INTERNAL_SERVER_ERROR.`;
  return { code, reason, description: desc, retry: info.retry, known, raw };
}
