import type { XmlElement } from './xml-element.js';

/**
 * A recogniser for one stanza shape that is most of a stream's traffic, plugged into the
 * {@link StanzaParser} by a layer that knows the shape (`stream` knows none: `@ccs-xmpp/stanza`
 * implements one for CCS messages). Between stanzas the parser frames bytes itself: a stanza that
 * starts with `<name` (then whitespace or `>`) is cut at its first `</name>` and offered to the
 * shortcut, which either hands over its parts — read straight from the bytes, no element built —
 * or declines, and the stanza goes to saxes as if there were no shortcut.
 *
 * The contract that keeps this safe: a shortcut accepts only what saxes accepts, yields exactly
 * the element saxes would build (`element()`), and never makes the parser wait for bytes when
 * saxes would already have something to report (`scan()`). An implementation proves it with
 * differential properties against the parser without a shortcut, after every chunk.
 *
 * @typeParam P what a recognised stanza is handed over as
 */
export interface StanzaShortcut<P> {
  /** Local name of the stanza element it recognises, as written without a prefix (`message`). */
  readonly name: string;
  /**
   * A matcher for one parser. Whatever it learns (stanzas cut across chunks, repeated start tags)
   * stays in it, so parsers never share state.
   */
  createMatcher(): StanzaShortcutMatcher<P>;
}

/** One parser's instance of a {@link StanzaShortcut}; its offsets are indexes into `buf`. */
export interface StanzaShortcutMatcher<P> {
  /** A new stanza starts: forget what was judged of the previous one. */
  reset(): void;
  /**
   * `buf[start, end)` starts a stanza named like the shortcut's (`end` is where the bytes at hand
   * end, maybe far past the stanza). Reads it as far as it can, remembering what it judged (until
   * `reset()`: a stanza cut by a chunk boundary comes back longer, from the same start), and
   * returns one of:
   * - the index of the stanza's first `</name>` when that stands in `buf[start, end)`: the parser
   *   then calls `match(buf, start, index)`; finding it here spares the parser a search;
   * - {@link SCAN_WAIT} when it has not arrived (never when `</name>` stands in the bytes) and
   *   saxes could not have reported anything about these bytes yet, so waiting for the rest is
   *   indistinguishable from handing them over now;
   * - {@link SCAN_DECLINE} to hand the stanza to saxes at once. Always safe (it costs speed only).
   */
  scan(buf: Buffer, start: number, end: number): number;
  /**
   * `buf[start, close)` is a stanza up to, not including, its first `</name>`. The parts when it
   * is of the shape and provably well-formed (valid until the next call on this matcher), or
   * `undefined` to decline: saxes then parses it. Called only right after `scan` returned `close`
   * for this stanza, so a matcher may rely on what that scan judged.
   */
  match(buf: Buffer, start: number, close: number): P | undefined;
  /**
   * The element saxes would have built for the stanza `match` just recognised, for a consumer
   * that wants elements (or declined the parts).
   * @param defaultNs the namespace un-prefixed elements are in at depth 1 (from the stream header)
   */
  element(parts: P, defaultNs: string): XmlElement;
  /**
   * The parser is done with the chunk it was given: drop any reference to its memory. Also called
   * in the middle of a write, before the parser copies bytes over its own buffer (`keep`): parts
   * handed over from it must not read its bytes after this call (make what they still need first).
   * @param keep the parser's own buffer, when it has one: small chunks are copied into it and read
   *   there, so `scan` and `match` see this same object again and again (until it is replaced by a
   *   larger one). What a matcher derived from it (a DataView, say) may be kept for the next chunks.
   */
  release(keep?: Buffer): void;
}

/** {@link StanzaShortcutMatcher.scan}: the stanza has not fully arrived; waiting for it is safe. */
export const SCAN_WAIT = -1;
/** {@link StanzaShortcutMatcher.scan}: hand the stanza to saxes. */
export const SCAN_DECLINE = -2;
