import { isAscii, isUtf8 } from 'node:buffer';
import { SaxesParser, type SaxesTagNS, type XMLDecl } from 'saxes';
import { StreamParseError, type StreamErrorCode, type StreamErrorCondition } from './errors.js';
import { CutStanza, gcmAttrs, gcmElement, gcmMessagePrefixOk, matchGcmPayload } from './gcm-fast-path.js';
import { NS_STREAM } from './namespaces.js';
import type { StanzaSink } from './sink.js';
import { completePrefixLength, firstInvalidUtf8, latin1, utf8 } from './utf8.js';
import { XmlElement, type XmlNode } from './xml-element.js';

/** Limits and switches of the stanza parser. */
export interface StanzaParserOptions {
  /**
   * Largest stanza accepted, in bytes from its `<` to its final `>` (the stream header and
   * anything before it count as one stanza). Larger ones fail with `policy-violation` as soon as
   * the limit is crossed, without buffering more than the limit plus one chunk. Default 256 KiB.
   */
  maxStanzaBytes?: number;
  /** Deepest element nesting inside a stanza (the stanza itself is depth 1). Default 32. */
  maxDepth?: number;
  /**
   * Use the specialised path for `<message><gcm xmlns="google:mobile:data">…</gcm></message>`.
   * It yields exactly what the saxes path yields (a differential property test proves it) and
   * hands every other shape to saxes. Default true; turn off to compare.
   */
  fastPath?: boolean;
}

const DEFAULT_MAX_STANZA_BYTES = 256 * 1024;
const DEFAULT_MAX_DEPTH = 32;

const LT = 0x3c;

/** Where the prolog scan is (see scanProlog). */
const enum Prolog {
  Text,
  AfterLt,
  Pi,
  PiQuestion,
  Tag,
  TagSingle,
  TagDouble,
  Done,
}
const enum Mode {
  /** saxes tokenizes everything; used until the header is parsed and after any fallback. */
  Sax,
  /** Between stanzas, bytes are framed by the fast path and handed to saxes only when it declines. */
  Fast,
  /** After the first error or the end of the stream: input is ignored until `reset()`. */
  Done,
}

// `</message>` — the end the fast path looks for before it tries to match a stanza.
const MESSAGE_END = Buffer.from('</message>', 'latin1');
const MESSAGE_OPEN = Buffer.from('<message', 'latin1');

function isXmlSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;
}

/**
 * Incremental XMPP stanza parser: feed it the bytes of one direction of a stream, in chunks cut
 * anywhere, and it reports the stream header, each complete depth-1 element, the end of the
 * stream and the first error to the sink — synchronously, from inside `write()`.
 *
 * RFC 6120 §11 restricts the XML of a stream: no DTD, comments, processing instructions or
 * entity declarations; those fail with `restricted-xml`. Malformed XML and invalid UTF-8 fail with
 * `not-well-formed`. The parser stops at its first error.
 *
 * Two paths share one byte stream. saxes tokenizes the stream header and any stanza the fast path
 * declines; the fast path recognises the hot CCS shape straight from the bytes. Switching is only
 * done where saxes is provably between stanzas (depth 1, only whitespace pending), so saxes always
 * sees a coherent document.
 */
export class StanzaParser {
  private readonly sink: StanzaSink;
  private readonly maxStanzaBytes: number;
  private readonly maxDepth: number;
  private readonly fastPathEnabled: boolean;

  /** Bumped by reset(); handlers of an old saxes instance compare it and fall silent. */
  private generation = 0;
  private mode: Mode = Mode.Sax;
  private sax!: SaxesParser<{ xmlns: true; position: true }>;
  /** Byte offset (from the start of the current stream) of the next byte write() will see. */
  private streamBytes = 0;
  /** Byte offset where the current stanza (or the prolog, before the header) started. */
  private stanzaStart = 0;
  /** True between stanzas while no non-whitespace byte has been seen since the last boundary. */
  private seeking = false;
  /** Namespace in scope for un-prefixed elements at depth 1 (from the stream header). */
  private defaultNs = '';

  // --- fast path: bytes of an incomplete stanza waiting for the rest ---
  private pending: Buffer = Buffer.alloc(0);
  private pendingLen = 0;
  /** Where to resume looking for `</message>` in `pending` (avoids rescanning). */
  private searchFrom = 0;
  /** What is known of the stanza waiting in `pending`. */
  private readonly cut = new CutStanza();

