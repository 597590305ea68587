/** `http://etherx.jabber.org/streams` — the `stream:` prefix (RFC 6120 §4.8.1). */
export const NS_STREAM = 'http://etherx.jabber.org/streams';
/** `jabber:client` — the content namespace of a client-to-server stream. */
export const NS_CLIENT = 'jabber:client';
/** `urn:ietf:params:xml:ns:xmpp-streams` — stream error conditions (RFC 6120 §4.9.2). */
export const NS_STREAM_ERRORS = 'urn:ietf:params:xml:ns:xmpp-streams';
/** `urn:ietf:params:xml:ns:xmpp-sasl` — SASL negotiation (RFC 6120 §6.4). */
export const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
