import { inspect } from 'node:util';
import { xml, NS_STREAM, type XmlElement } from '@ccs-xmpp/stream';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ClientNegotiator,
  MechanismRegistry,
  NS_SASL,
  SASL_FAILURE_CONDITIONS,
  FAILURE_CODES,
  SaslAbortError,
  SaslFailureError,
  SaslNegotiationError,
  SaslProtocolError,
  plainClient,
  offeredMechanisms,
  type ClientMechanismFactory,
  type ClientNegotiatorOptions,
} from '../src/index.js';
import { Outbox, features, ignore, parse, wire, rejection } from './helpers.js';

const PASSWORD = 'AIzaSy-s3cr3t-API-key';
const CREDS = { authcid: '123456789@gcm.googleapis.com', password: PASSWORD };
const CCS_FEATURES = features('X-OAUTH2', 'X-GOOGLE-TOKEN', 'PLAIN');

function negotiator(extra: Partial<ClientNegotiatorOptions> = {}): { n: ClientNegotiator; out: Outbox } {
  const out = new Outbox();
  const n = new ClientNegotiator({ credentials: CREDS, send: out.send, encrypted: true, ...extra });
  return { n, out };
}

/** A challenge-response test mechanism: "hello", then "r:<challenge>", and server data "ok". */
function echoMechanism(name = 'X-ECHO'): ClientMechanismFactory & { rounds: string[] } {
  const rounds: string[] = [];
  return {
    name,
    plaintext: false,
    rounds,
    canUse: (c) => typeof c['token'] === 'string',
    create: () => ({
      initialResponse: () => Buffer.from('hello'),
      challenge: (data) => {
        rounds.push(data.toString());
        if (data.toString() === 'boom') throw new Error(`exploded with ${PASSWORD}`);
        return Buffer.from(`r:${data.toString()}`);
      },
      success: (data) => {
        if (data?.toString() !== 'ok') throw new SaslProtocolError('SASL_ERR_PROTOCOL', 'bad server proof');
      },
    }),
  };
}

test('reads the offered mechanisms from <stream:features>, in order', () => {
  assert.equal(offeredMechanisms(CCS_FEATURES), ['X-OAUTH2', 'X-GOOGLE-TOKEN', 'PLAIN']);
  assert.is(offeredMechanisms(wire(xml('stream:features', { 'xmlns:stream': NS_STREAM }))[0] as XmlElement), undefined);
  // <mechanisms> in another namespace is not SASL's.
  assert.is(offeredMechanisms(parse(`<stream:features><mechanisms xmlns="urn:other"><mechanism>PLAIN</mechanism></mechanisms></stream:features>`)), undefined);
  assert.equal(offeredMechanisms(parse(`<stream:features><mechanisms xmlns="${NS_SASL}"><mechanism> PLAIN </mechanism><mechanism/><mechanism>PLAIN</mechanism><mechanism xmlns="">X</mechanism></mechanisms></stream:features>`)), ['PLAIN']);
});

test('sends PLAIN with the CCS authcid and API key when the server offers X-OAUTH2, X-GOOGLE-TOKEN and PLAIN', async () => {
  const { n, out } = negotiator();
  const done = n.start(CCS_FEATURES);
  assert.is(n.mechanism, 'PLAIN');
  assert.is(n.state, 'negotiating');
  const expected = Buffer.from(`\u0000${CREDS.authcid}\u0000${PASSWORD}`).toString('base64');
  assert.equal(out.xml, [`<auth xmlns="${NS_SASL}" mechanism="PLAIN">${expected}</auth>`]);
  assert.ok(n.handle(parse(`<success xmlns="${NS_SASL}"/>`)));
  assert.equal(await done, { mechanism: 'PLAIN', additionalData: undefined });
  assert.is(n.state, 'succeeded');
});

test('accepts <success> carrying "=" as zero-length additional data', async () => {
  const { n } = negotiator();
  const done = n.start(CCS_FEATURES);
  n.handle(parse(`<success xmlns="${NS_SASL}">=</success>`));
  assert.equal(await done, { mechanism: 'PLAIN', additionalData: Buffer.alloc(0) });
});

