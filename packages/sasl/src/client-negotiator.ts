import type { XmlElement } from '@ccs-xmpp/stream';
import { decodeSaslData, encodeSaslData } from './base64.js';
import {
  SaslAbortError,
  SaslError,
  SaslFailureError,
  SaslNegotiationError,
  SaslProtocolError,
} from './errors.js';
import type { ClientMechanism, ClientMechanismFactory, SaslCredentials } from './mechanism.js';
import { plainClient } from './plain.js';
import { DEFAULT_MECHANISM_PREFERENCE, MechanismRegistry } from './registry.js';
import { NS_SASL, offeredMechanisms, readFailure, saslElement } from './sasl-elements.js';

/** A client registry with every mechanism this package implements (PLAIN). */
export function defaultClientMechanisms(): MechanismRegistry<ClientMechanismFactory> {
  return new MechanismRegistry<ClientMechanismFactory>([plainClient]);
}

/** Options of {@link ClientNegotiator}. */
export interface ClientNegotiatorOptions {
  /** What to authenticate with. Kept inside the negotiator; never logged or put in an error. */
  credentials: SaslCredentials;
  /** Writes one element to the stream. Called synchronously from `start`, `handle` and `abort`. */
  send(el: XmlElement): void;
  /**
   * Whether the stream is protected by TLS. Required, so that "unencrypted" is never a default
   * someone forgot to change.
   */
  encrypted: boolean;
  /**
   * Let a `plaintext` mechanism (PLAIN) send the password over an unencrypted stream. Default
   * `false`: such a mechanism is skipped, and if it was the only candidate the negotiation fails
   * with `SASL_ERR_PLAIN_UNENCRYPTED`. For tests against a local server only.
   */
  allowPlaintextUnencrypted?: boolean;
  /**
   * Use exactly this mechanism; fail with `SASL_ERR_NO_COMMON_MECHANISM` if the server does not
   * offer it or it is not registered.
   */
  mechanism?: string;
  /**
   * Mechanism names, most preferred first; only these are considered. Default:
   * {@link DEFAULT_MECHANISM_PREFERENCE} followed by any other registered mechanism.
   */
  preference?: readonly string[];
  /** Client mechanisms by name. Default: {@link defaultClientMechanisms} (PLAIN). */
  mechanisms?: MechanismRegistry<ClientMechanismFactory>;
}

/** The outcome of a successful negotiation. The caller now restarts the stream (RFC 6120 §6.4.6). */
export interface SaslSuccess {
  /** The mechanism that succeeded. */
  mechanism: string;
  /**
   * The additional data of `<success>` (RFC 6120 §6.3.10), already checked by the mechanism:
   * `undefined` for an empty element, a zero-length buffer for `=`.
   */
  additionalData: Buffer | undefined;
}

/**
 * Where the client negotiator is. `aborting`: `<abort/>` went out and the server's
 * `<failure><aborted/></failure>` is still owed (RFC 6120 §6.4.4); the promise has already
 * settled, and `handle` swallows that reply.
 */
export type ClientNegotiatorState = 'idle' | 'negotiating' | 'aborting' | 'succeeded' | 'failed';

/**
 * The client side of SASL negotiation (RFC 6120 §6.4), as a state machine with no I/O: give it the
 * `<stream:features>`, feed it every depth-1 element the server sends in the SASL namespace, and
 * it writes `<auth>`, `<response>` and `<abort>` through `send`. The promise from `start` settles
 * once, with {@link SaslSuccess} or a {@link SaslError}; `handle` and `abort` never throw.
 *
 * One negotiator is one attempt. After a failure, a new negotiator on the same stream may try
 * again (the server allows a few retries, RFC 6120 §6.4.5); after success, the caller restarts
 * the stream.
 */
export class ClientNegotiator {
  readonly #options: ClientNegotiatorOptions;
  #state: ClientNegotiatorState = 'idle';
  #mechanismName: string | undefined;
  #mechanism: ClientMechanism | undefined;
  #resolve: ((value: SaslSuccess) => void) | undefined;
  #reject: ((error: SaslError) => void) | undefined;

  /** Creates an idle negotiator; nothing is sent before `start`. */
  constructor(options: ClientNegotiatorOptions) {
    this.#options = options;
  }

