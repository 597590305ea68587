/**
 * A set of message ids that stays small for the ids app servers really generate.
 *
 * The ledger must remember every downstream `message_id` it ever delivered (to count duplicates),
 * and a `Set<string>` of them costs ~60 bytes per id and keeps every id string alive, which the
 * garbage collector then copies and promotes (measured: the emulator's largest allocation site
 * after `JSON.parse`, bench/ccs-e2e.mjs). Real ids are nearly always `<prefix><counter>`: this
 * client's own (`…-<base 36>`), decimal ones (`msg-17`, the emulator's `up-N`), plain numbers.
 * Such an id is split into its prefix and the number its trailing digits spell, and each prefix
 * keeps its numbers as sorted half-open ranges — ids that arrive roughly in order cost nothing per
 * id. Anything else (UUIDs, long or zero-padded counters) goes into a plain `Set`.
 *
 * The counter is the longest trailing run of `[0-9a-z]`, accepted only when it is canonical (no
 * leading `0` unless it is `0` itself); the prefix is the rest and so never ends in `[0-9a-z]`.
 * Each prefix has two number spaces, so that neither kind of counter is cut into pieces by the
 * other: base 36 (runs of at most 10 digits, 36^10 < 2^53) and decimal (runs of decimal digits
 * only, at most 15, 10^15 < 2^53). A run with a letter can only be base 36; an all-decimal run
 * (`17`) could be either (17 or 43), so it is stored in whichever space it extends — a decimal
 * counter stays in one decimal range, while a base-36 counter's `10`, `11`… extend its base-36
 * range — and looked up in both. `prefix + n.toString(radix)` gives back the very same id in
 * either space, and `add` checks both before storing, so each id is stored once and membership
 * is exact.
 */
const MAX_DIGITS_36 = 10;
const MAX_DIGITS_10 = 15;
/**
 * A prefix whose numbers scatter into this many ranges stops taking new ones (inserting in the
 * middle of a sorted array is linear): later ids of that prefix go to the plain set, so the worst
 * case is a `Set` again, never quadratic time.
 */
const MAX_RANGES = 4096;

function isDigit36(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a);
}

/** Sorted, disjoint, non-adjacent half-open ranges `[lo, hi)` as a flat array `lo0, hi0, lo1, hi1…`. */
class Ranges {
  readonly bounds: number[] = [];
  /** Ranges are full: new numbers are not taken (see MAX_RANGES). */
  full = false;

  /** Index of the first range whose `hi` is greater than `n` (its pair index × 2), or `bounds.length`. */
  #search(n: number): number {
    const b = this.bounds;
    let lo = 0;
    let hi = b.length >> 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((b[2 * mid + 1] as number) > n) hi = mid;
      else lo = mid + 1;
    }
    return 2 * lo;
  }

  /** True when adding `n` would extend or join an existing range (no new range). */
  touches(n: number): boolean {
    const b = this.bounds;
    if (b.length === 0) return false;
    if (b[b.length - 1] === n) return true;
    const i = this.#search(n);
    return (i > 0 && b[i - 1] === n) || (i < b.length && b[i] === n + 1);
  }

  has(n: number): boolean {
    const b = this.bounds;
    const i = this.#search(n);
    return i < b.length && (b[i] as number) <= n;
  }

  /** Adds `n`; false when it was there already, undefined when it is new but the ranges are full. */
  add(n: number): boolean | undefined {
    const b = this.bounds;
    const len = b.length;
    // The common case: the next number of a counter.
    if (len > 0 && b[len - 1] === n) {
      b[len - 1] = n + 1;
      return true;
    }
    const i = this.#search(n);
    if (i < len && (b[i] as number) <= n) return false;
    const joinsPrev = i > 0 && b[i - 1] === n;
    const joinsNext = i < len && b[i] === n + 1;
    if (joinsPrev && joinsNext) {
      b.splice(i - 1, 2); // [lo, n) + n + [n + 1, hi) → [lo, hi)
      return true;
    }
    if (joinsPrev) {
      b[i - 1] = n + 1;
      return true;
    }
    if (joinsNext) {
      b[i] = n;
      return true;
    }
    if (len >= 2 * MAX_RANGES) {
      this.full = true;
      return undefined;
    }
    if (i === len) b.push(n, n + 1);
    else b.splice(i, 0, n, n + 1);
    return true;
  }
}

/** The two number spaces of one prefix (the decimal one is created on first use). */
interface Spaces {
  b36: Ranges;
  b10: Ranges | undefined;
}