for (const condition of SASL_FAILURE_CONDITIONS) {
  test(`maps <failure><${condition}/></failure> with its <text> to ${FAILURE_CODES[condition]}`, async () => {
    const { n } = negotiator();
    const done = n.start(CCS_FEATURES);
    n.handle(parse(`<failure xmlns="${NS_SASL}"><${condition}/><text xml:lang="en">Because.</text></failure>`));
    const err = await rejection(done);
    assert.instance(err, SaslFailureError);
    assert.is(err.name, 'SaslFailureError');
    assert.is(err.code, FAILURE_CODES[condition]);
    assert.is(err.condition, condition);
    assert.is(err.text, 'Because.');
    assert.is(err.mechanism, 'PLAIN');
    assert.is((err as SaslFailureError).retryable, condition === 'temporary-auth-failure');
    assert.ok(err.message.includes(condition));
    assert.is(n.state, 'failed');
  });
}

test('maps a <failure> without <text> to an error with text undefined', async () => {
  const { n } = negotiator();
  const done = n.start(CCS_FEATURES);
  n.handle(parse(`<failure xmlns="${NS_SASL}"><not-authorized/><text/></failure>`));
  const err = await rejection(done);
  assert.is(err.code, 'SASL_ERR_NOT_AUTHORIZED');
  assert.is(err.text, undefined);
});

test('reads a <failure> with no or an unknown condition as not-authorized', async () => {
  for (const body of ['', '<no-such-condition/>', '<not-authorized xmlns="urn:other"/>']) {
    const { n } = negotiator();
    const done = n.start(CCS_FEATURES);
    n.handle(parse(`<failure xmlns="${NS_SASL}">${body}</failure>`));
    assert.is((await rejection(done)).condition, 'not-authorized');
  }
});

test('a failed authentication error does not contain the password, the payload or the credentials', async () => {
  const { n } = negotiator();
  const done = n.start(CCS_FEATURES);
  n.handle(parse(`<failure xmlns="${NS_SASL}"><not-authorized/></failure>`));
  const err = await rejection(done);
  const payload = Buffer.from(`\u0000${CREDS.authcid}\u0000${PASSWORD}`).toString('base64');
  for (const view of [err.message, String(err), err.stack ?? '', inspect(err, { depth: 10, showHidden: true }), JSON.stringify(err)]) {
    assert.not.ok(view.includes(PASSWORD), view);
    assert.not.ok(view.includes(payload), view);
  }
  assert.not.ok(inspect(n, { depth: 10, showHidden: true }).includes(PASSWORD));
});

test('refuses PLAIN over an unencrypted stream with SASL_ERR_PLAIN_UNENCRYPTED and sends nothing', async () => {
  const { n, out } = negotiator({ encrypted: false });
  const err = await rejection(n.start(CCS_FEATURES));
  assert.instance(err, SaslNegotiationError);
  assert.is(err.code, 'SASL_ERR_PLAIN_UNENCRYPTED');
  assert.is(err.mechanism, 'PLAIN');
  assert.equal(out.sent, []);
});

test('sends PLAIN over an unencrypted stream when allowPlaintextUnencrypted is set', async () => {
  const { n, out } = negotiator({ encrypted: false, allowPlaintextUnencrypted: true });
  const done = n.start(CCS_FEATURES);
  assert.is(out.last().attr('mechanism'), 'PLAIN');
  n.handle(parse(`<success xmlns="${NS_SASL}"/>`));
  await done;
});

test('prefers a non-plaintext mechanism over PLAIN on an unencrypted stream', async () => {
  const echo = echoMechanism();
  const { n, out } = negotiator({
    encrypted: false,
    credentials: { ...CREDS, token: 't' },
    mechanisms: new MechanismRegistry<ClientMechanismFactory>([plainClient, echo]),
    preference: ['PLAIN', 'X-ECHO'],
  });
  ignore(n.start(features('PLAIN', 'X-ECHO')));
  assert.is(out.last().attr('mechanism'), 'X-ECHO');
  n.abort();
});

test('fails with SASL_ERR_NO_COMMON_MECHANISM when the server offers nothing the client has', async () => {
  const { n, out } = negotiator();
  const err = await rejection(n.start(features('X-OAUTH2', 'SCRAM-SHA-1')));
  assert.instance(err, SaslNegotiationError);
  assert.is(err.code, 'SASL_ERR_NO_COMMON_MECHANISM');
  assert.ok(err.message.includes('X-OAUTH2'));
  assert.not.ok(err.message.includes(PASSWORD));
  assert.equal(out.sent, []);
});

