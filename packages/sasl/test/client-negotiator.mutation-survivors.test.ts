// Client negotiator behaviours that mutation testing found unchecked (test/README.md, "Mutation
// testing"): what goes on the wire when a mechanism fails before <auth>, the state after an abort
// before start, and the exact messages of the no-mechanism refusals.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ClientNegotiator, MechanismRegistry, NS_SASL, type ClientMechanismFactory } from '../src/index.js';
import { Outbox, features, parse, rejection } from './helpers.js';

const CREDS = { authcid: 'a', password: 'p' };

test('a mechanism whose initial response throws sends nothing at all, not even <abort/>', async () => {
  const broken: ClientMechanismFactory = {
    name: 'X-BROKEN',
    plaintext: false,
    canUse: () => true,
    create: () => ({
      initialResponse: () => {
        throw new Error('no initial response today');
      },
      challenge: () => Buffer.alloc(0),
      success: () => {},
    }),
  };
  const out = new Outbox();
  const n = new ClientNegotiator({ credentials: CREDS, send: out.send, encrypted: true, mechanism: 'X-BROKEN', mechanisms: new MechanismRegistry([broken]) });
  const err = await rejection(n.start(features('X-BROKEN')));
  assert.is(err.code, 'SASL_ERR_MECHANISM');
  assert.is(err.message, 'SASL mechanism X-BROKEN failed');
  assert.equal(out.sent, []);
  assert.is(n.state, 'failed');
});

test('a mechanism that throws while being chosen is SASL_ERR_MECHANISM of "(none)", its error kept as cause only', async () => {
  const thrown = new Error('canUse exploded');
  const picky: ClientMechanismFactory = {
    name: 'X-PICKY',
    plaintext: false,
    canUse: () => {
      throw thrown;
    },
    create: () => {
      throw new Error('never created');
    },
  };
  const n = new ClientNegotiator({ credentials: CREDS, send() {}, encrypted: true, mechanisms: new MechanismRegistry([picky]) });
  const err = await rejection(n.start(features('X-PICKY')));
  assert.is(err.code, 'SASL_ERR_MECHANISM');
  assert.is(err.message, 'SASL mechanism (none) failed');
  assert.is(err.cause, thrown);
});

test('abort() before start() leaves the negotiator failed, and it cannot start', async () => {
  const n = new ClientNegotiator({ credentials: CREDS, send() {}, encrypted: true });
  n.abort();
  assert.is(n.state, 'failed');
  const err = await rejection(n.start(features('PLAIN')));
  assert.is(err.code, 'SASL_ERR_INVALID_STATE');
  assert.is(err.message, 'SASL negotiation cannot start in state failed');
});

test('an empty <mechanisms/> is refused as "the server offers no SASL mechanisms"', async () => {
  const n = new ClientNegotiator({ credentials: CREDS, send() {}, encrypted: true });
  const err = await rejection(n.start(parse(`<stream:features><mechanisms xmlns="${NS_SASL}"/></stream:features>`)));
  assert.is(err.code, 'SASL_ERR_NO_COMMON_MECHANISM');
  assert.is(err.message, 'the server offers no SASL mechanisms');
});

test('no mechanism in common names what the server offers and each mechanism the client would take, once', async () => {
  const n = new ClientNegotiator({ credentials: CREDS, send() {}, encrypted: true });
  const err = await rejection(n.start(features('X-OAUTH2', 'X-GOOGLE-TOKEN')));
  assert.is(err.code, 'SASL_ERR_NO_COMMON_MECHANISM');
  assert.is(
    err.message,
    'no usable SASL mechanism: the server offers [X-OAUTH2, X-GOOGLE-TOKEN], the client wants any of ' +
      '[SCRAM-SHA-512-PLUS, SCRAM-SHA-256-PLUS, SCRAM-SHA-1-PLUS, SCRAM-SHA-512, SCRAM-SHA-256, SCRAM-SHA-1, X-OAUTH2, OAUTHBEARER, PLAIN] with the given credentials',
  );
});

test('a forced mechanism the server lacks is named in the refusal', async () => {
  const n = new ClientNegotiator({ credentials: CREDS, send() {}, encrypted: true, mechanism: 'SCRAM-SHA-1' });
  const err = await rejection(n.start(features('X-OAUTH2', 'PLAIN')));
  assert.is(err.message, 'no usable SASL mechanism: the server offers [X-OAUTH2, PLAIN], the client wants mechanism SCRAM-SHA-1 with the given credentials');
});

test('PLAIN refused on an unencrypted stream says which mechanism and how to override', async () => {
  const n = new ClientNegotiator({ credentials: CREDS, send() {}, encrypted: false });
  const err = await rejection(n.start(features('PLAIN')));
  assert.is(err.code, 'SASL_ERR_PLAIN_UNENCRYPTED');
  assert.is(err.mechanism, 'PLAIN');
  assert.is(err.message, 'refusing to send PLAIN credentials over an unencrypted stream (set allowPlaintextUnencrypted to override)');
});

test('a challenge or success data that is not base64 is SASL_ERR_PROTOCOL, saying which, with the mechanism', async () => {
  for (const [el, message] of [
    ['challenge', 'the server sent a challenge that is not valid base64'],
    ['success', 'the server sent success data that is not valid base64'],
  ] as const) {
    const n = new ClientNegotiator({ credentials: CREDS, send() {}, encrypted: true });
    const done = n.start(features('PLAIN'));
    n.handle(parse(`<${el} xmlns="${NS_SASL}">not base64!</${el}>`));
    const err = await rejection(done);
    assert.is(err.code, 'SASL_ERR_PROTOCOL');
    assert.is(err.message, message);
    assert.is(err.mechanism, 'PLAIN');
  }
});

test('a send that throws is SASL_ERR_SEND_FAILED naming the element, with the transport error as cause', async () => {
  const broken = new Error('socket gone');
  const n = new ClientNegotiator({ credentials: CREDS, send: () => { throw broken; }, encrypted: true });
  const err = await rejection(n.start(features('PLAIN')));
  assert.is(err.code, 'SASL_ERR_SEND_FAILED');
  assert.is(err.message, 'could not send <auth>');
  assert.is(err.cause, broken);
  assert.is(err.mechanism, 'PLAIN');
});

test('when the <response> cannot be sent, no <abort/> is tried after it', async () => {
  const echo: ClientMechanismFactory = {
    name: 'X-ECHO',
    plaintext: false,
    canUse: () => true,
    create: () => ({ initialResponse: () => undefined, challenge: (data) => data, success: () => {} }),
  };
  const sent: string[] = [];
  const send = (el: { local: string }): void => {
    sent.push(el.local);
    if (el.local === 'response') throw new Error('socket gone');
  };
  const n = new ClientNegotiator({ credentials: CREDS, send, encrypted: true, mechanisms: new MechanismRegistry([echo]) });
  const done = n.start(features('X-ECHO'));
  n.handle(parse(`<challenge xmlns="${NS_SASL}">Yw==</challenge>`));
  assert.is((await rejection(done)).code, 'SASL_ERR_SEND_FAILED');
  assert.equal(sent, ['auth', 'response']);
  assert.is(n.state, 'failed');
});

test.run();