/** A set of strings, compact for counter-style ids (see the module comment). Answers exactly like `Set<string>`. */
export class IdSet {
  readonly #byPrefix = new Map<string, Spaces>();
  readonly #other = new Set<string>();
  // The last prefix seen, so that ids of one generator skip the map lookup and the prefix slice.
  #lastPrefix = '';
  #last: Spaces | undefined;
  /** The counters `#split` read: base 36 (-1 when the run is too long for it) and decimal (-1 when the run is not all decimal or too long). */
  #n36 = 0;
  #n10 = 0;
  #size = 0;

  /** Number of distinct ids added. */
  get size(): number {
    return this.#size;
  }

  /** Adds `id`; true when it is new, false when it was there already. */
  add(id: string): boolean {
    const split = this.#split(id);
    if (split >= 0) {
      const spaces = this.#spacesFor(id, split);
      const n36 = this.#n36;
      const n10 = this.#n10;
      let added: boolean | undefined;
      if (n10 < 0) {
        // Only base 36 can hold it. add() answers membership itself: the next number of a counter costs one comparison.
        const r = spaces.b36;
        added = r.full ? (r.has(n36) ? false : undefined) : r.add(n36);
      } else {
        const b10 = (spaces.b10 ??= new Ranges());
        if ((n36 >= 0 && spaces.b36.has(n36)) || b10.has(n10) || (this.#other.size > 0 && this.#other.has(id))) return false;
        // Where it extends a range; a fresh run of an all-decimal counter starts in the decimal space.
        const r = n36 >= 0 && !spaces.b36.full && spaces.b36.touches(n36) && !b10.touches(n10) ? spaces.b36 : b10;
        added = r.full ? undefined : r.add(r === b10 ? n10 : n36);
      }
      if (added === false) return false;
      if (added === true) {
        this.#size++;
        return true;
      }
      // undefined: new, but this prefix takes no more ranges; the plain set keeps it.
    }
    const before = this.#other.size;
    this.#other.add(id);
    if (this.#other.size === before) return false;
    this.#size++;
    return true;
  }

  /** Whether `id` was added. */
  has(id: string): boolean {
    const split = this.#split(id);
    if (split >= 0) {
      const spaces = this.#last !== undefined && split === this.#lastPrefix.length && id.startsWith(this.#lastPrefix)
        ? this.#last
        : this.#byPrefix.get(id.slice(0, split));
      if (spaces !== undefined) {
        if (this.#n36 >= 0 && spaces.b36.has(this.#n36)) return true;
        if (this.#n10 >= 0 && spaces.b10 !== undefined && spaces.b10.has(this.#n10)) return true;
      }
    }
    return this.#other.has(id);
  }

  /** Where the canonical counter starts (its values in `#n36`/`#n10`), or -1 when `id` has none. */
  #split(id: string): number {
    const len = id.length;
    let i = len;
    let n36 = 0;
    let n10 = 0;
    let scale36 = 1;
    let scale10 = 1;
    let decimal = true;
    // One past the longest accepted run, to see that a run is longer.
    while (i > 0 && len - i <= MAX_DIGITS_10) {
      const c = id.charCodeAt(i - 1);
      let d: number;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x61 && c <= 0x7a) {
        d = c - 0x61 + 10;
        decimal = false;
      } else break;
      if (len - i < MAX_DIGITS_36) {
        n36 += d * scale36;
        scale36 *= 36;
      }
      if (decimal) {
        n10 += d * scale10;
        scale10 *= 10;
      }
      i--;
    }
    const digits = len - i;
    if (digits === 0) return -1;
    // More digits before these (the run is longer than any space takes), or zero-padded: not canonical.
    if (i > 0 && isDigit36(id.charCodeAt(i - 1))) return -1;
    if (digits > 1 && id.charCodeAt(i) === 0x30) return -1;
    const fits36 = digits <= MAX_DIGITS_36;
    const fits10 = decimal && digits <= MAX_DIGITS_10;
    if (!fits36 && !fits10) return -1;
    this.#n36 = fits36 ? n36 : -1;
    this.#n10 = fits10 ? n10 : -1;
    return i;
  }

  #spacesFor(id: string, split: number): Spaces {
    const last = this.#last;
    if (last !== undefined && split === this.#lastPrefix.length && id.startsWith(this.#lastPrefix)) return last;
    const prefix = id.slice(0, split);
    let spaces = this.#byPrefix.get(prefix);
    if (spaces === undefined) this.#byPrefix.set(prefix, (spaces = { b36: new Ranges(), b10: undefined }));
    this.#lastPrefix = prefix;
    this.#last = spaces;
    return spaces;
  }
}
