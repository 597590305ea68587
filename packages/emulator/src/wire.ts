/**
 * What the emulator writes, as ready strings or bytes (STYLE "Hot path": constant XML prebuilt,
 * JSON escaped for XML only when it needs it). Shapes are PROTOCOL.md's: ACK `{"from","message_id",
 * "message_type":"ack"[,"registration_id"]}`, NACK `{…,"message_type":"nack","error",
 * "error_description"}`, the stanza error of the CCS document, receipts and the control message.
 */
import { escapeAttr, serialize } from '@ccs-xmpp/stream';
import {
  GcmEncoder, NS_PING, escapeJsonForXml, gcmErrorMessage, type StanzaErrorCondition, type StanzaErrorType,
} from '@ccs-xmpp/stanza';

const OPEN = '<message><gcm xmlns="google:mobile:data">';
const CLOSE = '</gcm></message>';

/** A whole CCS-to-app-server stanza around JSON text (escaped for XML here). */
export function gcmStanza(json: string): string {
  return OPEN + escapeJsonForXml(json) + CLOSE;
}

// One encoder for every connection's ACKs: its slabs are never rewritten once handed out (the
// sockets may still hold them), so sharing it is safe.
const acks = new GcmEncoder();

/**
 * The ACK of a downstream message; `from` is the target (`undefined` for a condition), as bytes
 * ready for the socket (the usual plain token and id are spliced between prebuilt bytes).
 */
export function ackStanza(from: string | undefined, messageId: string, registrationId?: string): Buffer {
  return acks.encodeServerAck(from, messageId, registrationId);
}

/**
 * A NACK. `error` is the code (`BAD_REGISTRATION`…), `description` the `error_description`; without
 * one, `error` alone (the CCS document's shape, where `error` held the composite text).
 */
export function nackStanza(from: string | undefined, messageId: string, error: string, description: string | undefined): string {
  const payload: Record<string, string> = {};
  if (from !== undefined) payload['from'] = from;
  payload['message_id'] = messageId;
  payload['message_type'] = 'nack';
  payload['error'] = error;
  if (description !== undefined) payload['error_description'] = description;
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
 * A XEP-0199 ping from the server to a bound client:
 * `<iq type="get" id="…" from="DOMAIN" to="FULL_JID"><ping xmlns="urn:xmpp:ping"/></iq>`.
 */
export function pingStanza(id: string, from: string, to: string): string {
  return `<iq type="get" id="${escapeAttr(id)}" from="${escapeAttr(from)}" to="${escapeAttr(to)}"><ping xmlns="${NS_PING}"/></iq>`;
}

/**
 * An upstream message (or receipt) as CCS writes it:
 * `<message to="SENDER@gcm.googleapis.com" from="devices@gcm.googleapis.com" type="normal"><gcm …>JSON</gcm></message>`.
 */
export function upstreamStanza(toJid: string, payload: object): string {
  return `<message to="${escapeAttr(toJid)}" from="devices@gcm.googleapis.com" type="normal"><gcm xmlns="google:mobile:data">${escapeJsonForXml(JSON.stringify(payload))}${CLOSE}`;
}