  /** Current state; see {@link ClientNegotiatorState}. */
  get state(): ClientNegotiatorState {
    return this.#state;
  }

  /** The mechanism chosen by `start`, or `undefined` before. */
  get mechanism(): string | undefined {
    return this.#mechanismName;
  }

  /**
   * Picks a mechanism from the server's `<stream:features>` and sends `<auth>`. The promise
   * resolves on `<success>` and rejects with a typed `SaslError`:
   * `SaslFailureError` for `<failure>` (code per condition, e.g. `SASL_ERR_NOT_AUTHORIZED`),
   * `SaslNegotiationError` (`SASL_ERR_NO_COMMON_MECHANISM`, `SASL_ERR_PLAIN_UNENCRYPTED`),
   * `SaslInputError` (`SASL_ERR_INVALID_INPUT`), `SaslProtocolError`, `SaslAbortError`.
   */
  start(features: XmlElement): Promise<SaslSuccess> {
    if (this.#state !== 'idle') {
      return Promise.reject(new SaslError('SASL_ERR_INVALID_STATE', `SASL negotiation cannot start in state ${this.#state}`));
    }
    const promise = new Promise<SaslSuccess>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#state = 'negotiating';
    try {
      const factory = this.#choose(features);
      this.#mechanismName = factory.name;
      this.#mechanism = factory.create(this.#options.credentials);
      const initial = this.#mechanism.initialResponse();
      // No initial response: an empty <auth>, and the server answers with a challenge
      // (RFC 6120 §6.4.2). A zero-length one is `=`, which encodeSaslData produces.
      this.#send(saslElement('auth', { mechanism: factory.name }, initial === undefined ? undefined : encodeSaslData(initial)));
    } catch (err) {
      this.#fail(this.#asSaslError(err), false);
    }
    return promise;
  }

  /**
   * Feeds one depth-1 element received from the server. Returns `true` when the element is in
   * the SASL namespace and was consumed (including late replies after an abort), `false` when it
   * is not this negotiator's business. Never throws: failures settle the `start` promise.
   */
  handle(el: XmlElement): boolean {
    if (el.uri !== NS_SASL) return false;
    switch (this.#state) {
      case 'idle':
        return false;
      case 'aborting':
        // The reply owed to our <abort/> (RFC 6120 §6.4.4); anything else the server sends now
        // is equally moot.
        if (el.local === 'failure' || el.local === 'success') this.#state = 'failed';
        return true;
      case 'succeeded':
      case 'failed':
        return true;
      default:
        break;
    }
    try {
      switch (el.local) {
        case 'challenge':
          this.#onChallenge(el);
          break;
        case 'success':
          this.#onSuccess(el);
          break;
        case 'failure': {
          const { condition, text } = readFailure(el);
          this.#fail(new SaslFailureError(condition, text, this.#mechanismName), false);
          break;
        }
        default:
          throw new SaslProtocolError('SASL_ERR_PROTOCOL', `unexpected <${el.local}> from the server during SASL negotiation`);
      }
    } catch (err) {
      // After <success> the server has concluded; an <abort/> would be answered by nobody.
      this.#fail(this.#asSaslError(err), el.local !== 'success');
    }
    return true;
  }

