import type { SaxesTagNS, XMLDecl } from 'saxes';
import { ElementBuilder, attributesOf } from './element-builder.js';
import { StreamError, StreamParseError, type StreamErrorCode, type StreamErrorCondition } from './errors.js';
import { FastFramer, type FramerHost } from './fast-framer.js';
import { NS_STREAM } from './namespaces.js';
import { PrologScan } from './prolog-scan.js';
import { SaxFeeder, type SaxEvents } from './sax-feeder.js';
import type { StanzaShortcut } from './shortcut.js';
import type { StanzaSink } from './sink.js';
import type { XmlElement } from './xml-element.js';

/** Limits and switches of the stanza parser. */
export interface StanzaParserOptions<P = never> {
  /**
   * Largest stanza accepted, in bytes from its `<` to its final `>` (the stream header and
   * anything before it count as one stanza). Larger ones fail with `policy-violation` as soon as
   * the limit is crossed, without buffering more than the limit plus one chunk. Default 256 KiB.
   */
  maxStanzaBytes?: number;
  /** Deepest element nesting inside a stanza (the stanza itself is depth 1). Default 32. */
  maxDepth?: number;
  /**
   * A recogniser for the stanza shape that is most of the traffic (see {@link StanzaShortcut}):
   * such stanzas are read straight from the bytes and handed to the sink's `onShortcut` as parts
   * (or as the element saxes would build, to `onStanza`, when the sink has no `onShortcut` or
   * declines). Everything else goes through saxes. Default none: saxes reads everything.
   */
  shortcut?: StanzaShortcut<P>;
}

const DEFAULT_MAX_STANZA_BYTES = 256 * 1024;
const DEFAULT_MAX_DEPTH = 32;

/**
 * Throws the `RangeError` a parser refuses nonsensical limits with. `connect()` checks them before
 * it opens a socket: the parser is only made once the handshake is done, inside a socket callback.
 */
export function checkParserLimits(options: StanzaParserOptions<unknown>): void {
  if (!((options.maxStanzaBytes ?? DEFAULT_MAX_STANZA_BYTES) > 0) || !((options.maxDepth ?? DEFAULT_MAX_DEPTH) > 0)) {
    throw new RangeError('maxStanzaBytes and maxDepth must be positive');
  }
}

const LT = 0x3c;

// The parser's modes. Plain numbers, not an enum: they are only compared with each other, and a
// compiled enum's member names are strings nobody reads.
/** saxes reads everything; used until the header is parsed and after any hand-back. */
const SAX = 0;
/** Between stanzas, bytes are framed for the shortcut and handed to saxes only when it declines. */
const FAST = 1;
/** After the first error or the end of the stream: input is ignored until `reset()`. */
const DONE = 2;
type Mode = typeof SAX | typeof FAST | typeof DONE;

/**
 * Incremental XMPP stanza parser: feed it the bytes of one direction of a stream, in chunks cut
 * anywhere, and it reports the stream header, each complete depth-1 element, the end of the
 * stream and the first error to the sink — synchronously, from inside `write()`.
 *
 * RFC 6120 §11 restricts the XML of a stream: no DTD, comments, processing instructions or
 * entity declarations; those fail with `restricted-xml`. Malformed XML and invalid UTF-8 fail with
 * `not-well-formed`. The parser stops at its first error.
 *
 * This class is the mode switch and the stream rules. Its parts, each owning its own state:
 * {@link SaxFeeder} (saxes, the UTF-8 carry and the character → byte map), {@link ElementBuilder}
 * (the element stack), {@link PrologScan} (stray text before the header) and, with a shortcut,
 * {@link FastFramer}. Switching between saxes and the framer is only done where saxes is provably
 * between stanzas (depth 1, only whitespace pending), so saxes always sees a coherent document.
 */
export class StanzaParser<P = never> implements FramerHost<P> {
  private readonly sink: StanzaSink<P>;
  /** Largest stanza accepted (see {@link StanzaParserOptions.maxStanzaBytes}). */
  readonly maxStanzaBytes: number;
  private readonly maxDepth: number;
  private readonly feeder: SaxFeeder;
  private readonly builder = new ElementBuilder();
  private readonly prolog = new PrologScan();
  private readonly framer: FastFramer<P> | null;

