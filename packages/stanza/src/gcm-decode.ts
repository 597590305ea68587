/**
 * Inbound GCM decode (PROTOCOL.md "Message framing", "Downstream" answers, "Upstream"; CCS doc
 * §"Response format", §"Upstream Messages").
 *
 * Hot path: the parser hands over a `<message>` whose `<gcm>` child has the JSON as its one string
 * child, decoded once from the socket bytes. We find that child by scanning `message.children`
 * (normally one), read the string as is, `JSON.parse` it once and discriminate on `message_type`.
 * No copy of the text, no DOM walk, no exception out of here.
 */
import type { XmlElement } from '@ccs-xmpp/stream';
import { GcmDecodeError } from './errors.js';
import { readStanzaError } from './builders.js';
import { NS_GCM } from './namespaces.js';
import { normalizeNack } from './nack.js';
import type {
  InboundMessage, InvalidMessage, JsonObject, StanzaErrorMessage, UnknownMessage,
} from './types.js';

/** The `<gcm xmlns="google:mobile:data">` child of a message, under any prefix; `undefined` if none. */
export function findGcmChild(message: XmlElement): XmlElement | undefined {
  const { children } = message;
  for (let i = 0; i < children.length; i++) {
    const child = children[i] as XmlElement | string;
    if (typeof child !== 'string' && child.local === 'gcm' && child.uri === NS_GCM) return child;
  }
  return undefined;
}

/** The JSON text of a `<gcm>` element: its one string child as delivered (no copy), else its joined text. */
export function gcmText(gcm: XmlElement): string {
  const { children } = gcm;
  if (children.length === 1) {
    const only = children[0];
    if (typeof only === 'string') return only;
  }
  return gcm.text();
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function obj(v: unknown): JsonObject | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as JsonObject) : undefined;
}

function invalid(
  stanzaId: string | undefined,
  code: 'STANZA_ERR_MALFORMED_JSON' | 'STANZA_ERR_NOT_AN_OBJECT' | 'STANZA_ERR_MISSING_MESSAGE_ID' | 'STANZA_ERR_MISSING_FIELD',
  message: string,
  payload: JsonObject | undefined,
  field?: string,
  cause?: unknown,
): InvalidMessage {
  return {
    kind: 'invalid',
    stanzaId,
    error: new GcmDecodeError(code, message, stanzaId, field, cause === undefined ? undefined : { cause }),
    payload,
  };
}

function unknown(stanzaId: string | undefined, reason: string, payload: JsonObject | undefined): UnknownMessage {
  return { kind: 'unknown', stanzaId, reason, payload };
}

function missingId(stanzaId: string | undefined, kind: string, payload: JsonObject): InvalidMessage {
  return invalid(
    stanzaId, 'STANZA_ERR_MISSING_MESSAGE_ID',
    `${kind} has no message_id (a non-empty string is required)`, payload, 'message_id',
  );
}

/**
 * Decodes one inbound `<message>` into a tagged union. Never throws.
 *
 * Accepts `type` absent, `normal` or `error`; the `gcm` element under any prefix. A message with
 * another `type`, without a `gcm` child, or with an unknown `message_type` is `unknown`; JSON that
 * does not parse, is not an object, or lacks a required `message_id` / `from` is `invalid`.
 */
export function decodeGcmMessage(message: XmlElement): InboundMessage {
  const stanzaId = message.attr('id');
  const type = message.attr('type');
  const gcm = findGcmChild(message);
  if (type === 'error') return decodeStanzaError(message, gcm, stanzaId);
  if (type !== undefined && type !== 'normal') return unknown(stanzaId, `message type "${type}" is not a CCS message`, undefined);
  if (gcm === undefined) return unknown(stanzaId, 'no <gcm xmlns="google:mobile:data"> child', undefined);
  return decodeGcmText(gcmText(gcm), stanzaId);
}

