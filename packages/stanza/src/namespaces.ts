/** `jabber:client` — the content namespace of a client-to-server stream (RFC 6120 §4.8.2). */
export const NS_CLIENT = 'jabber:client';
/** `http://etherx.jabber.org/streams` — `stream:features`, `stream:error` (RFC 6120 §4.8.1). */
export const NS_STREAM = 'http://etherx.jabber.org/streams';
/** `urn:ietf:params:xml:ns:xmpp-streams` — stream error conditions (RFC 6120 §4.9.2). */
export const NS_STREAM_ERRORS = 'urn:ietf:params:xml:ns:xmpp-streams';
/** `urn:ietf:params:xml:ns:xmpp-stanzas` — stanza error conditions (RFC 6120 §8.3). */
export const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
/** `urn:ietf:params:xml:ns:xmpp-sasl` — SASL negotiation (RFC 6120 §6.4). */
export const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
/** `urn:ietf:params:xml:ns:xmpp-tls` — STARTTLS (CCS never offers it; read for completeness). */
export const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';
/** `urn:ietf:params:xml:ns:xmpp-bind` — resource binding (RFC 6120 §7). */
export const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';
/** `urn:ietf:params:xml:ns:xmpp-session` — the legacy session IQ (RFC 3921 §3, optional in CCS). */
export const NS_SESSION = 'urn:ietf:params:xml:ns:xmpp-session';
/** `urn:xmpp:ping` — XEP-0199 ping. */
export const NS_PING = 'urn:xmpp:ping';
/** `google:mobile:data` — the CCS payload element `<gcm>`. */
export const NS_GCM = 'google:mobile:data';
