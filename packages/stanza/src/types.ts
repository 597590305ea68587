import type { GcmDecodeError } from './errors.js';
import type { NackError } from './nack.js';

/** A JSON object as `JSON.parse` returns it. */
export type JsonObject = { [key: string]: unknown };

/** `notification` of a downstream message (PROTOCOL.md "Downstream"). Unknown keys pass through. */
export interface DownstreamNotification {
  title?: string;
  body?: string;
  icon?: string;
  sound?: string;
  badge?: string;
  tag?: string;
  color?: string;
  click_action?: string;
  body_loc_key?: string;
  body_loc_args?: string[];
  title_loc_key?: string;
  title_loc_args?: string[];
  [key: string]: unknown;
}

/**
 * A downstream (app server → CCS → device) message as an application hands it over: `message_id`
 * may be left out for the sender to assign (what `CcsClient.send()` takes). Exactly one of `to` and
 * `condition`; `validateDownstream` checks every rule CCS enforces.
 */
export interface OutgoingMessage {
  /** Registration token, notification key, or `/topics/NAME`. */
  to?: string;
  /** Topic expression (`'a' in topics && 'b' in topics`), at most 2 operators. */
  condition?: string;
  /** Unique per connection (better: per sender); also written as the stanza `id`. Assigned when absent. */
  message_id?: string;
  collapse_key?: string;
  priority?: 'normal' | 'high';
  content_available?: boolean;
  mutable_content?: boolean;
  delay_while_idle?: boolean;
  delivery_receipt_requested?: boolean;
  dry_run?: boolean;
  /**
   * Seconds, integer 0…2419200 (4 weeks, the default). A numeric string (`"600"`) is accepted as
   * CCS accepted it (its Java JSON parser read a number from a string); `ttlValue` reads either.
   */
  time_to_live?: number | string;
  /** At most 4096 bytes of keys and values; no key `from`, none starting with `google`. */
  data?: JsonObject;
  notification?: DownstreamNotification;
  [key: string]: unknown;
}

/**
 * A downstream message as written to the wire: an {@link OutgoingMessage} whose `message_id` is set
 * (CCS answers a message without one with a stanza error, PROTOCOL.md "Downstream").
 */
export interface DownstreamMessage extends OutgoingMessage {
  /** Required, unique per connection (better: per sender); also written as the stanza `id`. */
  message_id: string;
}

/** The ACK the app server sends for an upstream message or receipt. */
export interface OutboundAck {
  to: string;
  message_id: string;
  message_type: 'ack';
}

/** Fields every decoded message carries. */
interface InboundBase {
  /** The stanza `id` attribute, if any. */
  stanzaId: string | undefined;
  /** The parsed JSON object, exactly as `JSON.parse` returned it. */
  payload: JsonObject;
}

/** A device → app server data message (no `message_type`). ACK it with `to: from`. */
export interface UpstreamMessage extends InboundBase {
  kind: 'upstream';
  messageId: string;
  /** Registration token of the sending device (the ACK's `to`). */
  from: string;
  /** Package name of the sending app, when present. */
  category: string | undefined;
  /** The `data` object (`{}` when absent or not an object). */
  data: JsonObject;
}

/** CCS accepted a downstream message. */
export interface AckMessage extends InboundBase {
  kind: 'ack';
  messageId: string;
  from: string | undefined;
  /** Canonical registration token to use from now on, when CCS supplied one. */
  registrationId: string | undefined;
}

/** CCS refused a downstream message. */
export interface NackMessage extends InboundBase {
  kind: 'nack';
  messageId: string;
  from: string | undefined;
  error: NackError;
}

/** A delivery receipt (arrives like an upstream message; ACK it with its own `dr2:` id). */
export interface ReceiptMessage extends InboundBase {
  kind: 'receipt';
  messageId: string;
  /** Normally `gcm.googleapis.com`: the ACK's `to`. */
  from: string;
  category: string | undefined;
  /** `data.message_status`, e.g. `MESSAGE_SENT_TO_DEVICE`. */
  status: string | undefined;
  /** `data.original_message_id`: the downstream message this receipt is about. */
  originalMessageId: string | undefined;
  /** `data.device_registration_id`. */
  deviceRegistrationId: string | undefined;
  data: JsonObject;
}

/** A control message, e.g. `CONNECTION_DRAINING`. Not ACKed. */
export interface ControlMessage extends InboundBase {
  kind: 'control';
  /** `control_type` as sent (`CONNECTION_DRAINING`); `''` when absent. */
  controlType: string;
}

/** A `<message type="error">`: CCS bounced a stanza (RFC 6120 §8.3). */
export interface StanzaErrorMessage {
  kind: 'stanzaError';
  /** The stanza `id`: the `message_id` of the message that was refused, when the sender set it so. */
  stanzaId: string | undefined;
  /** The message this error refers to: the JSON's `message_id` when readable, else the stanza id. */
  messageId: string | undefined;
  /** Defined condition element, e.g. `bad-request`; `undefined-condition` when none is given. */
  condition: string;
  /** Legacy numeric `code` attribute (`400`), when present. */
  code: number | undefined;
  /** Error `type` attribute: `modify`, `cancel`, `auth`, `wait`, `continue`, or `''`. */
  type: string;
  /** `<text>` content (`''` when none), e.g. `InvalidJson: JSON_PARSING_ERROR : Missing Required Field: message_id`. */
  text: string;
  /** The original JSON text of the `<gcm>` child, when the error echoed it. */
  json: string | undefined;
  /** That JSON parsed, when it parses to an object. */
  payload: JsonObject | undefined;
}

/** A `<message>` that is not a CCS payload this stack knows: no `<gcm>` child, or an unknown `message_type`. */
export interface UnknownMessage {
  kind: 'unknown';
  stanzaId: string | undefined;
  /** Why it is unknown, for logs. */
  reason: string;
  /** The parsed JSON, when there was some. */
  payload: JsonObject | undefined;
}

/** A CCS payload that cannot be decoded: malformed JSON, or a required field missing. */
export interface InvalidMessage {
  kind: 'invalid';
  stanzaId: string | undefined;
  /** The typed error (never thrown). */
  error: GcmDecodeError;
  /** The parsed JSON, when it parsed. */
  payload: JsonObject | undefined;
}

/** Everything `decodeGcmMessage` can return; `switch (m.kind)` over it is exhaustive. */
export type InboundMessage =
  | UpstreamMessage
  | AckMessage
  | NackMessage
  | ReceiptMessage
  | ControlMessage
  | StanzaErrorMessage
  | UnknownMessage
  | InvalidMessage;

/** The `kind` tags of `InboundMessage`. */
export type InboundKind = InboundMessage['kind'];
