import type { SaxesTagNS } from 'saxes';
import { XmlElement, type XmlNode } from './xml-element.js';

/**
 * Builds the elements of one stanza from saxes events: a stack of the open elements, text merged
 * into one string per run (XmlElement's invariant: never two adjacent strings, never an empty one).
 * It knows no stream rules: the parser decides which events reach it.
 */
export class ElementBuilder {
  private stack: XmlElement[] = [];

  /** Drops a stanza in progress (after an error or a stream restart). */
  reset(): void {
    this.stack = [];
  }

  /** A start tag inside a stanza (the stanza's own one included). */
  open(tag: SaxesTagNS): void {
    const el = new XmlElement(tag.name, tag.local, tag.prefix, tag.uri, attributesOf(tag), []);
    const parent = this.stack[this.stack.length - 1];
    if (parent !== undefined) parent.children.push(el);
    this.stack.push(el);
  }

  /** Character data (text or CDATA) inside the innermost open element. */
  text(text: string): void {
    if (text === '') return;
    const el = this.stack[this.stack.length - 1] as XmlElement;
    const kids: XmlNode[] = el.children;
    const last = kids.length - 1;
    if (last >= 0 && typeof kids[last] === 'string') kids[last] = (kids[last] as string) + text;
    else kids.push(text);
  }

  /** An end tag: the element it closes (the whole stanza when it was the outermost). */
  close(): XmlElement {
    return this.stack.pop() as XmlElement;
  }
}

/**
 * A start tag's attributes as a plain record by qualified name. `__proto__` is just a name here:
 * it is defined as an own property rather than assigned (which would set the prototype).
 */
export function attributesOf(tag: SaxesTagNS): Record<string, string> {
  const attrs: Record<string, string> = {};
  const tagAttrs = tag.attributes;
  for (const name in tagAttrs) {
    const value = (tagAttrs[name] as { value: string }).value;
    if (name === '__proto__') Object.defineProperty(attrs, name, { value, enumerable: true, writable: true, configurable: true });
    else attrs[name] = value;
  }
  return attrs;
}