  // --- saxes path ---
  /** Lead bytes of a character cut by the end of the previous chunk. */
  private carry: Buffer | null = null;
  /** Total UTF-16 code units handed to saxes; its `position` is counted in the same units. */
  private saxChars = 0;
  /** The string saxes is consuming now, its first char's saxes position and byte offset. */
  private curStr = '';
  private curCharBase = 0;
  private curByteBase = 0;
  private curAscii = true;
  private saxDepth = 0;
  private prolog: Prolog = Prolog.Text;
  private stack: XmlElement[] = [];
  /** Set when reset() is called from a sink callback while saxes is mid-write. */
  private resetAt = -1;

  constructor(sink: StanzaSink, options: StanzaParserOptions = {}) {
    this.sink = sink;
    this.maxStanzaBytes = options.maxStanzaBytes ?? DEFAULT_MAX_STANZA_BYTES;
    this.maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
    if (!(this.maxStanzaBytes > 0) || !(this.maxDepth > 0)) {
      throw new RangeError('maxStanzaBytes and maxDepth must be positive');
    }
    this.fastPathEnabled = options.fastPath !== false && this.maxDepth >= 2;
    this.newSax();
  }

  /** True once an error was reported or the stream ended: further input is ignored. */
  get done(): boolean {
    return this.mode === Mode.Done;
  }

  /**
   * Starts a new stream (RFC 6120 §4.3.3: after SASL success both sides reset their parsers).
   * Callable from a sink callback: the bytes after the element being reported belong to the new
   * stream and are parsed as such.
   */
  reset(): void {
    if (this.inWrite && this.resetAt < 0) this.resetAt = this.currentByte();
    this.generation++;
    this.mode = Mode.Sax;
    this.streamBytes = 0;
    this.stanzaStart = 0;
    this.seeking = false;
    this.defaultNs = '';
    this.pendingLen = 0;
    this.searchFrom = 0;
    this.cut.reset();
    this.carry = null;
    this.saxChars = 0;
    this.curStr = '';
    this.curCharBase = 0;
    this.curByteBase = 0;
    this.curAscii = true;
    this.saxDepth = 0;
    this.prolog = Prolog.Text;
    this.stack = [];
    this.newSax();
  }

  private inWrite = false;
  /** Byte offset of the fast path's cursor while it is inside write(), for reset(). */
  private fastCursor = -1;

  /** Feeds the next bytes of the stream. Never throws for bad input: errors go to the sink. */
  write(chunk: Uint8Array): void {
    if (this.mode === Mode.Done || chunk.length === 0) return;
    let buf: Buffer | null = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    const input = buf;
    const gen = this.generation;
    const startBytes = this.streamBytes;
    let base = startBytes;
    this.streamBytes += buf.length;
    this.inWrite = true;
    this.resetAt = -1;
    try {
      // The two paths hand the rest of the chunk to each other at stanza boundaries; a loop, not
      // recursion, so a chunk of many alternating stanzas cannot exhaust the stack.
      while (buf !== null && this.generation === gen) {
        this.handoffBuf = null;
        if (this.mode === Mode.Fast) this.scanFast(buf, base);
        else if (this.mode === Mode.Sax) this.feedSax(buf, base);
        buf = this.handoffBuf;
        base = this.handoffBase;
      }
    } finally {
      this.inWrite = false;
      this.handoffBuf = null;
    }
    if (this.generation !== gen && this.resetAt >= 0) {
      // A callback restarted the stream: what followed the triggering element is new-stream input.
      const consumed = this.resetAt - startBytes;
      const rest = consumed >= 0 && consumed < input.length ? Buffer.from(input.subarray(consumed)) : null;
      this.resetAt = -1;
      if (rest) this.write(rest);
    }
  }

  /** What one path left for the other: the rest of the chunk and its stream offset. */
  private handoffBuf: Buffer | null = null;
  private handoffBase = 0;

  // ------------------------------------------------------------------------------------------
  // Fast path

