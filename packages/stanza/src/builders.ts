/**
 * Builders for the few non-CCS stanzas the client and the emulator send, and typed readers for the
 * ones they receive (RFC 6120 §4.9 stream errors, §6.4 SASL, §7 bind, §8 stanzas and §8.3 stanza
 * errors; RFC 3921 §3 session; XEP-0199 ping). Elements are `@ccs-xmpp/stream`'s `XmlElement`;
 * write them with its `serialize`, which escapes attribute values and text.
 *
 * Readers return `undefined` for an element that is not what they read: they never throw, so a
 * caller inside a socket callback can use them directly.
 */
import { xml, type XmlElement } from '@ccs-xmpp/stream';
import {
  NS_BIND, NS_GCM, NS_PING, NS_SASL, NS_SESSION, NS_STANZAS, NS_STREAM, NS_STREAM_ERRORS, NS_TLS,
} from './namespaces.js';

/** Stanza error conditions of RFC 6120 §8.3.3. */
export type StanzaErrorCondition =
  | 'bad-request' | 'conflict' | 'feature-not-implemented' | 'forbidden' | 'gone'
  | 'internal-server-error' | 'item-not-found' | 'jid-malformed' | 'not-acceptable' | 'not-allowed'
  | 'not-authorized' | 'policy-violation' | 'recipient-unavailable' | 'redirect'
  | 'registration-required' | 'remote-server-not-found' | 'remote-server-timeout'
  | 'resource-constraint' | 'service-unavailable' | 'subscription-required'
  | 'undefined-condition' | 'unexpected-request';

/** Stanza error types of RFC 6120 §8.3.2. */
export type StanzaErrorType = 'auth' | 'cancel' | 'continue' | 'modify' | 'wait';

/**
 * Legacy numeric codes (XEP-0086) for the conditions CCS uses; CCS still writes `code="400"`.
 * Conditions not listed get no `code` attribute.
 */
export const LEGACY_ERROR_CODES: Readonly<Partial<Record<StanzaErrorCondition, number>>> = {
  'bad-request': 400, 'not-authorized': 401, forbidden: 403, 'item-not-found': 404, 'not-allowed': 405,
  'not-acceptable': 406, conflict: 409, 'internal-server-error': 500, 'feature-not-implemented': 501,
  'service-unavailable': 503, 'remote-server-timeout': 504, 'resource-constraint': 500,
};

/** IQ types (RFC 6120 §8.2.3). */
export type IqType = 'get' | 'set' | 'result' | 'error';

// --- builders ---------------------------------------------------------------------------------

/** `<iq type="set" id><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><resource>…</resource></bind></iq>` (RFC 6120 §7.6). */
export function bindIq(id: string, resource?: string): XmlElement {
  return xml('iq', { type: 'set', id }, xml('bind', { xmlns: NS_BIND }, resource ? xml('resource', null, resource) : null));
}

/** The server's answer to a bind: `<iq type="result" id><bind …><jid>JID</jid></bind></iq>`. */
export function bindResultIq(id: string, jid: string): XmlElement {
  return xml('iq', { type: 'result', id }, xml('bind', { xmlns: NS_BIND }, xml('jid', null, jid)));
}

/** `<iq type="set" id><session xmlns="urn:ietf:params:xml:ns:xmpp-session"/></iq>` (optional in CCS). */
export function sessionIq(id: string): XmlElement {
  return xml('iq', { type: 'set', id }, xml('session', { xmlns: NS_SESSION }));
}

/** XEP-0199 ping: `<iq type="get" id [to]><ping xmlns="urn:xmpp:ping"/></iq>`. */
export function pingIq(id: string, to?: string): XmlElement {
  return xml('iq', { type: 'get', id, to }, xml('ping', { xmlns: NS_PING }));
}

/** `<iq type="result" id [to]>[child]</iq>`: the answer to a ping, a session IQ… */
export function resultIq(id: string, to?: string, child?: XmlElement): XmlElement {
  return xml('iq', { type: 'result', id, to }, child);
}

