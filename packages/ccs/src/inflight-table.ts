import type { Outbound } from './outbound.js';

/** Slots of a table's first array; it doubles whenever it holds more messages than slots. */
const FIRST_SLOTS = 64;

/**
 * A connection's in-flight messages by `message_id`: a hash table whose chains run through the
 * messages themselves (`Outbound.next`), so writing and ACKing a message allocates nothing.
 *
 * A `Map` did the same job, but a map that a message passes through (one insert, one delete, a
 * thousand others in flight) re-allocates its whole table every few hundred messages — deleted
 * entries are only dropped by a rehash, and the table shrinks and grows again as the window empties
 * and fills — 140 bytes per message of garbage in bench/ccs-client.mjs (sampled allocations). Here
 * the slot array only grows (doubling, when it holds more messages than slots) and is released when
 * the connection gives everything back.
 */
export class InflightTable {
  #slots: Array<Outbound | undefined> | undefined;
  #mask = 0;
  #size = 0;

  /** Messages in flight. */
  get size(): number {
    return this.#size;
  }

  /** Records `out` (its id must not be in the table). */
  add(out: Outbound): void {
    let slots = this.#slots;
    if (slots === undefined || this.#size >= slots.length) slots = this.#grow();
    const i = hashId(out.id) & this.#mask;
    out.next = slots[i];
    slots[i] = out;
    this.#size++;
  }

  /** The message with this id, or undefined. */
  get(id: string): Outbound | undefined {
    const slots = this.#slots;
    if (slots === undefined) return undefined;
    for (let o = slots[hashId(id) & this.#mask]; o !== undefined; o = o.next) if (o.id === id) return o;
    return undefined;
  }

  /** Removes and returns the message with this id, or undefined. */
  take(id: string): Outbound | undefined {
    const slots = this.#slots;
    if (slots === undefined) return undefined;
    const i = hashId(id) & this.#mask;
    let prev: Outbound | undefined;
    for (let o = slots[i]; o !== undefined; prev = o, o = o.next) {
      if (o.id !== id) continue;
      if (prev === undefined) slots[i] = o.next;
      else prev.next = o.next;
      o.next = undefined;
      this.#size--;
      return o;
    }
    return undefined;
  }

  /** Removes the message with this id; true when it was there. */
  delete(id: string): boolean {
    return this.take(id) !== undefined;
  }

  /** Every message in flight, oldest `seq` first (the order they go out again in). */
  values(): Outbound[] {
    const all: Outbound[] = [];
    const slots = this.#slots;
    if (slots !== undefined) for (let i = 0; i < slots.length; i++) for (let o = slots[i]; o !== undefined; o = o.next) all.push(o);
    return all.sort(bySeq);
  }

  /** Removes and returns every message in flight, oldest `seq` first; the slot array goes too. */
  takeAll(): Outbound[] {
    const all = this.values();
    for (const o of all) o.next = undefined;
    this.#slots = undefined;
    this.#mask = 0;
    this.#size = 0;
    return all;
  }

  #grow(): Array<Outbound | undefined> {
    const old = this.#slots;
    const length = old === undefined ? FIRST_SLOTS : old.length * 2;
    const slots = new Array<Outbound | undefined>(length).fill(undefined);
    const mask = length - 1;
    if (old !== undefined) {
      for (let i = 0; i < old.length; i++) {
        for (let o = old[i]; o !== undefined; ) {
          const next = o.next;
          const j = hashId(o.id) & mask;
          o.next = slots[j];
          slots[j] = o;
          o = next;
        }
      }
    }
    this.#slots = slots;
    this.#mask = mask;
    return slots;
  }
}

const bySeq = (a: Outbound, b: Outbound): number => a.seq - b.seq;

/**
 * A 32-bit hash of every character (FNV-1a steps, then a finalising mix so that ids differing only
 * in their last character — a counter — spread over the low bits the mask keeps). Every character
 * counts: a caller's ids that share a long prefix or suffix must not share a chain.
 */
function hashId(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return h ^ (h >>> 12);
}
