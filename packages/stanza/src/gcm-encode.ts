/**
 * Outbound GCM encode (PROTOCOL.md "Message framing", "Downstream", "Upstream" ACKs).
 *
 * A CCS stanza is `<message id="ID"><gcm xmlns="google:mobile:data">JSON</gcm></message>`. The JSON
 * must be XML character data, and it must be well-formed XML 1.0 — a real XMPP server drops the
 * whole stream otherwise. So, with checks that find nothing in the common case (and then copy
 * nothing):
 * - `<` and `&` become `&lt;` / `&amp;`, and `>` becomes `&gt;` only after `]]` (XML 1.0 §2.4);
 * - characters JSON allows raw but XML 1.0 forbids (§2.2) — U+FFFE, U+FFFF, lone surrogates, and
 *   C0 controls in text that did not come from `JSON.stringify` — become JSON `\u` escapes, which
 *   `JSON.parse` turns back into the identical string.
 */
import type { DownstreamMessage, OutgoingMessage } from './types.js';

// C0 controls other than TAB/LF/CR: JSON.stringify always escapes them, so only text from
// elsewhere (`encodeJson`) is checked for them.
const C0_CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F]/;

/**
 * True when text that came out of `JSON.stringify` needs rewriting. JSON.stringify already escapes
 * C0 controls and (since ES2019, "well-formed JSON.stringify") lone surrogates, so what is left is
 * `<`, `&`, `]]>`, U+FFFE and U+FFFF. Five `indexOf`s (memchr-like in V8) measured ~10× faster on
 * the CCS mix than one regex with a character class (35 vs 300–500 ns per stanza: irregexp scans a
 * class char by char), and the common answer is "no".
 */
function stringifiedNeedsEscape(json: string): boolean {
  return json.indexOf('<') !== -1 || json.indexOf('&') !== -1 || json.indexOf(']]>') !== -1 ||
    json.indexOf('\uFFFE') !== -1 || json.indexOf('\uFFFF') !== -1;
}

/** `String.prototype.isWellFormed` (ES2024, V8 ≥ 11.1 / Node 20): a native lone-surrogate check. */
const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

function hex4(c: number): string {
  return `\\u${c.toString(16).padStart(4, '0')}`;
}

/**
 * Makes JSON text safe as XML character data (see the module comment). Returns the input itself
 * when nothing needs escaping.
 */
export function escapeJsonForXml(json: string): string {
  if (!stringifiedNeedsEscape(json) && isWellFormed(json) && !C0_CONTROL.test(json)) return json;
  return rewrite(json);
}

/** `escapeJsonForXml` for text that came out of `JSON.stringify` (see `stringifiedNeedsEscape`). */
function escapeStringified(json: string): string {
  return stringifiedNeedsEscape(json) ? rewrite(json) : json;
}

/** The slow path: one pass, rewriting what needs it and copying runs between. */
function rewrite(json: string): string {
  let out = '';
  let last = 0;
  const len = json.length;
  for (let i = 0; i < len; i++) {
    const c = json.charCodeAt(i);
    let rep: string;
    if (c === 0x3c) rep = '&lt;';
    else if (c === 0x26) rep = '&amp;';
    else if (c === 0x3e) {
      // Before index 2 the look-behind reads NaN, which is not `]`.
      if (json.charCodeAt(i - 1) !== 0x5d || json.charCodeAt(i - 2) !== 0x5d) continue;
      rep = '&gt;';
    } else if (c < 0x20) {
      if (c === 0x09 || c === 0x0a || c === 0x0d) continue;
      rep = hex4(c);
    } else if (c >= 0xd800 && c <= 0xdbff) {
      // Past the end charCodeAt gives NaN, which is no low surrogate: a high one there is alone.
      const next = json.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++; // a well-formed pair: an astral character, kept as is
        continue;
      }
      rep = hex4(c);
    } else if ((c >= 0xdc00 && c <= 0xdfff) || c === 0xfffe || c === 0xffff) {
      rep = hex4(c);
    } else continue;
    out += json.slice(last, i) + rep;
    last = i + 1;
  }
  // With nothing rewritten this is `'' + json.slice(0)`: the input itself.
  return out + json.slice(last);
}

/**
 * The stanza `id` attribute value for a `message_id`, escaped for a double-quoted attribute; or
 * `undefined` when the id holds a character XML 1.0 cannot carry at all (the id then stays only in
 * the JSON, where it is `\u`-escaped, and the stanza goes out without an `id`).
 */
export function stanzaIdAttr(id: string): string | undefined {
  let out = '';
  let last = 0;
  const len = id.length;
  for (let i = 0; i < len; i++) {
    const c = id.charCodeAt(i);
    let rep: string;
    // By range, so that each comparison decides alone: controls, the BMP below the surrogates
    // (three characters there need escaping), high surrogates, low ones, the rest of the BMP.
    if (c < 0x20) {
      if (c === 0x09) rep = '&#9;';
      else if (c === 0x0a) rep = '&#10;';
      else if (c === 0x0d) rep = '&#13;';
      else return undefined;
    } else if (c < 0xd800) {
      if (c === 0x22) rep = '&quot;';
      else if (c === 0x26) rep = '&amp;';
      else if (c === 0x3c) rep = '&lt;';
      else continue;
    } else if (c < 0xdc00) {
      // A high surrogate must start a pair (past the end charCodeAt gives NaN: no pair).
      const next = id.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next < 0xe000)) return undefined;
      i++;
      continue;
    } else if (c < 0xe000 || c >= 0xfffe) return undefined;
    else continue;
    out += id.slice(last, i) + rep;
    last = i + 1;
  }
  // With nothing rewritten this is `'' + id.slice(0)`: the input itself.
  return out + id.slice(last);
}

