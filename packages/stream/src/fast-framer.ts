import type { StanzaShortcut, StanzaShortcutMatcher } from './shortcut.js';
import type { XmlElement } from './xml-element.js';

/** What the framer needs from its parser. */
export interface FramerHost<P> {
  readonly maxStanzaBytes: number;
  /**
   * A stanza the shortcut recognised, ending just before stream offset `endByte`.
   * @returns false when a callback reset or failed the stream: the framer stops at once
   */
  deliver(parts: P, endByte: number): boolean;
}

const LT = 0x3c;
const GT = 0x3e;

function isXmlSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;
}

/**
 * Frames the bytes between stanzas for a {@link StanzaShortcut}: skips whitespace keepalives,
 * finds where a stanza named like the shortcut's ends, keeps the bytes of one cut by a chunk
 * boundary (one copy, only then), and offers complete ones to the shortcut. Anything else — a
 * stanza of another name, one the shortcut declines or cannot wait for — is handed back, with the
 * rest of the chunk, to go to saxes (`rest`, `restBase`).
 */
export class FastFramer<P> {
  private readonly host: FramerHost<P>;
  private readonly matcher: StanzaShortcutMatcher<P>;
  /** `<name`, then whitespace or `>` must follow. */
  private readonly open: Buffer;
  /** `</name>`: where a stanza of the shortcut's shape ends. */
  private readonly close: Buffer;
  /** Bytes of a stanza cut by the end of a chunk, waiting for the rest. */
  private pending: Buffer = Buffer.alloc(0);
  private pendingLen = 0;
  /** Where to resume looking for `</name>` in `pending` (each byte searched once). */
  private searchFrom = 0;
  /** Set when scan() returns false: the bytes for saxes and the stream offset of their first. */
  rest: Buffer = Buffer.alloc(0);
  restBase = 0;

  constructor(shortcut: StanzaShortcut<P>, host: FramerHost<P>) {
    this.host = host;
    this.matcher = shortcut.createMatcher();
    this.open = Buffer.from(`<${shortcut.name}`, 'latin1');
    this.close = Buffer.from(`</${shortcut.name}>`, 'latin1');
  }

  /** The element saxes would build for the parts just delivered. */
  element(parts: P, defaultNs: string): XmlElement {
    return this.matcher.element(parts, defaultNs);
  }

  /** Forgets a stanza in progress (stream restart or failure). */
  reset(): void {
    this.pendingLen = 0;
    this.searchFrom = 0;
    this.matcher.reset();
  }

  /** Drops references to the caller's chunk (and the socket slab under it). */
  release(): void {
    this.rest = EMPTY;
    this.matcher.release();
  }

  /**
   * Frames `chunk` (`chunk[0]` at stream offset `chunkBase`).
   * @returns true when it took everything (or the host stopped it), false when `rest` goes to saxes
   */
  scan(chunk: Buffer, chunkBase: number): boolean {
    const matcher = this.matcher;
    const close = this.close;
    let buf: Buffer;
    let end: number;
    // Stream offset of buf[0].
    let base: number;
    if (this.pendingLen === 0) {
      buf = chunk;
      end = chunk.length;
      base = chunkBase;
      matcher.reset();
    } else {
      base = chunkBase - this.pendingLen;
      this.appendPending(chunk);
      buf = this.pending;
      end = this.pendingLen;
    }
    let pos = 0;
    for (;;) {
      while (pos < end && isXmlSpace(buf[pos] as number)) pos++;
      if (pos === end) {
        this.pendingLen = 0;
        this.searchFrom = 0;
        return true;
      }
      if (!this.opens(buf, pos, end)) {
        if (buf[pos] === LT && end - pos <= this.open.length && this.open.subarray(0, end - pos).equals(buf.subarray(pos, end))) {
          // Could still become `<name`: wait for more bytes.
          this.keepPending(buf, pos, end);
          this.searchFrom = 0;
          return true;
        }
        return this.fallBack(buf, pos, end, base);
      }
      const searchStart = buf === this.pending && this.searchFrom > pos ? this.searchFrom : pos;
      const at = buf.indexOf(close, searchStart);
      if (at === -1 || at + close.length > end) {
        // Over the limit without an end: let saxes find whichever error comes first.
        if (end - pos > this.host.maxStanzaBytes || !matcher.canWait(buf, pos, end)) return this.fallBack(buf, pos, end, base);
        this.keepPending(buf, pos, end);
        this.searchFrom = Math.max(0, this.pendingLen - close.length + 1);
        return true;
      }
      const stanzaEnd = at + close.length;
      const parts = stanzaEnd - pos <= this.host.maxStanzaBytes ? matcher.match(buf, pos, at) : undefined;
      if (parts === undefined) return this.fallBack(buf, pos, end, base);
      if (!this.host.deliver(parts, base + stanzaEnd)) {
        // A callback reset the stream (its rest is fed again from the reset point) or failed it.
        this.pendingLen = 0;
        this.searchFrom = 0;
        return true;
      }
      pos = stanzaEnd;
      this.searchFrom = 0;
      matcher.reset();
    }
  }

  /** `<name` followed by a character that ends the name. */
  private opens(buf: Buffer, pos: number, end: number): boolean {
    const open = this.open;
    const n = open.length;
    if (end - pos <= n) return false;
    for (let i = 0; i < n; i++) if (buf[pos + i] !== open[i]) return false;
    const c = buf[pos + n] as number;
    return c === GT || isXmlSpace(c);
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

  /** Everything from `pos` goes to saxes; the stanza there starts at stream offset `base + pos`. */
  private fallBack(buf: Buffer, pos: number, end: number, base: number): false {
    // `pending` is reused: what saxes gets from it must be a copy.
    this.rest = buf === this.pending ? Buffer.from(buf.subarray(pos, end)) : buf.subarray(pos, end);
    this.restBase = base + pos;
    this.pendingLen = 0;
    this.searchFrom = 0;
    this.matcher.reset();
    return false;
  }
}

const EMPTY = Buffer.alloc(0);
