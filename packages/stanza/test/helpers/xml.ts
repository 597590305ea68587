// Test helpers: build the XmlElement shape the stream parser delivers, from plain saxes (xmlns
// mode) and from @ccs-xmpp/stream's StanzaParser.
import { SaxesParser } from 'saxes';
import { StanzaParser, XmlElement } from '@ccs-xmpp/stream';

/** Parses one XML document with plain saxes into XmlElements (adjacent text merged, never empty). Throws on any XML error. */
export function parseWithSaxes(xmlText: string): XmlElement {
  const parser = new SaxesParser({ xmlns: true });
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  const addText = (text: string): void => {
    const top = stack[stack.length - 1];
    if (top === undefined || text === '') return;
    const last = top.children.length - 1;
    if (last >= 0 && typeof top.children[last] === 'string') top.children[last] = (top.children[last] as string) + text;
    else top.children.push(text);
  };
  parser.on('opentag', (tag) => {
    const attrs: Record<string, string> = {};
    for (const [k, a] of Object.entries(tag.attributes)) {
      Object.defineProperty(attrs, k, { value: a.value, enumerable: true, writable: true, configurable: true });
    }
    const el = new XmlElement(tag.name, tag.local, tag.prefix, tag.uri, attrs, []);
    const top = stack[stack.length - 1];
    if (top) top.children.push(el);
    else root = el;
    stack.push(el);
  });
  parser.on('text', addText);
  parser.on('cdata', addText);
  parser.on('closetag', () => { stack.pop(); });
  parser.on('error', (err) => { throw err; });
  parser.write(xmlText).close();
  if (root === undefined) throw new Error('no root element');
  return root;
}

const HEADER = '<stream:stream from="gcm.googleapis.com" id="X" version="1.0" xmlns:stream="http://etherx.jabber.org/streams" xmlns="jabber:client">';

/** Parses stanzas (bytes or text) with the stream's StanzaParser, as a CCS client would receive them. */
export function parseWithStream(stanzas: string | Uint8Array): XmlElement[] {
  const out: XmlElement[] = [];
  let failure: unknown;
  const parser = new StanzaParser({
    onStreamOpen() {},
    onStanza(el) { out.push(el); },
    onStreamEnd() {},
    onError(err) { failure = err; },
  });
  parser.write(Buffer.from(HEADER));
  parser.write(typeof stanzas === 'string' ? Buffer.from(stanzas) : stanzas);
  if (failure) throw failure;
  return out;
}