const OPEN_NO_ID = '<message><gcm xmlns="google:mobile:data">';
const OPEN_ID = '<message id="';
const AFTER_ID = '"><gcm xmlns="google:mobile:data">';
const CLOSE = '</gcm></message>';

/**
 * Matches any character other than printable ASCII that needs no escaping in a JSON string, in XML
 * character data or in a double-quoted XML attribute (so it matches controls, DEL, `"`, `&`, `<`,
 * `>`, `\\` and all non-ASCII).
 * A string without any of these is spliced between quotes as is, and its UTF-8 is its Latin-1.
 * Measured on the mix's 152-char tokens: this negated ASCII class costs ~80 ns per token, about a
 * quarter of `JSON.stringify(token)` and half of an equivalent class that lists the surrogate
 * range; it also answers for the stanza `id` attribute at the same time.
 */
const NOT_PLAIN_ASCII = /[^\u0020\u0021\u0023-\u0025\u0027-\u003B\u003D\u003F-\u005B\u005D-\u007E]/;

/** True when `s` is printable ASCII that JSON, XML text and an XML attribute all carry unchanged. */
export function isPlainAscii(s: string): boolean {
  return !NOT_PLAIN_ASCII.test(s);
}

/** The `{"to":…,"message_id":…,"message_type":"ack"}` JSON for an ACK (not yet XML-escaped). */
export function ackJson(to: string, messageId: string): string {
  return `{"to":${JSON.stringify(to)},"message_id":${JSON.stringify(messageId)},"message_type":"ack"}`;
}

/**
 * A whole `<message>` stanza as a string, from JSON text (escaped here) and an optional stanza id.
 * The string form for callers that do not use a `GcmEncoder`; `socket.write(string)` encodes it.
 */
export function gcmStanzaString(json: string, stanzaId?: string): string {
  return envelope(escapeJsonForXml(json), stanzaId);
}

/** `GcmEncoder.encode`, as a string: any JSON object as a stanza. */
export function encodeGcmString(payload: object, stanzaId?: string): string {
  return envelope(escapeStringified(JSON.stringify(payload)), stanzaId);
}

const ACK_1 = '<message id="';
const ACK_2 = '"><gcm xmlns="google:mobile:data">{"to":"';
const ACK_3 = '","message_id":"';
const ACK_4 = '","message_type":"ack"}</gcm></message>';

/** `GcmEncoder.encodeAck`, as a string. */
export function encodeAckString(to: string, messageId: string): string {
  // The hot case: token and id need no escaping anywhere, so they are spliced as they are.
  if (isPlainAscii(to) && isPlainAscii(messageId)) return ACK_1 + messageId + ACK_2 + to + ACK_3 + messageId + ACK_4;
  return envelope(escapeStringified(ackJson(to, messageId)), messageId);
}

function envelope(body: string, stanzaId: string | undefined): string {
  const id = stanzaId === undefined ? undefined : stanzaIdAttr(stanzaId);
  return id === undefined ? OPEN_NO_ID + body + CLOSE : OPEN_ID + id + AFTER_ID + body + CLOSE;
}

/** Options of `GcmEncoder`. */
export interface GcmEncoderOptions {
  /**
   * Bytes per slab (default 64 KiB). Stanzas are carved out of the current slab; a stanza larger
   * than a slab gets a buffer of its own.
   */
  slabSize?: number;
}

// Prebuilt bytes for the constant parts of the envelope.
const B_OPEN_NO_ID = Buffer.from(OPEN_NO_ID);
const B_OPEN_ID = Buffer.from(OPEN_ID);
const B_AFTER_ID = Buffer.from(AFTER_ID);
const B_CLOSE = Buffer.from(CLOSE);
const B_ACK_1 = Buffer.from(ACK_1);
const B_ACK_2 = Buffer.from(ACK_2);
const B_ACK_3 = Buffer.from(ACK_3);
const B_ACK_4 = Buffer.from(ACK_4);
// The ACK a CCS server writes (see encodeServerAck).
const B_SERVER_ACK_1 = Buffer.from(`${OPEN_NO_ID}{"from":"`);
const B_SERVER_ACK_2 = Buffer.from('","message_id":"');
const B_SERVER_ACK_3 = Buffer.from(`","message_type":"ack"}${CLOSE}`);
const ENVELOPE_MAX = B_OPEN_ID.length + B_AFTER_ID.length + B_CLOSE.length;

/**
 * `Buffer.prototype.utf8Write(string, offset)`: the undocumented but long-stable primitive behind
 * `buf.write(string, offset, 'utf8')`, without its argument juggling (measurably cheaper for the
 * short strings of an ACK). It returns the number of bytes written.
 */
type Slab = Buffer & { utf8Write(s: string, offset: number): number; latin1Write(s: string, offset: number): number };

