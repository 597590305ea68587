import { counterOf, generatedPrefix } from './message-id.js';
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
 *
 * Ids are hashed by their last {@link TAIL} characters and their length at first:
 * a generated id is the process prefix, the same for every message, and a counter, and it is hashed
 * at every write and every ACK — the ACK's id a slice of the payload, whose characters are read
 * one by one more slowly than a flat string's (bench/ANALYSIS.md, seventh pass: 2–4% of the client's
 * CPU per message). Ids whose tails collide (a caller's ids that differ only further in) would make
 * long chains: the first lookup that walks more than {@link MAX_WALK} messages rehashes the table
 * with every character, which it keeps until it is emptied.
 *
 * Each message keeps its id's hash (`Outbound.idHash`): a lookup passes the other messages of its
 * chain by that number, and compares strings only for the one whose hash matches. An ACK's id is a
 * slice of its payload, and V8 compares a slice with `===` out of line (~35 ns against ~4 for two
 * flat strings, bench/ANALYSIS.md, eighth pass), besides reading the passed message's id from
 * memory; growing the table reuses the kept hashes.
 *
 * A generated id kept as its counter (`Outbound.key` a number: no string made on the send path) is
 * hashed by its counter, and so is every id string that is exactly the generator's prefix followed
 * by a counter's base-36 digits (`counterOf`: the ACK's id, a caller's or an adopted record's id of
 * that shape), whichever form the record holds: the ACK's id is parsed once, and a counter record
 * is matched by comparing numbers. The table takes the prefix of the first counter record it is
 * given (a connection serves one client, which has one generator).
 */
export class InflightTable {
  #slots: Array<Outbound | undefined> | undefined;
  #mask = 0;
  #size = 0;
  /** Hashing every character (a lookup walked a long chain), instead of the tail. */
  #full = false;
  /** The prefix slot of the counters it holds (`Outbound.slot`), -1 before the first; its text. */
  #slot = -1;
  #prefix = '';

  /** Messages in flight. */
  get size(): number {
    return this.#size;
  }

  /** Records `out` (its id must not be in the table). */
  add(out: Outbound): void {
    // Hashed first: the first counter record rebuilds the table (#takePrefix).
    const h = this.#hashOf(out);
    let slots = this.#slots;
    if (slots === undefined || this.#size >= slots.length) slots = this.#grow();
    out.idHash = h;
    const i = h & this.#mask;
    out.next = slots[i];
    slots[i] = out;
    this.#size++;
  }

  /** The message with this id, or undefined. */
  get(id: string): Outbound | undefined {
    const slots = this.#slots;
    if (slots === undefined) return undefined;
    let walked = 0;
    const n = this.#counterOf(id);
    const h = n >= 0 ? hashCounter(n) : this.#hash(id);
    for (let o = slots[h & this.#mask]; o !== undefined; o = o.next) {
      if (o.idHash === h && (typeof o.key === 'number' ? o.key === n : o.key === id)) return o;
      if (++walked > MAX_WALK && !this.#full) return this.#rehashFull().get(id);
    }
    return undefined;
  }

  /**
   * Removes and returns the message with this id, or undefined. A message holding its id as a
   * counter keeps `id` (an ACK's: the result and the trace channels read it) instead.
   */
  take(id: string): Outbound | undefined {
    const slots = this.#slots;
    if (slots === undefined) return undefined;
    const n = this.#counterOf(id);
    const h = n >= 0 ? hashCounter(n) : this.#hash(id);
    const i = h & this.#mask;
    let prev: Outbound | undefined;
    let walked = 0;
    for (let o = slots[i]; o !== undefined; prev = o, o = o.next) {
      const key = o.key;
      if (o.idHash !== h || (typeof key === 'number' ? key !== n : key !== id)) {
        if (++walked > MAX_WALK && !this.#full) return this.#rehashFull().take(id);
        continue;
      }
      if (typeof key === 'number') o.knownId(id);
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
    this.#full = false;
    return all;
  }

  /** Whether a lookup walked a long chain, so that every character is hashed now (for the tests). */
  get hashesEveryCharacter(): boolean {
    return this.#full;
  }

  /** The hash of an id string that is not a counter under the table's prefix. */
  #hash(id: string): number {
    return hashId(id, this.#full || id.length <= TAIL ? 0 : id.length - TAIL);
  }

  /** The counter `id` spells under the table's prefix, or -1 (see `counterOf`). */
  #counterOf(id: string): number {
    return this.#slot < 0 ? -1 : counterOf(id, this.#prefix);
  }

  /** The hash of a message's id, from its counter when it holds one (no string is made for it). */
  #hashOf(out: Outbound): number {
    const key = out.key;
    if (typeof key === 'number') {
      if (out.slot === this.#slot) return hashCounter(key);
      if (this.#slot < 0) {
        this.#takePrefix(out.slot);
        return hashCounter(key);
      }
    }
    // A string, or a counter of another generator's prefix (not with one generator per client),
    // whose string `id` makes and keeps: from then on the record holds the string.
    const id = typeof key === 'string' ? key : out.id;
    const n = this.#counterOf(id);
    return n >= 0 ? hashCounter(n) : this.#hash(id);
  }

  /** Ids of the prefix in `slot` are hashed by their counters from now on: what the table holds is rehashed. */
  #takePrefix(slot: number): void {
    this.#slot = slot;
    this.#prefix = generatedPrefix(slot).text;
    if (this.#size > 0) this.#grow(false);
  }

  /** From now on every character is hashed: the table is rebuilt with that hash, at its size. */
  #rehashFull(): this {
    this.#full = true;
    this.#grow(false);
    return this;
  }

  /** Rebuilds the slot array, twice as large (or, `larger` false, as large as it is) with the current hash. */
  #grow(larger = true): Array<Outbound | undefined> {
    const old = this.#slots;
    const length = old === undefined ? FIRST_SLOTS : larger ? old.length * 2 : old.length;
    const slots = new Array<Outbound | undefined>(length).fill(undefined);
    const mask = length - 1;
    if (old !== undefined) {
      for (let i = 0; i < old.length; i++) {
        for (let o = old[i]; o !== undefined; ) {
          const next = o.next;
          // Growing keeps each id's hash; a rebuild at the same size is the switch to the full hash.
          const h = larger ? o.idHash : (o.idHash = this.#hashOf(o));
          const j = h & mask;
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

/** Characters from an id's end that are hashed until a long chain is walked. */
const TAIL = 8;
/**
 * A lookup that passes more messages than this before its own switches the table to hashing every character.
 * With at most one message per slot on average, chains this long do not happen by chance (the
 * longest of 16 000 messages in 16 384 slots is ~7).
 */
const MAX_WALK = 16;

/**
 * A 32-bit hash of a counter below 2^53 (its low and high words mixed; the finaliser of MurmurHash3,
 * so that consecutive counters spread over the low bits the mask keeps).
 */
function hashCounter(n: number): number {
  let h = n < 0x100000000 ? n | 0 : (n | 0) ^ Math.imul(Math.floor(n / 0x100000000), 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * A 32-bit hash of the id's length and its characters from `from` on (FNV-1a steps, then a
 * finalising mix so that ids differing only in their last character — a counter — spread over the
 * low bits the mask keeps). From 0 every character counts: a caller's ids that share a long prefix
 * or suffix must not share a chain. From the last {@link TAIL} characters it is enough for ids
 * that end in a counter or in random characters (generated ids, UUIDs).
 */
function hashId(id: string, from: number): number {
  let h = Math.imul(0x811c9dc5 ^ id.length, 0x01000193);
  for (let i = from; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return h ^ (h >>> 12);
}
