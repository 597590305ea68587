import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { SaslInputError, SaslProtocolError } from './errors.js';
import type {
  ClientMechanism,
  ClientMechanismFactory,
  SaslCredentials,
  ServerMechanism,
  ServerMechanismFactory,
  ServerStep,
} from './mechanism.js';

/** The IANA name of the mechanism of RFC 4616. */
export const PLAIN = 'PLAIN';

// A lone surrogate has no UTF-8 encoding: Buffer.from() would silently turn it into U+FFFD,
// and the server would then be checking a password the user never typed.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

// `fatal` rejects invalid UTF-8 (RFC 4616 §2: the message is UTF-8); `ignoreBOM` keeps a leading
// U+FEFF, which the default decoder would strip from a password that starts with one.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function checkField(value: string, field: string, required: boolean): void {
  if (required && value.length === 0) throw new SaslInputError(`PLAIN ${field} must not be empty (RFC 4616 §2)`);
  // RFC 4616 §2 (SAFE excludes NUL) and RFC 4013 §2.3 both prohibit U+0000: it is the separator.
  if (value.includes('\u0000')) throw new SaslInputError(`PLAIN ${field} contains NUL (RFC 4616 §2)`);
  if (LONE_SURROGATE.test(value)) throw new SaslInputError(`PLAIN ${field} contains a lone surrogate, which UTF-8 cannot encode`);
}

/**
 * Builds the RFC 4616 message `[authzid] NUL authcid NUL passwd` as UTF-8 bytes. Each field is
 * encoded as UTF-8 from the JavaScript string, so any Unicode password works (the classic bug is
 * `btoa()`, which throws on, or mangles, anything outside Latin-1).
 *
 * Only the prohibitions SASLprep would make fatal here are enforced (NUL, lone surrogates, empty
 * authcid or password); strings are not normalised, so the server must compare the same bytes.
 * @throws {SaslInputError} naming the offending field, never its value.
 */
export function encodePlain(authcid: string, password: string, authzid?: string): Buffer {
  checkField(authcid, 'authcid', true);
  checkField(password, 'password', true);
  if (authzid !== undefined) checkField(authzid, 'authzid', false);
  return Buffer.from(`${authzid ?? ''}\u0000${authcid}\u0000${password}`, 'utf8');
}

/** A decoded PLAIN message. The password stays bytes so it can be compared in constant time. */
export interface PlainMessage {
  /** `undefined` when the client sent none (an empty first field). */
  authzid: string | undefined;
  /** Authentication identity; never empty. */
  authcid: string;
  /** The password as the client's UTF-8 bytes; never empty. */
  password: Buffer;
}

/**
 * Parses a PLAIN message as a server must (RFC 4616 §2): exactly three NUL-separated fields,
 * non-empty authcid and password, valid UTF-8 throughout. Returns `undefined` for anything else
 * (the caller answers `malformed-request`). NUL never occurs inside a multi-byte UTF-8 sequence,
 * so splitting bytes on 0x00 is exact.
 */
export function decodePlain(message: Uint8Array): PlainMessage | undefined {
  const bytes = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  const first = bytes.indexOf(0);
  if (first === -1) return undefined;
  const second = bytes.indexOf(0, first + 1);
  if (second === -1 || bytes.indexOf(0, second + 1) !== -1) return undefined;
  if (second === first + 1 || second === bytes.length - 1) return undefined;
  let authzid: string;
  let authcid: string;
  try {
    authzid = UTF8.decode(bytes.subarray(0, first));
    authcid = UTF8.decode(bytes.subarray(first + 1, second));
    UTF8.decode(bytes.subarray(second + 1));
  } catch {
    return undefined;
  }
  return {
    authzid: authzid === '' ? undefined : authzid,
    authcid,
    password: Buffer.from(bytes.subarray(second + 1)),
  };
}

/** The PLAIN client: one message, no challenges, no additional data on success. */
class PlainClient implements ClientMechanism {
  readonly #message: Buffer;
  constructor(message: Buffer) {
    this.#message = message;
  }
  initialResponse(): Uint8Array {
    return this.#message;
  }
  challenge(): Uint8Array {
    // RFC 4616 §2: PLAIN is a single client message; a challenge means the server is confused
    // (or is fishing for the password twice). Abort rather than guess.
    throw new SaslProtocolError('SASL_ERR_PROTOCOL', 'server sent a challenge to PLAIN, which has none', { mechanism: PLAIN });
  }
  success(additionalData: Buffer | undefined): void {
    // PLAIN defines no additional data with success (RFC 4616 §2); `=` (empty) is tolerated.
    if (additionalData !== undefined && additionalData.length > 0) {
      throw new SaslProtocolError('SASL_ERR_PROTOCOL', 'server sent additional data with PLAIN success', { mechanism: PLAIN });
    }
  }
  // Keeps the encoded password out of util.inspect / console.log of the object.
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'PlainClient {}';
  }
  toJSON(): object {
    return {};
  }
}

