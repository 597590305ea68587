/** A child of an element: another element or a run of character data (entities already decoded). */
export type XmlNode = XmlElement | string;

/**
 * One XML element of a stanza, namespace-resolved.
 *
 * This is what the stanza parser hands over for every depth-1 element, and what the serializer
 * writes. It is deliberately small: adjacent character data (text, CDATA, split chunks) is always
 * merged into one string, so a `<gcm>` payload is `children[0]` of the `gcm` element, produced by a
 * single decode of the bytes it came from.
 */
export class XmlElement {
  /** Qualified name as written, e.g. `data:gcm`. */
  name: string;
  /** Local part of the name, e.g. `gcm`. */
  local: string;
  /** Prefix as written (`''` for none). */
  prefix: string;
  /** Resolved namespace URI (`''` when in no namespace). */
  uri: string;
  /**
   * Attributes by qualified name as written, namespace declarations included
   * (`xmlns`, `xmlns:data`). Values are decoded and normalised as XML 1.0 says.
   */
  attrs: Record<string, string>;
  /** Children in document order; never two adjacent strings, never an empty string. */
  children: XmlNode[];

  constructor(
    name: string,
    local: string,
    prefix: string,
    uri: string,
    attrs: Record<string, string>,
    children: XmlNode[],
  ) {
    this.name = name;
    this.local = local;
    this.prefix = prefix;
    this.uri = uri;
    this.attrs = attrs;
    this.children = children;
  }

  /** An attribute's value, or `undefined`. Own properties only (`__proto__` is just a name). */
  attr(name: string): string | undefined {
    return Object.prototype.hasOwnProperty.call(this.attrs, name) ? this.attrs[name] : undefined;
  }

  /** The first child element with this local name (and namespace URI, when given). */
  getChild(local: string, uri?: string): XmlElement | undefined {
    for (const child of this.children) {
      if (typeof child !== 'string' && child.local === local && (uri === undefined || child.uri === uri)) {
        return child;
      }
    }
    return undefined;
  }

  /** Every child element, optionally only those with this local name / namespace URI. */
  getChildren(local?: string, uri?: string): XmlElement[] {
    const out: XmlElement[] = [];
    for (const child of this.children) {
      if (typeof child === 'string') continue;
      if (local !== undefined && child.local !== local) continue;
      if (uri !== undefined && child.uri !== uri) continue;
      out.push(child);
    }
    return out;
  }

  /** The element's own character data (not its descendants'); `''` when it has none. */
  text(): string {
    const { children } = this;
    // The parser merges adjacent text, so the common case is one string child.
    if (children.length === 1 && typeof children[0] === 'string') return children[0];
    let out = '';
    for (const child of children) if (typeof child === 'string') out += child;
    return out;
  }
}

/**
 * Builds an element for sending. `name` may carry a prefix (`stream:error`); the namespace URI is
 * taken from the matching `xmlns`/`xmlns:prefix` attribute when present, else `''` (inherited).
 * `undefined` attribute values are left out; `null`/`false`/`undefined` children are skipped.
 */
export function xml(
  name: string,
  attrs?: Record<string, string | number | undefined> | null,
  ...children: Array<XmlNode | null | undefined | false>
): XmlElement {
  const colon = name.indexOf(':');
  const prefix = colon === -1 ? '' : name.slice(0, colon);
  const local = name.slice(colon + 1); // the whole name when there is no colon (-1 + 1)
  const clean: Record<string, string> = {};
  if (attrs) {
    for (const key of Object.keys(attrs)) {
      const value = attrs[key];
      if (value === undefined) continue;
      Object.defineProperty(clean, key, { value: String(value), enumerable: true, writable: true, configurable: true });
    }
  }
  const uriAttr = prefix === '' ? 'xmlns' : `xmlns:${prefix}`;
  const uri = Object.prototype.hasOwnProperty.call(clean, uriAttr) ? (clean[uriAttr] as string) : '';
  const kids: XmlNode[] = [];
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (typeof child === 'string') {
      if (child === '') continue;
      const last = kids.length - 1;
      // With no kids yet, kids[-1] is undefined: the text starts the list.
      if (typeof kids[last] === 'string') kids[last] = (kids[last] as string) + child;
      else kids.push(child);
    } else {
      kids.push(child);
    }
  }
  return new XmlElement(name, local, prefix, uri, clean, kids);
}
