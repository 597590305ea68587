/**
 * What the emulator writes, as ready strings (STYLE "Hot path": constant XML prebuilt, JSON escaped
 * for XML only when it needs it). Shapes are PROTOCOL.md's: ACK `{"from","message_id",
 * "message_type":"ack"[,"registration_id"]}`, NACK `{…,"message_type":"nack","error",
 * "error_description"}`, the stanza error of the CCS document, receipts and the control message.
 */
import { escapeAttr, serialize } from '@ccs-xmpp/stream';
import {
  escapeJsonForXml, gcmErrorMessage, isPlainAscii, type StanzaErrorCondition, type StanzaErrorType,
} from '@ccs-xmpp/stanza';

// Tokens and ids that need no escaping (stanza's isPlainAscii: every realistic one) are spliced as they are.
const OPEN = '<message><gcm xmlns="google:mobile:data">';
const CLOSE = '</gcm></message>';
const ACK_1 = '<message><gcm xmlns="google:mobile:data">{"from":"';
const ACK_2 = '","message_id":"';
const ACK_3 = '","message_type":"ack"}</gcm></message>';
const ACK_NO_FROM = '<message><gcm xmlns="google:mobile:data">{"message_id":"';

/** A whole CCS-to-app-server stanza around JSON text (escaped for XML here). */
export function gcmStanza(json: string): string {
  return OPEN + escapeJsonForXml(json) + CLOSE;
}

const B_ACK_1 = Buffer.from(ACK_1);
const B_ACK_2 = Buffer.from(ACK_2);
const B_ACK_3 = Buffer.from(ACK_3);
const ACK_SLAB_BYTES = 64 * 1024;
type Slab = Buffer & { latin1Write(s: string, offset: number): number };
// ACK bytes are carved from a shared slab and never written again once handed out (the socket
// may still hold them), like GcmEncoder's: a full slab is left to the views that use it.
let ackSlab = Buffer.allocUnsafeSlow(ACK_SLAB_BYTES) as Slab;
let ackOffset = 0;

/** The hot ACK as bytes: constant parts copied, the plain-ASCII token and id written as Latin-1 (their UTF-8). */
function ackBytes(from: string, messageId: string): Buffer {
  const max = B_ACK_1.length + B_ACK_2.length + B_ACK_3.length + from.length + messageId.length;
  if (ackOffset + max > ackSlab.length) {
    ackSlab = Buffer.allocUnsafeSlow(Math.max(ACK_SLAB_BYTES, max)) as Slab;
    ackOffset = 0;
  }
  const slab = ackSlab;
  const start = ackOffset;
  let o = start;
  slab.set(B_ACK_1, o);
  o += B_ACK_1.length;
  o += slab.latin1Write(from, o);
  slab.set(B_ACK_2, o);
  o += B_ACK_2.length;
  o += slab.latin1Write(messageId, o);
  slab.set(B_ACK_3, o);
  o += B_ACK_3.length;
  ackOffset = o;
  return slab.subarray(start, o);
}

/**
 * The ACK of a downstream message; `from` is the target (`undefined` for a condition). The usual
 * one (a plain token and id) comes as bytes, ready for the socket; anything else as a string.
 */
export function ackStanza(from: string | undefined, messageId: string, registrationId?: string): string | Buffer {
  // The hot case: plain token and id (no JSON or XML escaping needed) spliced between constants.
  if (registrationId === undefined && isPlainAscii(messageId)) {
    if (from === undefined) return ACK_NO_FROM + messageId + ACK_3;
    if (isPlainAscii(from)) return ackBytes(from, messageId);
  }
  const payload: Record<string, string> = {};
  if (from !== undefined) payload['from'] = from;
  payload['message_id'] = messageId;
  payload['message_type'] = 'ack';
  if (registrationId !== undefined) payload['registration_id'] = registrationId;
  return gcmStanza(JSON.stringify(payload));
}

/** A NACK. `error` is the code (`BAD_REGISTRATION`…), `description` the `error_description`. */
export function nackStanza(from: string | undefined, messageId: string, error: string, description: string): string {
  const payload: Record<string, string> = {};
  if (from !== undefined) payload['from'] = from;
  payload['message_id'] = messageId;
  payload['message_type'] = 'nack';
  payload['error'] = error;
  payload['error_description'] = description;
  return gcmStanza(JSON.stringify(payload));
}

// Characters XML 1.0 cannot carry (§2.2). Error texts and ids may quote decoded JSON strings,
// which can hold any of them ("\u0001" is valid JSON): they are written as JSON-style escapes.
const NOT_XML_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** `s` with every character XML 1.0 forbids replaced by its `\uXXXX` escape. */
export function xmlSafe(s: string): string {
  return s.replace(NOT_XML_CHAR, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * A stanza error (CCS document §"Stanza error"): `<message id="…" type="error"><gcm …>JSON</gcm>
 * <error code="400" type="modify"><bad-request …/><text …>TEXT</text></error></message>`. The
 * original JSON is echoed when there was some; the id is left out when the client sent none.
 */
export function stanzaErrorStanza(
  id: string | undefined, condition: StanzaErrorCondition, type: StanzaErrorType, text: string, json: string | undefined,
): string {
  const safeId = id === undefined ? undefined : xmlSafe(id);
  const safeText = xmlSafe(text);
  try {
    return serialize(gcmErrorMessage(safeId, condition, type, { text: safeText, ...(json === undefined ? {} : { json }) }));
  } catch {
    // The echoed text held something XML cannot carry (it came from XML, so only via a bug): drop it.
    return serialize(gcmErrorMessage(undefined, condition, type, { text: safeText }));
  }
}

/** `{"message_type":"control","control_type":"CONNECTION_DRAINING"}`, no `message_id`. */
export const DRAINING_STANZA = gcmStanza('{"message_type":"control","control_type":"CONNECTION_DRAINING"}');

/**
 * An upstream message (or receipt) as CCS writes it:
 * `<message to="SENDER@gcm.googleapis.com" from="devices@gcm.googleapis.com" type="normal"><gcm …>JSON</gcm></message>`.
 */
export function upstreamStanza(toJid: string, payload: object): string {
  return `<message to="${escapeAttr(toJid)}" from="devices@gcm.googleapis.com" type="normal"><gcm xmlns="google:mobile:data">${escapeJsonForXml(JSON.stringify(payload))}${CLOSE}`;
}
