export {
  StreamError,
  StreamParseError,
  StreamErrorReceived,
  ConnectionError,
  STREAM_ERROR_CONDITIONS,
  type StreamErrorCode,
  type StreamErrorCondition,
} from './errors.js';
export { XmlElement, xml, type XmlNode } from './xml-element.js';
export { serialize, escapeText, escapeAttr, startTag, XmlCharError } from './xml-serialize.js';
export { NS_STREAM, NS_CLIENT, NS_STREAM_ERRORS, NS_SASL } from './namespaces.js';
export type { StanzaSink, StreamHeader } from './sink.js';
export { StanzaParser, type StanzaParserOptions } from './stanza-parser.js';
export { SCAN_WAIT, SCAN_DECLINE, type StanzaShortcut, type StanzaShortcutMatcher } from './shortcut.js';
export {
  XmppConnection,
  connect,
  accept,
  type ConnectOptions,
  type ConnectionOptions,
  type ConnectionHandlers,
} from './connection.js';
export { generateDevCertificate, type DevCertificate, type DevCertificateOptions } from './dev-certificate.js';
export { TypedEventEmitter, type EventMap, type EmitterMetaEvents, type WithMeta } from './typed-emitter.js';
export { joinNegativeValues } from './cli-args.js';
