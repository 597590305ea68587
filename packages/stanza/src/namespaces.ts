// The stream-level namespaces live in @ccs-xmpp/stream; re-exported so users of this package
// need only one import.
export { NS_CLIENT, NS_STREAM, NS_STREAM_ERRORS, NS_SASL } from '@ccs-xmpp/stream';
/** `google:mobile:data` — the CCS payload element `<gcm>`. */
export const NS_GCM = 'google:mobile:data';
/** `urn:ietf:params:xml:ns:xmpp-stanzas` — stanza error conditions (RFC 6120 §8.3). */
export const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
/** `urn:ietf:params:xml:ns:xmpp-tls` — STARTTLS (CCS never offers it; read for completeness). */
export const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';
/** `urn:ietf:params:xml:ns:xmpp-bind` — resource binding (RFC 6120 §7). */
export const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';
/** `urn:ietf:params:xml:ns:xmpp-session` — the legacy session IQ (RFC 3921 §3, optional in CCS). */
export const NS_SESSION = 'urn:ietf:params:xml:ns:xmpp-session';
/** `urn:xmpp:ping` — XEP-0199 ping. */
export const NS_PING = 'urn:xmpp:ping';
