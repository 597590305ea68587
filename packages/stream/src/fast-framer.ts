import { SCAN_WAIT, type StanzaShortcut, type StanzaShortcutMatcher } from './shortcut.js';
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
const EMPTY = Buffer.alloc(0);

function isXmlSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;
}

/**
 * Frames the bytes between stanzas for a {@link StanzaShortcut}: skips whitespace keepalives,
 * lets the matcher read a stanza named like the shortcut's up to its `</name>` (the matcher finds
 * it: no separate search), keeps the bytes of one cut by a chunk boundary, and offers complete ones
 * to the shortcut. Anything else — a stanza of another name, one the shortcut declines or cannot
 * wait for — is handed back, with the rest of the chunk, to go to saxes (`rest`, `restBase`).
 *
 * Small chunks (TLS records of a quiet or slow peer: most stanzas are then cut) are copied whole
 * into the framer's own buffer, after the stanza waiting there, and read in it: each byte is copied
 * once, with no view made, and a stanza cut by the chunk's end is simply left where it stands.
 * Large chunks are read in place; only the start of a stanza they cut is copied. (A/B against
 * copying each cut stanza's start and appending the next chunk to it, bench/micro/parser-ab.mjs:
 * the parser alone 1.13× at 400-byte chunks, no change at 16 KiB; bench/ANALYSIS.md.)
 */
export class FastFramer<P> {
  private readonly host: FramerHost<P>;
  private readonly matcher: StanzaShortcutMatcher<P>;
  /** `<name`, then whitespace or `>` must follow. */
  private readonly open: Buffer;
  /** `</name>`: where a stanza of the shortcut's shape ends. */
  private readonly close: Buffer;
  /** The framer's own bytes: `work[pendingStart, pendingEnd)` is a stanza cut by the end of a chunk, waiting for the rest. */
  private work: Buffer = EMPTY;
  private pendingStart = 0;
  private pendingEnd = 0;
  /** The pending bytes are only the start of `<name`, too short to tell yet. */
  private pendingIsOpen = false;
  /** Set when scan() returns false: the bytes for saxes and the stream offset of their first. */
  rest: Buffer = EMPTY;
  restBase = 0;

  constructor(shortcut: StanzaShortcut<P>, host: FramerHost<P>) {
    this.host = host;
    this.matcher = shortcut.createMatcher();
    // UTF-8, as the stream's bytes are: any XML name, not only an ASCII one, is found.
    this.open = Buffer.from(`<${shortcut.name}`);
    this.close = Buffer.from(`</${shortcut.name}>`);
  }

  /** The element saxes would build for the parts just delivered. */
  element(parts: P, defaultNs: string): XmlElement {
    return this.matcher.element(parts, defaultNs);
  }

  /** Forgets a stanza in progress (stream restart or failure). */
  reset(): void {
    this.pendingStart = this.pendingEnd = 0;
    this.pendingIsOpen = false;
    this.matcher.reset();
  }

  /** Drops references to the caller's chunk (and the socket slab under it). */
  release(): void {
    this.rest = EMPTY;
    this.matcher.release(this.work.length > 0 ? this.work : undefined);
  }

  /**
   * Frames `chunk` (`chunk[0]` at stream offset `chunkBase`).
   * @returns true when it took everything (or the host stopped it), false when `rest` goes to saxes
   */
  scan(chunk: Buffer, chunkBase: number): boolean {
    const held = this.pendingEnd - this.pendingStart;
    const large = chunk.length > SMALL_CHUNK;
    if (held === 0 || this.pendingIsOpen) {
      // A stanza starts (what was waiting is the start of `<name`, which the matcher has not seen).
      this.pendingIsOpen = false;
      this.matcher.reset();
      if (large && held === 0) return this.frame(chunk, 0, chunk.length, chunkBase);
    } else if (large) {
      const pos = this.finishPending(chunk, chunkBase);
      if (pos < 0) return pos === TOOK_ALL;
      return this.frame(chunk, pos, chunk.length, chunkBase);
    }
    // A small chunk (or a large one after the start of `<name`) is read in `work`, after the bytes
    // waiting there: the matcher reads on from where it stopped in them.
    const at = this.append(chunk);
    const from = held === 0 ? at : this.pendingStart;
    this.pendingStart = this.pendingEnd = 0;
    return this.frame(this.work, from, at + chunk.length, chunkBase - at);
  }

  /**
   * Copies `chunk` into `work` after the pending bytes (moved to its start when the end is reached,
   * into a larger buffer when they do not fit), and says where it starts.
   */
  private append(chunk: Buffer): number {
    const start = this.pendingStart;
    const held = this.pendingEnd - start;
    const need = held + chunk.length;
    let work = this.work;
    // Bytes of `work` are about to be written over (a grown buffer leaves the old one as it was):
    // the matcher lets go of what it still reads there, such as parts handed over from it earlier
    // in this write (see StanzaShortcutMatcher.release).
    if (chunk.length > 0 && need <= work.length) this.matcher.release(work);
    if (start + need > work.length) {
      if (need > work.length) {
        const grown = Buffer.allocUnsafe(Math.max(need, work.length * 2, WORK_MIN));
        work.copy(grown, 0, start, start + held);
        this.work = work = grown;
      } else work.copyWithin(0, start, start + held);
      this.pendingStart = 0;
      this.pendingEnd = held;
    }
    const at = this.pendingEnd;
    work.set(chunk, at);
    this.pendingEnd = at + chunk.length;
    return at;
  }