/**
 * What an encoder holds before its first stanza: no room, so the first write takes a real slab
 * through the same check every write makes. A client keeps one encoder per connection, and its
 * connections open before anything is sent (or stay idle as spares): 64 KiB of memory outside the
 * heap each, from the start, for nothing (bench/ccs-client.mjs, idle connections).
 */
const NO_SLAB = Buffer.alloc(0) as Slab;
const NO_VIEW = new DataView(NO_SLAB.buffer, NO_SLAB.byteOffset, 0);

// --- the plain-JSON writer behind GcmEncoder.encodeDownstream's fast path ---------------------

/** Below this much room the fast path starts a fresh slab before trying (a typical message is ~300 bytes). */
const PLAIN_MIN_ROOM = 1024;
/** A fresh slab for a message that did not fit has at least this much room; a bigger one goes the general way. */
const PLAIN_FRESH_ROOM = 8 * 1024;
/** Deeper objects go to JSON.stringify (which also reports cycles). */
const PLAIN_MAX_DEPTH = 4;
/**
 * Longer strings are checked by NOT_PLAIN_ASCII and copied natively; shorter ones byte by byte in JS.
 * The regular expression and the native copy cost a call each, which the loop only catches up with
 * past ~100 characters: at 24 (the first setting) the ids and the typical 30-character texts took the
 * slow way, and moving the threshold to 128 made encodeDownstream ~15% faster on the bench message
 * (interleaved runs, ~580 vs ~680 ns), no slower with a 256-character body.
 */
const PLAIN_NATIVE_FROM = 128;
const B_TRUE = Buffer.from('true');
const B_FALSE = Buffer.from('false');
const B_NULL = Buffer.from('null');
const B_ID_FIELD = Buffer.from('"message_id":');
const hasOwn = Object.prototype.hasOwnProperty;

/** The key to GeneratedIdPrefix's constructor; not exported, so only `generatedIdPrefix` makes one. */
const MAKE_PREFIX: unique symbol = Symbol('GeneratedIdPrefix');

// The module's only ways to make a GeneratedIdPrefix and to reach its bytes, set by its static block
// (declared before the class: the block runs as the class is defined).
let makePrefix: (text: string) => GeneratedIdPrefix;
let isPrefix: (value: unknown) => value is GeneratedIdPrefix;
let bytesOf: (prefix: GeneratedIdPrefix) => Uint8Array;
let wordsOfPrefix: (prefix: GeneratedIdPrefix) => Uint32Array;

/**
 * The fixed part of generated `message_id`s (`<prefix><counter in base 36>`), as text and as bytes,
 * for a sender that keeps a message's counter instead of its id string (`appendGenerated`): the id
 * is written into the slab from these bytes and the counter's digits, and exists as a string only
 * where someone reads it. Opaque: only {@link generatedIdPrefix} makes one, and it takes plain-ASCII
 * prefixes only (isPlainAscii), whose bytes go into the JSON and the stanza attribute unescaped, as
 * the string path would write them. The bytes are written unchecked, so they are private and made
 * from `text` here; `appendGenerated`, `encodeGenerated` and `generatedIdText` refuse any other
 * object with a TypeError (an object of this shape made by hand could say one id in `text` and
 * write another, or bytes that are no well-formed XML).
 */
export class GeneratedIdPrefix {
  /** The prefix as text. */
  readonly text: string;
  /** `text`'s bytes (Latin-1: plain ASCII, one byte per character). */
  readonly #bytes: Uint8Array;
  /** `#bytes` as words for `writeWords` (the encoder's stores). */
  readonly #words: Uint32Array;

  /** Not callable from outside this module: use {@link generatedIdPrefix}. */
  private constructor(key: symbol, text: string) {
    if (key !== MAKE_PREFIX) throw new TypeError('a GeneratedIdPrefix is made by generatedIdPrefix(text) only');
    this.text = text;
    this.#bytes = Buffer.from(text, 'latin1');
    this.#words = wordsOf(this.#bytes);
    Object.freeze(this);
  }

  static {
    makePrefix = (text) => new GeneratedIdPrefix(MAKE_PREFIX, text);
    isPrefix = (value) => typeof value === 'object' && value !== null && #bytes in value;
    bytesOf = (prefix) => prefix.#bytes;
    wordsOfPrefix = (prefix) => prefix.#words;
  }
}

/** Refuses anything that `generatedIdPrefix` did not make (a look at a private field, no more). */
function checkPrefix(prefix: GeneratedIdPrefix): void {
  if (!isPrefix(prefix)) throw new TypeError('prefix must be a GeneratedIdPrefix made by generatedIdPrefix(text)');
}

/** The {@link GeneratedIdPrefix} of `text`, or undefined when it is not plain ASCII (those ids are written from strings). */
export function generatedIdPrefix(text: string): GeneratedIdPrefix | undefined {
  if (!isPlainAscii(text)) return undefined;
  return makePrefix(text);
}

/**
 * The generated id `<prefix><counter in base 36>` as a string (what `appendGenerated` writes).
 * @throws {TypeError} when `prefix` was not made by `generatedIdPrefix`.
 */
export function generatedIdText(prefix: GeneratedIdPrefix, counter: number): string {
  checkPrefix(prefix);
  return prefix.text + counter.toString(36);
}

/** Base-36 digit bytes, `0`–`9` then `a`–`z` (as `Number.prototype.toString(36)` writes them). */
const DIGIT_BYTES = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz', 'latin1');
/** Base-36 digits of a counter below 2^53. */
const MAX_COUNTER_DIGITS = 11;