/** Options of a stanza `<error>`. */
export interface StanzaErrorOptions {
  /** Legacy `code` attribute; defaults to `LEGACY_ERROR_CODES[condition]`; `null` for none. */
  code?: number | null;
  /** `<text>` content. */
  text?: string;
}

/** `<error type [code]><CONDITION xmlns="…xmpp-stanzas"/>[<text xmlns="…">…</text>]</error>` (RFC 6120 §8.3.2). */
export function stanzaErrorElement(condition: StanzaErrorCondition, type: StanzaErrorType, options: StanzaErrorOptions = {}): XmlElement {
  const code = options.code === null ? undefined : options.code ?? LEGACY_ERROR_CODES[condition];
  return xml(
    'error', { code, type },
    xml(condition, { xmlns: NS_STANZAS }),
    options.text ? xml('text', { xmlns: NS_STANZAS }, options.text) : null,
  );
}

/** `<iq type="error" id [to]>[original child]<error …/></iq>`: refusing an IQ. */
export function errorIq(
  id: string, condition: StanzaErrorCondition, type: StanzaErrorType,
  options: StanzaErrorOptions & { to?: string } = {},
): XmlElement {
  return xml('iq', { type: 'error', id, to: options.to }, stanzaErrorElement(condition, type, options));
}

/**
 * A CCS stanza error, as the emulator sends it (CCS doc §"Stanza error"):
 * `<message id type="error"><gcm xmlns="google:mobile:data">JSON</gcm><error code="400" type="modify">…</error></message>`.
 * `json` is the original payload text, echoed when given.
 */
export function gcmErrorMessage(
  id: string | undefined, condition: StanzaErrorCondition, type: StanzaErrorType,
  options: StanzaErrorOptions & { json?: string } = {},
): XmlElement {
  return xml(
    'message', { id, type: 'error' },
    options.json ? xml('gcm', { xmlns: NS_GCM }, options.json) : null,
    stanzaErrorElement(condition, type, options),
  );
}

/**
 * `<stream:error><CONDITION xmlns="…xmpp-streams"/>[<text …>…</text>]</stream:error>` (RFC 6120
 * §4.9). The `stream` prefix is the one declared by the stream header.
 */
export function streamErrorElement(condition: string, text?: string): XmlElement {
  return xml(
    'stream:error', null,
    xml(condition, { xmlns: NS_STREAM_ERRORS }),
    text ? xml('text', { xmlns: NS_STREAM_ERRORS }, text) : null,
  );
}

/** What `streamFeatures` advertises. */
export interface StreamFeaturesSpec {
  /** SASL mechanisms, in preference order (before authentication). */
  mechanisms?: readonly string[];
  /** Advertise resource binding (after authentication). */
  bind?: boolean;
  /**
   * Advertise the session IQ (after authentication): `true` or `'optional'` marks it
   * `<optional/>` (draft-cridland-xmpp-session — the emulator, like CCS, serves a bound client
   * whether or not it asks for a session); `'required'` leaves the mark out (RFC 3921 servers).
   */
  session?: boolean | 'optional' | 'required';
}

/** `<stream:features>` as the emulator sends it: SASL mechanisms first, bind/session after auth. */
export function streamFeatures(spec: StreamFeaturesSpec): XmlElement {
  return xml(
    'stream:features', null,
    spec.mechanisms ? xml('mechanisms', { xmlns: NS_SASL }, ...spec.mechanisms.map((m) => xml('mechanism', null, m))) : null,
    spec.bind ? xml('bind', { xmlns: NS_BIND }) : null,
    spec.session ? xml('session', { xmlns: NS_SESSION }, spec.session === 'required' ? null : xml('optional')) : null,
  );
}

/** `<auth xmlns="…xmpp-sasl" mechanism="PLAIN">BASE64</auth>` (RFC 6120 §6.4.2); `'='` for an empty response. */
export function saslAuth(mechanism: string, initialResponseBase64?: string): XmlElement {
  return xml('auth', { xmlns: NS_SASL, mechanism }, initialResponseBase64 === '' ? '=' : initialResponseBase64);
}

/** `<success xmlns="…xmpp-sasl"/>` (RFC 6120 §6.4.6). */
export function saslSuccess(additionalDataBase64?: string): XmlElement {
  return xml('success', { xmlns: NS_SASL }, additionalDataBase64);
}

