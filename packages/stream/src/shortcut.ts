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
 * saxes would already have something to report (`canWait()`). An implementation proves it with
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
   * `buf[start, end)` starts a stanza whose `</name>` has not arrived. True when saxes could not
   * have reported anything about these bytes yet, so waiting for the rest is indistinguishable
   * from handing them over now; false to hand them to saxes at once. False is always safe (it
   * costs speed only). It may remember what it judged, until `reset()`: the same stanza comes
   * back longer, from the same start, until it is complete.
   */
  canWait(buf: Buffer, start: number, end: number): boolean;
  /**
   * `buf[start, close)` is a stanza up to, not including, its first `</name>`. The parts when it
   * is of the shape and provably well-formed (valid until the next call on this matcher), or
   * `undefined` to decline: saxes then parses it.
   */
  match(buf: Buffer, start: number, close: number): P | undefined;
  /**
   * The element saxes would have built for the stanza `match` just recognised, for a consumer
   * that wants elements (or declined the parts).
   * @param defaultNs the namespace un-prefixed elements are in at depth 1 (from the stream header)
   */
  element(parts: P, defaultNs: string): XmlElement;
  /** The parser is done with the chunk it was given: drop any reference to its memory. */
  release(): void;
}