/**
 * Writes `prefix` and `counter`'s base-36 digits at `o` (no quotes); the offset after them, or
 * NO_ROOM. The digits are those of `counter.toString(36)` for every integer 0 ≤ counter < 2^53.
 */
function writeGeneratedId(buf: Slab, view: DataView, o: number, limit: number, prefix: Uint8Array, words: Uint32Array, counter: number): number {
  if (o + prefix.length + MAX_COUNTER_DIGITS > limit) return NO_ROOM;
  // Up to 3 bytes past the prefix: the digits and what follows them write over them.
  o = writeWords(view, o, words, prefix.length);
  let digits = 1;
  for (let x = counter; x >= 36; x = Math.floor(x / 36)) digits++;
  const end = o + digits;
  let i = end;
  let n = counter;
  do {
    buf[--i] = DIGIT_BYTES[n % 36] as number;
    n = Math.floor(n / 36);
  } while (n > 0);
  return end;
}

/** Ids up to this long are copied into the JSON byte by byte, longer ones by `copyWithin`. */
const SHORT_COPY = 32;

/** The plain writer's answers other than an offset: the value needs the general path; the slab is full. */
const NOT_PLAIN = -1;
const NO_ROOM = -2;

/**
 * Writes `s` at `o` — between quotes when `quoted` — if it is plain ASCII (isPlainAscii: nothing
 * to escape for JSON, XML text or an attribute). Returns the offset after it, or NOT_PLAIN / NO_ROOM.
 */
function writePlainString(buf: Slab, o: number, limit: number, s: string, quoted: boolean): number {
  const len = s.length;
  if (o + len + 2 > limit) return NO_ROOM;
  if (quoted) buf[o++] = 0x22;
  if (len >= PLAIN_NATIVE_FROM) {
    if (NOT_PLAIN_ASCII.test(s)) return NOT_PLAIN;
    o += buf.latin1Write(s, o);
  } else {
    for (let i = 0; i < len; i++) {
      const c = s.charCodeAt(i);
      // The complement of NOT_PLAIN_ASCII's class: printable ASCII except " & < > \.
      if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x26 || c === 0x3c || c === 0x3e || c === 0x5c) return NOT_PLAIN;
      buf[o++] = c;
    }
  }
  if (quoted) buf[o++] = 0x22;
  return o;
}

/**
 * The keys of the last plain messages, by their place in the message (the n-th key written, counting
 * into nested objects), each with its bytes as written: `"key":`. A sender's messages nearly always
 * have one shape (the same keys in the same order, mostly the very same strings), so from the second
 * message on a key is one string comparison and a few 4-byte stores instead of a check and a store
 * per character (a key that needs escaping, or longer than a slot, is never kept). Shared by every
 * encoder of the process: it holds only keys and their bytes, which never depend on the encoder.
 */