/** `<failure xmlns="…xmpp-sasl"><CONDITION/>[<text>…</text>]</failure>` (RFC 6120 §6.4.5). */
export function saslFailure(condition: string, text?: string): XmlElement {
  return xml('failure', { xmlns: NS_SASL }, xml(condition), text ? xml('text', null, text) : null);
}

// --- readers ----------------------------------------------------------------------------------

/** What a `<stream:features>` offers. */
export interface StreamFeatures {
  /** SASL mechanisms offered (empty after authentication). */
  mechanisms: string[];
  /** STARTTLS offered (CCS never does: it is direct TLS). */
  starttls: boolean;
  /** Resource binding offered. */
  bind: boolean;
  /** The session IQ offered. */
  session: boolean;
  /** The session IQ is marked `<optional/>` (RFC 3921bis); false when not offered. */
  sessionOptional: boolean;
}

/** Reads `<stream:features>`; `undefined` for any other element. */
export function readStreamFeatures(el: XmlElement): StreamFeatures | undefined {
  if (el.local !== 'features' || el.uri !== NS_STREAM) return undefined;
  const mechanisms: string[] = [];
  const mechs = el.getChild('mechanisms', NS_SASL);
  if (mechs) for (const m of mechs.getChildren('mechanism')) {
    const name = m.text().trim();
    if (name !== '') mechanisms.push(name);
  }
  const session = el.getChild('session', NS_SESSION);
  return {
    mechanisms,
    starttls: el.getChild('starttls', NS_TLS) !== undefined,
    bind: el.getChild('bind', NS_BIND) !== undefined,
    session: session !== undefined,
    sessionOptional: session?.getChild('optional') !== undefined,
  };
}

/** The server's answer during SASL (RFC 6120 §6.4). */
export type SaslResult =
  | { kind: 'success'; /** Base64 additional data, `''` when none. */ data: string }
  | { kind: 'challenge'; data: string }
  | { kind: 'failure'; /** e.g. `not-authorized`; `''` when none given. */ condition: string; text: string };

/** Reads `<success>`, `<challenge>` or `<failure>` in the SASL namespace; `undefined` otherwise. */
export function readSaslResult(el: XmlElement): SaslResult | undefined {
  if (el.uri !== NS_SASL) return undefined;
  switch (el.local) {
    case 'success': return { kind: 'success', data: el.text().trim() };
    case 'challenge': return { kind: 'challenge', data: el.text().trim() };
    case 'failure': {
      let condition = '';
      let text = '';
      for (const child of el.getChildren()) {
        if (child.local === 'text') text = child.text().trim();
        else if (condition === '') condition = child.local;
      }
      return { kind: 'failure', condition, text };
    }
    default: return undefined;
  }
}

/** A received `<stream:error>`. */
export interface StreamErrorInfo {
  /** Defined condition (`see-other-host`, `policy-violation`…); `undefined-condition` when none. */
  condition: string;
  /** `<text>` content, `''` when none. */
  text: string;
  /** Character data of the condition element (the new host of `see-other-host`). */
  conditionText: string;
}

/** Reads `<stream:error>` (RFC 6120 §4.9.2); `undefined` for any other element. */
export function readStreamError(el: XmlElement): StreamErrorInfo | undefined {
  if (el.local !== 'error' || el.uri !== NS_STREAM) return undefined;
  let condition = 'undefined-condition';
  let conditionText = '';
  let text = '';
  let found = false;
  for (const child of el.getChildren(undefined, NS_STREAM_ERRORS)) {
    if (child.local === 'text') text = child.text().trim();
    else if (!found) {
      found = true;
      condition = child.local;
      conditionText = child.text().trim();
    }
  }
  return { condition, text, conditionText };
}

/** A stanza `<error>` (RFC 6120 §8.3). */
export interface StanzaErrorInfo {
  /** Defined condition; `undefined-condition` when none is given. */
  condition: string;
  /** `type` attribute, `''` when absent. */
  type: string;
  /** Legacy `code` attribute as a number, when present. */
  code: number | undefined;
  /** `<text>` content, `''` when none. */
  text: string;
}

