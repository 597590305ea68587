import type { XmlElement } from '@ccs-xmpp/stream';
import { decodeSaslData, encodeSaslData } from './base64.js';
import { SaslError, type SaslFailureCondition } from './errors.js';
import type { SaslIdentity, ServerMechanism, ServerMechanismFactory, ServerStep } from './mechanism.js';
import { MechanismRegistry } from './registry.js';
import { NS_SASL, failureElement, mechanismsElement, saslElement } from './sasl-elements.js';

/** What the server negotiator reports to the connection owner. Callbacks must not throw. */
export interface ServerNegotiatorSink {
  /** Writes one element to the stream. */
  send(el: XmlElement): void;
  /**
   * `<success/>` has been sent: the client is authenticated. The caller now expects a new stream
   * header (RFC 6120 §6.4.6) and offers the post-SASL features.
   */
  onSuccess(identity: SaslIdentity): void;
  /** A `<failure>` has been sent. Carries no credential; `cause` is set only for lookup errors. */
  onFailure?(failure: SaslServerFailure): void;
  /**
   * The client used up `maxFailures`. The last `<failure>` has been sent; the caller closes the
   * stream, with `<policy-violation/>` as RFC 6120 §6.4.5 recommends. Nothing more is accepted.
   */
  onTooManyFailures(failures: number): void;
  /** `send` threw (the stream is probably gone). Only reported, never thrown. */
  onError?(error: SaslError): void;
}

/** One failed attempt, as reported to {@link ServerNegotiatorSink.onFailure}. */
export interface SaslServerFailure {
  /** The condition sent in `<failure>`. */
  condition: SaslFailureCondition;
  /** The mechanism requested, if the client named one. */
  mechanism: string | undefined;
  /** Failures on this connection so far, this one included. */
  failures: number;
  /** Why a lookup failed (`temporary-auth-failure`), for the operator's eyes only. */
  cause?: unknown;
}

/** Options of {@link ServerNegotiator}. */
export interface ServerNegotiatorOptions {
  /** Server mechanisms that can actually verify clients. */
  mechanisms: MechanismRegistry<ServerMechanismFactory> | Iterable<ServerMechanismFactory>;
  /**
   * Names to advertise, in order. May include names nothing implements, to look like a real
   * server (CCS offered `X-OAUTH2`, `X-GOOGLE-TOKEN`, `PLAIN`); choosing one of those is answered
   * with `invalid-mechanism`. Default: every registered mechanism.
   */
  offer?: readonly string[];
  /** Whether the stream is protected by TLS. */
  encrypted: boolean;
  /**
   * Offer and accept `plaintext` mechanisms (PLAIN) on an unencrypted stream. Default `false`:
   * they are not advertised, and choosing one is answered with `encryption-required`.
   */
  allowPlaintextUnencrypted?: boolean;
  /**
   * Failed attempts allowed per connection before `onTooManyFailures` (RFC 6120 §6.4.5 asks for a
   * configurable limit allowing at least 2 retries). Every `<failure>` counts, aborts included,
   * so that a client cannot loop forever. Default 3.
   */
  maxFailures?: number;
}

/**
 * Where the server negotiator is: `waiting` for `<auth>`, `exchanging` (an exchange is open,
 * perhaps waiting on an async lookup), `succeeded`, or `closed` after too many failures.
 */
export type ServerNegotiatorState = 'waiting' | 'exchanging' | 'succeeded' | 'closed';

/**
 * The server side of SASL negotiation (RFC 6120 §6.4), with no I/O: it produces the
 * `<mechanisms>` feature, takes each `<auth>`, `<response>` and `<abort>` the client sends, and
 * answers `<challenge>`, `<success/>` or `<failure>` through the sink. It never logs, and never
 * echoes a client payload back in a `<failure>` text.
 */
export class ServerNegotiator {
  readonly #registry: MechanismRegistry<ServerMechanismFactory>;
  readonly #offer: readonly string[];
  readonly #encrypted: boolean;
  readonly #allowPlaintext: boolean;
  readonly #maxFailures: number;
  readonly #sink: ServerNegotiatorSink;
  #state: ServerNegotiatorState = 'waiting';
  #failures = 0;
  #exchange: ServerMechanism | undefined;
  #exchangeName: string | undefined;
  /** A step is running (async lookup); a <response> now is out of turn. */
  #busy = false;
  /** Bumped whenever an exchange ends, so a late async step of an aborted one is dropped. */
  #generation = 0;

