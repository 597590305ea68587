import { SaslInputError } from './errors.js';

/**
 * Mechanism names by which the client picks, strongest first, when no `preference` is given.
 * Only registered mechanisms are ever used; names here that nothing implements are skipped, and
 * registered mechanisms missing here come after these, in registration order. Channel-binding
 * and challenge-response mechanisms rank above bearer tokens, which rank above PLAIN.
 */
export const DEFAULT_MECHANISM_PREFERENCE: readonly string[] = Object.freeze([
  'SCRAM-SHA-512-PLUS',
  'SCRAM-SHA-256-PLUS',
  'SCRAM-SHA-1-PLUS',
  'SCRAM-SHA-512',
  'SCRAM-SHA-256',
  'SCRAM-SHA-1',
  'X-OAUTH2',
  'OAUTHBEARER',
  'PLAIN',
]);

// RFC 4422 §3.1: 1 to 20 characters from upper-case letters, digits, '-' and '_'.
const MECHANISM_NAME = /^[A-Z0-9_-]{1,20}$/;

/**
 * Mechanisms by name, for one side (client factories or server factories). Adding a mechanism is
 * registering a factory; the negotiators only ever look names up here.
 */
export class MechanismRegistry<F extends { readonly name: string }> {
  readonly #byName = new Map<string, F>();

  /** Creates a registry holding these factories, in this order. */
  constructor(factories: Iterable<F> = []) {
    for (const f of factories) this.register(f);
  }

  /**
   * Adds a factory, replacing any with the same name (in place, so the order is kept).
   * @throws {SaslInputError} when the name is not a valid RFC 4422 §3.1 mechanism name.
   */
  register(factory: F): this {
    if (!MECHANISM_NAME.test(factory.name)) {
      throw new SaslInputError(`invalid SASL mechanism name ${JSON.stringify(factory.name)} (RFC 4422 §3.1)`);
    }
    this.#byName.set(factory.name, factory);
    return this;
  }

  /** Removes a mechanism; returns whether it was there. */
  unregister(name: string): boolean {
    return this.#byName.delete(name);
  }

  /** The factory for a name, or `undefined`. Names are case-sensitive (RFC 4422 §3.1 upper case). */
  get(name: string): F | undefined {
    return this.#byName.get(name);
  }

  /** Whether a mechanism is registered. */
  has(name: string): boolean {
    return this.#byName.has(name);
  }

  /** Registered names, in registration order. */
  names(): string[] {
    return [...this.#byName.keys()];
  }
}