  private scanFast(chunk: Buffer, chunkBase: number): void {
    let buf: Buffer;
    let pos: number;
    let end: number;
    // Stream offset of buf[0].
    let base: number;
    if (this.pendingLen === 0) {
      buf = chunk;
      pos = 0;
      end = chunk.length;
      base = chunkBase;
      this.cut.reset();
    } else {
      base = chunkBase - this.pendingLen;
      this.appendPending(chunk);
      buf = this.pending;
      pos = 0;
      end = this.pendingLen;
    }
    const gen = this.generation;
    while (true) {
      while (pos < end && isXmlSpace(buf[pos] as number)) pos++;
      if (pos === end) {
        this.pendingLen = 0;
        this.searchFrom = 0;
        return;
      }
      if (buf[pos] !== LT || !this.looksLikeMessage(buf, pos, end)) {
        if (buf[pos] === LT && end - pos < MESSAGE_OPEN.length + 1 && MESSAGE_OPEN.subarray(0, end - pos).equals(buf.subarray(pos, end))) {
          // Could still become `<message`: wait for more bytes.
          this.keepPending(buf, pos, end);
          this.searchFrom = 0;
          return;
        }
        this.fallBack(buf, pos, end, base);
        return;
      }
      const searchStart = buf === this.pending ? Math.max(pos, this.searchFrom) : pos;
      const close = buf.indexOf(MESSAGE_END, searchStart);
      if (close === -1 || close + MESSAGE_END.length > end) {
        if (end - pos > this.maxStanzaBytes) {
          // Over the limit without an end: let saxes find whichever error comes first.
          this.fallBack(buf, pos, end, base);
          return;
        }
        if (!gcmMessagePrefixOk(buf, pos, end, this.cut)) {
          this.fallBack(buf, pos, end, base);
          return;
        }
        this.keepPending(buf, pos, end);
        this.searchFrom = Math.max(0, this.pendingLen - MESSAGE_END.length + 1);
        return;
      }
      const stanzaEnd = close + MESSAGE_END.length;
      const payload = stanzaEnd - pos <= this.maxStanzaBytes ? matchGcmPayload(buf, pos, close, this.cut) : null;
      if (payload === null) {
        this.fallBack(buf, pos, end, base);
        return;
      }
      this.fastCursor = base + stanzaEnd;
      const sink = this.sink;
      if (sink.onGcmMessage === undefined || !sink.onGcmMessage(payload, gcmAttrs(this.cut))) {
        // Still this stanza's (the callback above did not reset the stream, or it returned true).
        if (this.generation === gen && this.mode === Mode.Fast) sink.onStanza(gcmElement(payload, this.cut, this.defaultNs));
      }
      this.fastCursor = -1;
      if (this.generation !== gen || this.mode !== Mode.Fast) {
        // A callback reset the stream (write() re-feeds the rest) or failed it: stop here.
        if (this.generation === gen) this.pendingLen = 0;
        return;
      }
      pos = stanzaEnd;
      this.searchFrom = 0;
      this.cut.reset();
    }
  }

  /** `<message` followed by a character that ends the name, or too short to tell yet. */
  private looksLikeMessage(buf: Buffer, pos: number, end: number): boolean {
    const n = MESSAGE_OPEN.length;
    if (end - pos <= n) return false;
    for (let i = 1; i < n; i++) if (buf[pos + i] !== MESSAGE_OPEN[i]) return false;
    const c = buf[pos + n] as number;
    return c === 0x3e || isXmlSpace(c);
  }

  private keepPending(buf: Buffer, pos: number, end: number): void {
    if (buf === this.pending) {
      if (pos > 0) this.pending.copy(this.pending, 0, pos, end);
      this.pendingLen = end - pos;
    } else {
      this.pendingLen = 0;
      this.appendPending(buf.subarray(pos, end));
      this.searchFrom = 0;
    }
  }

