import { randomBytes } from 'node:crypto';
import { generatedIdPrefix, type GeneratedIdPrefix } from '@ccs-xmpp/stanza';
import { realClock } from './clock.js';

/**
 * Per-sender unique `message_id`s: a short prefix drawn once per process (PROCESS_PREFIX_LENGTH
 * characters: the start time and random bits, so two processes of one sender share it only with a
 * bounded, tiny probability — see `makeProcessPrefix`) followed by a counter that only grows. Within
 * a process two ids are equal only if the counter wraps, which at 2^53 it does not.
 */
export class MessageIdGenerator {
  /** The fixed part (the default one ends in `-`). */
  readonly prefix: string;
  #next = 0;
  /** Makes the id strings: the table's entry for the prefix when it has a slot, else its own. */
  readonly #ids: PrefixIds;

  /**
   * Its prefix's number in the process's table of prefixes ({@link generatedId}), or -1: its ids
   * are made as strings (`next`) and never kept as counters. Plain-ASCII prefixes have one, up to
   * MAX_PREFIX_SLOTS distinct prefixes per process.
   */
  readonly slot: number;

  /** @param prefix a fixed prefix to use instead of the process-unique one (it must itself be unique per sender). */
  constructor(prefix?: string) {
    this.prefix = prefix ?? processPrefix();
    this.slot = prefixSlot(this.prefix);
    this.#ids = this.slot >= 0 ? (slots[this.slot] as PrefixIds) : new PrefixIds(this.prefix, undefined);
  }

  /** The next id: `<prefix><counter in base 36>`. */
  next(): string {
    return this.#ids.idOf(this.#next++);
  }

  /**
   * The next id as its counter, to be kept instead of the string (only when `slot` is not -1): its
   * text is `generatedId(slot, counter)`, made only where someone reads it. A pending message's id
   * string was 32 bytes kept per message and ~80 ns to make (bench/ANALYSIS.md, tenth pass); the
   * encoder writes the id from the prefix's bytes and the counter (`GcmEncoder.appendGenerated`)
   * and the in-flight table finds the message from the ACK's id by its counter.
   */
  nextCounter(): number {
    return this.#next++;
  }

  /** The id of counter `n`: `<prefix><n in base 36>`. */
  idOf(n: number): string {
    return this.#ids.idOf(n);
  }
}

/**
 * One prefix's data for making its ids as strings, and (with a slot) for the encoder. The table of
 * slots holds these, never a generator or a client: a client made and closed with a prefix of its
 * own leaves this much behind (a few dozen bytes), and all of it is garbage once it is gone.
 */
export class PrefixIds {
  /** The prefix's bytes followed by room for the counter; undefined when the prefix is not plain ASCII. */
  readonly #scratch: Latin1Buffer | undefined;
  readonly #length: number;

  /**
   * @param text the prefix
   * @param encoded its bytes for the encoder (`generatedIdPrefix(text)`), when it has a slot
   */
  constructor(readonly text: string, readonly encoded: GeneratedIdPrefix | undefined) {
    this.#length = text.length;
    if (/^[\x20-\x7e]*$/.test(text)) {
      this.#scratch = Buffer.alloc(text.length + MAX_DIGITS) as Latin1Buffer;
      this.#scratch.write(text, 0, 'latin1');
    }
  }

  /** The id of counter `n`: `<prefix><n in base 36>`. */
  idOf(n: number): string {
    const scratch = this.#scratch;
    if (scratch === undefined) return this.text + n.toString(36);
    // The digits are written after the prefix's bytes and the whole id read back as one flat
    // string. `prefix + digits` would be a rope (a cons string) that V8 copies into a second, flat
    // string the first time the id is hashed or scanned: two strings and a digit string per
    // message instead of one, and 32 bytes more per pending message (bench/ccs-client.mjs memory).
    // One scratch per prefix is shared by every generator of it: each id is read back before the
    // next is written, and nothing else writes there.
    let digits = 1;
    for (let x = n; x >= 36; x = Math.floor(x / 36)) digits++;
    const end = this.#length + digits;
    let i = end;
    do {
      scratch[--i] = DIGITS.charCodeAt(n % 36);
      n = Math.floor(n / 36);
    } while (n > 0);
    return scratch.latin1Slice(0, end);
  }
}

/**
 * Distinct prefixes whose ids may be kept as counters: a process's first 256 distinct plain-ASCII
 * prefixes (the process prefix and each `messageIdPrefix`) take a slot for good; the ids of any
 * other are made as strings (as correct; a little slower, and a pending message keeps its id
 * string). The table holds each prefix's data only (`PrefixIds`), never a generator or a client.
 */
export const MAX_PREFIX_SLOTS = 256;
/** By slot: the prefix's data (`PrefixIds`); a slot is never given back (a pending counter may name it). */
const slots: PrefixIds[] = [];
/** The slot of each prefix in `slots`. */
const slotOf = new Map<string, number>();