test('fails with SASL_ERR_NO_COMMON_MECHANISM when the features carry no <mechanisms>', async () => {
  const { n } = negotiator();
  assert.is((await rejection(n.start(parse('<stream:features/>')))).code, 'SASL_ERR_NO_COMMON_MECHANISM');
  const { n: n2 } = negotiator();
  assert.is((await rejection(n2.start(features()))).code, 'SASL_ERR_NO_COMMON_MECHANISM');
});

test('skips a mechanism the credentials do not suit', async () => {
  const echo = echoMechanism();
  const { n, out } = negotiator({ mechanisms: new MechanismRegistry<ClientMechanismFactory>([plainClient, echo]), preference: ['X-ECHO', 'PLAIN'] });
  ignore(n.start(features('X-ECHO', 'PLAIN')));
  assert.is(out.last().attr('mechanism'), 'PLAIN');
  n.abort();
});

test('picks the first mechanism of the preference order that the server offers, whatever the server order', async () => {
  const a = echoMechanism('X-A');
  const b = echoMechanism('X-B');
  const registry = new MechanismRegistry<ClientMechanismFactory>([a, b, plainClient]);
  const creds = { ...CREDS, token: 't' };
  const first = negotiator({ credentials: creds, mechanisms: registry, preference: ['X-B', 'X-A', 'PLAIN'] });
  ignore(first.n.start(features('PLAIN', 'X-A', 'X-B')));
  assert.is(first.n.mechanism, 'X-B');
  first.n.abort();
  // Default order: DEFAULT_MECHANISM_PREFERENCE (which has PLAIN) and then the rest as registered.
  const second = negotiator({ credentials: creds, mechanisms: registry });
  ignore(second.n.start(features('X-B', 'X-A', 'PLAIN')));
  assert.is(second.n.mechanism, 'PLAIN');
  second.n.abort();
  const third = negotiator({ credentials: creds, mechanisms: registry });
  ignore(third.n.start(features('X-B', 'X-A')));
  assert.is(third.n.mechanism, 'X-A');
  third.n.abort();
});

test('uses only the forced mechanism, and fails when the server does not offer it', async () => {
  const forced = negotiator({ mechanism: 'PLAIN' });
  ignore(forced.n.start(CCS_FEATURES));
  assert.is(forced.n.mechanism, 'PLAIN');
  forced.n.abort();
  const missing = negotiator({ mechanism: 'PLAIN' });
  const err = await rejection(missing.n.start(features('X-OAUTH2')));
  assert.is(err.code, 'SASL_ERR_NO_COMMON_MECHANISM');
  assert.ok(err.message.includes('mechanism PLAIN'));
  const unregistered = negotiator({ mechanism: 'X-OAUTH2' });
  assert.is((await rejection(unregistered.n.start(CCS_FEATURES))).code, 'SASL_ERR_NO_COMMON_MECHANISM');
});

test('rejects credentials with a NUL with SASL_ERR_INVALID_INPUT before sending anything', async () => {
  const { n, out } = negotiator({ credentials: { authcid: 'a\u0000b', password: PASSWORD } });
  const err = await rejection(n.start(CCS_FEATURES));
  assert.is(err.code, 'SASL_ERR_INVALID_INPUT');
  assert.is(err.name, 'SaslInputError');
  assert.equal(out.sent, []);
  assert.is(n.state, 'failed');
});

test('answers challenges with responses and checks the additional data of <success>', async () => {
  const echo = echoMechanism();
  const { n, out } = negotiator({ credentials: { token: 't' }, mechanisms: new MechanismRegistry<ClientMechanismFactory>([echo]) });
  const done = n.start(features('X-ECHO'));
  assert.is(out.last().text(), Buffer.from('hello').toString('base64'));
  n.handle(parse(`<challenge xmlns="${NS_SASL}">${Buffer.from('c1').toString('base64')}</challenge>`));
  assert.is(out.last().local, 'response');
  assert.is(out.last().text(), Buffer.from('r:c1').toString('base64'));
  n.handle(parse(`<challenge xmlns="${NS_SASL}"/>`));
  assert.is(out.last().text(), Buffer.from('r:').toString('base64'));
  n.handle(parse(`<success xmlns="${NS_SASL}">${Buffer.from('ok').toString('base64')}</success>`));
  assert.equal(await done, { mechanism: 'X-ECHO', additionalData: Buffer.from('ok') });
  assert.equal(echo.rounds, ['c1', '']);
});

