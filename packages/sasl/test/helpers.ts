// Shared by the tests; not a test file itself (the runner loads only *.test.js).
import { StanzaParser, serialize, xml, NS_CLIENT, NS_STREAM, type XmlElement } from '@ccs-xmpp/stream';
import * as assert from 'uvu/assert';
import { NS_SASL, SaslError } from '../src/index.js';

const HEADER = `<stream:stream xmlns="${NS_CLIENT}" xmlns:stream="${NS_STREAM}" version="1.0">`;

/**
 * Sends elements over a "wire": serializes them and parses them back with the real stanza parser,
 * so namespaces are resolved exactly as on a live stream.
 */
export function wire(...elements: Array<XmlElement | string>): XmlElement[] {
  const out: XmlElement[] = [];
  let error: unknown;
  const parser = new StanzaParser({
    onStreamOpen() {},
    onStanza(el) {
      out.push(el);
    },
    onStreamEnd() {},
    onError(err) {
      error = err;
    },
  });
  parser.write(Buffer.from(HEADER + elements.map((e) => (typeof e === 'string' ? e : serialize(e))).join('')));
  if (error) throw error;
  return out;
}

/** Parses one element from XML text as it would arrive on a stream. */
export function parse(xmlText: string): XmlElement {
  const [el] = wire(xmlText);
  if (!el) throw new Error(`no element in ${xmlText}`);
  return el;
}

/** `<stream:features>` offering these SASL mechanisms, as received. */
export function features(...mechanisms: string[]): XmlElement {
  return wire(
    xml(
      'stream:features',
      { 'xmlns:stream': NS_STREAM },
      xml('mechanisms', { xmlns: NS_SASL }, ...mechanisms.map((m) => xml('mechanism', null, m))),
    ),
  )[0] as XmlElement;
}

/** Collects what a negotiator sends, serialized. */
export class Outbox {
  readonly sent: XmlElement[] = [];
  readonly send = (el: XmlElement): void => {
    this.sent.push(el);
  };
  /** The serialized elements. */
  get xml(): string[] {
    return this.sent.map((e) => serialize(e));
  }
  /** The last element, round-tripped through the wire. */
  last(): XmlElement {
    const el = this.sent[this.sent.length - 1];
    if (!el) throw new Error('nothing sent');
    return wire(el)[0] as XmlElement;
  }
}

/** Settles in a microtask turn, for async lookups. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Marks a promise whose rejection the test does not care about (it aborts the negotiator itself). */
export function ignore(p: Promise<unknown>): void {
  p.catch(() => {});
}

/** Awaits `p`, which must reject with a SaslError, and returns that error. */
export async function rejection(p: Promise<unknown>): Promise<SaslError> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, SaslError);
    return err as SaslError;
  }
  throw new Error('expected a rejection');
}
