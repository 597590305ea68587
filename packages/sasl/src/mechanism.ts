import type { SaslFailureCondition } from './errors.js';

/**
 * What the client authenticates with. PLAIN uses `authcid`, `password` and the optional
 * `authzid`; other mechanisms may read further string fields (an OAuth token, say), which is why
 * the shape is open. Never logged, never put in an error.
 */
export interface SaslCredentials {
  /** Authentication identity (RFC 4422 §2). For CCS: `<SENDER_ID>@gcm.googleapis.com`. */
  authcid?: string;
  /** The secret. For CCS: the API (server) key. */
  password?: string;
  /** Authorization identity to act as (RFC 4422 §2); leave unset to act as `authcid`. */
  authzid?: string;
  /** Fields for other mechanisms (tokens and the like). */
  [field: string]: string | undefined;
}

/**
 * One client-side authentication exchange (RFC 4422 §3), created per attempt. Every method may
 * throw a `SaslError`; the negotiator catches it, aborts the exchange and reports it once.
 */
export interface ClientMechanism {
  /**
   * The initial response sent inside `<auth>` (RFC 4422 §3.3), or `undefined` when the mechanism
   * has none and waits for a challenge. A zero-length response is sent as `=`.
   */
  initialResponse(): Uint8Array | undefined;
  /** The response to a server `<challenge>` (already base64-decoded). */
  challenge(data: Buffer): Uint8Array;
  /**
   * Checks the additional data of `<success>` (RFC 6120 §6.3.10): `undefined` when the element
   * was empty, a zero-length buffer for `=`. Throws when it fails verification (e.g. a SCRAM
   * server signature), which turns the server's success into a local failure.
   */
  success(additionalData: Buffer | undefined): void;
}

/** Creates client exchanges for one mechanism; this is what a client registry holds. */
export interface ClientMechanismFactory {
  /** The IANA mechanism name as offered in `<mechanism>`, e.g. `PLAIN`, `SCRAM-SHA-256`. */
  readonly name: string;
  /**
   * `true` when an eavesdropper learns the secret from the exchange (PLAIN). The client will not
   * use such a mechanism over an unencrypted stream unless explicitly allowed.
   */
  readonly plaintext: boolean;
  /** Whether these credentials are enough for this mechanism; mechanisms that say no are skipped. */
  canUse(credentials: SaslCredentials): boolean;
  /**
   * Starts an exchange. May throw a `SaslInputError` for credentials the mechanism cannot encode.
   */
  create(credentials: SaslCredentials): ClientMechanism;
}

/** Who the server authenticated. */
export interface SaslIdentity {
  /** The mechanism that succeeded. */
  mechanism: string;
  /** The authentication identity that proved itself. */
  authcid: string;
  /** The authorization identity the client asked to act as; `undefined` when it asked for none. */
  authzid: string | undefined;
}

/** What a server exchange says after each client message. */
export type ServerStep =
  /** Send `<challenge>` with this data and wait for a `<response>`. */
  | { type: 'challenge'; data: Uint8Array }
  /** Authenticated. `additionalData`, if set, goes in `<success>` (RFC 6120 §6.3.10). */
  | { type: 'success'; authcid: string; authzid: string | undefined; additionalData?: Uint8Array }
  /** Refused with this condition. `text` goes on the wire; never put a credential in it. */
  | { type: 'failure'; condition: SaslFailureCondition; text?: string; cause?: unknown };

/**
 * One server-side authentication exchange. `step` is called first with the initial response
 * (`undefined` when `<auth>` was empty), then with each `<response>`. It may answer
 * asynchronously (a credentials lookup); the negotiator never calls it again before it settles.
 * A rejected promise or a throw is answered with `temporary-auth-failure`.
 */
export interface ServerMechanism {
  /** Processes one client message. */
  step(response: Buffer | undefined): ServerStep | Promise<ServerStep>;
}

/** Creates server exchanges for one mechanism, configured with how to verify credentials. */
export interface ServerMechanismFactory {
  /** The IANA mechanism name, as offered in `<mechanism>`. */
  readonly name: string;
  /** `true` when the exchange reveals the secret to an eavesdropper (PLAIN). */
  readonly plaintext: boolean;
  /** Starts an exchange for one `<auth>`. */
  create(): ServerMechanism;
}