const KEY_SLOTS = 32;
/** Bytes per slot (a multiple of 4): keys of up to KEY_SLOT_BYTES - 3 characters are kept. */
const KEY_SLOT_BYTES = 32;
const keyMemo: (string | undefined)[] = new Array<string | undefined>(KEY_SLOTS).fill(undefined);
const keyMemoBytes = new Uint8Array(KEY_SLOTS * KEY_SLOT_BYTES);
/** The same bytes as words in this machine's byte order, written back with `setUint32(…, LITTLE_ENDIAN)`. */
const keyMemoWords = new Uint32Array(keyMemoBytes.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** `bytes` as words in this machine's byte order (the last one padded with zeros), for `writeWords`. */
function wordsOf(bytes: Uint8Array): Uint32Array {
  const padded = new Uint8Array((bytes.length + 3) & ~3);
  padded.set(bytes);
  return new Uint32Array(padded.buffer);
}

/**
 * Writes the `len` bytes of `words` at `o`, four at a time (`DataView` stores, which optimised code
 * inlines, where `Uint8Array.prototype.set` is a call out of it: the envelope's four constants and
 * the copy of the id cost ~3% of the client's CPU at 100 × 4 as `set` and `copyWithin`, bench/ANALYSIS.md,
 * eleventh pass). Up to 3 bytes past `o + len` are written too: the caller writes over them, and
 * the slab has room for them. Returns `o + len`. `firstWord`: where in `words` the bytes start (the key memo's slots).
 */
function writeWords(view: DataView, o: number, words: Uint32Array, len: number, firstWord = 0): number {
  for (let i = 0; i < len; i += 4) view.setUint32(o + i, words[firstWord + (i >> 2)] as number, LITTLE_ENDIAN);
  return o + len;
}

// The plain writer's constants as words (writeWords).
const W_OPEN_ID = wordsOf(B_OPEN_ID);
const W_AFTER_ID = wordsOf(B_AFTER_ID);
const W_ID_FIELD = wordsOf(B_ID_FIELD);
const W_CLOSE = wordsOf(B_CLOSE);
/** The place of the next key in the message being written (set to 0 for each message). */
let keyPlace = 0;

/**
 * Writes `key` and its colon, `"key":`, at `o` if it is plain, as writePlainString and a colon would
 * (NO_ROOM on the same condition: the colon lands in the room kept for B_CLOSE): from the memo when
 * the key at this place of the last message was the same. The memo's words may write up to 3 bytes
 * past the colon, which are not yet anyone's: what follows is written over them, and they are inside
 * the slab (the room kept for B_CLOSE is more than 3 bytes).
 */
function writePlainKey(buf: Slab, view: DataView, o: number, limit: number, key: string): number {
  const place = keyPlace++;
  if (place < KEY_SLOTS && keyMemo[place] === key) {
    const n = key.length + 3;
    if (o + n - 1 > limit) return NO_ROOM;
    return writeWords(view, o, keyMemoWords, n, place * (KEY_SLOT_BYTES >> 2));
  }
  const at = o;
  o = writePlainString(buf, o, limit, key, true);
  if (o < 0) return o;
  buf[o++] = 0x3a; // :
  if (place < KEY_SLOTS && o - at <= KEY_SLOT_BYTES) {
    keyMemoBytes.set(buf.subarray(at, o), place * KEY_SLOT_BYTES);
    keyMemo[place] = key;
  }
  return o;
}

/** Writes a non-negative integer below 2^31 in decimal, as JSON.stringify does (-0 as `0`). */
function writeSmallInt(buf: Slab, o: number, n: number): number {
  let digits = 1;
  for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
  let i = o + digits;
  let x = n;
  do {
    buf[--i] = 0x30 + (x % 10);
    x = Math.floor(x / 10);
  } while (x > 0);
  return o + digits;
}

/**
 * Writes `obj` (a plain object: its prototype is Object.prototype) as JSON.stringify would, if
 * everything in it is plain; the offset after it, or NOT_PLAIN / NO_ROOM.
 */
function writePlainObject(buf: Slab, view: DataView, o: number, limit: number, obj: Record<string, unknown>, depth: number): number {
  if (depth > PLAIN_MAX_DEPTH || typeof obj['toJSON'] === 'function') return NOT_PLAIN;
  buf[o++] = 0x7b; // {
  let first = true;
  for (const key in obj) {
    // for-in also lists inherited enumerable keys, which JSON.stringify ignores: leave those to it.
    if (!hasOwn.call(obj, key)) return NOT_PLAIN;
    const v = obj[key];
    // Omitted, as by JSON.stringify (which also omits functions and symbols: those go its way).
    if (v === undefined) continue;
    const t = typeof v;
    // No room check of its own: the key's (writePlainString) refuses once `o` is past `limit`, and
    // a comma or a value written before it lands in the room kept for B_CLOSE (up to 11 bytes: a
    // colon and a 10-digit integer), which the check at the closing brace then refuses.
    if (!first) buf[o++] = 0x2c; // ,
    first = false;
    o = writePlainKey(buf, view, o, limit, key);
    if (o < 0) return o;
    if (t === 'string') {
      o = writePlainString(buf, o, limit, v as string, true);
      if (o < 0) return o;
    } else if (t === 'number') {
      const n = v as number;
      if (!(n >= 0 && n <= 0x7fffffff && Math.floor(n) === n)) return NOT_PLAIN;
      o = writeSmallInt(buf, o, n);
    } else if (t === 'boolean') {
      const b = v ? B_TRUE : B_FALSE;
      buf.set(b, o);
      o += b.length;
    } else if (v === null) {
      buf.set(B_NULL, o);
      o += B_NULL.length;
    } else if (Object.getPrototypeOf(v) === Object.prototype) {
      // Only a plain object has that prototype (a function, BigInt or symbol has its own).
      o = writePlainObject(buf, view, o, limit, v as Record<string, unknown>, depth + 1);
      if (o < 0) return o;
    } else {
      // Arrays, BigInts, and objects JSON.stringify treats specially or that are not plain data:
      // boxed primitives (`new String('a')` is "a"), raw JSON, class instances, null prototypes.
      return NOT_PLAIN;
    }
  }
  if (o + 1 > limit) return NO_ROOM;
  buf[o++] = 0x7d; // }
  return o;
}

/**
 * Encodes CCS stanzas into bytes ready for `socket.write`.
 *
 * **Buffer contract.** Each call returns a `Buffer` view carved from a slab the encoder reuses
 * across calls: the constant envelope is copied from prebuilt bytes and the JSON is UTF-8 encoded
 * straight into the slab — one encode, no intermediate string of the whole stanza. A region handed
 * out is not written again until its owner calls `rewind()` (every view written and called back):
 * a full slab is left to the views still referencing it, and the encoder starts a new one. This
 * matters because `socket.write(buf)` keeps a reference, not a copy, while the write is queued; a
 * view into a buffer that is overwritten on the next encode would corrupt queued stanzas. So the
 * result may be kept, queued and written later, with no copy. Do not use its `.buffer` /
 * `.byteOffset` as if it owned the memory.
 *
 * One encoder per connection (it is not shared state across threads, just a cursor). It takes
 * its first slab with its first stanza: an encoder that never encodes holds no buffer.
 */
export class GcmEncoder {
  readonly #slabSize: number;
  #slab: Slab;
  #offset = 0;
  /** Where the run of `appendDownstream` stanzas not yet taken starts (`#offset`: none). */
  #runStart = 0;
  /** Parts of the run left in earlier slabs, oldest first (a run that crossed a slab boundary). */
  #runParts: Buffer[] | undefined = undefined;
  /** A DataView of the slab, for the plain writer's 4-byte stores of memoised keys (writePlainKey). */
  #view = NO_VIEW;
  /**
   * The generated id being written by `#writePlainAt` without a string (`appendGenerated`): its
   * prefix (checked when it changes, so a sender's run of one prefix is checked once), the prefix's
   * bytes and the counter.
   */
  #genFrom: GeneratedIdPrefix | undefined = undefined;
  #genPrefix: Uint8Array = NO_SLAB;
  #genWords: Uint32Array = new Uint32Array(0);
  #genCounter = 0;

  constructor(options: GcmEncoderOptions = {}) {
    this.#slabSize = Math.max(1024, options.slabSize ?? 64 * 1024);
    this.#slab = NO_SLAB;
  }

  /**
   * Encodes any JSON object as a CCS stanza (the emulator sends upstream, ACK, NACK, receipt and
   * control messages through this). `stanzaId` defaults to none.
   * @throws {TypeError} if `JSON.stringify` does (a cycle, a BigInt).
   */
  encode(payload: object, stanzaId?: string): Buffer {
    return this.#claim(this.#write(escapeStringified(JSON.stringify(payload)), stanzaId));
  }

  /**
   * Encodes a downstream message; the stanza `id` is its `message_id` (so a stanza error can be
   * matched to it). Run `validateDownstream` first: the encoder does not judge content.
   */
  encodeDownstream(msg: DownstreamMessage): Buffer;
  /**
   * `messageId` is the id a sender assigned to a message that has no `message_id` of its own: it
   * goes out as the stanza id and as the JSON's last field, as if the message had been copied with
   * it (`Object.assign({}, msg, { message_id })`), without the copy.
   */
  encodeDownstream(msg: OutgoingMessage, messageId: string): Buffer;
  encodeDownstream(msg: OutgoingMessage, messageId?: string): Buffer {
    return this.#claim(this.#downstreamAt(msg, messageId));
  }

  /**
   * `encodeDownstream` without a `Buffer` of its own: the stanza is added to the encoder's run, and
   * `takeRun()` hands over every stanza added since the last call as one buffer (each view is an
   * object of ~100 bytes on the heap, garbage once the stream has joined its batch: a tenth of what
   * a send allocates, bench/ccs-client.mjs). Returns the stanza's length in bytes. The stanzas of the
   * other methods are not part of the run: take the run first when their order relative to it matters.
   * @throws {TypeError} as `encodeDownstream` does.
   */
  appendDownstream(msg: OutgoingMessage, messageId?: string): number {
    const start = this.#downstreamAt(msg, messageId);
    return this.#offset - start;
  }

  /**
   * `appendDownstream(msg, generatedIdText(prefix, counter))`, byte for byte, without the id string:
   * the plain path writes the prefix's bytes and the counter's digits into the slab (a sender keeps
   * its messages' counters, not their id strings, while they are pending). A message the plain path
   * does not take, or that has an own `message_id` key, goes the general way with the id's text.
   * `counter` is meant to be an integer, 0 ≤ counter < 2^53 (a generator's); any other number goes
   * the general way too, as `generatedIdText` spells it.
   * @throws {TypeError} as `encodeDownstream` does, and when `prefix` was not made by
   * `generatedIdPrefix` (nothing is written).
   */
  appendGenerated(msg: OutgoingMessage, prefix: GeneratedIdPrefix, counter: number): number {
    const start = this.#generatedAt(msg, prefix, counter);
    return this.#offset - start;
  }

  /**
   * `encodeDownstream(msg, generatedIdText(prefix, counter))` without the id string, as `appendGenerated` writes it.
   * @throws {TypeError} as `appendGenerated` does.
   */
  encodeGenerated(msg: OutgoingMessage, prefix: GeneratedIdPrefix, counter: number): Buffer {
    return this.#claim(this.#generatedAt(msg, prefix, counter));
  }

  /** The run of `appendDownstream` stanzas not yet taken, in order, as one buffer; undefined when there is none. */
  takeRun(): Buffer | undefined {
    const start = this.#runStart;
    const end = this.#offset;
    this.#runStart = end;
    const parts = this.#runParts;
    if (parts === undefined) return end > start ? this.#slab.subarray(start, end) : undefined;
    // Once per slab at most: the run began in the slab before this one.
    this.#runParts = undefined;
    if (end > start) parts.push(this.#slab.subarray(start, end));
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  /**
   * Writes the next stanzas from the start of the current slab again, over what it handed out
   * before: call it only when no buffer this encoder returned is read any more (each one written to
   * the socket and called back), the exception to the buffer contract above. Reusing the slab keeps
   * the writes in memory that is still in the cache and spares a fresh slab per 64 KiB. Nothing
   * happens while a run is pending (appended and not yet taken): returns whether it rewound.
   */
  rewind(): boolean {
    if (this.#runStart !== this.#offset || this.#runParts !== undefined) return false;
    this.#offset = 0;
    this.#runStart = 0;
    return true;
  }

  /** Writes a downstream stanza at the offset (moving it past the stanza) and returns where the stanza starts. */
  #downstreamAt(msg: OutgoingMessage, messageId: string | undefined): number {
    const own = msg.message_id;
    const appended = own === undefined ? messageId : undefined;
    const id = appended ?? own;
    // An own `message_id: undefined` keeps its place in a copy: only the general path does that.
    if (typeof id === 'string' && (appended === undefined || !hasOwn.call(msg, 'message_id'))) {
      const start = this.#writePlainDownstream(msg as Record<string, unknown>, id, appended !== undefined);
      if (start >= 0) return start;
    }
    const json = JSON.stringify(appended === undefined ? msg : Object.assign({}, msg, { message_id: appended }));
    return this.#write(escapeStringified(json), typeof id === 'string' ? id : undefined);
  }

  /** Writes a downstream stanza with a generated id (`appendGenerated`) and returns where it starts. */
  #generatedAt(msg: OutgoingMessage, prefix: GeneratedIdPrefix, counter: number): number {
    // writeGeneratedId's digits are toString(36)'s for integers 0 ≤ counter < 2^53 only: a negative,
    // fractional or NaN counter came out as a NUL byte (no well-formed XML), a larger one with other
    // digits, and Infinity never ended its digit count. Any other number goes the general way, so the
    // bytes are `generatedIdText`'s for every number, as promised (a sender's counters never get there).
    if (prefix !== this.#genFrom) {
      checkPrefix(prefix);
      this.#genFrom = prefix;
      this.#genPrefix = bytesOf(prefix);
      this.#genWords = wordsOfPrefix(prefix);
    }
    if (counter >= 0 && counter <= Number.MAX_SAFE_INTEGER && Math.floor(counter) === counter && msg.message_id === undefined && !hasOwn.call(msg, 'message_id')) {
      this.#genCounter = counter;
      const start = this.#writePlainDownstream(msg as Record<string, unknown>, undefined, true);
      if (start >= 0) return start;
    }
    return this.#downstreamAt(msg, generatedIdText(prefix, counter));
  }

  /**
   * The stanza from `start` to the offset as a view of its own. A run of appended stanzas before it
   * stays the run's: its part in front of the stanza is put aside, and the run goes on after it.
   */
  #claim(start: number): Buffer {
    const end = this.#offset;
    if (this.#runStart < start) (this.#runParts ??= []).push(this.#slab.subarray(this.#runStart, start));
    this.#runStart = end;
    return this.#slab.subarray(start, end);
  }

  /**
   * `encodeDownstream` for the messages nearly everyone sends: objects of plain-ASCII strings,
   * small non-negative integers, booleans and null, nested a few levels. The JSON is written
   * straight into the slab, byte for byte what `JSON.stringify` + the envelope would give, with no
   * intermediate string (measured ~40% cheaper per message than stringify + encode, and no
   * garbage: `JSON.stringify` builds its result from several parts, then it is flattened and
   * copied again). Anything else — escapes, non-ASCII, `toJSON`, arrays, other numbers, inherited
   * keys, deep nesting, no room left — returns -1 before the offset moves, and the general path
   * encodes the message from the start. Otherwise the offset moves past the stanza, and it returns
   * where the stanza starts.
   */
  #writePlainDownstream(msg: Record<string, unknown>, id: string | undefined, appendId: boolean): number {
    if (Object.getPrototypeOf(msg) !== Object.prototype) return -1;
    // Most messages fit in what is left of the slab; one that does not is tried once more at the
    // start of a fresh one (the size of a message is only known once it is written).
    if (this.#slab.length - this.#offset < PLAIN_MIN_ROOM) this.#newSlab(PLAIN_FRESH_ROOM);
    let o = this.#writePlainAt(msg, id, appendId);
    if (o === NO_ROOM && this.#offset > 0) {
      this.#newSlab(PLAIN_FRESH_ROOM);
      o = this.#writePlainAt(msg, id, appendId);
    }
    if (o < 0) return -1;
    const start = this.#offset;
    this.#offset = o;
    return start;
  }

  /** The plain message written at the slab's offset (not yet claimed): the offset after it, or NOT_PLAIN / NO_ROOM. */
  #writePlainAt(msg: Record<string, unknown>, id: string | undefined, appendId: boolean): number {
    const slab = this.#slab;
    const limit = slab.length - B_CLOSE.length;
    let o = this.#offset;
    const view = this.#view;
    // No room check: #writePlainDownstream leaves at least PLAIN_MIN_ROOM here. Each constant is
    // written as words (writeWords), its last up to 3 bytes past it written over by what follows.
    o = writeWords(view, o, W_OPEN_ID, B_OPEN_ID.length);
    const idAt = o;
    // No id string: a generated id (`appendGenerated`), written from its prefix's bytes and counter.
    o = id === undefined ? writeGeneratedId(slab, view, o, limit, this.#genPrefix, this.#genWords, this.#genCounter) : writePlainString(slab, o, limit, id, false);
    if (o < 0) return o;
    const idEnd = o;
    if (o + B_AFTER_ID.length > limit) return NO_ROOM;
    o = writeWords(view, o, W_AFTER_ID, B_AFTER_ID.length);
    keyPlace = 0;
    o = writePlainObject(slab, view, o, limit, msg, 0);
    if (o < 0) return o;
    if (appendId) {
      // Reopen the object for its last field: `{}` becomes `{"message_id":…}`, `{…}` `{…,"message_id":…}`.
      o--;
      if (o + B_ID_FIELD.length + (idEnd - idAt) + 4 > limit) return NO_ROOM;
      if (slab[o - 1] !== 0x7b) slab[o++] = 0x2c;
      o = writeWords(view, o, W_ID_FIELD, B_ID_FIELD.length);
      // The id was judged plain for the stanza attribute: its bytes are copied, not checked again
      // (a short one byte by byte: copyWithin is a call out of optimised code).
      slab[o++] = 0x22;
      const idLength = idEnd - idAt;
      if (idLength <= SHORT_COPY) for (let k = idAt; k < idEnd; k++) slab[o++] = slab[k] as number;
      else {
        slab.copyWithin(o, idAt, idEnd);
        o += idLength;
      }
      slab[o++] = 0x22;
      slab[o++] = 0x7d;
    }
    // B_CLOSE is 16 bytes, whole words: nothing past the room kept for it is written.
    return writeWords(view, o, W_CLOSE, B_CLOSE.length);
  }

  /** Encodes the ACK of an upstream message or receipt: `{"to":…,"message_id":…,"message_type":"ack"}`, stanza id = `messageId`. */
  encodeAck(to: string, messageId: string): Buffer {
    if (!isPlainAscii(to) || !isPlainAscii(messageId)) return this.#claim(this.#write(escapeStringified(ackJson(to, messageId)), messageId));
    // The hot case: prebuilt bytes around the two strings, spliced unescaped.
    return this.#splice(B_ACK_1, messageId, B_ACK_2, to, B_ACK_3, messageId, B_ACK_4);
  }

  /**
   * Encodes the ACK a CCS server sends for a downstream message (for servers and emulators):
   * `{"from":…,"message_id":…,"message_type":"ack"}`, `from` left out when undefined and
   * `registration_id` added when given; no stanza id.
   */
  encodeServerAck(from: string | undefined, messageId: string, registrationId?: string): Buffer {
    if (from !== undefined && registrationId === undefined && isPlainAscii(from) && isPlainAscii(messageId)) {
      return this.#splice(B_SERVER_ACK_1, from, B_SERVER_ACK_2, messageId, B_SERVER_ACK_3);
    }
    // JSON.stringify leaves out the fields that are undefined.
    return this.encode({ from, message_id: messageId, message_type: 'ack', registration_id: registrationId });
  }

  /**
   * Constant bytes and plain-ASCII strings (isPlainAscii: nothing to escape anywhere) alternately,
   * `c0 s0 c1 s1 c2 [s2 c3]`, as one stanza. The strings are written as Latin-1, which for ASCII is
   * their UTF-8 (measured ~25% cheaper than utf8Write for strings this short).
   */
  #splice(c0: Buffer, s0: string, c1: Buffer, s1: string, c2: Buffer, s2?: string, c3?: Buffer): Buffer {
    const max = c0.length + c1.length + c2.length + (c3?.length ?? 0) + s0.length + s1.length + (s2?.length ?? 0);
    const slab = this.#reserve(max);
    const start = this.#offset;
    let o = start;
    slab.set(c0, o);
    o += c0.length;
    o += slab.latin1Write(s0, o);
    slab.set(c1, o);
    o += c1.length;
    o += slab.latin1Write(s1, o);
    slab.set(c2, o);
    o += c2.length;
    // The two optional parts come together.
    if (c3 !== undefined) {
      o += slab.latin1Write(s2 as string, o);
      slab.set(c3, o);
      o += c3.length;
    }
    this.#offset = o;
    return this.#claim(start);
  }

  /** The slab to write up to `max` bytes into, at `this.#offset` (a fresh slab when it would not fit). */
  #reserve(max: number): Slab {
    if (this.#offset + max <= this.#slab.length) return this.#slab;
    return this.#newSlab(max);
  }

  /**
   * Leaves the current slab to the views still using it (and to the run's part in it, put aside) and
   * starts one with room for `max` bytes.
   */
  #newSlab(max: number): Slab {
    if (this.#runStart < this.#offset) (this.#runParts ??= []).push(this.#slab.subarray(this.#runStart, this.#offset));
    this.#slab = Buffer.allocUnsafeSlow(Math.max(this.#slabSize, max)) as Slab;
    this.#view = new DataView(this.#slab.buffer, this.#slab.byteOffset, this.#slab.length);
    this.#offset = 0;
    this.#runStart = 0;
    return this.#slab;
  }

  /** Encodes JSON text you already have (it is escaped here as needed). */
  encodeJson(json: string, stanzaId?: string): Buffer {
    return this.#claim(this.#write(escapeJsonForXml(json), stanzaId));
  }

  /** Writes the envelope around an already escaped body at the offset (moving it past) and returns where the stanza starts. */
  #write(body: string, stanzaId: string | undefined): number {
    const id = stanzaId === undefined ? undefined : stanzaIdAttr(stanzaId);
    // Upper bound: 3 UTF-8 bytes per UTF-16 code unit.
    const max = ENVELOPE_MAX + 3 * (body.length + (id === undefined ? 0 : id.length));
    const slab = this.#reserve(max);
    const start = this.#offset;
    let o = start;
    if (id === undefined) {
      slab.set(B_OPEN_NO_ID, o);
      o += B_OPEN_NO_ID.length;
    } else {
      slab.set(B_OPEN_ID, o);
      o += B_OPEN_ID.length;
      o += slab.utf8Write(id, o);
      slab.set(B_AFTER_ID, o);
      o += B_AFTER_ID.length;
    }
    o += slab.utf8Write(body, o);
    slab.set(B_CLOSE, o);
    o += B_CLOSE.length;
    this.#offset = o;
    return start;
  }
}
