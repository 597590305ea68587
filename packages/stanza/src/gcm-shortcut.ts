import { SCAN_DECLINE, SCAN_WAIT, XmlElement, type StanzaShortcut, type StanzaShortcutMatcher } from '@ccs-xmpp/stream';
import { completePrefixLength, latin1, utf8 } from './bytes.js';
import { canonicalAckFrom, canonicalAckId } from './gcm-decode.js';
import { NS_GCM } from './namespaces.js';

/*
 * The stream parser's shortcut (a `StanzaShortcut` of @ccs-xmpp/stream) for the stanza that is ~95% of a CCS connection's inbound traffic:
 *
 *   <message id="…" …><gcm xmlns="google:mobile:data">{JSON}</gcm></message>
 *   <message><data:gcm xmlns:data="google:mobile:data">{JSON}</data:gcm></message>
 *
 * It accepts only a subset of XML it can prove well-formed and namespace-well-formed, and builds
 * exactly the tree saxes would build; anything else returns null and the parser hands it to saxes. That keeps
 * the one property that matters: it never accepts what saxes rejects, and never yields anything
 * different (the differential property tests in test/ check both, chunk by chunk).
 *
 * The work is split by what is cheap for each part. The two start tags ("the head", ~100 bytes)
 * are judged once by one regular expression over a latin1 view (irregexp compiles it to native
 * code; latin1 maps each byte to one char, so string offsets are byte offsets) and then remembered:
 * later heads are recognised by comparing bytes. Attribute values may not hold `>` in this shape, so
 * the head ends at the second `>`. The payload — most of the bytes — is read once, as it arrives:
 * plain stretches eight bytes a step through a table (plainRun), every other byte once (judgeText:
 * `&`, UTF-8 sequences, controls, `]]>`), and one decode makes the string handed over (the only copy
 * of the payload) — latin1 when every byte is ASCII, UTF-8 otherwise.
 */

const S = '[ \\t\\r\\n]';
const NAME = '[A-Za-z_][A-Za-z0-9_.\\-]*';
// Attribute values restricted to ASCII without `&`, `<`, `>` or whitespace controls: no decoding
// and no normalisation (XML 1.0 §3.3.3) is needed, so the raw bytes are the value.
const VALUE_DQ = '[^"<&>\\x00-\\x1f\\x7f-\\xff]';
const VALUE_SQ = "[^'<&>\\x00-\\x1f\\x7f-\\xff]";
const ATTR = `${S}+(?:xml:lang|${NAME})${S}*=${S}*(?:"${VALUE_DQ}*"|'${VALUE_SQ}*')`;
const START_TAG = `<message((?:${ATTR})*)${S}*>`;
const GCM_START = `<(?:(${NAME}):)?gcm${S}+xmlns(?::(${NAME}))?${S}*=${S}*(?:"${NS_GCM}"|'${NS_GCM}')${S}*>`;
const HEAD_RE = new RegExp(`^${START_TAG}${GCM_START}$`);
const END_TAG_RE = new RegExp(`^</(?:(${NAME}):)?gcm${S}*>$`);

const GT = 0x3e;
const LT = 0x3c;
const AMP = 0x26;
const SEMI = 0x3b;
const MESSAGE_OPEN_LENGTH = '<message'.length;

