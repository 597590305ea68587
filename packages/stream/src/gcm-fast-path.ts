import { isUtf8 } from 'node:buffer';
import { NS_GCM } from './namespaces.js';
import { latin1, utf8 } from './utf8.js';
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
// Attribute values restricted to ASCII without `&`, `<` or whitespace controls: no decoding and no
// normalisation (XML 1.0 §3.3.3) is needed, so the raw bytes are the value.
const ATTR = `${S}+(?:xml:lang|${NAME})${S}*=${S}*(?:"[^"<&\\x00-\\x1f\\x7f-\\xff]*"|'[^'<&\\x00-\\x1f\\x7f-\\xff]*')`;
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
  if (prefix !== undefined && prefix.length >= 3 && prefix.slice(0, 3).toLowerCase() === 'xml') return null;

  const attrs: Record<string, string> = {};
  const rawAttrs = m[1] as string;
  if (rawAttrs.length > 0) {
    ATTR_RE.lastIndex = 0;
    let a: RegExpExecArray | null;
    while ((a = ATTR_RE.exec(rawAttrs)) !== null) {
      const name = a[1] as string;
      // Namespace declarations change resolution, `__proto__` is not a safe key: let saxes do them.
      if (name === '__proto__' || name === 'xmlns' || name.startsWith('xmlns:')) return null;
      if (Object.hasOwn(attrs, name)) return null; // duplicate: saxes rejects it
      attrs[name] = a[2] ?? (a[3] as string);
    }
  }

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
