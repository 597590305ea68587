/**
 * A set of message ids that stays small for the ids app servers really generate.
 *
 * The ledger must remember every downstream `message_id` it ever delivered (to count duplicates),
 * and a `Set<string>` of them costs ~60 bytes per id and keeps every id string alive, which the
 * garbage collector then copies and promotes (measured: the emulator's largest allocation site
 * after `JSON.parse`, bench/ccs-e2e.mjs). Real ids are nearly always `<prefix><counter>`: this
 * client's own (`…-<base 36>`), `msg-17`, plain numbers. Such an id is split into its prefix and
 * the number its trailing digits spell, and each prefix keeps its numbers as sorted half-open
 * ranges — ids that arrive roughly in order cost nothing per id. Anything else (UUIDs, long or
 * zero-padded counters) goes into a plain `Set`.
 *
 * The split is a bijection, so membership is exact: the counter is the longest trailing run of
 * `[0-9a-z]`, read in base 36, accepted only when it is canonical (no leading `0` unless it is
 * `0` itself) and at most 10 digits (36^10 < 2^53, so the number is exact). The prefix is the rest
 * and so never ends in `[0-9a-z]`; `prefix + n.toString(36)` gives back the very same id.
 */
const MAX_DIGITS = 10;
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

export class IdSet {
  readonly #byPrefix = new Map<string, Ranges>();
  readonly #other = new Set<string>();
  // The last prefix seen, so that ids of one generator skip the map lookup and the prefix slice.
  #lastPrefix = '';
  #lastRanges: Ranges | undefined;
  /** The counter `#split` read. */
  #n = 0;
  #size = 0;

  /** Number of distinct ids added. */
  get size(): number {
    return this.#size;
  }

  /** Adds `id`; true when it is new, false when it was there already. */
  add(id: string): boolean {
    const split = this.#split(id);
    if (split >= 0) {
      const ranges = this.#rangesFor(id, split);
      const n = this.#n;
      // add() answers membership itself: the next number of a counter costs one comparison.
      const added = ranges.full ? (ranges.has(n) ? false : undefined) : ranges.add(n);
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

  has(id: string): boolean {
    const split = this.#split(id);
    if (split >= 0) {
      const ranges = this.#lastRanges !== undefined && split === this.#lastPrefix.length && id.startsWith(this.#lastPrefix)
        ? this.#lastRanges
        : this.#byPrefix.get(id.slice(0, split));
      if (ranges !== undefined && ranges.has(this.#n)) return true;
    }
    return this.#other.has(id);
  }

  /** Where the canonical counter starts (its value in `#n`), or -1 when `id` has none. */
  #split(id: string): number {
    const len = id.length;
    let i = len;
    let n = 0;
    let scale = 1;
    while (i > 0 && len - i < MAX_DIGITS + 1) {
      const c = id.charCodeAt(i - 1);
      let d: number;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x61 && c <= 0x7a) d = c - 0x61 + 10;
      else break;
      n += d * scale;
      scale *= 36;
      i--;
    }
    const digits = len - i;
    if (digits === 0 || digits > MAX_DIGITS) return -1;
    // More digits before these (the run is longer than MAX_DIGITS), or zero-padded: not canonical.
    if (i > 0 && isDigit36(id.charCodeAt(i - 1))) return -1;
    if (digits > 1 && id.charCodeAt(i) === 0x30) return -1;
    this.#n = n;
    return i;
  }

  #rangesFor(id: string, split: number): Ranges {
    const last = this.#lastRanges;
    if (last !== undefined && split === this.#lastPrefix.length && id.startsWith(this.#lastPrefix)) return last;
    const prefix = id.slice(0, split);
    let ranges = this.#byPrefix.get(prefix);
    if (ranges === undefined) this.#byPrefix.set(prefix, (ranges = new Ranges()));
    this.#lastPrefix = prefix;
    this.#lastRanges = ranges;
    return ranges;
  }
}
