import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { NS_CLIENT, NS_SASL, NS_STREAM, NS_STREAM_ERRORS } from '../src/index.js';

// The namespace names are fixed by RFC 6120 (§4.8.1, §4.9.2, §6.4; jabber:client §4.8.3): a peer
// matches them byte for byte. @ccs-xmpp/sasl takes NS_SASL from here, so it is checked here too.
test('the namespace constants are the names RFC 6120 fixes', () => {
  assert.is(NS_STREAM, 'http://etherx.jabber.org/streams');
  assert.is(NS_CLIENT, 'jabber:client');
  assert.is(NS_STREAM_ERRORS, 'urn:ietf:params:xml:ns:xmpp-streams');
  assert.is(NS_SASL, 'urn:ietf:params:xml:ns:xmpp-sasl');
});

test.run();