/** Client side of PLAIN (RFC 4616). Needs `authcid` and `password`; `authzid` is optional. */
export const plainClient: ClientMechanismFactory = Object.freeze({
  name: PLAIN,
  plaintext: true,
  canUse(credentials: SaslCredentials): boolean {
    return typeof credentials.authcid === 'string' && typeof credentials.password === 'string';
  },
  create(credentials: SaslCredentials): ClientMechanism {
    const { authcid, password, authzid } = credentials;
    if (typeof authcid !== 'string') throw new SaslInputError('PLAIN needs an authcid');
    if (typeof password !== 'string') throw new SaslInputError('PLAIN needs a password');
    return new PlainClient(encodePlain(authcid, password, authzid));
  },
});

/** An account as the server's lookup returns it. */
export interface PlainAccount {
  /** The expected password (string as UTF-8, or bytes). Compared in constant time. */
  password: string | Uint8Array;
  /** Answer `account-disabled` (after the password checked out, so it reveals nothing to guessers). */
  disabled?: boolean;
  /** Answer `credentials-expired` (likewise only after the password matched). */
  expired?: boolean;
}

/** How the PLAIN server verifies credentials. */
export interface PlainServerOptions {
  /**
   * The account for an authcid: its password (or a `PlainAccount`), or `undefined` when unknown.
   * May be async. A throw or rejection is answered with `temporary-auth-failure`.
   */
  lookup(authcid: string, authzid: string | undefined): PlainAccount | string | Uint8Array | undefined
    | Promise<PlainAccount | string | Uint8Array | undefined>;
  /**
   * Whether `authcid` may act as a different `authzid`. Without it, an authzid other than the
   * authcid itself is refused with `invalid-authzid` (RFC 6120 §6.5.6).
   */
  authorize?(authcid: string, authzid: string): boolean | Promise<boolean>;
}

// Compared on SHA-256 digests so both sides have equal length (timingSafeEqual's requirement)
// and a length difference between the passwords leaks nothing either.
function digest(data: Uint8Array): Buffer {
  return createHash('sha256').update(data).digest();
}

/**
 * Compares two secrets in constant time (in their contents and their lengths), via
 * `crypto.timingSafeEqual` on SHA-256 digests.
 */
export function secretsEqual(a: Uint8Array, b: Uint8Array): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

// What an unknown authcid's password is compared with: drawn once per process, known to no one.
const DECOY = randomBytes(32).toString('base64');

class PlainServer implements ServerMechanism {
  readonly #options: PlainServerOptions;
  #done = false;
  constructor(options: PlainServerOptions) {
    this.#options = options;
  }

  step(response: Buffer | undefined): ServerStep | Promise<ServerStep> {
    // RFC 4422 §5 (c): a client-first mechanism started without an initial response gets an
    // empty challenge, and the message comes back in <response>.
    if (response === undefined) {
      if (this.#done) return { type: 'failure', condition: 'malformed-request' };
      return { type: 'challenge', data: Buffer.alloc(0) };
    }
    if (this.#done) return { type: 'failure', condition: 'malformed-request' };
    this.#done = true;
    const message = decodePlain(response);
    if (message === undefined) return { type: 'failure', condition: 'malformed-request' };
    return this.#verify(message);
  }

  async #verify(message: PlainMessage): Promise<ServerStep> {
    const { authcid, authzid, password } = message;
    const found = await this.#options.lookup(authcid, authzid);
    const account: PlainAccount | undefined =
      found === undefined ? undefined : typeof found === 'string' || found instanceof Uint8Array ? { password: found } : found;
    // An unknown authcid does the same work as a wrong password: the same conversion and the same
    // constant-time comparison, against a decoy password drawn once per process (drawing random
    // bytes per attempt made an unknown authcid measurably slower, ~20 µs, which told a guesser
    // which authcids exist). The decoy matches nothing a client can know.
    const secret = account === undefined ? DECOY : account.password;
    const expected = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
    const match = secretsEqual(password, expected);
    password.fill(0);
    if (!match || account === undefined) return { type: 'failure', condition: 'not-authorized' };
    if (account.disabled) return { type: 'failure', condition: 'account-disabled' };
    if (account.expired) return { type: 'failure', condition: 'credentials-expired' };
    if (authzid !== undefined && authzid !== authcid) {
      const allowed = this.#options.authorize ? await this.#options.authorize(authcid, authzid) : false;
      if (!allowed) return { type: 'failure', condition: 'invalid-authzid' };
    }
    return { type: 'success', authcid, authzid };
  }
}

/**
 * Server side of PLAIN (RFC 4616 §2): strict message parsing (`malformed-request`), a
 * constant-time password check (`not-authorized`), then account state and authorization.
 */
export function plainServer(options: PlainServerOptions): ServerMechanismFactory {
  return Object.freeze({
    name: PLAIN,
    plaintext: true,
    create: (): ServerMechanism => new PlainServer(options),
  });
}
