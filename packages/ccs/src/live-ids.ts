import type { MessageIdGenerator } from './message-id.js';
import type { Outbound } from './outbound.js';

/**
 * The ids of unsettled messages, as far as a duplicate send needs them. Ids the caller gave are
 * kept in a map (a second live send with the same id is refused). Generated ids stay out of it:
 * they never collide with one another, and a map entry per message would cost a hash insert and
 * delete on the hot path. A caller can only hold a generated id after its message settled — unless
 * it writes ids with the generator's prefix itself; then generated ids are checked against the map,
 * and a prefixed caller id is looked for wherever a message can be (`find`).
 */
export class LiveIds {
  readonly #live = new Map<string, Outbound>();
  readonly #ids: MessageIdGenerator;
  /** Caller ids in #live that carry the generator's prefix. */
  #prefixed = 0;

  constructor(ids: MessageIdGenerator) {
    this.#ids = ids;
  }

  /** A fresh id no unsettled message carries. */
  next(): string {
    let id = this.#ids.next();
    if (this.#prefixed > 0) while (this.#live.has(id)) id = this.#ids.next();
    return id;
  }

  /**
   * A fresh id no unsettled message carries, as its counter under the generator's slot when it
   * has one and no caller id carries its prefix (nothing to compare with), else as a string.
   */
  nextKey(): string | number {
    return this.#prefixed > 0 || this.#ids.slot < 0 ? this.next() : this.#ids.nextCounter();
  }

  /** Remembers a message whose id the caller gave. */
  add(out: Outbound): void {
    out.callerId = true;
    this.#live.set(out.id, out);
    if (out.id.startsWith(this.#ids.prefix)) this.#prefixed++;
  }

  /** The message settled. */
  delete(out: Outbound): void {
    if (!out.callerId || this.#live.get(out.id) !== out) return;
    this.#live.delete(out.id);
    if (out.id.startsWith(this.#ids.prefix)) this.#prefixed--;
  }

  /** Whether a message with this caller-given id is unsettled; `find` looks everywhere else a message may be. */
  has(id: string, find: (id: string) => boolean): boolean {
    if (this.#live.has(id)) return true;
    return id.startsWith(this.#ids.prefix) && find(id);
  }
}