// The ACK as CCS writes it for nearly every downstream message, strings without escapes or
// controls: what JSON.parse would make of it is read straight off the match (one native regular
// expression, ~2.4× cheaper than JSON.parse on 200-byte ACKs, bench/stanza-codec.mjs).
const ACK_FROM_AT = '{"from":"'.length;
const ACK_ID_AFTER_FROM = '","message_id":"'.length;
const ACK_AFTER_ID = '","message_type":"ack"}'.length;
const CANONICAL_ACK = /^\{"from":"([^"\\\x00-\x1f]*)","message_id":"([^"\\\x00-\x1f]+)","message_type":"ack"\}$/;

/**
 * A shortcut for a receive path that only needs an ACK's two strings: when `text` is the canonical
 * ACK, `{"from":"…","message_id":"…","message_type":"ack"}` with strings that need no unescaping,
 * its `message_id` (exactly what `decodeGcmText` would report); otherwise `undefined` — decode it
 * with `decodeGcmText`. Read its `from` with `canonicalAckFrom`.
 */
export function canonicalAckId(text: string): string | undefined {
  // test() builds no match array; the strings are cut out at the positions the shape fixes.
  if (!CANONICAL_ACK.test(text)) return undefined;
  return text.slice(text.indexOf('"', ACK_FROM_AT) + ACK_ID_AFTER_FROM, text.length - ACK_AFTER_ID);
}

/**
 * The `from` of a canonical ACK (`canonicalAckId` said yes). When it equals `known` (the token the
 * message was sent to, say), `known` itself is returned and nothing is allocated.
 */
export function canonicalAckFrom(text: string, known?: string): string {
  const fromEnd = text.indexOf('"', ACK_FROM_AT);
  if (known !== undefined && known.length === fromEnd - ACK_FROM_AT && text.startsWith(known, ACK_FROM_AT)) return known;
  return text.slice(ACK_FROM_AT, fromEnd);
}

/**
 * Decodes the JSON text of a `<gcm>` payload (what `decodeGcmMessage` does once it has the text).
 * Never throws.
 */
export function decodeGcmText(text: string, stanzaId: string | undefined): InboundMessage {
  const messageId = canonicalAckId(text);
  if (messageId !== undefined) {
    const from = canonicalAckFrom(text);
    return {
      kind: 'ack', stanzaId, payload: { from, message_id: messageId, message_type: 'ack' }, messageId, from, registrationId: undefined,
    };
  }
  return decodeJsonText(text, stanzaId);
}

/** `decodeGcmText` with `JSON.parse` for everything (the general path; exported for the tests that compare both). */
export function decodeJsonText(text: string, stanzaId: string | undefined): InboundMessage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return invalid(stanzaId, 'STANZA_ERR_MALFORMED_JSON', `<gcm> payload is not JSON: ${(err as Error).message}`, undefined, undefined, err);
  }
  const payload = obj(parsed);
  if (payload === undefined) {
    return invalid(stanzaId, 'STANZA_ERR_NOT_AN_OBJECT', `<gcm> payload is JSON ${parsed === null ? 'null' : Array.isArray(parsed) ? 'array' : typeof parsed}, not an object`, undefined);
  }

  const messageType = payload['message_type'];
  const messageId = str(payload['message_id']);
  switch (messageType) {
    case undefined: {
      if (!messageId) return missingId(stanzaId, 'upstream message', payload);
      const from = str(payload['from']);
      if (from === undefined) {
        return invalid(stanzaId, 'STANZA_ERR_MISSING_FIELD', 'upstream message has no "from" (needed to ACK it)', payload, 'from');
      }
      return {
        kind: 'upstream', stanzaId, payload, messageId, from,
        category: str(payload['category']), data: obj(payload['data']) ?? {},
      };
    }
    case 'ack':
      if (!messageId) return missingId(stanzaId, 'ACK', payload);
      return {
        kind: 'ack', stanzaId, payload, messageId,
        from: str(payload['from']), registrationId: str(payload['registration_id']),
      };
    case 'nack':
      if (!messageId) return missingId(stanzaId, 'NACK', payload);
      return {
        kind: 'nack', stanzaId, payload, messageId, from: str(payload['from']),
        error: normalizeNack(payload['error'], payload['error_description']),
      };
    case 'receipt': {
      if (!messageId) return missingId(stanzaId, 'receipt', payload);
      const from = str(payload['from']);
      if (from === undefined) {
        return invalid(stanzaId, 'STANZA_ERR_MISSING_FIELD', 'receipt has no "from" (needed to ACK it)', payload, 'from');
      }
      const data = obj(payload['data']) ?? {};
      return {
        kind: 'receipt', stanzaId, payload, messageId, from, category: str(payload['category']),
        status: str(data['message_status']), originalMessageId: str(data['original_message_id']),
        deviceRegistrationId: str(data['device_registration_id']), data,
      };
    }
    case 'control':
      return { kind: 'control', stanzaId, payload, controlType: str(payload['control_type']) ?? '' };
    default:
      return unknown(stanzaId, `unknown message_type ${JSON.stringify(messageType)}`, payload);
  }
}

/**
 * `<message type="error">` (RFC 6120 §8.3; CCS doc §"Stanza error"). The `<gcm>` child may be
 * absent; when present its JSON is kept verbatim and parsed if it can be.
 */
function decodeStanzaError(message: XmlElement, gcm: XmlElement | undefined, stanzaId: string | undefined): StanzaErrorMessage {
  const error = readStanzaError(message);
  const condition = error?.condition ?? 'undefined-condition';
  const code = error?.code;
  const type = error?.type ?? '';
  const text = error?.text ?? '';
  let json: string | undefined;
  let payload: JsonObject | undefined;
  if (gcm !== undefined) {
    json = gcmText(gcm);
    try {
      payload = obj(JSON.parse(json));
    } catch {
      // The error may be precisely that the JSON was malformed: keep the text, no payload.
    }
  }
  const messageId = str(payload?.['message_id']) || stanzaId;
  return { kind: 'stanzaError', stanzaId, messageId, condition, code, type, text, json, payload };
}