/** The slot of `prefix` (shared by every generator with that prefix), or -1 (see `MessageIdGenerator.slot`). */
function prefixSlot(prefix: string): number {
  const known = slotOf.get(prefix);
  if (known !== undefined) return known;
  if (slots.length >= MAX_PREFIX_SLOTS) return -1;
  const encoded = generatedIdPrefix(prefix);
  if (encoded === undefined) return -1;
  slots.push(new PrefixIds(prefix, encoded));
  slotOf.set(prefix, slots.length - 1);
  return slots.length - 1;
}

/** The id of `counter` under the prefix in `slot`: the same string as `next()` of a generator with that prefix gives. */
export function generatedId(slot: number, counter: number): string {
  return (slots[slot] as PrefixIds).idOf(counter);
}

/** The prefix in `slot`, as the encoder takes it (`GcmEncoder.appendGenerated`). */
export function generatedPrefix(slot: number): GeneratedIdPrefix {
  return (slots[slot] as PrefixIds).encoded as GeneratedIdPrefix;
}

/**
 * The counter that `id` spells after `prefix` — exactly as `PrefixIds.idOf` writes one (its inverse): 1–11
 * base-36 digits, lowercase, no leading zero, below 2^53 — or -1. Two ids with the same prefix
 * are equal exactly when they spell the same counter. The digits are read first: most ids that are
 * not generated fail there, before the prefix is compared.
 */
export function counterOf(id: string, prefix: string): number {
  const start = prefix.length;
  const len = id.length;
  if (len <= start || len > start + MAX_DIGITS) return -1;
  let n = 0;
  for (let i = start; i < len; i++) {
    const c = id.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) n = n * 36 + (c - 0x30);
    else if (c >= 0x61 && c <= 0x7a) n = n * 36 + (c - 0x57);
    else return -1;
  }
  // Past 2^53 − 1 the sum is rounded but stays past it.
  if (n > Number.MAX_SAFE_INTEGER) return -1;
  if (len - start > 1 && id.charCodeAt(start) === 0x30) return -1;
  return id.startsWith(prefix) ? n : -1;
}

/**
 * `Buffer.prototype.latin1Slice(start, end)`: the undocumented but long-stable primitive behind
 * `buf.toString('latin1', start, end)`, without its argument juggling (as the stanza encoder uses
 * `latin1Write`).
 */
type Latin1Buffer = Buffer & { latin1Slice(start: number, end: number): string };

/** Base-36 digits of a counter below 2^53. */
const MAX_DIGITS = 11;
const DIGITS = '0123456789abcdefghijklmnopqrstuvwxyz';

/**
 * The URL-safe Base64 alphabet (RFC 4648 §5): 6 bits per character, and not one of them needs
 * escaping in JSON, in XML text or in an XML attribute, or encoding in a URL.
 */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** Bits of the start time in a process prefix: whole seconds modulo 2^18 (a cycle of ~72.8 hours). */
const TIME_BITS = 18;
/** Random bits in a process prefix. */
const RANDOM_BITS = 36;
/** Characters of a process prefix: (18 + 36) / 6 = 9, then the `-` that ends it. */
export const PROCESS_PREFIX_LENGTH = (TIME_BITS + RANDOM_BITS) / 6 + 1;

/**
 * A process prefix for a start at `nowMs` with `random` (at least 6 bytes; the low 6 bits of each
 * are used): 3 characters of the start second modulo 2^18, 6 of random bits, then `-` — 10
 * characters, e.g. `Bn3xq9Zk_-`. Every id goes out twice per message (the stanza id and the JSON)
 * and comes back in its ACK, so its length is paid on every message (the former
 * `<time36><pid36><12 hex>-`, 22–25 characters, cost up to 45 bytes more per message on the wire).
 *
 * Two prefixes are equal only if their processes started in the same second modulo 2^18 s and
 * drew the same 36 random bits. So processes started in different seconds less than ~72 hours
 * apart never share one; for k processes started in the same second the chance that any two share
 * one is below k²/2^37 (100 at once: under 10⁻⁷; 1 000: under 10⁻⁵); two started further apart share
 * one with a chance of 2^-36 if their start seconds are a multiple of 2^18 apart, else never. The
 * `-` is not a counter digit: what follows the last `-` is the counter (the emulator's id set
 * splits `<prefix><counter>` there).
 */
export function makeProcessPrefix(nowMs: number, random: Uint8Array): string {
  const seconds = Math.floor(nowMs / 1000) % 2 ** TIME_BITS;
  let prefix = '';
  for (let shift = TIME_BITS - 6; shift >= 0; shift -= 6) prefix += ALPHABET.charAt((seconds >>> shift) & 63);
  for (let i = 0; i < RANDOM_BITS / 6; i++) prefix += ALPHABET.charAt((random[i] ?? 0) & 63);
  return `${prefix}-`;
}

let cachedPrefix: string | undefined;

/** This process's prefix (`makeProcessPrefix` of its first call's time and crypto-random bytes), computed once. */
export function processPrefix(): string {
  cachedPrefix ??= makeProcessPrefix(realClock.now(), randomBytes(RANDOM_BITS / 6));
  return cachedPrefix;
}

/** One generator per process, shared by every client, so two clients of one sender never collide. */
export const sharedMessageIds = new MessageIdGenerator();