  /**
   * Abandons the exchange: sends `<abort/>` if `<auth>` went out (RFC 6120 §6.4.4) and rejects the
   * promise with `SASL_ERR_ABORTED`. A no-op once settled.
   */
  abort(reason?: string): void {
    if (this.#state === 'idle') {
      this.#state = 'failed';
      return;
    }
    if (this.#state !== 'negotiating') return;
    this.#fail(new SaslAbortError(this.#mechanismName, reason), true);
  }

  #choose(features: XmlElement): ClientMechanismFactory {
    const { credentials, encrypted, allowPlaintextUnencrypted, mechanism, preference } = this.#options;
    const registry = this.#options.mechanisms ?? defaultClientMechanisms();
    const offered = offeredMechanisms(features);
    if (offered === undefined || offered.length === 0) {
      throw new SaslNegotiationError('SASL_ERR_NO_COMMON_MECHANISM', 'the server offers no SASL mechanisms');
    }
    let order: readonly string[];
    if (mechanism !== undefined) order = [mechanism];
    else if (preference !== undefined) order = preference;
    else order = [...DEFAULT_MECHANISM_PREFERENCE, ...registry.names().filter((n) => !DEFAULT_MECHANISM_PREFERENCE.includes(n))];

    let refusedUnencrypted: string | undefined;
    for (const name of order) {
      if (!offered.includes(name)) continue;
      const factory = registry.get(name);
      if (factory === undefined || !factory.canUse(credentials)) continue;
      if (factory.plaintext && !encrypted && allowPlaintextUnencrypted !== true) {
        refusedUnencrypted ??= name;
        continue;
      }
      return factory;
    }
    if (refusedUnencrypted !== undefined) {
      throw new SaslNegotiationError(
        'SASL_ERR_PLAIN_UNENCRYPTED',
        `refusing to send ${refusedUnencrypted} credentials over an unencrypted stream (set allowPlaintextUnencrypted to override)`,
        { mechanism: refusedUnencrypted },
      );
    }
    const wanted = mechanism !== undefined ? `mechanism ${mechanism}` : `any of [${order.join(', ')}]`;
    throw new SaslNegotiationError(
      'SASL_ERR_NO_COMMON_MECHANISM',
      `no usable SASL mechanism: the server offers [${offered.join(', ')}], the client wants ${wanted} with the given credentials`,
    );
  }

  #onChallenge(el: XmlElement): void {
    const text = el.text();
    // An empty <challenge/> is read as zero-length data; RFC 6120 §6.4.3 asks for `=`, but there
    // is nothing else it could mean.
    const data = text === '' ? Buffer.alloc(0) : decodeSaslData(text);
    if (data === undefined) {
      throw new SaslProtocolError('SASL_ERR_PROTOCOL', 'the server sent a challenge that is not valid base64', { mechanism: this.#mechanismName });
    }
    const response = (this.#mechanism as ClientMechanism).challenge(data);
    this.#send(saslElement('response', null, encodeSaslData(response)));
  }

  #onSuccess(el: XmlElement): void {
    const text = el.text();
    const data = text === '' ? undefined : decodeSaslData(text);
    if (text !== '' && data === undefined) {
      throw new SaslProtocolError('SASL_ERR_PROTOCOL', 'the server sent success data that is not valid base64', { mechanism: this.#mechanismName });
    }
    (this.#mechanism as ClientMechanism).success(data);
    this.#state = 'succeeded';
    this.#mechanism = undefined;
    this.#resolve?.({ mechanism: this.#mechanismName as string, additionalData: data });
  }

  #send(el: XmlElement): void {
    try {
      this.#options.send(el);
    } catch (err) {
      throw new SaslError('SASL_ERR_SEND_FAILED', `could not send <${el.local}>`, { cause: err, mechanism: this.#mechanismName });
    }
  }

  /**
   * Settles the promise with an error, once. When `sendAbort` is set and the exchange is still
   * open on the server (we are past `<auth>` and the server has not concluded), `<abort/>` goes
   * out first and the negotiator waits in `aborting` for the server's `<failure>`.
   */
  #fail(error: SaslError, sendAbort: boolean): void {
    if (this.#state !== 'negotiating') return;
    const authSent = this.#mechanism !== undefined;
    this.#state = 'failed';
    this.#mechanism = undefined;
    if (sendAbort && authSent && error.code !== 'SASL_ERR_SEND_FAILED' && !(error instanceof SaslFailureError)) {
      // 'aborting' before the send: with a synchronous transport the server's reply arrives
      // inside send() and must find us waiting for it.
      this.#state = 'aborting';
      try {
        this.#options.send(saslElement('abort', null));
      } catch {
        // The stream is already broken; the error we report is the one that made us abort.
        this.#state = 'failed';
      }
    }
    this.#reject?.(error);
  }

  #asSaslError(err: unknown): SaslError {
    if (err instanceof SaslError) return err;
    // A third-party mechanism threw something untyped; its message may contain a payload, so it
    // stays in `cause` only.
    return new SaslError('SASL_ERR_MECHANISM', `SASL mechanism ${this.#mechanismName ?? '(none)'} failed`, {
      cause: err,
      mechanism: this.#mechanismName,
    });
  }
}