function isXmlChar(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

/**
 * The value of the character reference whose digits are `raw[from, to)` (hexadecimal when `hex`),
 * or -1 when one is not a digit. No digits make 0, and too many a value past U+10FFFF: neither is
 * an XML character.
 */
function referenceValue(raw: string, from: number, to: number, hex: boolean): number {
  let cp = 0;
  for (let i = from; i < to; i++) {
    const c = raw.charCodeAt(i);
    let d: number;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (hex && c >= 0x61 && c <= 0x66) d = c - 0x57;
    else if (hex && c >= 0x41 && c <= 0x46) d = c - 0x37;
    else return -1;
    cp = hex ? cp * 16 + d : cp * 10 + d;
  }
  return cp;
}

/**
 * The character the reference `raw[amp, semi]` (from its `&` to the first `;` after it) stands for:
 * one of the five predefined entities, `&#digits;` or `&#xhex;` naming an XML character; or
 * undefined for anything else. Read from the character codes: a sticky regular expression and a
 * lookup by the name it captured cost the shortcut ~4% of its time on 400-byte chunks (profile,
 * bench/ANALYSIS.md, eleventh pass).
 */
function referenceChar(raw: string, amp: number, semi: number): string | undefined {
  const c1 = raw.charCodeAt(amp + 1);
  const len = semi - amp - 1;
  if (c1 === 0x23) {
    const hex = raw.charCodeAt(amp + 2) === 0x78;
    const cp = referenceValue(raw, amp + (hex ? 3 : 2), semi, hex);
    return cp >= 0 && isXmlChar(cp) ? String.fromCodePoint(cp) : undefined;
  }
  const c2 = raw.charCodeAt(amp + 2);
  if (len === 2 && c2 === 0x74) return c1 === 0x6c ? '<' : c1 === 0x67 ? '>' : undefined; // lt, gt
  if (len === 3) return c1 === 0x61 && c2 === 0x6d && raw.charCodeAt(amp + 3) === 0x70 ? '&' : undefined; // amp
  if (len !== 4) return undefined;
  const c3 = raw.charCodeAt(amp + 3);
  const c4 = raw.charCodeAt(amp + 4);
  if (c1 === 0x71) return c2 === 0x75 && c3 === 0x6f && c4 === 0x74 ? '"' : undefined; // quot
  return c1 === 0x61 && c2 === 0x70 && c3 === 0x6f && c4 === 0x73 ? "'" : undefined; // apos
}

/** Decodes the five predefined entities and character references; null if anything else. */
export function decodeEntities(raw: string): string | null {
  let out = '';
  let from = 0;
  let amp = raw.indexOf('&');
  while (amp !== -1) {
    // No reference holds `;` before its end: the first one after `&` ends it, if any does.
    const semi = raw.indexOf(';', amp + 1);
    if (semi === -1) return null;
    const ch = referenceChar(raw, amp, semi);
    if (ch === undefined) return null;
    out += raw.slice(from, amp) + ch;
    from = semi + 1;
    amp = raw.indexOf('&', from);
  }
  return out + raw.slice(from);
}

/** Where `parseAttrs` found the `id` value in the string it was given (-1: no id). */
interface IdRange {
  start: number;
  end: number;
}

/**
 * The attributes of a start tag HEAD_RE accepted, or null for what the shortcut leaves to saxes.
 * @param id when given, receives where the `id` attribute's value stands in `raw`
 */
function parseAttrs(raw: string, id?: IdRange): Record<string, string> | null {
  if (id !== undefined) id.start = -1;
  const attrs: Record<string, string> = {};
  const len = raw.length;
  let i = 0;
  // HEAD_RE has already proved the syntax; this only slices names and values out.
  while (i < len) {
    let c = raw.charCodeAt(i);
    while (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) c = raw.charCodeAt(++i);
    if (i >= len) break;
    const nameStart = i;
    while (c !== 0x3d && c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) c = raw.charCodeAt(++i);
    const name = raw.slice(nameStart, i);
    // Skip whitespace and `=` up to the opening quote.
    while (c !== 0x22 && c !== 0x27) c = raw.charCodeAt(++i);
    const q = i;
    const close = raw.indexOf(c === 0x22 ? '"' : "'", q + 1);
    // Namespace declarations change resolution, `__proto__` is not a safe key: let saxes do them.
    if (name === '__proto__' || name === 'xmlns' || name.startsWith('xmlns:')) return null;
    if (Object.hasOwn(attrs, name)) return null; // duplicate: saxes rejects it
    attrs[name] = raw.slice(q + 1, close);
    if (id !== undefined && name === 'id') {
      id.start = q + 1;
      id.end = close;
    }
    i = close + 1;
  }
  return attrs;
}

/** A byte that may stand between `&` and `;` of a reference saxes accepts: `#`, `x`, digits, letters. */
function isRefByte(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x23;
}

function badPrefix(prefix: string | undefined): boolean {
  return prefix !== undefined && prefix.length >= 3 && prefix.slice(0, 3).toLowerCase() === 'xml';
}

/**
 * Bytes to compare the input with, also as little-endian 32-bit words: sameBytes() reads the input
 * four bytes a step through a DataView.
 */
class Pattern {
  readonly bytes: Buffer;
  readonly words: Int32Array;
  readonly length: number;

  constructor(bytes: Buffer) {
    this.bytes = bytes;
    this.length = bytes.length;
    this.words = new Int32Array(bytes.length >> 2);
    for (let i = 0; i < this.words.length; i++) this.words[i] = bytes.readInt32LE(i * 4);
  }
}

/** The shape of a head: what is the same for every stanza that starts with it. */
interface Head {
  /** The head's bytes, for recognising it again (heads without an id; templates have theirs). */
  bytes: Pattern | undefined;
  /** The gcm end tag as the head's prefix writes it without whitespace (`</gcm>`, `</data:gcm>`). */
  end: Pattern;
  /** Attributes of `<message>` (a head without an id): shared, so copied for each element. */
  attrs: Record<string, string>;
  prefix: string | undefined;
  /** The gcm child's name and attributes as saxes builds them (`data:gcm`, `xmlns:data`): the attributes are copied for each element. */
  gcmName: string;
  gcmAttrs: Record<string, string>;
}

// Heads repeat: every ACK from CCS starts with the same ~60 bytes, and the heads of upstream
// messages differ only in their id. A few recent ones are kept per matcher and recognised by
// comparing bytes (all of them, or all but the id value's), which skips the regular expression and
// the attribute slicing for most of the traffic (A/B: bench/micro/shortcut-tricks.mjs).
const HEAD_MEMO_SIZE = 8;
const TEMPLATE_MEMO_SIZE = 4;

/** A head seen with an `id`: a later head with the same bytes around the id value is the same shape. */
interface IdTemplate {
  /** The head's bytes up to and including the id value's opening quote. */
  before: Pattern;
  /** The head's bytes from the id value's closing quote to its end. */
  after: Pattern;
  /** The quote around the value (`"` or `'`): the only other byte the value may not hold. */
  quote: number;
  /** The attributes, in order, the id among them (its value replaced per stanza). */
  attrs: Record<string, string>;
  /** Its shape (`attrs` of it unused). */
  head: Head;
  /**
   * The attributes of the last stanza recalled by this template and its id: a stanza with the same
   * id (CCS sends `id=""` on every ACK) shares them, as GcmParts allows; undefined once an element
   * took them as its own.
   */
  lastAttrs: Record<string, string> | undefined;
  lastId: string;
}

/** A byte an id value of this shape may hold: printable ASCII other than the quote, `&`, `<`, `>` (VALUE_DQ / VALUE_SQ). */
function isIdValueByte(b: number, quote: number): boolean {
  return b >= 0x20 && b <= 0x7e && b !== quote && b !== 0x26 && b !== 0x3c && b !== 0x3e;
}

/**
 * `buf[start, start + len)` equals the pattern's first `len` bytes. With a DataView of `buf`, four
 * bytes a step (a 32-bit read of the input against the pattern's word), where a byte loop costs 2–3×
 * as much per head; but making a DataView costs as much as comparing ~100 bytes, so the matcher
 * makes one only for a buffer with several stanzas at hand (see viewFor) and passes null otherwise.
 * Without a view, a byte loop up to 96 bytes and `buf.compare` beyond (a native call costs about as
 * much as a 96-byte loop).
 */
function sameBytes(view: DataView | null, buf: Buffer, start: number, p: Pattern, len: number): boolean {
  let i = 0;
  const bytes = p.bytes;
  if (view !== null) {
    const words = p.words;
    for (; i + 4 <= len; i += 4) if (view.getInt32(start + i, true) !== words[i >> 2]) return false;
  } else if (len > 96) return buf.compare(bytes, 0, len, start, start + len) === 0;
  for (; i < len; i++) if (buf[start + i] !== bytes[i]) return false;
  return true;
}

/** `buf[from, to)` holds exactly the characters of `id` (a latin1 string). */
function sameId(buf: Buffer, from: number, to: number, id: string): boolean {
  if (to - from !== id.length) return false;
  for (let i = 0; i < id.length; i++) if (buf[from + i] !== id.charCodeAt(i)) return false;
  return true;
}

/** viewFor(): the bytes at hand past which a DataView pays for itself (about five stanzas). */
const VIEW_MIN_BYTES = 2048;

/** plainRun(): a plain byte (see there). */
const PLAIN_BYTE = 1;
/** plainRun(): a plain byte other than `"` and `\`: one the canonical ACK's strings may hold as they are (see readAck). */
const ACK_BYTE = 2;
/** The PLAIN_BYTE and ACK_BYTE bits of each byte. */
const PLAIN = new Uint8Array(256);
for (let b = 0x20; b <= 0x7e; b++) PLAIN[b] = PLAIN_BYTE | ACK_BYTE;
PLAIN[0x26] = PLAIN[0x3c] = PLAIN[0x3e] = 0;
PLAIN[0x22] = PLAIN[0x5c] = PLAIN_BYTE;
/**
 * The bits both bytes of a pair have (a 16-bit value, either byte order: the table is symmetric),
 * for plainRun() through a DataView: one 32-bit read and two lookups per four bytes, where PLAIN
 * takes four reads and four lookups. 64 KiB, of which a payload's pairs touch a few hundred
 * entries.
 */
const PLAIN_PAIRS = new Uint8Array(0x10000);
for (let v = 0; v < 0x10000; v++) PLAIN_PAIRS[v] = (PLAIN[v & 0xff] as number) & (PLAIN[v >> 8] as number);

/**
 * The first index in `buf[from, to)` whose byte is not of the `kind` (PLAIN_BYTE, or ACK_BYTE),
 * or `to`. Plain: printable ASCII
 * other than `&`, `<` and `>` — such text needs no decoding, no entity handling, no character
 * checks, and cannot hold `]]>` nor end the payload. Eight bytes a step, one branch for all eight,
 * where a byte-by-byte loop of comparisons was the largest single cost of the shortcut (A/B,
 * bench/micro/shortcut-tricks.mjs: without it 86% of the rate at 400-byte chunks, within the noise
 * at 16 KiB). With a DataView of `buf` (`view`), two 32-bit reads and four lookups in PLAIN_PAIRS
 * a step, else eight reads and eight lookups in PLAIN; the last bytes (and the eight that hold the
 * first other byte) one by one in PLAIN.
 */
function plainRun(view: DataView | null, buf: Buffer, from: number, to: number, kind: number): number {
  const t = PLAIN;
  let i = from;
  if (view !== null) {
    const pairs = PLAIN_PAIRS;
    for (; i + 8 <= to; i += 8) {
      const x = view.getInt32(i, true);
      const y = view.getInt32(i + 4, true);
      if ((pairs[x & 0xffff]! & pairs[x >>> 16]! & pairs[y & 0xffff]! & pairs[y >>> 16]! & kind) === 0) break;
    }
  } else {
    for (; i + 8 <= to; i += 8) {
      if ((t[buf[i] as number]! & t[buf[i + 1] as number]! & t[buf[i + 2] as number]! & t[buf[i + 3] as number]! &
        t[buf[i + 4] as number]! & t[buf[i + 5] as number]! & t[buf[i + 6] as number]! & t[buf[i + 7] as number]! & kind) === 0) break;
    }
  }
  for (; i < to; i++) if ((t[buf[i] as number]! & kind) === 0) return i;
  return to;
}

/** judgeText(): the text holds `&` (references to decode). */
export const TEXT_AMP = 1;
/** judgeText(): the text holds bytes past ASCII (valid UTF-8: decode it as such). */
export const TEXT_UTF8 = 2;
/** judgeText(): saxes must judge the text (or refuse it). */
export const TEXT_REFUSED = -1;

/**
 * The length of the UTF-8 sequence at `buf[i]` (a byte past ASCII), within `to`, when it is valid
 * UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF) and an XML character
 * (not U+FFFE or U+FFFF; every other scalar value past ASCII is one); 0 otherwise.
 */
function xmlCharLength(buf: Buffer, i: number, to: number): number {
  const b0 = buf[i] as number;
  if (b0 < 0xc2) return 0; // a continuation byte, or the lead of an overlong two-byte form
  if (b0 < 0xe0) return i + 1 < to && ((buf[i + 1] as number) & 0xc0) === 0x80 ? 2 : 0;
  if (b0 < 0xf0) {
    if (i + 2 >= to) return 0;
    const b1 = buf[i + 1] as number;
    const b2 = buf[i + 2] as number;
    if ((b2 & 0xc0) !== 0x80) return 0;
    // E0: no overlong form (A0–BF); ED: no surrogate (80–9F).
    if (b0 === 0xe0 ? b1 < 0xa0 || b1 > 0xbf : b0 === 0xed ? b1 < 0x80 || b1 > 0x9f : (b1 & 0xc0) !== 0x80) return 0;
    return b0 === 0xef && b1 === 0xbf && b2 >= 0xbe ? 0 : 3; // U+FFFE, U+FFFF
  }
  if (b0 > 0xf4 || i + 3 >= to) return 0;
  const b1 = buf[i + 1] as number;
  // F0: no overlong form (90–BF); F4: nothing past U+10FFFF (80–8F).
  if (b0 === 0xf0 ? b1 < 0x90 || b1 > 0xbf : b0 === 0xf4 ? b1 < 0x80 || b1 > 0x8f : (b1 & 0xc0) !== 0x80) return 0;
  return ((buf[i + 2] as number) & 0xc0) === 0x80 && ((buf[i + 3] as number) & 0xc0) === 0x80 ? 4 : 0;
}

/**
 * Judges payload bytes `buf[from, to)` (whole characters, no `<`) in one pass: TEXT_REFUSED when
 * saxes must judge them — a control other than tab and line feed (`\r` needs end-of-line
 * normalisation), invalid UTF-8, U+FFFE/U+FFFF, `<`, or `]]>` (XML 1.0 §2.4; its `]]` may stand
 * before `from`, down to `floor`) —, else a bit set of TEXT_AMP and TEXT_UTF8 (0: plain, the
 * latin1 view is the text). Bytes, not the decoded string: plain stretches go eight at a time and
 * the few other bytes are looked at once each.
 * @param view a DataView of `buf` (its offsets are `buf`'s), for plainRun()
 */
export function judgeText(buf: Buffer, from: number, to: number, floor: number, view: DataView | null = null): number {
  let flags = 0;
  let i = plainRun(view, buf, from, to, PLAIN_BYTE);
  while (i < to) {
    const b = buf[i] as number;
    if (b === AMP) {
      flags |= TEXT_AMP;
      i++;
    } else if (b >= 0x80) {
      const n = xmlCharLength(buf, i, to);
      if (n === 0) return TEXT_REFUSED;
      flags |= TEXT_UTF8;
      i += n;
    } else if (b === GT) {
      if (i - 2 >= floor && buf[i - 1] === 0x5d && buf[i - 2] === 0x5d) return TEXT_REFUSED;
      i++;
    } else if (b === 0x09 || b === 0x0a || b === 0x7f) i++;
    else return TEXT_REFUSED; // other controls, `<`
    i = plainRun(view, buf, i, to, PLAIN_BYTE);
  }
  return flags;
}

/**
 * True when `buf[from, to)` is `</gcm>` / `</prefix:gcm>` with whitespace before `>` (its only
 * caller has already compared the end tag without whitespace).
 */
function isGcmEndTag(buf: Buffer, from: number, to: number, head: Head): boolean {
  const m = END_TAG_RE.exec(latin1(buf, from, to));
  return m !== null && m[1] === head.prefix;
}

// The same shape cut short, for judging a stanza that has not fully arrived yet. A cut start tag is
// waited for only while it can still be taken: saxes judges a namespace declaration the moment its
// value ends (`xmlns=""` on a prefix, the XML namespaces), and must then report what it finds when
// it would alone, not when the tag's `>` arrives.
const START_TAG_RE = new RegExp(`^${START_TAG}$`);
// (A name cut inside `xml:lang` is one too: `xml:` alone is no NAME.) No whole `xmlns` attribute:
// parseAttrs() leaves namespace declarations to saxes.
const START_TAG_CUT_RE = new RegExp(
  `^<message(?:${S}+(?!xmlns${S}*=)(?:xml:lang|${NAME})${S}*=${S}*(?:"${VALUE_DQ}*"|'${VALUE_SQ}*'))*` +
    `(?:${S}+(?:(?:xml:(?:l(?:a(?:ng?)?)?)?|${NAME})(?:${S}*(?:=${S}*(?:"${VALUE_DQ}*|'${VALUE_SQ}*)?)?)?)?)?$`,
);
// `<`, a name possibly with a prefix, at most the one whole attribute GCM_START has (no prefix
// badPrefix() refuses), then anything saxes could still accept without an error. Whitespace may
// only follow a complete qualified name (saxes refuses `< `, `</ `).
const QNAME = `${NAME}(?::${NAME})?`;
const QNAME_CUT = `${NAME}:?`;
const GCM_START_CUT_RE = new RegExp(
  `^<(?:${QNAME_CUT}|${QNAME}(?:${S}+xmlns(?::(?![Xx][Mm][Ll])${NAME})?${S}*=${S}*(?:"${NS_GCM}"|'${NS_GCM}'))?` +
    `(?:${S}+(?:${QNAME_CUT}|${QNAME}${S}*(?:=${S}*(?:"${VALUE_DQ}*|'${VALUE_SQ}*)?)?)?)?)?$`,
);
const END_TAG_CUT_RE = new RegExp(`^<(?:/(?:${QNAME_CUT}|${QNAME}${S}*)?)?$`);
const MESSAGE_END = new Pattern(Buffer.from('</message>', 'latin1'));

// The canonical ACK, `{"from":"…","message_id":"…","message_type":"ack"}` (gcm-decode's
// canonicalAckId), read from the bytes while the payload is judged: nearly every stanza a sending
// client receives is one, and recognising it there spares the receive path a regular expression
// over the ~215-character payload (bench/ANALYSIS.md, sixth pass). The closing pattern takes the
// `<` that ends the payload along.
const ACK_OPEN = new Pattern(Buffer.from('{"from":"', 'latin1'));
const ACK_MID = new Pattern(Buffer.from('","message_id":"', 'latin1'));
const ACK_CLOSE = new Pattern(Buffer.from('","message_type":"ack"}<', 'latin1'));
/** readAck(): what the payload's first bytes said about the canonical ACK. */
const ACK_UNKNOWN = 0;
const ACK_YES = 1;
const ACK_NO = 2;
/**
 * readAck(): the piece of the canonical ACK it reads next. It resumes there when the bytes at hand
 * end (a chunk boundary), so a cut ACK is read from the bytes too: at 400-byte chunks nearly every
 * ACK is cut, and the regular expression over its text was a tenth of the client path's time.
 */
const ACK_AT_OPEN = 0;
const ACK_AT_FROM = 1;
const ACK_AT_MID = 2;
const ACK_AT_ID = 3;
const ACK_AT_CLOSE = 4;


/**
 * What the GCM shortcut hands over for a recognised CCS message: the decoded `<gcm>` payload (the
 * JSON text, `''` when empty) and the `<message>` attributes. Valid until the parser's next
 * stanza; the attributes may be shared with later stanzas of the same start tag: read only.
 */
export interface GcmParts {
  readonly json: string;
  readonly attrs: Readonly<Record<string, string>>;
  /**
   * Exactly what `canonicalAckId(json)` gives: the `message_id` of the canonical ACK, undefined for
   * any other payload. With {@link gcmAckShortcut}, a payload of plain bytes was told ACK or not
   * from its bytes as they were judged, however the chunks cut it, without the regular expression
   * (one written with references or non-ASCII characters is asked of `canonicalAckId`, as every
   * payload is with {@link gcmShortcut}).
   */
  readonly ackId: string | undefined;
  /**
   * The `from` of the canonical ACK (`ackId` is defined), exactly what `canonicalAckFrom(json, known)`
   * gives: `known` itself when it is the `from` (nothing allocated), else the `from` as a string.
   */
  ackFrom(known?: string): string;
}


/** recallHead(): the bytes so far are the start of a head seen before that has not fully arrived. */
const HEAD_PREFIX = 1;

/**
 * One parser's GCM matcher: what it learned about a stanza still arriving (offsets from the
 * stanza's start, so each byte is judged once however many chunks it takes) and the heads it has
 * seen recently; no reference to a chunk outlives the call that was given it. It is also the parts
 * it hands over.
 */
class GcmMatcher implements StanzaShortcutMatcher<GcmParts>, GcmParts {
  /** The payload as a string, once made (see `json`). */
  private text = '';
  /**
   * The bytes of a canonical ACK's payload handed over by match(), `textBuf[textAt, textEnd)`, while
   * its string is not made: a client takes the ACK by its id and its `from`, both read from the
   * bytes (`ackId`, `ackFrom`), and never needs the payload's ~100 bytes as a string. Made at the
   * first read of `json`, or at release() (the parser is done with the chunk, or is about to write
   * over its own buffer, which these bytes may be; the parts stay readable until the next stanza,
   * as they were when `json` was made by match()).
   */
  private textBuf: Buffer | null = null;
  private textAt = 0;
  private textEnd = 0;
  /**
   * The attributes handed over by match(), once made; null while they are not: a head recalled by
   * a template with a new id (an upstream message's) makes its attributes — the id's string and a
   * copy of the template's — at the first read of `attrs` (or at release(), as `json`), and a
   * consumer that reads only the payload never pays for them. The id stands at `idBuf[idAt, idEnd)`.
   */
  private partsAttrs: Record<string, string> | null = {};
  /** The template that recalled the head handed over (null: a head without an id). */
  private partsTemplate: IdTemplate | null = null;
  private idBuf: Buffer | null = null;
  private idAt = 0;
  private idEnd = 0;
  // --- the stanza in progress (offsets from its start), judged while it was arriving ---
  /** Its head, once both start tags have arrived… */
  private head: Head | null = null;
  /**
   * …its attributes (`head.attrs`, or a template's for this id; null: a template's for a new id,
   * not made yet — the id stands at `headIdAt`, `headIdEnd`, from the stanza's start)…
   */
  private headAttrs: Record<string, string> | null = {};
  private headIdAt = 0;
  private headIdEnd = 0;
  /** …and the template that recalled it (null: a head without an id). */
  private headTemplate: IdTemplate | null = null;
  /** Where its payload starts (once `head` is set). */
  private headLength = 0;
  /** Its payload up to `accTo` is judged and decoded into `acc`… */
  private accTo = 0;
  private acc = '';
  /** …and from there up to `plainTo` judged plain (see plainRun), not decoded yet. */
  private plainTo = 0;
  /** What readAck() found (ACK_*), and where the id stands from the payload's start when ACK_YES. */
  private ack = ACK_UNKNOWN;
  /** While `ack` is ACK_UNKNOWN: the piece readAck() reads next (ACK_AT_*) and where, from the stanza's start. */
  private ackStep = ACK_AT_OPEN;
  private ackTo = 0;
  /** When `ack` is ACK_NO: the end of the bytes that told it (from the stanza's start). */
  private ackNoEnd = 0;
  /** Once `accTo` has moved: where the payload's first byte that is not plain stands (from the stanza's start). */
  private otherAt = 0;
  private ackAt = 0;
  private ackEnd = 0;
  private ackFromEnd = 0;
  /** The same, as of the stanza match() handed over (for `ackId`). */
  private partsAck = ACK_UNKNOWN;
  private partsAckAt = 0;
  private partsAckEnd = 0;
  private partsAckFromEnd = 0;
  // --- what this parser has seen ---
  private readonly memo: Head[] = [];
  private memoNext = 0;
  private readonly templates: IdTemplate[] = [];
  private templateNext = 0;
  private readonly idRange: IdRange = { start: -1, end: -1 };
  /** Set by recallHead(): the length of the head it recognised. */
  private recalled = 0;
  /** A DataView of the bytes being read (`viewOf`), until release(). */
  private view: DataView | null = null;
  private viewOf: Buffer | null = null;
  /** The parser's own buffer, which small chunks are read in (see release()). */
  private own: Buffer | null = null;
  /** Reads the canonical ACK from the bytes (gcmAckShortcut). */
  private readonly readsAcks: boolean;

  constructor(readsAcks: boolean) {
    this.readsAcks = readsAcks;
  }

  reset(): void {
    this.ack = ACK_UNKNOWN;
    this.ackStep = ACK_AT_OPEN;
    this.head = null;
    this.headLength = 0;
    this.accTo = 0;
    this.acc = '';
    this.plainTo = 0;
  }

  release(keep?: Buffer): void {
    if (this.textBuf !== null) this.makeText();
    if (this.partsAttrs === null) this.makeAttrs();
    // Pieces of the chunk are copied into strings; only the view refers to it, until here. The
    // parser's own buffer (`keep`) is not the caller's memory: its view is kept for the next chunks
    // (without, 94% of the rate at 400-byte chunks: bench/micro/shortcut-tricks.mjs).
    this.own = keep ?? null;
    if (this.viewOf !== this.own) {
      this.view = null;
      this.viewOf = null;
    }
  }

  /**
   * A DataView of `buf` for sameBytes() when `buf[start, end)` holds at least VIEW_MIN_BYTES (made
   * once per buffer, ~85 ns: it pays over several stanzas, not for one) or `buf` is the parser's
   * own buffer (made once for many chunks), else null.
   */
  private viewFor(buf: Buffer, start: number, end: number): DataView | null {
    if (buf === this.viewOf) return this.view;
    if (buf !== this.own && end - start < VIEW_MIN_BYTES) return null;
    this.viewOf = buf;
    return (this.view = new DataView(buf.buffer, buf.byteOffset, buf.length));
  }

  match(buf: Buffer, start: number): GcmParts {
    // The parser calls match() only right after scan() returned where `</message>` stands, and
    // scan() got there by judging the payload up to the gcm end tag (`plainTo`): decoded into `acc`
    // up to `accTo`, plain from there.
    const accTo = start + this.accTo;
    const endTag = start + this.plainTo;
    const attrs = this.headAttrs;
    this.partsAttrs = attrs;
    this.partsTemplate = this.headTemplate;
    if (attrs === null) {
      this.idBuf = buf;
      this.idAt = start + this.headIdAt;
      this.idEnd = start + this.headIdEnd;
    } else this.idBuf = null; // (an earlier stanza's, never made: release() would not let go of it)
    // What readAck() said is the answer when the payload is its bytes: plain, nothing decoded. In a
    // payload with references or bytes past ASCII, "not an ACK" still is when every byte it was
    // told from came before the first such byte: up to there the text is those bytes, one
    // character each, and differs from the canonical ACK's where they do (upstream messages and
    // receipts differ at their first key).
    const ack = this.accTo === this.headLength ? this.ack : this.ack === ACK_NO && this.ackNoEnd <= this.otherAt ? ACK_NO : ACK_UNKNOWN;
    this.partsAck = ack;
    this.partsAckAt = this.ackAt;
    this.partsAckEnd = this.ackEnd;
    this.partsAckFromEnd = this.ackFromEnd;
    if (ack === ACK_YES) {
      // The canonical ACK, plain, nothing decoded (`acc` is empty): its string waits (`textBuf`).
      this.textBuf = buf;
      this.textAt = accTo;
      this.textEnd = endTag;
    } else {
      this.textBuf = null;
      this.text = endTag > accTo ? this.acc + latin1(buf, accTo, endTag) : this.acc;
    }
    return this;
  }

  get attrs(): Readonly<Record<string, string>> {
    return this.partsAttrs ?? this.makeAttrs();
  }

  /** The attributes of the head handed over, for a template's new id (`partsAttrs` was null). */
  private makeAttrs(): Record<string, string> {
    const t = this.partsTemplate as IdTemplate;
    const id = latin1(this.idBuf as Buffer, this.idAt, this.idEnd);
    const attrs = { ...t.attrs };
    attrs['id'] = id;
    // The template keeps them for its next stanza with the same id.
    t.lastAttrs = attrs;
    t.lastId = id;
    this.idBuf = null;
    return (this.partsAttrs = attrs);
  }

  get json(): string {
    if (this.textBuf !== null) this.makeText();
    return this.text;
  }

  private makeText(): void {
    this.text = latin1(this.textBuf as Buffer, this.textAt, this.textEnd);
    this.textBuf = null;
  }

  get ackId(): string | undefined {
    const ack = this.partsAck;
    if (ack === ACK_YES) {
      // Cut from the bytes while they are at hand: a string of its own, not a slice of the payload's
      // (V8 compares a sliced string outside optimised code: ~35 ns against ~4, eighth pass).
      const buf = this.textBuf;
      if (buf !== null) return latin1(buf, this.textAt + this.partsAckAt, this.textAt + this.partsAckEnd);
      return this.text.slice(this.partsAckAt, this.partsAckEnd);
    }
    return ack === ACK_NO ? undefined : canonicalAckId(this.json);
  }

  ackFrom(known?: string): string {
    const buf = this.textBuf;
    if (buf === null || this.partsAck !== ACK_YES) return canonicalAckFrom(this.json, known);
    // Compared in the bytes, which readAck() judged plain ASCII: a byte equals a character code.
    const at = this.textAt + ACK_OPEN.length;
    const n = this.partsAckFromEnd - ACK_OPEN.length;
    if (known !== undefined && known.length === n) {
      let i = 0;
      while (i < n && buf[at + i] === known.charCodeAt(i)) i++;
      if (i === n) return known;
    }
    return latin1(buf, at, at + n);
  }

  element(parts: GcmParts, defaultNs: string): XmlElement {
    const head = this.head as Head;
    const text = parts.json;
    const gcm = new XmlElement(head.gcmName, 'gcm', head.prefix ?? '', NS_GCM, { ...head.gcmAttrs }, text.length > 0 ? [text] : []);
    // A template's attributes for this id are handed over (the template forgets them); a head
    // without an id keeps its own, so the element gets a copy.
    let attrs = this.partsAttrs ?? this.makeAttrs();
    const t = this.partsTemplate;
    if (t !== null && t.lastAttrs === attrs) t.lastAttrs = undefined;
    else attrs = { ...attrs };
    return new XmlElement('message', 'message', '', defaultNs, attrs, [gcm]);
  }

  scan(buf: Buffer, start: number, end: number): number {
    let head = this.head;
    if (head === null) {
      const known = this.recallHead(buf, start, end);
      // The start of a head seen before: saxes has nothing to say about it yet.
      if (known === HEAD_PREFIX) return SCAN_WAIT;
      if (known !== null) {
        head = known;
        this.headLength = this.recalled;
      } else {
        const gt1 = buf.indexOf(GT, start);
        if (gt1 === -1 || gt1 >= end) return START_TAG_CUT_RE.test(latin1(buf, start, end)) ? SCAN_WAIT : SCAN_DECLINE;
        const gt2 = buf.indexOf(GT, gt1 + 1);
        if (gt2 === -1 || gt2 >= end) {
          const tag = START_TAG_RE.exec(latin1(buf, start, gt1 + 1));
          if (tag === null || parseAttrs(tag[1] as string) === null) return SCAN_DECLINE;
          return gt1 + 1 === end || GCM_START_CUT_RE.test(latin1(buf, gt1 + 1, end)) ? SCAN_WAIT : SCAN_DECLINE;
        }
        const judged = this.judgeHead(buf, start, gt2 + 1);
        if (judged === null) return SCAN_DECLINE;
        head = judged;
        this.headLength = gt2 + 1 - start;
      }
      this.head = head;
      this.accTo = this.plainTo = this.ackTo = this.headLength;
    }
    let from = start + this.plainTo;
    // Until the payload is told a canonical ACK or not, it is read as one, in the place of
    // plainRun (from where the last look stopped), up to where it proves the payload is not one.
    if (this.readsAcks && this.ack === ACK_UNKNOWN) {
      const read = this.readAck(buf, start, end);
      if (read > from) from = read;
    }
    // Only what arrived since the last look is judged: each byte once, however many chunks.
    const view = this.viewFor(buf, start, end);
    const p = plainRun(view, buf, from, end, PLAIN_BYTE);
    this.plainTo = p - start;
    if (p === end) return SCAN_WAIT;
    let lt = p;
    if (buf[p] !== LT) {
      // The payload's first byte that is not plain, the first time one is met (see match()).
      if (this.accTo === this.headLength) this.otherAt = p - start;
      lt = buf.indexOf(LT, p);
      if (lt >= end) lt = -1;
      if (!this.decodeSoFar(buf, start, p, lt === -1 ? end : lt, lt === -1)) return SCAN_DECLINE;
      if (lt === -1) return SCAN_WAIT;
    }
    // The gcm end tag, then `</message>` right after it: the common case compared, not searched.
    const endBytes = head.end;
    let after: number;
    if (lt + endBytes.length <= end && sameBytes(view, buf, lt, endBytes, endBytes.length)) after = lt + endBytes.length;
    else {
      const gt3 = buf.indexOf(GT, lt);
      if (gt3 === -1 || gt3 >= end) return END_TAG_CUT_RE.test(latin1(buf, lt, end)) ? SCAN_WAIT : SCAN_DECLINE;
      if (!isGcmEndTag(buf, lt, gt3 + 1, head)) return SCAN_DECLINE;
      after = gt3 + 1;
    }
    const n = MESSAGE_END.length;
    const have = Math.min(n, end - after);
    if (!sameBytes(view, buf, after, MESSAGE_END, have)) return SCAN_DECLINE;
    return have === n ? after : SCAN_WAIT;
  }

  /**
   * Reads the payload as the canonical ACK with plain strings, from where the last look stopped
   * (`ackTo`, `ackStep`) up to the bytes at hand (`end`) or through its end (the `<` after it), and
   * says what it found in `ack` (and where the id stands): ACK_YES, ACK_NO when a byte at hand
   * differs from that shape; it stays ACK_UNKNOWN when the bytes end first, every one of them as
   * the shape has it (then the next look resumes here: a fixed piece cut short is compared again
   * from its start, a string from where it stopped). Every byte before the position it returns is
   * plain: plainRun goes on from there.
   */
  private readAck(buf: Buffer, start: number, end: number): number {
    const view = this.viewFor(buf, start, end);
    const from = start + this.headLength;
    let at = start + this.ackTo;
    let step = this.ackStep;
    if (step === ACK_AT_OPEN) {
      if (!this.ackPiece(view, buf, start, at, end, ACK_OPEN)) return this.ackStop(start, at, step);
      at += ACK_OPEN.length;
      step = ACK_AT_FROM;
    }
    if (step === ACK_AT_FROM) {
      at = plainRun(view, buf, at, end, ACK_BYTE);
      if (at === end) return this.ackStop(start, at, step);
      this.ackFromEnd = at - from;
      step = ACK_AT_MID;
    }
    if (step === ACK_AT_MID) {
      if (!this.ackPiece(view, buf, start, at, end, ACK_MID)) return this.ackStop(start, at, step);
      at += ACK_MID.length;
      this.ackAt = at - from;
      step = ACK_AT_ID;
    }
    if (step === ACK_AT_ID) {
      at = plainRun(view, buf, at, end, ACK_BYTE);
      if (at === end) return this.ackStop(start, at, step);
      // canonicalAckId wants an id of one character at least.
      if (at - from === this.ackAt) {
        this.ack = ACK_NO;
        this.ackNoEnd = at + 1 - start;
        return at;
      }
      this.ackEnd = at - from;
      step = ACK_AT_CLOSE;
    }
    if (!this.ackPiece(view, buf, start, at, end, ACK_CLOSE)) return this.ackStop(start, at, step);
    this.ack = ACK_YES;
    return at + ACK_CLOSE.length - 1;
  }

  /**
   * readAck(): `buf[at, …)` holds all of the piece `p`; false when it does not (ACK_NO when a byte
   * at hand differs from it, else it is cut by `end`).
   */
  private ackPiece(view: DataView | null, buf: Buffer, start: number, at: number, end: number, p: Pattern): boolean {
    const n = Math.min(p.length, end - at);
    if (!sameBytes(view, buf, at, p, n)) {
      this.ack = ACK_NO;
      this.ackNoEnd = at + n - start;
      return false;
    }
    return n === p.length;
  }

  /** readAck() stops at `at` (in the piece `step`): where it resumes while `ack` is still ACK_UNKNOWN. */
  private ackStop(start: number, at: number, step: number): number {
    this.ackTo = at - start;
    this.ackStep = step;
    return at;
  }

  /**
   * Judges and decodes the payload from `accTo` up to `textEnd` (or, when the stanza is cut there,
   * up to the last whole character outside an entity reference that has not ended yet: saxes
   * judges a reference at its `;`), appending it to `acc`. False when saxes should judge it.
   */
  private decodeSoFar(buf: Buffer, start: number, plainTo: number, textEnd: number, cut: boolean): boolean {
    const from = start + this.accTo;
    let to = textEnd;
    if (cut) {
      to = from + completePrefixLength(buf.subarray(from, textEnd));
      const amp = buf.lastIndexOf(AMP, to - 1);
      if (amp >= from) {
        const semi = buf.indexOf(SEMI, amp);
        if (semi === -1 || semi >= to) {
          // A reference still arriving: what it holds so far must be able to become one.
          for (let i = amp + 1; i < to; i++) if (!isRefByte(buf[i] as number)) return false;
          to = amp;
        }
      }
    }
    if (to <= from) return true;
    const text = this.payloadText(buf, start, from, Math.min(plainTo, to), to);
    if (text === null) return false;
    this.acc += text;
    this.accTo = this.plainTo = to - start;
    return true;
  }

  /**
   * A head seen before at `buf[start, …)`, whole before `end` (`recalled` is its length), or
   * HEAD_PREFIX when `buf[start, end)` is the start of one, or null. Compared byte for byte from
   * the start, so no `>` has to be searched for: a head seen before holds exactly two, at its end
   * and at the end of its first tag, and so does anything that equals it.
   */
  private recallHead(buf: Buffer, start: number, end: number): Head | typeof HEAD_PREFIX | null {
    const view = this.viewFor(buf, start, end);
    const avail = end - start;
    let prefix = false;
    const memo = this.memo;
    for (let i = 0; i < memo.length; i++) {
      const h = memo[i] as Head;
      const bytes = h.bytes as Pattern;
      const len = bytes.length;
      if (len <= avail) {
        if (sameBytes(view, buf, start, bytes, len)) {
          this.recalled = len;
          this.headAttrs = h.attrs;
          this.headTemplate = null;
          return h;
        }
      } else if (!prefix && sameBytes(view, buf, start, bytes, avail)) prefix = true;
    }
    const templates = this.templates;
    for (let i = 0; i < templates.length; i++) {
      const t = templates[i] as IdTemplate;
      const b = t.before.length;
      if (b >= avail) {
        if (!prefix && sameBytes(view, buf, start, t.before, avail)) prefix = true;
        continue;
      }
      if (!sameBytes(view, buf, start, t.before, b)) continue;
      // The id value: any bytes of the shape up to the quote.
      const quote = t.quote;
      const idStart = start + b;
      let q = idStart;
      while (q < end && isIdValueByte(buf[q] as number, quote)) q++;
      if (q === end) {
        prefix = true;
        continue;
      }
      if (buf[q] !== quote) continue;
      const a = t.after.length;
      if (end - q < a) {
        if (!prefix && sameBytes(view, buf, q, t.after, end - q)) prefix = true;
        continue;
      }
      if (!sameBytes(view, buf, q, t.after, a)) continue;
      // The same id as the template's last stanza (CCS's `id=""`): the same attributes. Another:
      // made when they are read (see partsAttrs).
      const attrs = t.lastAttrs;
      if (attrs !== undefined && sameId(buf, idStart, q, t.lastId)) this.headAttrs = attrs;
      else {
        this.headAttrs = null;
        this.headIdAt = idStart - start;
        this.headIdEnd = q - start;
      }
      this.headTemplate = t;
      this.recalled = q + a - start;
      return t.head;
    }
    return prefix ? HEAD_PREFIX : null;
  }

  /** The two start tags `buf[start, end)`, judged by the regular expression and remembered, or null. */
  private judgeHead(buf: Buffer, start: number, end: number): Head | null {
    const raw = latin1(buf, start, end);
    const m = HEAD_RE.exec(raw);
    if (m === null) return null;
    const prefix = m[2];
    if (prefix !== m[3] || badPrefix(prefix)) return null;
    const range = this.idRange;
    const attrs = parseAttrs(m[1] as string, range);
    if (attrs === null) return null;
    // The gcm child's name and attributes made once per head, not per element: a computed key and
    // a concatenation per stanza cost the elements path 5–6% of its rate (A/B with
    // bench/micro/parser-ab.mjs, bench/ANALYSIS.md).
    const gcmName = prefix === undefined ? 'gcm' : `${prefix}:gcm`;
    const gcmAttrs = { [prefix === undefined ? 'xmlns' : `xmlns:${prefix}`]: NS_GCM };
    const endBytes = new Pattern(Buffer.from(`</${gcmName}>`, 'latin1'));
    if (range.start >= 0) {
      // Unique to its message (the id), but the bytes around the id tend to repeat.
      const at = start + MESSAGE_OPEN_LENGTH;
      const t: IdTemplate = {
        before: new Pattern(Buffer.from(buf.subarray(start, at + range.start))),
        after: new Pattern(Buffer.from(buf.subarray(at + range.end, end))),
        quote: buf[at + range.end] as number,
        attrs,
        head: { bytes: undefined, end: endBytes, attrs, prefix, gcmName, gcmAttrs },
        lastAttrs: { ...attrs },
        lastId: attrs['id'] as string,
      };
      this.templates[this.templateNext] = t;
      this.templateNext = (this.templateNext + 1) % TEMPLATE_MEMO_SIZE;
      this.headAttrs = t.lastAttrs as Record<string, string>;
      this.headTemplate = t;
      return t.head;
    }
    const head: Head = { bytes: new Pattern(Buffer.from(buf.subarray(start, end))), end: endBytes, attrs, prefix, gcmName, gcmAttrs };
    this.memo[this.memoNext] = head;
    this.memoNext = (this.memoNext + 1) % HEAD_MEMO_SIZE;
    this.headAttrs = attrs;
    this.headTemplate = null;
    return head;
  }

  /**
   * The decoded payload of `buf[from, to)` (whole characters and references, no `<`; plain up to
   * `plainTo`), or null when saxes should judge it.
   */
  private payloadText(buf: Buffer, start: number, from: number, plainTo: number, to: number): string | null {
    const flags = judgeText(buf, plainTo, to, start + this.headLength, this.viewOf === buf ? this.view : null);
    if (flags === 0) return latin1(buf, from, to);
    if (flags === TEXT_REFUSED) return null;
    const text = (flags & TEXT_UTF8) !== 0 ? utf8(buf, from, to) : latin1(buf, from, to);
    return (flags & TEXT_AMP) !== 0 ? decodeEntities(text) : text;
  }
}

/**
 * The stream parser's shortcut for CCS messages, `<message …><gcm xmlns="google:mobile:data">JSON
 * </gcm></message>` (any gcm prefix) with nothing else in them: plug it in with
 * `new StanzaParser(sink, { shortcut: gcmShortcut })` (or the `shortcut` option of `connect` /
 * `accept`) and take the {@link GcmParts} in the sink's `onShortcut`. Every other stanza, and
 * anything it cannot prove well-formed, goes to saxes as usual.
 */
export const gcmShortcut: StanzaShortcut<GcmParts> = {
  name: 'message',
  createMatcher: () => new GcmMatcher(false),
};

/**
 * {@link gcmShortcut} for a receive path that settles ACKs by their id, as a sending client's does:
 * it also reads the canonical ACK from the payload's bytes as it judges them, so
 * {@link GcmParts.ackId} is known without a regular expression over the text (the CCS client
 * uses it). The parts and the elements are the same; the reading costs a consumer that never asks
 * for `ackId` a little, which is why it is a shortcut of its own.
 */
export const gcmAckShortcut: StanzaShortcut<GcmParts> = {
  name: 'message',
  createMatcher: () => new GcmMatcher(true),
};
