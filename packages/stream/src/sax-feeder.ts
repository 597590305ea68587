import { isAscii, isUtf8 } from 'node:buffer';
import { SaxesParser, type SaxesTagNS, type XMLDecl } from 'saxes';
import { completePrefixLength, firstInvalidUtf8, latin1, utf8 } from './utf8.js';

/** What saxes reports, passed on by the {@link SaxFeeder} (only from its current saxes instance). */
export interface SaxEvents {
  onXmlDecl(decl: XMLDecl): void;
  /** A construct RFC 6120 §11 forbids: `a DTD`, `comments`, `processing instructions`. */
  onRestricted(what: string): void;
  onSaxError(message: string): void;
  onOpenTag(tag: SaxesTagNS): void;
  onText(text: string): void;
  onCdata(text: string): void;
  onCloseTag(): void;
}

/**
 * Feeds bytes to saxes, which takes strings: it decodes each chunk once (a character cut by the
 * chunk's end is carried to the next one, an invalid byte stops the decode where it stands), and
 * maps saxes' positions (UTF-16 units) back to stream byte offsets, for error positions, size
 * limits and handing the rest of a chunk to the fast framer.
 */
export class SaxFeeder {
  private readonly events: SaxEvents;
  private sax!: SaxesParser<{ xmlns: true; position: true }>;
  /** Lead bytes of a character cut by the end of the previous chunk. */
  private carry: Buffer | null = null;
  /** Total UTF-16 code units handed to saxes; its `position` is counted in the same units. */
  private saxChars = 0;
  /** The string being fed now, its first char's saxes position and stream byte offset. */
  private curStr = '';
  private curCharBase = 0;
  private curByteBase = 0;
  private curAscii = true;
  /** Memo for byteAtChar(): positions only move forward within one string. */
  private mapChar = 0;
  private mapByte = 0;
  /** Set by decode(): stream offset of the first byte that is not UTF-8, or -1. */
  invalidByte = -1;
  /** Set by decode(): stream offset just past the last complete character decoded. */
  fedTo = 0;

  constructor(events: SaxEvents) {
    this.events = events;
    this.reset();
  }

  /** True while lead bytes of a cut character wait for the next chunk. */
  get hasCarry(): boolean {
    return this.carry !== null;
  }

  /** A fresh saxes for a new stream; the old one's events fall silent. */
  reset(): void {
    this.carry = null;
    this.saxChars = 0;
    this.curStr = '';
    this.curCharBase = 0;
    this.curByteBase = 0;
    this.curAscii = true;
    this.mapChar = 0;
    this.mapByte = 0;
    const sax = new SaxesParser({ xmlns: true, position: true, defaultXMLVersion: '1.0', forceXMLVersion: true });
    const ev = this.events;
    sax.on('xmldecl', (decl: XMLDecl) => this.sax === sax && ev.onXmlDecl(decl));
    sax.on('doctype', () => this.sax === sax && ev.onRestricted('a DTD is'));
    sax.on('comment', () => this.sax === sax && ev.onRestricted('comments are'));
    sax.on('processinginstruction', () => this.sax === sax && ev.onRestricted('processing instructions are'));
    sax.on('error', (err: Error) => this.sax === sax && ev.onSaxError(err.message));
    sax.on('opentag', (tag: SaxesTagNS) => this.sax === sax && ev.onOpenTag(tag));
    sax.on('text', (text: string) => this.sax === sax && ev.onText(text));
    sax.on('cdata', (text: string) => this.sax === sax && ev.onCdata(text));
    sax.on('closetag', () => this.sax === sax && ev.onCloseTag());
    this.sax = sax;
  }

  /**
   * Decodes the next bytes (`bytes[0]` at stream offset `byteBase`) after any carried lead bytes,
   * up to the last complete character or the first invalid byte (`invalidByte`), and makes the
   * result the current string for `write` and `byteAtChar`.
   * @returns the decoded text (possibly `''` before an invalid byte), or null when nothing but a
   *   cut character arrived
   */
  decode(bytes: Buffer, byteBase: number): string | null {
    let data = bytes;
    let base = byteBase;
    if (this.carry !== null) {
      data = Buffer.concat([this.carry, bytes]);
      base -= this.carry.length;
      this.carry = null;
    }
    const complete = completePrefixLength(data);
    if (complete < data.length) {
      this.carry = Buffer.from(data.subarray(complete));
      data = data.subarray(0, complete);
    }
    this.invalidByte = -1;
    this.fedTo = base + data.length;
    if (data.length === 0) return null;
    const ascii = isAscii(data);
    if (!ascii && !isUtf8(data)) {
      const at = firstInvalidUtf8(data);
      this.invalidByte = base + at;
      data = data.subarray(0, at);
    }
    const s = data.length === 0 ? '' : ascii ? latin1(data) : utf8(data);
    this.curStr = s;
    this.curCharBase = this.saxChars;
    this.curByteBase = base;
    this.curAscii = ascii;
    this.mapChar = 0;
    this.mapByte = 0;
    this.saxChars += s.length;
    return s;
  }

  /** Hands a piece of the current string to saxes (its events fire from inside). */
  write(piece: string): void {
    this.sax.write(piece);
  }

  /**
   * The current string was fed up to `index` only: the rest goes elsewhere (the fast framer),
   * and so does any carried character.
   */
  stopAt(index: number): void {
    this.saxChars = this.curCharBase + index;
    this.carry = null;
  }

  /** Forgets a carried character (the stream failed). */
  dropCarry(): void {
    this.carry = null;
  }

  /** Stream byte offset just after saxes' current position. */
  currentByte(): number {
    return this.byteAtChar(this.sax.position - this.curCharBase);
  }

  /** Stream byte offset of the character at `index` in the current string. */
  byteAtChar(index: number): number {
    if (index <= 0 || this.curAscii) return this.curByteBase + index;
    let c = this.mapChar;
    let b = this.mapByte;
    if (index < c) {
      c = 0;
      b = 0;
    }
    const s = this.curStr;
    // UTF-8 length of UTF-16 units; the input was valid UTF-8, so surrogates come in pairs (2 + 2).
    for (; c < index; c++) {
      const u = s.charCodeAt(c);
      b += u < 0x80 ? 1 : u < 0x800 || (u >= 0xd800 && u <= 0xdfff) ? 2 : 3;
    }
    this.mapChar = c;
    this.mapByte = b;
    return this.curByteBase + b;
  }
}