  private appendPending(bytes: Uint8Array): void {
    const need = this.pendingLen + bytes.length;
    if (need > this.pending.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, this.pending.length * 2, 4096));
      this.pending.copy(grown, 0, 0, this.pendingLen);
      this.pending = grown;
    }
    this.pending.set(bytes, this.pendingLen);
    this.pendingLen = need;
  }

  /** Hands everything from `pos` to saxes; the stanza there starts at byte `base + pos`. */
  private fallBack(buf: Buffer, pos: number, end: number, base: number): void {
    this.handoffBuf = buf === this.pending ? Buffer.from(buf.subarray(pos, end)) : buf.subarray(pos, end);
    this.handoffBase = base + pos;
    this.pendingLen = 0;
    this.searchFrom = 0;
    this.cut.reset();
    this.mode = Mode.Sax;
    // buf[pos] is not whitespace: seek() will mark it as the stanza start, or refuse it as text.
    this.seeking = true;
  }

  // ------------------------------------------------------------------------------------------
  // saxes path

  private feedSax(bytes: Buffer, byteBase: number): void {
    const gen = this.generation;
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
    if (data.length === 0) return;
    let invalidAt = -1;
    const ascii = isAscii(data);
    if (!ascii && !isUtf8(data)) {
      invalidAt = firstInvalidUtf8(data);
      data = data.subarray(0, invalidAt);
    }
    let stoppedAt = -1;
    if (data.length > 0) stoppedAt = this.feedSaxString(ascii ? latin1(data) : utf8(data), base, ascii);
    // A callback restarted the stream: write() hands the rest to the new one.
    if (this.generation !== gen || this.mode === Mode.Done) return;
    if (stoppedAt >= 0) {
      // saxes finished a stanza and only whitespace may follow: the fast path takes the rest of
      // the chunk from here (partial characters and invalid bytes included, it will judge them).
      const at = this.byteAtChar(stoppedAt);
      this.carry = null;
      this.mode = Mode.Fast;
      this.handoffBuf = bytes.subarray(at - byteBase);
      this.handoffBase = at;
      return;
    }
    if (invalidAt >= 0) {
      this.carry = null;
      this.fail('STREAM_ERR_NOT_WELL_FORMED', 'not-well-formed', 'input is not valid UTF-8', base + invalidAt + 1);
      return;
    }
    const fed = base + data.length;
    if (fed - this.stanzaStart > this.maxStanzaBytes && !this.seeking) {
      this.fail('STREAM_ERR_STANZA_TOO_LARGE', 'policy-violation', `stanza larger than ${this.maxStanzaBytes} bytes`, fed);
      return;
    }
    // saxes is between stanzas with only whitespace pending: the fast path can take over.
    if (this.fastPathEnabled && this.seeking && this.saxDepth === 1 && this.carry === null) {
      this.mode = Mode.Fast;
    }
  }

  /**
   * Feeds decoded text to saxes one `>`-terminated segment at a time. Every stanza boundary falls
   * on a `>`, so before each segment is written the parser knows whether it is between stanzas:
   * seek() then vets the segment's leading characters exactly once, never ahead of saxes (which
   * keeps verdicts independent of how the input was cut), and with the fast path on, the rest of
   * the chunk can go back to it the moment a stanza ends.
   * @returns the index in `s` where saxes stopped for the fast path to take over, or -1
   */
  private feedSaxString(s: string, byteBase: number, ascii: boolean): number {
    const gen = this.generation;
    this.curStr = s;
    this.curCharBase = this.saxChars;
    this.curByteBase = byteBase;
    this.curAscii = ascii;
    this.mapChar = 0;
    this.mapByte = 0;
    this.saxChars += s.length;
    const limit = s.length;
    if (this.prolog !== Prolog.Done) {
      const bad = this.scanProlog(s);
      if (bad >= 0) {
        if (bad > 0) this.sax.write(s.slice(0, bad));
        this.fail('STREAM_ERR_NOT_WELL_FORMED', 'not-well-formed', 'character data before the stream header', this.byteAtChar(bad + 1));
        return -1;
      }
    }
    let from = 0;
    while (from < limit) {
      const gt = s.indexOf('>', from);
      const to = gt === -1 ? limit : gt + 1;
      this.segmentEnd = to;
      if (this.seeking) this.seek(from);
      if (this.mode !== Mode.Sax) return -1;
      this.sax.write(from === 0 && to === limit ? s : s.slice(from, to));
      from = to;
      if (this.mode !== Mode.Sax || this.generation !== gen) return -1;
      if (this.fastPathEnabled && this.seeking && this.saxDepth === 1 && from < limit) {
        // Between stanzas: saxes has nothing pending but whitespace it will ignore.
        this.saxChars = this.curCharBase + from;
        return from;
      }
    }
    return -1;
  }

  /** End (exclusive) of the part of `curStr` handed to saxes so far; seek() never looks past it. */
  private segmentEnd = 0;
  /** Memo for byteAtChar(): positions only move forward within one string. */
  private mapChar = 0;
  private mapByte = 0;

  /**
   * Before the stream header, saxes reports stray text only when the text run ends, which
   * depends on where chunks were cut; this finds it at the character itself so the verdict does
   * not. It tracks just enough of the prolog (XML declaration, the header's quoted attributes).
   * @returns the index in `s` of the first stray character, or -1
   */
  private scanProlog(s: string): number {
    let state = this.prolog;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      switch (state) {
        case Prolog.Text:
          if (c === LT) state = Prolog.AfterLt;
          else if (!(c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d)) {
            this.prolog = Prolog.Done;
            return i;
          }
          break;
        case Prolog.AfterLt:
          state = c === 0x3f /* ? */ ? Prolog.Pi : c === 0x21 /* ! */ ? Prolog.Done : Prolog.Tag;
          break;
        case Prolog.Pi:
          if (c === 0x3f) state = Prolog.PiQuestion;
          break;
        case Prolog.PiQuestion:
          state = c === 0x3e ? Prolog.Text : c === 0x3f ? Prolog.PiQuestion : Prolog.Pi;
          break;
        case Prolog.Tag:
          if (c === 0x27) state = Prolog.TagSingle;
          else if (c === 0x22) state = Prolog.TagDouble;
          else if (c === 0x3e) state = Prolog.Done;
          break;
        case Prolog.TagSingle:
          if (c === 0x27) state = Prolog.Tag;
          break;
        case Prolog.TagDouble:
          if (c === 0x22) state = Prolog.Tag;
          break;
        default:
          // Done: the root start tag (or markup saxes judges on its own) was reached.
          this.prolog = state;
          return -1;
      }
    }
    this.prolog = state;
    return -1;
  }

  /** Byte offset (in the stream) just after saxes' current position. */
  private currentByte(): number {
    if (this.fastCursor >= 0) return this.fastCursor;
    return this.byteAtChar(this.sax.position - this.curCharBase);
  }

  private byteAtChar(index: number): number {
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

  /**
   * Between stanzas: finds where the next stanza starts. Only whitespace may precede it
   * (RFC 6120 §4.4 keepalives); any other character data at depth 1 is refused right away rather
   * than left for saxes to accumulate.
   */
  private seek(from: number): void {
    const s = this.curStr;
    const end = this.segmentEnd;
    let i = from;
    while (i < end) {
      const c = s.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d) { i++; continue; }
      this.seeking = false;
      this.stanzaStart = this.byteAtChar(i);
      if (c !== LT && this.saxDepth === 1) {
        this.fail('STREAM_ERR_BAD_FORMAT', 'bad-format', 'character data between stanzas', this.stanzaStart + 1);
      }
      return;
    }
  }

  private newSax(): void {
    const sax = new SaxesParser({ xmlns: true, position: true, defaultXMLVersion: '1.0', forceXMLVersion: true });
    const gen = this.generation;
    const live = (): boolean => this.generation === gen && this.mode !== Mode.Done;
    sax.on('xmldecl', (decl: XMLDecl) => {
      if (!live()) return;
      if (decl.encoding !== undefined && decl.encoding.toUpperCase() !== 'UTF-8') {
        this.fail('STREAM_ERR_UNSUPPORTED_ENCODING', 'unsupported-encoding', `encoding ${decl.encoding} is not UTF-8`, this.currentByte());
      }
    });
    sax.on('doctype', () => {
      if (live()) this.fail('STREAM_ERR_RESTRICTED_XML', 'restricted-xml', 'a DTD is not allowed in XMPP', this.currentByte());
    });
    sax.on('comment', () => {
      if (live()) this.fail('STREAM_ERR_RESTRICTED_XML', 'restricted-xml', 'comments are not allowed in XMPP', this.currentByte());
    });
    sax.on('processinginstruction', () => {
      if (live()) this.fail('STREAM_ERR_RESTRICTED_XML', 'restricted-xml', 'processing instructions are not allowed in XMPP', this.currentByte());
    });
    sax.on('error', (err: Error) => {
      if (live()) this.fail('STREAM_ERR_NOT_WELL_FORMED', 'not-well-formed', err.message, this.currentByte());
    });
    sax.on('opentag', (tag: SaxesTagNS) => {
      if (live()) this.onOpenTag(tag);
    });
    sax.on('text', (text: string) => {
      if (live()) this.onText(text);
    });
    sax.on('cdata', (text: string) => {
      if (!live()) return;
      if (this.saxDepth < 2) this.fail('STREAM_ERR_BAD_FORMAT', 'bad-format', 'CDATA between stanzas', this.currentByte());
      else this.onText(text);
    });
    sax.on('closetag', () => {
      if (live()) this.onCloseTag();
    });
    this.sax = sax;
  }

  private onOpenTag(tag: SaxesTagNS): void {
    const depth = ++this.saxDepth;
    const attrs: Record<string, string> = {};
    const tagAttrs = tag.attributes;
    for (const name in tagAttrs) {
      const value = (tagAttrs[name] as { value: string }).value;
      if (name === '__proto__') Object.defineProperty(attrs, name, { value, enumerable: true, writable: true, configurable: true });
      else attrs[name] = value;
    }
    if (depth === 1) {
      if (tag.local !== 'stream' || tag.uri !== NS_STREAM) {
        this.fail('STREAM_ERR_INVALID_NAMESPACE', 'invalid-namespace', `stream root must be <stream> in ${NS_STREAM}`, this.currentByte());
        return;
      }
      const end = this.currentByte();
      if (end - this.stanzaStart > this.maxStanzaBytes) {
        this.fail('STREAM_ERR_STANZA_TOO_LARGE', 'policy-violation', `stream header larger than ${this.maxStanzaBytes} bytes`, end);
        return;
      }
      this.defaultNs = tag.ns[''] ?? '';
      this.seeking = true;
      this.sink.onStreamOpen({ name: tag.name, attrs });
      return;
    }
    if (depth - 1 > this.maxDepth) {
      this.fail('STREAM_ERR_TOO_DEEP', 'policy-violation', `elements nested deeper than ${this.maxDepth}`, this.currentByte());
      return;
    }
    const el = new XmlElement(tag.name, tag.local, tag.prefix, tag.uri, attrs, []);
    const parent = this.stack[this.stack.length - 1];
    if (parent !== undefined) parent.children.push(el);
    this.stack.push(el);
  }

  private onText(text: string): void {
    if (this.saxDepth < 2) {
      // Whitespace between stanzas (already vetted by seek()); anything else is refused there.
      return;
    }
    if (text === '') return;
    const el = this.stack[this.stack.length - 1] as XmlElement;
    const kids: XmlNode[] = el.children;
    const last = kids.length - 1;
    if (last >= 0 && typeof kids[last] === 'string') kids[last] = (kids[last] as string) + text;
    else kids.push(text);
  }

  private onCloseTag(): void {
    const depth = this.saxDepth--;
    if (depth === 1) {
      this.mode = Mode.Done;
      this.sink.onStreamEnd();
      return;
    }
    const el = this.stack.pop() as XmlElement;
    if (depth !== 2) return;
    const end = this.currentByte();
    if (end - this.stanzaStart > this.maxStanzaBytes) {
      this.fail('STREAM_ERR_STANZA_TOO_LARGE', 'policy-violation', `stanza larger than ${this.maxStanzaBytes} bytes`, end);
      return;
    }
    this.seeking = true;
    this.sink.onStanza(el);
  }

  /**
   * Reports the first error. When the current stanza had already grown past the limit before the
   * offending byte, the limit is what was broken first: that keeps the verdict the same however
   * the input was cut into chunks.
   */
  private fail(code: StreamErrorCode, condition: StreamErrorCondition, message: string, atByte: number): void {
    if (this.mode === Mode.Done) return;
    if (code !== 'STREAM_ERR_STANZA_TOO_LARGE' && !this.seeking && atByte - this.stanzaStart > this.maxStanzaBytes) {
      code = 'STREAM_ERR_STANZA_TOO_LARGE';
      condition = 'policy-violation';
      message = `stanza larger than ${this.maxStanzaBytes} bytes`;
    }
    this.mode = Mode.Done;
    this.pendingLen = 0;
    this.carry = null;
    this.sink.onError(new StreamParseError(code, condition, message, atByte));
  }
}