/** Reads the `<error>` child of a stanza (`message`, `iq`, `presence`); `undefined` if it has none. */
export function readStanzaError(stanza: XmlElement): StanzaErrorInfo | undefined {
  const error = stanza.getChild('error');
  if (error === undefined) return undefined;
  const codeAttr = error.attr('code');
  let condition = 'undefined-condition';
  let text = '';
  let found = false;
  for (const child of error.getChildren(undefined, NS_STANZAS)) {
    if (child.local === 'text') text = child.text().trim();
    else if (!found) {
      found = true;
      condition = child.local;
    }
  }
  return {
    condition,
    type: error.attr('type') ?? '',
    code: codeAttr !== undefined && /^\d+$/.test(codeAttr) ? Number(codeAttr) : undefined,
    text,
  };
}

/** An `<iq>`, read. */
export interface IqInfo {
  type: IqType;
  /** `id` attribute (required by RFC 6120; `''` when a peer left it out). */
  id: string;
  from: string | undefined;
  to: string | undefined;
  /** The first child element other than `<error>` (the request or result payload). */
  payload: XmlElement | undefined;
  /** The error, for `type="error"`. */
  error: StanzaErrorInfo | undefined;
}

/** Reads an `<iq>` (RFC 6120 §8.2.3); `undefined` for another element or an invalid `type`. */
export function readIq(el: XmlElement): IqInfo | undefined {
  if (el.local !== 'iq') return undefined;
  const type = el.attr('type');
  if (type !== 'get' && type !== 'set' && type !== 'result' && type !== 'error') return undefined;
  let payload: XmlElement | undefined;
  for (const child of el.children) {
    if (typeof child !== 'string' && child.local !== 'error') {
      payload = child;
      break;
    }
  }
  return {
    type, id: el.attr('id') ?? '', from: el.attr('from'), to: el.attr('to'), payload,
    error: type === 'error' ? readStanzaError(el) : undefined,
  };
}

/** The bound JID of a bind result (`<iq type="result"><bind><jid>…</jid></bind></iq>`); `undefined` otherwise. */
export function readBindResult(iq: XmlElement): string | undefined {
  if (iq.local !== 'iq' || iq.attr('type') !== 'result') return undefined;
  const jid = iq.getChild('bind', NS_BIND)?.getChild('jid');
  if (jid === undefined) return undefined;
  const s = jid.text().trim();
  return s === '' ? undefined : s;
}

/** The requested resource of a bind request (`''` when the client lets the server choose); `undefined` if not a bind set. */
export function readBindRequest(iq: XmlElement): string | undefined {
  if (iq.local !== 'iq' || iq.attr('type') !== 'set') return undefined;
  const bind = iq.getChild('bind', NS_BIND);
  if (bind === undefined) return undefined;
  return bind.getChild('resource')?.text().trim() ?? '';
}

/** True for a XEP-0199 ping request (`<iq type="get"><ping xmlns="urn:xmpp:ping"/></iq>`). */
export function isPing(iq: XmlElement): boolean {
  return iq.local === 'iq' && iq.attr('type') === 'get' && iq.getChild('ping', NS_PING) !== undefined;
}

/** True for a session request (`<iq type="set"><session xmlns="…xmpp-session"/></iq>`). */
export function isSessionRequest(iq: XmlElement): boolean {
  return iq.local === 'iq' && iq.attr('type') === 'set' && iq.getChild('session', NS_SESSION) !== undefined;
}

/** Which depth-1 element this is, for dispatching what the parser delivers. */
export type TopLevelKind = 'message' | 'iq' | 'presence' | 'features' | 'streamError' | 'sasl' | 'other';

/** Classifies a depth-1 element by name and namespace, without reading it. */
export function topLevelKind(el: XmlElement): TopLevelKind {
  switch (el.local) {
    case 'message': return 'message';
    case 'iq': return 'iq';
    case 'presence': return 'presence';
    default:
      if (el.uri === NS_STREAM) return el.local === 'features' ? 'features' : el.local === 'error' ? 'streamError' : 'other';
      return el.uri === NS_SASL ? 'sasl' : 'other';
  }
}
