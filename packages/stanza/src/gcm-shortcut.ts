import { isUtf8 } from 'node:buffer';
import { XmlElement, type StanzaShortcut, type StanzaShortcutMatcher } from '@ccs-xmpp/stream';
import { completePrefixLength, latin1, utf8 } from './bytes.js';
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
 * are judged by one regular expression over a latin1 view (irregexp compiles it to native code;
 * latin1 maps each byte to one char, so string offsets are byte offsets). Attribute values may not
 * hold `>` in this shape, so the head ends at the second `>`. The payload — most of the bytes — is
 * never walked in JavaScript: `indexOf` (memchr) proves it holds no `<`, one UTF-8 decode makes the
 * string handed over (the only copy of the payload), and one character-class test finds anything
 * that needs more care (entities, controls, U+FFFD from invalid bytes, U+FFFE/U+FFFF).
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

// Text that needs more than the decoded string: entity references, controls (saxes refuses them;
// `\r` needs end-of-line normalisation), U+FFFD (maybe an invalid byte), U+FFFE and U+FFFF.
const TEXT_SPECIAL = /[&\x00-\x08\x0b-\x1f\ufffd-\uffff]/;
const TEXT_REFUSED = /[\x00-\x08\x0b-\x1f\ufffe\uffff]/;
const ENTITY_RE = /&(?:(lt|gt|amp|quot|apos)|#([0-9]+)|#x([0-9a-fA-F]+));/y;
const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
const GT = 0x3e;
const LT = 0x3c;
const AMP = 0x26;
const SEMI = 0x3b;
const MESSAGE_OPEN_LENGTH = '<message'.length;

/**
 * True when `]]>` — forbidden in character data (XML 1.0 §2.4) — stands within `buf[from, to)`.
 * Searched in the bytes: no string is made, and UTF-8 never puts these bytes inside a character.
 */
function hasCdataEnd(buf: Buffer, from: number, to: number): boolean {
  // By its `>`: a payload ends at a `>` (its end tag's), so the search never runs far past `to`.
  let gt = buf.indexOf(GT, from + 2);
  while (gt !== -1 && gt < to) {
    if (buf[gt - 1] === 0x5d && buf[gt - 2] === 0x5d) return true;
    gt = buf.indexOf(GT, gt + 1);
  }
  return false;
}

function isXmlChar(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

/** Decodes the five predefined entities and character references; null if anything else. */
function decodeEntities(raw: string): string | null {
  let out = '';
  let from = 0;
  let amp = raw.indexOf('&');
  while (amp !== -1) {
    ENTITY_RE.lastIndex = amp;
    const m = ENTITY_RE.exec(raw);
    if (m === null) return null;
    let ch: string;
    if (m[1] !== undefined) ch = PREDEFINED[m[1]] as string;
    else {
      const cp = m[2] !== undefined ? Number.parseInt(m[2], 10) : Number.parseInt(m[3] as string, 16);
      if (!isXmlChar(cp)) return null;
      ch = String.fromCodePoint(cp);
    }
    out += raw.slice(from, amp) + ch;
    from = ENTITY_RE.lastIndex;
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

interface Head {
  /** The head's bytes, for recognising it again (only for remembered heads). */
  bytes: Buffer | undefined;
  /** Attributes of `<message>`. A remembered head's are copied for each element, never handed out. */
  attrs: Record<string, string>;
  prefix: string | undefined;
  /** True when `attrs` belongs to this head alone (not remembered), so the element may take it as is. */
  own: boolean;
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
  before: Buffer;
  /** The head's bytes from the id value's closing quote to its end. */
  after: Buffer;
  /** The quote around the value (`"` or `'`): the only other byte the value may not hold. */
  quote: number;
  /** The attributes, in order, the id among them (its value replaced per stanza). */
  attrs: Record<string, string>;
  prefix: string | undefined;
}

/** The id value `buf[from, to)` when every byte is allowed in a quoted value of this shape. */
function plainIdValue(buf: Buffer, from: number, to: number, quote: number): string | undefined {
  for (let i = from; i < to; i++) {
    const b = buf[i] as number;
    // VALUE_DQ / VALUE_SQ: printable ASCII other than the quote, `&`, `<`, `>`.
    if (b < 0x20 || b > 0x7e || b === quote || b === 0x26 || b === 0x3c || b === 0x3e) return undefined;
  }
  return latin1(buf, from, to);
}

/** `buf[start, start + len)` equals `bytes[0, len)`: a loop for the short heads, `compare` beyond. */
function sameBytes(buf: Buffer, start: number, bytes: Buffer, len: number): boolean {
  if (len > 96) return buf.compare(bytes, 0, len, start, start + len) === 0;
  for (let i = 0; i < len; i++) if (buf[start + i] !== bytes[i]) return false;
  return true;
}

/** True when `buf[from, to)` is exactly `</gcm>` / `</prefix:gcm>` (whitespace before `>` allowed). */
function isGcmEndTag(buf: Buffer, from: number, to: number, prefix: string | undefined): boolean {
  const len = to - from;
  if (prefix === undefined) {
    if (len === 6 && buf[from + 2] === 0x67 && buf[from + 3] === 0x63 && buf[from + 4] === 0x6d && buf[from + 5] === GT && buf[from + 1] === 0x2f) return true;
  }
  const m = END_TAG_RE.exec(latin1(buf, from, to));
  return m !== null && m[1] === prefix;
}

// The same shape cut short, for judging a stanza that has not fully arrived yet.
const START_TAG_RE = new RegExp(`^${START_TAG}$`);
const START_TAG_CUT_RE = new RegExp(
  `^<message(?:${ATTR})*(?:${S}+(?:(?:xml:lang|${NAME})(?:${S}*(?:=${S}*(?:"${VALUE_DQ}*|'${VALUE_SQ}*)?)?)?)?)?$`,
);
// `<`, a name possibly with a prefix, then anything saxes could still accept without an error.
// Whitespace may only follow a complete qualified name (saxes refuses `< `, `</ `).
const QNAME = `${NAME}(?::${NAME})?`;
const QNAME_CUT = `${NAME}:?`;
const GCM_START_CUT_RE = new RegExp(
  `^<(?:${QNAME_CUT}|${QNAME}(?:${S}+${QNAME}${S}*=${S}*(?:"${VALUE_DQ}*"|'${VALUE_SQ}*'))*` +
    `(?:${S}+(?:${QNAME_CUT}|${QNAME}${S}*(?:=${S}*(?:"${VALUE_DQ}*|'${VALUE_SQ}*)?)?)?)?)?$`,
);
const END_TAG_CUT_RE = new RegExp(`^<(?:/(?:${QNAME_CUT}|${QNAME}${S}*)?)?$`);
const MESSAGE_END = '</message>';


/**
 * What the GCM shortcut hands over for a recognised CCS message: the decoded `<gcm>` payload (the
 * JSON text, `''` when empty) and the `<message>` attributes. Valid until the parser's next
 * stanza; the attributes may be shared with later stanzas of the same start tag: read only.
 */
export interface GcmParts {
  readonly json: string;
  readonly attrs: Readonly<Record<string, string>>;
}


/**
 * One parser's GCM matcher: what it learned about a stanza still arriving (offsets from the
 * stanza's start, so each byte is judged once however many chunks it takes) and the heads it has
 * seen recently; no reference to a chunk outlives the call that was given it. It is also the parts
 * it hands over.
 */
class GcmMatcher implements StanzaShortcutMatcher<GcmParts>, GcmParts {
  json = '';
  attrs: Readonly<Record<string, string>> = {};
  // --- the stanza in progress (offsets from its start), judged while it was arriving ---
  /** Its head, once both start tags have arrived. */
  private head: Head | null = null;
  /** Where its payload starts. */
  private headLength = 0;
  /** Its payload up to `accTo` is judged and decoded into `acc`… */
  private accTo = 0;
  private acc = '';
  /** …and from there up to `plainTo` judged plain ASCII without `]]>`, not decoded yet. */
  private plainTo = 0;
  // --- what this parser has seen ---
  private readonly memo: Head[] = [];
  private memoNext = 0;
  private readonly templates: IdTemplate[] = [];
  private templateNext = 0;
  private readonly idRange: IdRange = { start: -1, end: -1 };

  reset(): void {
    this.head = null;
    this.headLength = 0;
    this.accTo = 0;
    this.acc = '';
    this.plainTo = 0;
  }

  release(): void {
    // Nothing refers to the chunk once a call returns: pieces of it are copied into strings.
  }

  match(buf: Buffer, start: number, close: number): GcmParts | undefined {
    let head = this.head;
    let textStart: number;
    if (head !== null) {
      textStart = start + this.headLength;
    } else {
      const gt1 = buf.indexOf(GT, start);
      if (gt1 === -1 || gt1 >= close) return undefined;
      const gt2 = buf.indexOf(GT, gt1 + 1);
      if (gt2 === -1 || gt2 >= close) return undefined;
      head = this.matchHead(buf, start, gt2 + 1);
      if (head === null) return undefined;
      textStart = gt2 + 1;
      this.accTo = this.plainTo = textStart - start;
    }
    // The payload holds no `<`, so the gcm end tag starts at the first `<` after the head; it must
    // fill everything up to `</message>` (isGcmEndTag judges every byte of that range).
    const endTag = buf.indexOf(LT, textStart);
    if (endTag === -1 || endTag >= close) return undefined;
    if (!isGcmEndTag(buf, endTag, close, head.prefix)) return undefined;
    // What was judged while the stanza arrived stands; only the rest is looked at now.
    const accTo = start + this.accTo;
    const plainTo = start + this.plainTo;
    let text = '';
    if (endTag > accTo) {
      if (hasCdataEnd(buf, Math.max(textStart, plainTo - 2), endTag)) return undefined;
      if (this.isPlainAscii(buf, plainTo, endTag)) text = latin1(buf, accTo, endTag);
      else {
        const rest = this.payloadText(buf, accTo, endTag);
        if (rest === null) return undefined;
        text = rest;
      }
    }
    this.head = head;
    this.json = this.acc === '' ? text : this.acc + text;
    this.attrs = head.attrs;
    return this;
  }

  element(parts: GcmParts, defaultNs: string): XmlElement {
    const head = this.head as Head;
    const { prefix } = head;
    let childAttrs: Record<string, string>;
    let name = 'gcm';
    if (prefix === undefined) childAttrs = { xmlns: NS_GCM };
    else {
      childAttrs = { [`xmlns:${prefix}`]: NS_GCM };
      name = `${prefix}:gcm`;
    }
    const text = parts.json;
    const gcm = new XmlElement(name, 'gcm', prefix ?? '', NS_GCM, childAttrs, text.length > 0 ? [text] : []);
    // A head judged for this stanza alone hands its attributes over; a remembered one is copied.
    const attrs = head.own ? head.attrs : { ...head.attrs };
    head.own = false;
    return new XmlElement('message', 'message', '', defaultNs, attrs, [gcm]);
  }

  canWait(buf: Buffer, start: number, end: number): boolean {
    let head = this.head;
    if (head === null) {
      const gt1 = buf.indexOf(GT, start);
      if (gt1 === -1 || gt1 >= end) return START_TAG_CUT_RE.test(latin1(buf, start, end));
      const gt2 = buf.indexOf(GT, gt1 + 1);
      if (gt2 === -1 || gt2 >= end) {
        const tag = START_TAG_RE.exec(latin1(buf, start, gt1 + 1));
        if (tag === null || parseAttrs(tag[1] as string) === null) return false;
        return gt1 + 1 === end || GCM_START_CUT_RE.test(latin1(buf, gt1 + 1, end));
      }
      head = this.matchHead(buf, start, gt2 + 1);
      if (head === null) return false;
      this.head = head;
      this.accTo = this.plainTo = this.headLength = gt2 + 1 - start;
    }
    const textStart = start + this.headLength;
    let lt = buf.indexOf(LT, start + this.plainTo);
    if (lt >= end) lt = -1;
    const textEnd = lt === -1 ? end : lt;
    const from = start + this.plainTo;
    if (textEnd > from) {
      // Only what arrived since the last look is judged: each byte once, however many chunks.
      if (hasCdataEnd(buf, Math.max(textStart, from - 2), textEnd)) return false;
      if (this.isPlainAscii(buf, from, textEnd)) this.plainTo = textEnd - start;
      else if (!this.decodeSoFar(buf, start, textEnd, lt === -1)) return false;
    }
    if (lt === -1) return true;
    const gt3 = buf.indexOf(GT, lt);
    if (gt3 === -1 || gt3 >= end) return END_TAG_CUT_RE.test(latin1(buf, lt, end));
    if (!isGcmEndTag(buf, lt, gt3 + 1, head.prefix)) return false;
    const rest = latin1(buf, gt3 + 1, end);
    return rest.length < MESSAGE_END.length && MESSAGE_END.startsWith(rest);
  }

  /**
   * Judges and decodes the payload from `accTo` up to `textEnd` (or, when the stanza is cut there,
   * up to the last whole character outside an entity reference that has not ended yet: saxes
   * judges a reference at its `;`), appending it to `acc`. False when saxes should judge it.
   */
  private decodeSoFar(buf: Buffer, start: number, textEnd: number, cut: boolean): boolean {
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
    const text = this.payloadText(buf, from, to);
    if (text === null) return false;
    this.acc += text;
    this.accTo = this.plainTo = to - start;
    return true;
  }

  /** The two start tags `buf[start, end)`, checked: attributes and the gcm prefix, or null. */
  private matchHead(buf: Buffer, start: number, end: number): Head | null {
    const len = end - start;
    const memo = this.memo;
    for (let i = 0; i < memo.length; i++) {
      const h = memo[i] as Head;
      const bytes = h.bytes as Buffer;
      if (bytes.length === len && sameBytes(buf, start, bytes, len)) return h;
    }
    const templates = this.templates;
    for (let i = 0; i < templates.length; i++) {
      const t = templates[i] as IdTemplate;
      const b = t.before.length;
      const a = t.after.length;
      if (len < a + b || !sameBytes(buf, start, t.before, b) || !sameBytes(buf, end - a, t.after, a)) continue;
      const value = plainIdValue(buf, start + b, end - a, t.quote);
      if (value === undefined) continue;
      const attrs = { ...t.attrs };
      attrs['id'] = value;
      return { bytes: undefined, attrs, prefix: t.prefix, own: true };
    }
    const raw = latin1(buf, start, end);
    const m = HEAD_RE.exec(raw);
    if (m === null) return null;
    const prefix = m[2];
    if (prefix !== m[3] || badPrefix(prefix)) return null;
    const range = this.idRange;
    const attrs = parseAttrs(m[1] as string, range);
    if (attrs === null) return null;
    if (range.start >= 0) {
      // Unique to its message (the id), but the bytes around the id tend to repeat.
      const at = start + MESSAGE_OPEN_LENGTH;
      templates[this.templateNext] = {
        before: Buffer.from(buf.subarray(start, at + range.start)),
        after: Buffer.from(buf.subarray(at + range.end, end)),
        quote: buf[at + range.end] as number,
        attrs,
        prefix,
      };
      this.templateNext = (this.templateNext + 1) % TEMPLATE_MEMO_SIZE;
      return { bytes: undefined, attrs: { ...attrs }, prefix, own: true };
    }
    const head: Head = { bytes: Buffer.from(buf.subarray(start, end)), attrs, prefix, own: false };
    memo[this.memoNext] = head;
    this.memoNext = (this.memoNext + 1) % HEAD_MEMO_SIZE;
    return head;
  }

  /**
   * True when every byte of `buf[from, to)` is printable ASCII other than `&` (0x20–0x7e): such
   * text needs no decoding, no entity handling and no character checks. A plain byte loop: a
   * word-at-a-time version (four bytes per step with bit tricks over a 32-bit view of the chunk)
   * did not move the whole-parser figure beyond the noise in bench/micro/shortcut-tricks.mjs
   * (−5% to +5% either way across three runs) and needed a view of every socket chunk, so it went.
   */
  private isPlainAscii(buf: Buffer, from: number, to: number): boolean {
    for (let i = from; i < to; i++) {
      const b = buf[i] as number;
      if (b < 0x20 || b > 0x7e || b === 0x26) return false;
    }
    return true;
  }

  /**
   * The decoded payload of `buf[from, to)` (no `<` in it, no `]]>`: the callers look for it in the
   * bytes; whole characters and references), or null when saxes should judge it.
   */
  private payloadText(buf: Buffer, from: number, to: number): string | null {
    if (this.isPlainAscii(buf, from, to)) return latin1(buf, from, to);
    const text = utf8(buf, from, to);
    if (!TEXT_SPECIAL.test(text)) return text;
    if (TEXT_REFUSED.test(text)) return null;
    if (text.includes('\ufffd') && !isUtf8(buf.subarray(from, to))) return null;
    if (!text.includes('&')) return text;
    return decodeEntities(text);
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
  createMatcher: () => new GcmMatcher(),
};
