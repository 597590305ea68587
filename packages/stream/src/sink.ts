import type { StreamParseError } from './errors.js';
import type { XmlElement } from './xml-element.js';

/** The attributes of a received `<stream:stream>` header, by qualified name as written. */
export interface StreamHeader {
  /** Qualified name of the root element (normally `stream:stream`). */
  name: string;
  /** Attributes as written, namespace declarations included. */
  attrs: Record<string, string>;
}

/**
 * What the stanza parser reports, called synchronously from `write()`: no events, no microtasks.
 * After `onError` nothing else is ever called until `reset()`.
 */
export interface StanzaSink<P = never> {
  /** The peer's stream header was parsed (once per stream; again after each `reset()`). */
  onStreamOpen(header: StreamHeader): void;
  /** A complete depth-1 element: a stanza, `<stream:features>`, `<success>`, `<stream:error>`… */
  onStanza(stanza: XmlElement): void;
  /**
   * Optional: a stanza the parser's shortcut recognised (see `StanzaParserOptions.shortcut`), as
   * the parts the shortcut hands over, without any element built. Return false to have it
   * delivered to `onStanza` as an element instead. Without this method every stanza is an element.
   */
  onShortcut?(parts: P): boolean;
  /** The peer closed its stream with `</stream:stream>`. */
  onStreamEnd(): void;
  /** The input broke a rule; the condition is what to send back in `<stream:error>`. */
  onError(error: StreamParseError): void;
}
