/**
 * `@ccs-xmpp/stanza`: the pure codec between `@ccs-xmpp/stream` and the CCS core. No I/O.
 * @packageDocumentation
 */
export {
  StanzaError, GcmDecodeError, ValidationError, type StanzaErrorCode,
} from './errors.js';
export {
  NS_CLIENT, NS_STREAM, NS_STREAM_ERRORS, NS_STANZAS, NS_SASL, NS_TLS, NS_BIND, NS_SESSION, NS_PING, NS_GCM,
} from './namespaces.js';
export {
  normalizeNack, nackRetryClass, splitCcsError,
  type NackCode, type NackReason, type NackError, type RetryClass,
} from './nack.js';
export type {
  JsonObject, OutgoingMessage, DownstreamMessage, DownstreamNotification, OutboundAck, InboundMessage, InboundKind,
  UpstreamMessage, AckMessage, NackMessage, ReceiptMessage, ControlMessage, StanzaErrorMessage,
  UnknownMessage, InvalidMessage,
} from './types.js';
export { readDeviceGroupAck, type DeviceGroupResult } from './device-group.js';
export { gcmAckShortcut, gcmShortcut, type GcmParts } from './gcm-shortcut.js';
export { canonicalAckFrom, canonicalAckId, decodeGcmMessage, decodeGcmText, findGcmChild, gcmText } from './gcm-decode.js';
export {
  GcmEncoder, type GcmEncoderOptions, GeneratedIdPrefix, generatedIdPrefix, generatedIdText, escapeJsonForXml, stanzaIdAttr, ackJson, isPlainAscii, gcmStanzaString, encodeGcmString, encodeAckString,
} from './gcm-encode.js';
export {
  validateDownstream, validateAck, validateOutbound, isValidDownstream, isValidAck, dataByteLength, ttlValue,
  MAX_TTL, MAX_DATA_BYTES, MAX_CONDITION_OPERATORS,
} from './validate.js';
export {
  bindIq, bindResultIq, sessionIq, pingIq, resultIq, errorIq, stanzaErrorElement, gcmErrorMessage,
  streamErrorElement, streamFeatures, saslAuth, saslSuccess, saslFailure,
  readStreamFeatures, readSaslResult, readStreamError, readStanzaError, readIq, readBindResult,
  readBindRequest, isPing, isSessionRequest, topLevelKind, LEGACY_ERROR_CODES,
  type StanzaErrorCondition, type StanzaErrorType, type StanzaErrorOptions, type IqType,
  type StreamFeaturesSpec, type StreamFeatures, type SaslResult, type StreamErrorInfo,
  type StanzaErrorInfo, type IqInfo, type TopLevelKind,
} from './builders.js';
