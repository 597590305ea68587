import { isUtf8 } from 'node:buffer';
import { NS_GCM } from './namespaces.js';
import { completePrefixLength, latin1, utf8 } from './utf8.js';
import { XmlElement } from './xml-element.js';

/*
 * The specialised path for the stanza that is ~95% of a CCS connection's inbound traffic:
 *
 *   <message id="…" …><gcm xmlns="google:mobile:data">{JSON}</gcm></message>
 *   <message><data:gcm xmlns:data="google:mobile:data">{JSON}</data:gcm></message>
 *
 * It accepts only a subset of XML it can prove well-formed and namespace-well-formed, and builds
 * exactly the tree saxes would build; anything else returns null and goes to saxes. That keeps
 * the one property that matters: it never accepts what saxes rejects, and never yields anything
 * different (the differential property test in test/ checks both).
 *
 * One regular expression over a latin1 view of the stanza does the framing: irregexp compiles it
 * to native code, and latin1 maps each byte to one char, so offsets in the string are byte offsets.
 * The JSON text is then a substring of that view (V8 shares the backing store), or for non-ASCII
 * text a single UTF-8 decode of its byte range: one copy of the payload, never two.
 */

const S = '[ \\t\\r\\n]';
const NAME = '[A-Za-z_][A-Za-z0-9_.\\-]*';
// Attribute values restricted to ASCII without `&`, `<`, `>` or whitespace controls: no decoding
// and no normalisation (XML 1.0 §3.3.3) is needed, so the raw bytes are the value; and without `>`,
// the first `>` ends the start tag, which the prefix check below relies on.
const VALUE_DQ = '[^"<&>\\x00-\\x1f\\x7f-\\xff]';
const VALUE_SQ = "[^'<&>\\x00-\\x1f\\x7f-\\xff]";
const ATTR = `${S}+(?:xml:lang|${NAME})${S}*=${S}*(?:"${VALUE_DQ}*"|'${VALUE_SQ}*')`;
const MESSAGE_RE = new RegExp(
  `^<message((?:${ATTR})*)${S}*>` +
    `<(?:(${NAME}):)?gcm${S}+xmlns(?::(${NAME}))?${S}*=${S}*(?:"${NS_GCM}"|'${NS_GCM}')${S}*>` +
    `([^<]*)` +
    `</(?:(${NAME}):)?gcm${S}*>$`,
);
const ATTR_RE = new RegExp(`${S}+(xml:lang|${NAME})${S}*=${S}*(?:"([^"]*)"|'([^']*)')`, 'g');
// Anything in the text that needs more than a substring: entity references, controls (saxes
// refuses them; `\r` would need end-of-line normalisation), non-ASCII bytes, and `]]>`.
const TEXT_SPECIAL = /[&\x00-\x08\x0b-\x1f\x80-\xff]|\]\]>/;
const TEXT_REFUSED = /[\x00-\x08\x0b-\x1f]|\]\]>/;
const ENTITY_RE = /&(?:(lt|gt|amp|quot|apos)|#([0-9]+)|#x([0-9a-fA-F]+));/y;
const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

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

/** The attributes of a matched start tag, or null for what the fast path leaves to saxes. */
function parseAttrs(raw: string): Record<string, string> | null {
  const attrs: Record<string, string> = {};
  if (raw.length === 0) return attrs;
  ATTR_RE.lastIndex = 0;
  let a: RegExpExecArray | null;
  while ((a = ATTR_RE.exec(raw)) !== null) {
    const name = a[1] as string;
    // Namespace declarations change resolution, `__proto__` is not a safe key: let saxes do them.
    if (name === '__proto__' || name === 'xmlns' || name.startsWith('xmlns:')) return null;
    if (Object.hasOwn(attrs, name)) return null; // duplicate: saxes rejects it
    attrs[name] = a[2] ?? (a[3] as string);
  }
  return attrs;
}

function badPrefix(prefix: string | undefined): boolean {
  return prefix !== undefined && prefix.length >= 3 && prefix.slice(0, 3).toLowerCase() === 'xml';
}

// The same shape in pieces, for judging a stanza that has not fully arrived yet.
const START_TAG_RE = new RegExp(`^<message((?:${ATTR})*)${S}*>`);
// A start tag cut short: complete attributes, then at most a part of one more.
const START_TAG_CUT_RE = new RegExp(
  `^<message(?:${ATTR})*(?:${S}+(?:(?:xml:lang|${NAME})(?:${S}*(?:=${S}*(?:"${VALUE_DQ}*|'${VALUE_SQ}*)?)?)?)?)?$`,
);
const GCM_START_RE = new RegExp(
  `<(?:(${NAME}):)?gcm${S}+xmlns(?::(${NAME}))?${S}*=${S}*(?:"${NS_GCM}"|'${NS_GCM}')${S}*>`,
  'y',
);
// `<`, then a name possibly with a prefix, then what may follow `gcm` (checked loosely: anything
// saxes could still accept without an error; the complete tag is judged by GCM_START_RE).
const GCM_START_CUT_RE = new RegExp(
  `^<(?:(?:${NAME}:)?(?:${NAME})?(?:${S}+(?:xmlns(?::(?:${NAME})?)?(?:${S}*(?:=${S}*(?:["'][a-z:]*)?)?)?)?)?)?$`,
);
const GCM_END_RE = new RegExp(`</(?:(${NAME}):)?gcm${S}*>`, 'y');
const GCM_END_CUT_RE = new RegExp(`^<(?:/(?:(?:${NAME}:)?(?:${NAME})?${S}*)?)?$`);
const ENTITY_CUT = /&[^;]*$/;
const MESSAGE_END = '</message>';

/**
 * Judges a stanza that has not fully arrived (`buf[start, end)`, no `</message>` in it yet):
 * true when saxes could not have reported anything about these bytes yet — so waiting for the
 * rest is indistinguishable from handing them over now; false when the caller should hand them
 * to saxes at once (it may have an error to report, or a stanza to finish, that the fast path
 * would otherwise delay). False is always safe; it only costs speed.
 */
export function gcmMessagePrefixOk(buf: Buffer, start: number, end: number): boolean {
  const view = latin1(buf, start, end);
  const st = START_TAG_RE.exec(view);
  if (st === null) return START_TAG_CUT_RE.test(view);
  if (parseAttrs(st[1] as string) === null) return false;
  let i = st[0].length;
  if (i === view.length) return true;
  GCM_START_RE.lastIndex = i;
  const gs = GCM_START_RE.exec(view);
  if (gs === null) return GCM_START_CUT_RE.test(view.slice(i));
  const prefix = gs[1];
  if (prefix !== gs[2] || badPrefix(prefix)) return false;
  i += gs[0].length;
  const lt = view.indexOf('<', i);
  const textEnd = lt === -1 ? view.length : lt;
  if (textEnd > i) {
    const raw = view.slice(i, textEnd);
    if (TEXT_SPECIAL.test(raw)) {
      if (TEXT_REFUSED.test(raw) || ENTITY_CUT.test(raw)) return false;
      let text = raw;
      if (/[\x80-\xff]/.test(raw)) {
        // A character cut by the end of the input is not judged yet (saxes has not seen it either).
        const bytes = buf.subarray(start + i, start + textEnd);
        const whole = lt === -1 ? bytes.subarray(0, completePrefixLength(bytes)) : bytes;
        if (!isUtf8(whole)) return false;
        text = utf8(whole);
        if (text.includes('\ufffe') || text.includes('\uffff')) return false;
      }
      if (text.includes('&') && decodeEntities(text) === null) return false;
    }
  }
  if (lt === -1) return true;
  GCM_END_RE.lastIndex = lt;
  const ge = GCM_END_RE.exec(view);
  if (ge === null) return GCM_END_CUT_RE.test(view.slice(lt));
  if (ge[1] !== prefix) return false;
  const rest = view.slice(lt + ge[0].length);
  return rest.length < MESSAGE_END.length && MESSAGE_END.startsWith(rest);
}

/**
 * Matches the bytes `buf[start, close)` — a stanza up to, not including, its `</message>` —
 * against the CCS message shape. Returns the element saxes would build, or null to decline.
 * @param defaultNs the namespace un-prefixed elements are in at depth 1 (from the stream header)
 */
export function matchGcmMessage(buf: Buffer, start: number, close: number, defaultNs: string): XmlElement | null {
  const view = latin1(buf, start, close);
  const m = MESSAGE_RE.exec(view);
  if (m === null) return null;
  const prefix = m[2];
  if (prefix !== m[3] || prefix !== m[5]) return null;
  if (badPrefix(prefix)) return null;

  const attrs = parseAttrs(m[1] as string);
  if (attrs === null) return null;

  let text = m[4] as string;
  if (text.length > 0 && TEXT_SPECIAL.test(text)) {
    if (TEXT_REFUSED.test(text)) return null;
    // The text contains no `<`, so it ends where the last tag (`</gcm>`) begins.
    const textEnd = view.lastIndexOf('<');
    const textStart = textEnd - text.length;
    if (/[\x80-\xff]/.test(text)) {
      const bytes = buf.subarray(start + textStart, start + textEnd);
      if (!isUtf8(bytes)) return null;
      text = utf8(bytes);
      if (text.includes('\ufffe') || text.includes('\uffff')) return null;
    }
    if (text.includes('&')) {
      const decoded = decodeEntities(text);
      if (decoded === null) return null;
      text = decoded;
    }
  }

  const gcmAttrs: Record<string, string> = {};
  let name = 'gcm';
  if (prefix === undefined) gcmAttrs.xmlns = NS_GCM;
  else {
    gcmAttrs[`xmlns:${prefix}`] = NS_GCM;
    name = `${prefix}:gcm`;
  }
  const gcm = new XmlElement(name, 'gcm', prefix ?? '', NS_GCM, gcmAttrs, text.length > 0 ? [text] : []);
  return new XmlElement('message', 'message', '', defaultNs, attrs, [gcm]);
}
