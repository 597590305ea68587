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
export interface StanzaSink {
  /** The peer's stream header was parsed (once per stream; again after each `reset()`). */
  onStreamOpen(header: StreamHeader): void;
  /** A complete depth-1 element: a stanza, `<stream:features>`, `<success>`, `<stream:error>`… */
  onStanza(stanza: XmlElement): void;
  /**
   * Optional shortcut for the CCS message shape, `<message …><gcm xmlns="google:mobile:data">JSON
   * </gcm></message>` with nothing else in it, when the fast path recognised it: the decoded JSON
   * text and the `<message>` attributes (shared between stanzas with the same start tag: read
   * only), without building any element. Return false to have it delivered to `onStanza` as an
   * element instead (say, for a `type` the consumer wants to see as a tree).
   */
  onGcmMessage?(json: string, attrs: Readonly<Record<string, string>>): boolean;
  /** The peer closed its stream with `</stream:stream>`. */
  onStreamEnd(): void;
  /** The input broke a rule; the condition is what to send back in `<stream:error>`. */
  onError(error: StreamParseError): void;
}