test('turns a <success> whose additional data fails verification into a local failure, without <abort/>', async () => {
  const echo = echoMechanism();
  const { n, out } = negotiator({ credentials: { token: 't' }, mechanisms: new MechanismRegistry<ClientMechanismFactory>([echo]) });
  const done = n.start(features('X-ECHO'));
  n.handle(parse(`<success xmlns="${NS_SASL}">${Buffer.from('forged').toString('base64')}</success>`));
  const err = await rejection(done);
  assert.is(err.code, 'SASL_ERR_PROTOCOL');
  assert.is(out.sent.length, 1);
  assert.is(n.state, 'failed');
});

test('fails with SASL_ERR_PROTOCOL on <success> data that is not valid base64', async () => {
  const { n } = negotiator();
  const done = n.start(CCS_FEATURES);
  n.handle(parse(`<success xmlns="${NS_SASL}">not base64!</success>`));
  assert.is((await rejection(done)).code, 'SASL_ERR_PROTOCOL');
});

test('aborts with <abort/> when a challenge is not valid base64, and swallows the server\'s <aborted/> reply', async () => {
  const echo = echoMechanism();
  const { n, out } = negotiator({ credentials: { token: 't' }, mechanisms: new MechanismRegistry<ClientMechanismFactory>([echo]) });
  const done = n.start(features('X-ECHO'));
  n.handle(parse(`<challenge xmlns="${NS_SASL}">@@@@</challenge>`));
  const err = await rejection(done);
  assert.instance(err, SaslProtocolError);
  assert.is(out.xml[1], `<abort xmlns="${NS_SASL}"/>`);
  assert.is(n.state, 'aborting');
  assert.ok(n.handle(parse(`<challenge xmlns="${NS_SASL}">=</challenge>`)));
  assert.is(n.state, 'aborting');
  assert.ok(n.handle(parse(`<failure xmlns="${NS_SASL}"><aborted/></failure>`)));
  assert.is(n.state, 'failed');
  assert.is(out.sent.length, 2);
});

test('aborts when PLAIN is challenged (PLAIN has a single message)', async () => {
  const { n, out } = negotiator();
  const done = n.start(CCS_FEATURES);
  n.handle(parse(`<challenge xmlns="${NS_SASL}">=</challenge>`));
  assert.is((await rejection(done)).code, 'SASL_ERR_PROTOCOL');
  assert.is(out.last().local, 'abort');
});

test('wraps an untyped mechanism exception as SASL_ERR_MECHANISM, keeping its message out of ours', async () => {
  const echo = echoMechanism();
  const { n, out } = negotiator({ credentials: { token: 't' }, mechanisms: new MechanismRegistry<ClientMechanismFactory>([echo]) });
  const done = n.start(features('X-ECHO'));
  n.handle(parse(`<challenge xmlns="${NS_SASL}">${Buffer.from('boom').toString('base64')}</challenge>`));
  const err = await rejection(done);
  assert.is(err.code, 'SASL_ERR_MECHANISM');
  assert.not.ok(err.message.includes(PASSWORD));
  assert.instance(err.cause, Error);
  assert.is(out.last().local, 'abort');
});

test('aborts on an element a server must not send, such as <auth> or <response>', async () => {
  const { n, out } = negotiator();
  const done = n.start(CCS_FEATURES);
  n.handle(parse(`<response xmlns="${NS_SASL}">=</response>`));
  const err = await rejection(done);
  assert.is(err.code, 'SASL_ERR_PROTOCOL');
  assert.ok(err.message.includes('<response>'));
  assert.is(out.last().local, 'abort');
});

test('abort() sends <abort/> and rejects with SASL_ERR_ABORTED; later calls are no-ops', async () => {
  const { n, out } = negotiator();
  const done = n.start(CCS_FEATURES);
  n.abort('shutting down');
  const err = await rejection(done);
  assert.instance(err, SaslAbortError);
  assert.is(err.code, 'SASL_ERR_ABORTED');
  assert.is(err.condition, 'aborted');
  assert.ok(err.message.includes('shutting down'));
  assert.equal(out.xml.slice(1), [`<abort xmlns="${NS_SASL}"/>`]);
  n.abort();
  assert.is(out.sent.length, 2);
  assert.ok(n.handle(parse(`<success xmlns="${NS_SASL}"/>`)));
  assert.is(n.state, 'failed');
});

