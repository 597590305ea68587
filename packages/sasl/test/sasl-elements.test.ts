// Reading SASL elements that were built in this process rather than parsed: an in-process
// transport (a test harness, the emulator's own client) hands elements over without a wire, and
// xml() leaves a child without its own xmlns in "the parent's namespace" (uri '').
import { xml } from '@ccs-xmpp/stream';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ClientNegotiator, NS_SASL, ServerNegotiator, offeredMechanisms, plainServer, type SaslError } from '../src/index.js';
import { parse } from './helpers.js';

const built = () => xml('stream:features', null, xml('mechanisms', { xmlns: NS_SASL }, xml('mechanism', null, 'PLAIN')));

test('reads the mechanisms of a <stream:features> built in process, as the server negotiator builds it', () => {
  const server = new ServerNegotiator(
    { mechanisms: [plainServer({ lookup: () => undefined })], offer: ['X-OAUTH2', 'PLAIN'], encrypted: true },
    { send() {}, onSuccess() {}, onTooManyFailures() {} },
  );
  const built = xml('stream:features', null, server.mechanismsElement());
  assert.equal(offeredMechanisms(built), ['X-OAUTH2', 'PLAIN']);
  // And a client negotiator given those features picks PLAIN from them.
  const client = new ClientNegotiator({ credentials: { authcid: 'a', password: 'p' }, send() {}, encrypted: true });
  client.start(built).catch(() => {});
  assert.is(client.mechanism, 'PLAIN');
  client.abort();
});

test('a built <mechanism> with an explicit empty xmlns is in no namespace, and not read', () => {
  const built = xml(
    'stream:features',
    null,
    xml('mechanisms', { xmlns: NS_SASL }, xml('mechanism', null, 'PLAIN'), xml('mechanism', { xmlns: '' }, 'X-NONE')),
  );
  assert.equal(offeredMechanisms(built), ['PLAIN']);
});

test('reads the first SASL condition and the first <text> of a <failure>, ignoring other namespaces', async () => {
  const n = new ClientNegotiator({ credentials: { authcid: 'a', password: 'p' }, send() {}, encrypted: true });
  const done = n.start(built());
  n.handle(
    parse(
      `<failure xmlns="${NS_SASL}"><account-disabled xmlns="urn:other"/><text xmlns="urn:other">not this</text>` +
        `<credentials-expired/><not-authorized/><text>first</text><text>second</text></failure>`,
    ),
  );
  const err = (await done.catch((e: unknown) => e)) as SaslError;
  assert.is(err.condition, 'credentials-expired');
  assert.is(err.text, 'first');
});

test.run();