  /**
   * A large chunk continues the stanza waiting in `work`: the chunk is appended a step at a time
   * (its first FIRST_STEP bytes, then the rest) and the matcher reads on from where it stopped, so
   * a short rest of a stanza does not cost a copy of a large chunk, and nothing is searched twice.
   * @returns where the rest of the chunk starts, or TOOK_ALL / HANDED_BACK
   */
  private finishPending(chunk: Buffer, chunkBase: number): number {
    const held = this.pendingEnd - this.pendingStart;
    const max = this.host.maxStanzaBytes;
    let taken = 0;
    for (;;) {
      const to = taken === 0 ? FIRST_STEP : chunk.length;
      this.append(chunk.subarray(taken, to));
      taken = to;
      const start = this.pendingStart;
      const len = this.pendingEnd - start;
      const close = this.matcher.scan(this.work, start, this.pendingEnd);
      if (close === SCAN_WAIT) {
        // Over the limit without an end: let saxes find whichever error comes first.
        if (len > max) break;
        if (taken < chunk.length) continue;
        return TOOK_ALL;
      }
      const stanzaEnd = close + this.close.length - start;
      // (A `</name>` wholly in what was held would have been found before: the matcher is wrong.)
      if (!this.isClose(this.work, start, close, this.pendingEnd) || stanzaEnd <= held) break;
      const parts = stanzaEnd <= max ? this.matcher.match(this.work, start, close) : undefined;
      if (parts === undefined) break;
      const rest = stanzaEnd - held;
      this.pendingStart = this.pendingEnd = 0;
      if (!this.host.deliver(parts, chunkBase + rest)) return TOOK_ALL;
      this.matcher.reset();
      return rest;
    }
    this.append(chunk.subarray(taken));
    this.fallBack(this.work, this.pendingStart, this.pendingEnd, chunkBase - held - this.pendingStart);
    return HANDED_BACK;
  }

  /** Frames `buf[pos, end)` (`buf[0]` at stream offset `base`); no stanza is waiting. */
  private frame(buf: Buffer, pos: number, end: number, base: number): boolean {
    const matcher = this.matcher;
    const n = this.close.length;
    const max = this.host.maxStanzaBytes;
    for (;;) {
      while (pos < end && isXmlSpace(buf[pos] as number)) pos++;
      if (pos === end) return true;
      if (!this.opens(buf, pos, end)) {
        if (buf[pos] === LT && end - pos <= this.open.length && this.open.subarray(0, end - pos).equals(buf.subarray(pos, end))) {
          // Could still become `<name`: wait for more bytes.
          this.keepPending(buf, pos, end);
          this.pendingIsOpen = true;
          return true;
        }
        return this.fallBack(buf, pos, end, base);
      }
      const close = matcher.scan(buf, pos, end);
      if (close === SCAN_WAIT) {
        // Over the limit without an end: let saxes find whichever error comes first.
        if (end - pos > max) return this.fallBack(buf, pos, end, base);
        this.keepPending(buf, pos, end);
        return true;
      }
      if (!this.isClose(buf, pos, close, end)) return this.fallBack(buf, pos, end, base);
      const stanzaEnd = close + n;
      const parts = stanzaEnd - pos <= max ? matcher.match(buf, pos, close) : undefined;
      if (parts === undefined) return this.fallBack(buf, pos, end, base);
      // A callback reset the stream (its rest is fed again from the reset point) or failed it.
      if (!this.host.deliver(parts, base + stanzaEnd)) return true;
      pos = stanzaEnd;
      matcher.reset();
    }
  }

  /** What scan() returned is where `</name>` stands, after the stanza's start and before `end` (SCAN_DECLINE is not). */
  private isClose(buf: Buffer, start: number, at: number, end: number): boolean {
    const close = this.close;
    const n = close.length;
    if (at <= start || at + n > end) return false;
    for (let i = 0; i < n; i++) if (buf[at + i] !== close[i]) return false;
    return true;
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

  /** Keeps the start of a stanza cut by the end of the chunk: where it stands in `work`, or a copy of it from a large chunk. */
  private keepPending(buf: Buffer, pos: number, end: number): void {
    if (buf === this.work) {
      this.pendingStart = pos;
      this.pendingEnd = end;
      return;
    }
    this.pendingStart = this.pendingEnd = 0;
    this.append(buf.subarray(pos, end));
  }

  /** Everything from `pos` goes to saxes; the stanza there starts at stream offset `base + pos`. */
  private fallBack(buf: Buffer, pos: number, end: number, base: number): false {
    // `work` is reused: what saxes gets from it must be a copy.
    this.rest = buf === this.work ? Buffer.from(buf.subarray(pos, end)) : buf.subarray(pos, end);
    this.restBase = base + pos;
    this.pendingStart = this.pendingEnd = 0;
    this.pendingIsOpen = false;
    this.matcher.reset();
    return false;
  }
}

/** finishPending(): the chunk is taken (or the host stopped), or handed back to saxes. */
const TOOK_ALL = -1;
const HANDED_BACK = -2;

/** finishPending(): how much of the next chunk is appended before the matcher reads on (the rest of a stanza is usually shorter). */
const FIRST_STEP = 1024;
/** Chunks up to this size are read in the framer's own buffer (see FastFramer). */
const SMALL_CHUNK = 4096;
/** The framer's buffer is never smaller. */
const WORK_MIN = 8192;
