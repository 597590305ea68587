import { XmlElement } from './xml-element.js';

// Characters XML 1.0 forbids outright (§2.2 Char): C0 controls other than TAB/LF/CR, lone
// surrogates, U+FFFE and U+FFFF. Writing one produces a stream every conforming peer must
// reject with <not-well-formed/>, so the serializer refuses instead of sending it.
const FORBIDDEN_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const TEXT_SPECIAL = /[&<>\r]/;
const ATTR_SPECIAL = /[&<>"'\t\n\r]/;

/** Thrown when asked to serialize a character that XML 1.0 cannot carry. */
export class XmlCharError extends TypeError {
  override name = 'XmlCharError';
  readonly code = 'STREAM_ERR_INVALID_XML_CHAR';
  constructor(where: string, codeUnit: number) {
    super(`${where} contains U+${codeUnit.toString(16).toUpperCase().padStart(4, '0')}, which XML 1.0 cannot carry`);
  }
}

function checkChars(s: string, where: string): void {
  const m = FORBIDDEN_CHAR.exec(s);
  if (m) throw new XmlCharError(where, m[0].charCodeAt(0));
}

/**
 * Escapes character data. `>` is escaped too, so `]]>` can never appear; `\r` becomes `&#13;` so a
 * receiver's end-of-line normalisation does not turn it into `\n`.
 * @throws {XmlCharError} for characters XML 1.0 forbids.
 */
export function escapeText(s: string): string {
  checkChars(s, 'text');
  if (!TEXT_SPECIAL.test(s)) return s;
  return s.replace(/[&<>\r]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&#13;'));
}

/**
 * Escapes an attribute value for either quote style. Whitespace controls are written as character
 * references so attribute-value normalisation (XML 1.0 §3.3.3) gives them back unchanged.
 * @throws {XmlCharError} for characters XML 1.0 forbids.
 */
export function escapeAttr(s: string): string {
  checkChars(s, 'attribute value');
  if (!ATTR_SPECIAL.test(s)) return s;
  return s.replace(/[&<>"'\t\n\r]/g, (c) => {
    switch (c) {
      case '&': return '&amp;';
      case '<': return '&lt;';
      case '>': return '&gt;';
      case '"': return '&quot;';
      case "'": return '&apos;';
      case '\t': return '&#9;';
      case '\n': return '&#10;';
      default: return '&#13;';
    }
  });
}

/** The start tag of an element (`<name a="v">`), for writing a stream header or an open envelope. */
export function startTag(name: string, attrs: Record<string, string>): string {
  let out = `<${name}`;
  for (const key of Object.keys(attrs)) out += ` ${key}="${escapeAttr(attrs[key] as string)}"`;
  return `${out}>`;
}

/**
 * Serializes an element and its subtree. Empty elements are written self-closed.
 * @throws {XmlCharError} when a name-less character XML 1.0 forbids is in text or an attribute.
 */
export function serialize(el: XmlElement): string {
  let out = `<${el.name}`;
  const { attrs } = el;
  for (const key of Object.keys(attrs)) out += ` ${key}="${escapeAttr(attrs[key] as string)}"`;
  if (el.children.length === 0) return `${out}/>`;
  out += '>';
  for (const child of el.children) out += typeof child === 'string' ? escapeText(child) : serialize(child);
  return `${out}</${el.name}>`;
}