  /** Creates a negotiator for one connection. */
  constructor(options: ServerNegotiatorOptions, sink: ServerNegotiatorSink) {
    this.#registry = options.mechanisms instanceof MechanismRegistry
      ? options.mechanisms
      : new MechanismRegistry(options.mechanisms);
    this.#offer = options.offer ?? this.#registry.names();
    this.#encrypted = options.encrypted;
    this.#allowPlaintext = options.allowPlaintextUnencrypted === true;
    this.#maxFailures = options.maxFailures ?? 3;
    if (!Number.isInteger(this.#maxFailures) || this.#maxFailures < 1) {
      throw new RangeError('maxFailures must be a positive integer');
    }
    this.#sink = sink;
  }

  /** Current state; see {@link ServerNegotiatorState}. */
  get state(): ServerNegotiatorState {
    return this.#state;
  }

  /** Failed attempts so far on this connection. */
  get failures(): number {
    return this.#failures;
  }

  /** The mechanism names advertised, in order (plaintext ones dropped on an unencrypted stream). */
  offered(): string[] {
    return this.#offer.filter((name) => !this.#refusedForEncryption(name));
  }

  /** The `<mechanisms>` element to put in `<stream:features>` (RFC 6120 §6.4.1). */
  mechanismsElement(): XmlElement {
    return mechanismsElement(this.offered());
  }

  /**
   * Feeds one depth-1 element from the client. Returns `true` when it is in the SASL namespace
   * (and was consumed), `false` otherwise. Never throws.
   */
  handle(el: XmlElement): boolean {
    if (el.uri !== NS_SASL) return false;
    if (this.#state === 'succeeded' || this.#state === 'closed') return true;
    switch (el.local) {
      case 'auth':
        this.#onAuth(el);
        break;
      case 'response':
        this.#onResponse(el);
        break;
      case 'abort':
        // RFC 6120 §6.4.4: answered with <aborted/> whether or not an exchange was open.
        this.#fail('aborted');
        break;
      default:
        // <success>, <challenge>… from a client: not something it may send.
        this.#fail('malformed-request');
        break;
    }
    return true;
  }

  #refusedForEncryption(name: string): boolean {
    return !this.#encrypted && !this.#allowPlaintext && this.#registry.get(name)?.plaintext === true;
  }

  #onAuth(el: XmlElement): void {
    // A second <auth> while an exchange is open is out of order (RFC 6120 §6.4.2 allows a new
    // one only after <failure>); failing the open one is safer than guessing which one counts.
    if (this.#state === 'exchanging') return this.#fail('malformed-request');
    const name = el.attr('mechanism');
    this.#exchangeName = name;
    const factory = name === undefined ? undefined : this.#registry.get(name);
    if (name === undefined || factory === undefined || !this.#offer.includes(name)) return this.#fail('invalid-mechanism');
    if (this.#refusedForEncryption(name)) return this.#fail('encryption-required');
    const text = el.text();
    // No character data: no initial response. `=`: a zero-length one (RFC 6120 §6.4.2).
    const initial = text === '' ? undefined : decodeSaslData(text);
    if (text !== '' && initial === undefined) return this.#fail('incorrect-encoding');
    this.#state = 'exchanging';
    this.#exchange = factory.create();
    this.#step(initial);
  }

  #onResponse(el: XmlElement): void {
    if (this.#state !== 'exchanging' || this.#busy) return this.#fail('malformed-request');
    const text = el.text();
    // An empty <response/> is read as zero-length data, like `=`.
    const data = text === '' ? Buffer.alloc(0) : decodeSaslData(text);
    if (data === undefined) return this.#fail('incorrect-encoding');
    this.#step(data);
  }

  #step(data: Buffer | undefined): void {
    const exchange = this.#exchange as ServerMechanism;
    const generation = this.#generation;
    let result: ServerStep | Promise<ServerStep>;
    try {
      result = exchange.step(data);
    } catch (err) {
      return this.#fail('temporary-auth-failure', undefined, err);
    }
    // Any thenable counts as async (a lookup may return another realm's promise).
    if (typeof (result as Partial<PromiseLike<ServerStep>>).then !== 'function') return this.#apply(result as ServerStep);
    this.#busy = true;
    Promise.resolve(result).then(
      (step) => {
        if (generation !== this.#generation) return;
        this.#busy = false;
        this.#apply(step);
      },
      (err: unknown) => {
        if (generation !== this.#generation) return;
        this.#busy = false;
        this.#fail('temporary-auth-failure', undefined, err);
      },
    );
  }

  #apply(step: ServerStep): void {
    switch (step.type) {
      case 'challenge':
        this.#send(saslElement('challenge', null, encodeSaslData(step.data)));
        return;
      case 'success': {
        const mechanism = this.#exchangeName as string;
        this.#endExchange();
        this.#state = 'succeeded';
        // RFC 6120 §6.3.10: additional data, if any, rides in <success>; none means an empty element.
        this.#send(saslElement('success', null, step.additionalData === undefined ? undefined : encodeSaslData(step.additionalData)));
        this.#sink.onSuccess({ mechanism, authcid: step.authcid, authzid: step.authzid });
        return;
      }
      default:
        this.#fail(step.condition, step.text, step.cause);
    }
  }

  #endExchange(): void {
    this.#exchange = undefined;
    this.#busy = false;
    this.#generation++;
  }

  #fail(condition: SaslFailureCondition, text?: string, cause?: unknown): void {
    const mechanism = this.#exchangeName;
    this.#endExchange();
    this.#exchangeName = undefined;
    this.#failures++;
    const limitReached = this.#failures >= this.#maxFailures;
    this.#state = limitReached ? 'closed' : 'waiting';
    this.#send(failureElement(condition, text));
    this.#sink.onFailure?.({ condition, mechanism, failures: this.#failures, ...(cause === undefined ? {} : { cause }) });
    if (limitReached) this.#sink.onTooManyFailures(this.#failures);
  }

  #send(el: XmlElement): void {
    try {
      this.#sink.send(el);
    } catch (err) {
      this.#sink.onError?.(new SaslError('SASL_ERR_SEND_FAILED', `could not send <${el.local}>`, { cause: err }));
    }
  }
}