  /** Bumped by reset(); work begun for an old stream compares it and stops. */
  private generation = 0;
  private mode: Mode = SAX;
  /** Byte offset (from the start of the current stream) of the next byte write() will see. */
  private streamBytes = 0;
  /** Byte offset where the current stanza (or the prolog, before the header) started. */
  private stanzaStart = 0;
  /** True between stanzas while no non-whitespace byte has been seen since the last boundary. */
  private seeking = false;
  /** Namespace in scope for un-prefixed elements at depth 1 (from the stream header). */
  private defaultNs = '';
  private saxDepth = 0;
  private inWrite = false;
  /** Set when reset() is called from a sink callback while a chunk is being parsed. */
  private resetAt = -1;
  /** Stream offset just after the stanza being delivered outside saxes' write(), for reset(). */
  private fastCursor = -1;
  /** What one path left for the other: the rest of the chunk and its stream offset. */
  private handoffBuf: Buffer | null = null;
  private handoffBase = 0;
  /**
   * What saxes closed in the segment being written: a stanza, or the stream itself. saxes reports
   * a mismatched end tag (`<a></b>`, `</foo>` for the root) only after it has closed the open
   * element, so what it closed is reported once the segment was taken without an error.
   */
  private closedStanza: XmlElement | null = null;
  private closedStream = false;

  constructor(sink: StanzaSink<P>, options: StanzaParserOptions<P> = {}) {
    this.sink = sink;
    checkParserLimits(options);
    this.maxStanzaBytes = options.maxStanzaBytes ?? DEFAULT_MAX_STANZA_BYTES;
    this.maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
    // A shortcut's stanza holds a child: with maxDepth 1 saxes must refuse it.
    this.framer = options.shortcut !== undefined && this.maxDepth >= 2 ? new FastFramer(options.shortcut, this) : null;
    this.feeder = new SaxFeeder(this.saxEvents());
  }

  /** True once an error was reported or the stream ended: further input is ignored. */
  get done(): boolean {
    return this.mode === DONE;
  }

  /**
   * Starts a new stream (RFC 6120 §4.3.3: after SASL success both sides reset their parsers).
   * Callable from a sink callback: the bytes after the element being reported belong to the new
   * stream and are parsed as such.
   */
  reset(): void {
    if (this.inWrite && this.resetAt < 0) this.resetAt = this.currentByte();
    this.generation++;
    this.mode = SAX;
    this.streamBytes = 0;
    this.stanzaStart = 0;
    this.seeking = false;
    this.defaultNs = '';
    this.saxDepth = 0;
    this.closedStanza = null;
    this.closedStream = false;
    this.framer?.reset();
    this.feeder.reset();
    this.builder.reset();
    this.prolog.reset();
  }