test('abort() before start() sends nothing and makes start() fail with SASL_ERR_INVALID_STATE', async () => {
  const { n, out } = negotiator();
  n.abort();
  assert.is((await rejection(n.start(CCS_FEATURES))).code, 'SASL_ERR_INVALID_STATE');
  assert.equal(out.sent, []);
});

test('start() twice fails the second call with SASL_ERR_INVALID_STATE and keeps the first', async () => {
  const { n } = negotiator();
  const first = n.start(CCS_FEATURES);
  assert.is((await rejection(n.start(CCS_FEATURES))).code, 'SASL_ERR_INVALID_STATE');
  n.handle(parse(`<success xmlns="${NS_SASL}"/>`));
  await first;
});

test('handle() leaves elements outside the SASL namespace, and SASL elements before start(), to the caller', () => {
  const { n } = negotiator();
  assert.not.ok(n.handle(parse(`<success xmlns="${NS_SASL}"/>`)));
  ignore(n.start(CCS_FEATURES));
  assert.not.ok(n.handle(parse('<message><body>hi</body></message>')));
  assert.not.ok(n.handle(parse('<success xmlns="urn:other"/>')));
  n.abort();
});

test('ignores SASL elements after success, reporting them consumed', async () => {
  const { n, out } = negotiator();
  const done = n.start(CCS_FEATURES);
  n.handle(parse(`<success xmlns="${NS_SASL}"/>`));
  await done;
  assert.ok(n.handle(parse(`<failure xmlns="${NS_SASL}"><not-authorized/></failure>`)));
  assert.is(n.state, 'succeeded');
  assert.is(out.sent.length, 1);
});

test('reports a throwing send as SASL_ERR_SEND_FAILED and never throws out of start() or handle()', async () => {
  const boom = new Error('socket gone');
  const n = new ClientNegotiator({ credentials: CREDS, encrypted: true, send: () => { throw boom; } });
  const err = await rejection(n.start(CCS_FEATURES));
  assert.is(err.code, 'SASL_ERR_SEND_FAILED');
  assert.is(err.cause, boom);

  const echo = echoMechanism();
  let calls = 0;
  const m = new ClientNegotiator({
    credentials: { token: 't' },
    encrypted: true,
    mechanisms: new MechanismRegistry<ClientMechanismFactory>([echo]),
    send: () => {
      if (++calls > 1) throw boom;
    },
  });
  const done = m.start(features('X-ECHO'));
  assert.ok(m.handle(parse(`<challenge xmlns="${NS_SASL}">=</challenge>`)));
  assert.is((await rejection(done)).code, 'SASL_ERR_SEND_FAILED');
  assert.is(m.state, 'failed');
});

test('reports the error that made it abort even when the <abort/> cannot be sent', async () => {
  let calls = 0;
  const n = new ClientNegotiator({
    credentials: CREDS,
    encrypted: true,
    send: () => {
      if (++calls > 1) throw new Error('gone');
    },
  });
  const done = n.start(CCS_FEATURES);
  n.abort();
  assert.is((await rejection(done)).code, 'SASL_ERR_ABORTED');
  assert.is(n.state, 'failed');
});

test('sends an empty <auth> for a mechanism with no initial response, and "=" for an empty one', async () => {
  const none: ClientMechanismFactory = {
    name: 'X-NONE', plaintext: false, canUse: () => true,
    create: () => ({ initialResponse: () => undefined, challenge: () => new Uint8Array(0), success: () => {} }),
  };
  const empty: ClientMechanismFactory = { ...none, name: 'X-EMPTY', create: () => ({ ...none.create({}), initialResponse: () => new Uint8Array(0) }) };
  const a = negotiator({ mechanisms: new MechanismRegistry<ClientMechanismFactory>([none]) });
  ignore(a.n.start(features('X-NONE')));
  assert.equal(a.out.xml, [`<auth xmlns="${NS_SASL}" mechanism="X-NONE"/>`]);
  a.n.handle(parse(`<challenge xmlns="${NS_SASL}">=</challenge>`));
  assert.equal(a.out.xml[1], `<response xmlns="${NS_SASL}">=</response>`);
  a.n.abort();
  const b = negotiator({ mechanisms: new MechanismRegistry<ClientMechanismFactory>([empty]) });
  ignore(b.n.start(features('X-EMPTY')));
  assert.equal(b.out.xml, [`<auth xmlns="${NS_SASL}" mechanism="X-EMPTY">=</auth>`]);
  b.n.abort();
});

test.run();