  /**
   * Feeds the next bytes of the stream. Never throws for bad input: errors go to the sink.
   * @throws {StreamError} `STREAM_ERR_REENTRANT_WRITE` when called from one of this parser's own callbacks: the chunk being read may
   *   sit in a buffer the nested call would overwrite. Feed such bytes after the callback returns.
   */
  write(chunk: Uint8Array): void {
    if (this.inWrite) throw new StreamError('STREAM_ERR_REENTRANT_WRITE', 'internal-server-error', 'StanzaParser.write() called from inside one of its callbacks; feed those bytes after the callback returns');
    if (this.mode === DONE || chunk.length === 0) return;
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
        if (this.mode === FAST) this.frame(buf, base);
        else if (this.mode === SAX) this.feedSax(buf, base);
        buf = this.handoffBuf;
        base = this.handoffBase;
      }
    } finally {
      this.inWrite = false;
      this.handoffBuf = null;
      this.framer?.release();
    }
    if (this.generation !== gen && this.resetAt >= 0) {
      // A callback restarted the stream: what followed the triggering element is new-stream input.
      const consumed = this.resetAt - startBytes;
      const rest = consumed >= 0 && consumed < input.length ? Buffer.from(input.subarray(consumed)) : null;
      this.resetAt = -1;
      if (rest) this.write(rest);
    }
  }

  private handoff(buf: Buffer, base: number): void {
    this.handoffBuf = buf;
    this.handoffBase = base;
  }

  // ------------------------------------------------------------------------------------------
  // The framer's side

  private frame(buf: Buffer, base: number): void {
    const framer = this.framer as FastFramer<P>;
    if (framer.scan(buf, base)) return;
    this.mode = SAX;
    // The rest starts with a byte that is not whitespace: seek() marks it as the stanza start,
    // or refuses it as text.
    this.seeking = true;
    this.handoff(framer.rest, framer.restBase);
  }

  /** @internal FramerHost: a stanza the shortcut recognised. */
  deliver(parts: P, endByte: number): boolean {
    const sink = this.sink;
    this.fastCursor = endByte;
    if (sink.onShortcut === undefined || !sink.onShortcut(parts)) {
      // Still this stream's: the callback did not reset() it. That is the one way a callback
      // changes the mode here (write() refuses to run inside one, and only write() fails the
      // stream), and reset() also bumps the generation, so the mode alone tells.
      if (this.mode === FAST) sink.onStanza((this.framer as FastFramer<P>).element(parts, this.defaultNs));
    }
    this.fastCursor = -1;
    return this.mode === FAST;
  }

  // ------------------------------------------------------------------------------------------
  // The saxes side

  private feedSax(bytes: Buffer, byteBase: number): void {
    const gen = this.generation;
    const feeder = this.feeder;
    const s = feeder.decode(bytes, byteBase);
    if (s === null) return;
    const invalid = feeder.invalidByte;
    const fed = feeder.fedTo;
    const stoppedAt = s.length > 0 ? this.feedSaxString(s) : -1;
    // A callback restarted the stream (write() hands the rest to the new one), or it failed.
    if (this.generation !== gen || this.mode === DONE) return;
    if (stoppedAt >= 0) {
      // saxes finished a stanza and only whitespace may follow: the framer takes the rest of the
      // chunk from here (partial characters and invalid bytes included, it will judge them).
      const at = feeder.byteAtChar(stoppedAt);
      this.mode = FAST;
      this.handoff(bytes.subarray(at - byteBase), at);
      return;
    }
    if (invalid >= 0) {
      feeder.dropCarry();
      this.fail('STREAM_ERR_NOT_WELL_FORMED', 'not-well-formed', 'input is not valid UTF-8', invalid + 1);
      return;
    }
    if (fed - this.stanzaStart > this.maxStanzaBytes && !this.seeking) {
      this.fail('STREAM_ERR_STANZA_TOO_LARGE', 'policy-violation', `stanza larger than ${this.maxStanzaBytes} bytes`, fed);
      return;
    }
    // saxes is between stanzas with only whitespace pending: the framer can take over.
    if (this.framer !== null && this.seeking && this.saxDepth === 1 && !feeder.hasCarry) this.mode = FAST;
  }

  /**
   * Feeds decoded text to saxes one `>`-terminated segment at a time. Every stanza boundary falls
   * on a `>`, so before each segment is written the parser knows whether it is between stanzas:
   * seek() then vets the segment's leading characters exactly once, never ahead of saxes (which
   * keeps verdicts independent of how the input was cut), and with a shortcut, the rest of the
   * chunk can go back to the framer the moment a stanza ends.
   * @returns the index in `s` where saxes stopped for the framer to take over, or -1
   */
  private feedSaxString(s: string): number {
    const gen = this.generation;
    const feeder = this.feeder;
    const limit = s.length;
    if (!this.prolog.done) {
      const bad = this.prolog.scan(s);
      if (bad >= 0) {
        if (bad > 0) feeder.write(s.slice(0, bad));
        this.fail('STREAM_ERR_NOT_WELL_FORMED', 'not-well-formed', 'character data before the stream header', feeder.byteAtChar(bad + 1));
        return -1;
      }
    }
    let from = 0;
    while (from < limit) {
      const gt = s.indexOf('>', from);
      const to = gt === -1 ? limit : gt + 1;
      if (this.seeking) this.seek(s, from, to);
      if (this.mode !== SAX) return -1;
      feeder.write(from === 0 && to === limit ? s : s.slice(from, to));
      from = to;
      // Every end tag ends a segment: what it closed is known to be well-formed now.
      if (this.closedStanza !== null || this.closedStream) this.reportClosed(feeder.byteAtChar(from));
      if (this.mode !== SAX || this.generation !== gen) return -1;
      if (this.framer !== null && this.seeking && this.saxDepth === 1 && from < limit) {
        // Between stanzas: saxes has nothing pending but whitespace it will ignore.
        feeder.stopAt(from);
        return from;
      }
    }
    return -1;
  }

  /**
   * Between stanzas: finds where the next stanza starts in `s[from, to)` (never past what is
   * handed to saxes next). Only whitespace may precede it (RFC 6120 §4.4 keepalives); any other
   * character data at depth 1 is refused right away rather than left for saxes to accumulate.
   */
  private seek(s: string, from: number, to: number): void {
    for (let i = from; i < to; i++) {
      const c = s.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d) continue;
      this.seeking = false;
      this.stanzaStart = this.feeder.byteAtChar(i);
      if (c !== LT && this.saxDepth === 1) {
        this.fail('STREAM_ERR_BAD_FORMAT', 'bad-format', 'character data between stanzas', this.stanzaStart + 1);
      }
      return;
    }
  }

  /** Byte offset (in the stream) just after the current position of whichever path is reading. */
  private currentByte(): number {
    return this.fastCursor >= 0 ? this.fastCursor : this.feeder.currentByte();
  }

  /** saxes' events, under the stream rules; silent once the stream is done. */
  private saxEvents(): SaxEvents {
    return {
      onXmlDecl: (decl: XMLDecl) => {
        if (this.mode === DONE) return;
        if (decl.encoding !== undefined && decl.encoding.toUpperCase() !== 'UTF-8') {
          this.fail('STREAM_ERR_UNSUPPORTED_ENCODING', 'unsupported-encoding', `encoding ${decl.encoding} is not UTF-8`, this.currentByte());
        }
      },
      onRestricted: (what: string) => {
        if (this.mode !== DONE) this.fail('STREAM_ERR_RESTRICTED_XML', 'restricted-xml', `${what} not allowed in XMPP`, this.currentByte());
      },
      onSaxError: (message: string) => {
        if (this.mode !== DONE) this.fail('STREAM_ERR_NOT_WELL_FORMED', 'not-well-formed', message, this.currentByte());
      },
      onOpenTag: (tag: SaxesTagNS) => {
        if (this.mode !== DONE) this.onOpenTag(tag);
      },
      onText: (text: string) => {
        // Between stanzas only whitespace reaches saxes (seek() refused anything else).
        if (this.mode !== DONE && this.saxDepth >= 2) this.builder.text(text);
      },
      onCdata: (text: string) => {
        if (this.mode === DONE) return;
        if (this.saxDepth < 2) this.fail('STREAM_ERR_BAD_FORMAT', 'bad-format', 'CDATA between stanzas', this.currentByte());
        else this.builder.text(text);
      },
      onCloseTag: () => {
        if (this.mode !== DONE) this.onCloseTag();
      },
    };
  }

  private onOpenTag(tag: SaxesTagNS): void {
    const depth = ++this.saxDepth;
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
      this.sink.onStreamOpen({ name: tag.name, attrs: attributesOf(tag) });
      return;
    }
    if (depth - 1 > this.maxDepth) {
      this.fail('STREAM_ERR_TOO_DEEP', 'policy-violation', `elements nested deeper than ${this.maxDepth}`, this.currentByte());
      return;
    }
    this.builder.open(tag);
  }

  private onCloseTag(): void {
    const depth = this.saxDepth--;
    if (depth === 1) {
      this.closedStream = true;
      return;
    }
    const el = this.builder.close();
    if (depth !== 2) return;
    const end = this.currentByte();
    if (end - this.stanzaStart > this.maxStanzaBytes) {
      this.fail('STREAM_ERR_STANZA_TOO_LARGE', 'policy-violation', `stanza larger than ${this.maxStanzaBytes} bytes`, end);
      return;
    }
    this.seeking = true;
    this.closedStanza = el;
  }

  /** Reports what the segment just written (up to stream offset `endByte`) closed, unless saxes refused its end tag. */
  private reportClosed(endByte: number): void {
    const el = this.closedStanza;
    const ended = this.closedStream;
    this.closedStanza = null;
    this.closedStream = false;
    if (this.mode === DONE) return;
    if (ended) {
      this.mode = DONE;
      this.sink.onStreamEnd();
      return;
    }
    // saxes' position is only kept up to date inside its write(): a reset() from the callback
    // takes the stanza's end from here.
    this.fastCursor = endByte;
    this.sink.onStanza(el as XmlElement);
    this.fastCursor = -1;
  }

  /**
   * Reports the first error. When the current stanza had already grown past the limit before the
   * offending byte, the limit is what was broken first: that keeps the verdict the same however
   * the input was cut into chunks.
   */
  private fail(code: StreamErrorCode, condition: StreamErrorCondition, message: string, atByte: number): void {
    if (this.mode === DONE) return;
    if (code !== 'STREAM_ERR_STANZA_TOO_LARGE' && !this.seeking && atByte - this.stanzaStart > this.maxStanzaBytes) {
      code = 'STREAM_ERR_STANZA_TOO_LARGE';
      condition = 'policy-violation';
      message = `stanza larger than ${this.maxStanzaBytes} bytes`;
    }
    this.mode = DONE;
    this.framer?.reset();
    this.feeder.dropCarry();
    this.sink.onError(new StreamParseError(code, condition, message, atByte));
  }
}
