import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { serialize, xml } from '@ccs-xmpp/stream';
import {
  bindIq, bindResultIq, sessionIq, pingIq, resultIq, errorIq, stanzaErrorElement, gcmErrorMessage, streamErrorElement,
  streamFeatures, saslAuth, saslSuccess, saslFailure, readStreamFeatures, readSaslResult, readStreamError,
  readStanzaError, readIq, readBindResult, readBindRequest, isPing, isSessionRequest, topLevelKind, decodeGcmMessage,
} from '@ccs-xmpp/stanza';
import { parseWithSaxes, parseWithStream } from './helpers/xml.js';

const STREAM_NS = 'xmlns:stream="http://etherx.jabber.org/streams"';
const withStream = (s: string): string => s.replace(/^<stream:(\w+)/, `<stream:$1 ${STREAM_NS}`);

const built: Array<[string, () => ReturnType<typeof xml>, string]> = [
  ['bindIq', () => bindIq('b1'), '<iq type="set" id="b1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/></iq>'],
  ['bindIq with a resource', () => bindIq('b1', 'r<1>'), '<iq type="set" id="b1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><resource>r&lt;1&gt;</resource></bind></iq>'],
  ['bindResultIq', () => bindResultIq('b1', '1@gcm.googleapis.com/R'), '<iq type="result" id="b1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><jid>1@gcm.googleapis.com/R</jid></bind></iq>'],
  ['sessionIq', () => sessionIq('s1'), '<iq type="set" id="s1"><session xmlns="urn:ietf:params:xml:ns:xmpp-session"/></iq>'],
  ['pingIq', () => pingIq('p1', 'gcm.googleapis.com'), '<iq type="get" id="p1" to="gcm.googleapis.com"><ping xmlns="urn:xmpp:ping"/></iq>'],
  ['resultIq', () => resultIq('p1'), '<iq type="result" id="p1"/>'],
  ['errorIq', () => errorIq('q"1', 'service-unavailable', 'cancel', { text: 'a & b' }), '<iq type="error" id="q&quot;1"><error code="503" type="cancel"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/><text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">a &amp; b</text></error></iq>'],
  ['stanzaErrorElement without a code', () => stanzaErrorElement('unexpected-request', 'wait', { code: null }), '<error type="wait"><unexpected-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error>'],
  ['gcmErrorMessage', () => gcmErrorMessage('3', 'bad-request', 'modify', { json: '{"a":"<"}', text: 'InvalidJson: JSON_PARSING_ERROR : Missing Required Field: message_id' }),
    '<message id="3" type="error"><gcm xmlns="google:mobile:data">{"a":"&lt;"}</gcm><error code="400" type="modify"><bad-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/><text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">InvalidJson: JSON_PARSING_ERROR : Missing Required Field: message_id</text></error></message>'],
  ['streamErrorElement', () => streamErrorElement('policy-violation', 'too big'), '<stream:error><policy-violation xmlns="urn:ietf:params:xml:ns:xmpp-streams"/><text xmlns="urn:ietf:params:xml:ns:xmpp-streams">too big</text></stream:error>'],
  ['streamFeatures before auth', () => streamFeatures({ mechanisms: ['X-OAUTH2', 'PLAIN'] }), '<stream:features><mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><mechanism>X-OAUTH2</mechanism><mechanism>PLAIN</mechanism></mechanisms></stream:features>'],
  ['streamFeatures after auth', () => streamFeatures({ bind: true, session: true }), '<stream:features><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/><session xmlns="urn:ietf:params:xml:ns:xmpp-session"><optional/></session></stream:features>'],
  ['streamFeatures with a required session', () => streamFeatures({ bind: true, session: 'required' }), '<stream:features><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/><session xmlns="urn:ietf:params:xml:ns:xmpp-session"/></stream:features>'],
  ['saslAuth', () => saslAuth('PLAIN', 'AGEAYg=='), '<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN">AGEAYg==</auth>'],
  ['saslAuth with an empty response', () => saslAuth('PLAIN', ''), '<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN">=</auth>'],
  ['saslSuccess', () => saslSuccess(), '<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl"/>'],
  ['saslFailure', () => saslFailure('not-authorized', 'bad key'), '<failure xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><not-authorized/><text>bad key</text></failure>'],
];
for (const [name, build, expected] of built) {
  test(`${name} builds ${expected.slice(0, 40)}…`, () => {
    const out = serialize(build());
    assert.is(out, expected);
    parseWithSaxes(withStream(out));
  });
}

test('readStreamFeatures reads the CCS document\'s features (prefix str:) and the post-auth ones', () => {
  const f = readStreamFeatures(parseWithSaxes('<str:features xmlns:str="http://etherx.jabber.org/streams"><mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><mechanism>X-OAUTH2</mechanism><mechanism>X-GOOGLE-TOKEN</mechanism><mechanism>PLAIN</mechanism><mechanism> </mechanism></mechanisms></str:features>'));
  assert.equal(f, { mechanisms: ['X-OAUTH2', 'X-GOOGLE-TOKEN', 'PLAIN'], starttls: false, bind: false, session: false, sessionOptional: false });
  const g = readStreamFeatures(parseWithSaxes(`<stream:features ${STREAM_NS}><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/><session xmlns="urn:ietf:params:xml:ns:xmpp-session"><optional/></session><starttls xmlns="urn:ietf:params:xml:ns:xmpp-tls"/></stream:features>`));
  assert.equal(g, { mechanisms: [], starttls: true, bind: true, session: true, sessionOptional: true });
  assert.is(readStreamFeatures(parseWithSaxes('<features/>')), undefined);
});

test('readSaslResult reads success, challenge and failure, and nothing else', () => {
  assert.equal(readSaslResult(saslSuccess()), { kind: 'success', data: '' });
  assert.equal(readSaslResult(parseWithSaxes('<challenge xmlns="urn:ietf:params:xml:ns:xmpp-sasl">abc=</challenge>')), { kind: 'challenge', data: 'abc=' });
  assert.equal(readSaslResult(parseWithSaxes(serialize(saslFailure('not-authorized', 'bad key')))), { kind: 'failure', condition: 'not-authorized', text: 'bad key' });
  assert.equal(readSaslResult(parseWithSaxes('<failure xmlns="urn:ietf:params:xml:ns:xmpp-sasl"/>')), { kind: 'failure', condition: '', text: '' });
  assert.is(readSaslResult(parseWithSaxes('<abort xmlns="urn:ietf:params:xml:ns:xmpp-sasl"/>')), undefined);
  assert.is(readSaslResult(parseWithSaxes('<success/>')), undefined);
});

test('readStreamError reads condition, text and see-other-host\'s host, from the stream parser too', () => {
  const input = '<stream:error><see-other-host xmlns="urn:ietf:params:xml:ns:xmpp-streams">other:5235</see-other-host><text xmlns="urn:ietf:params:xml:ns:xmpp-streams">moved</text></stream:error>';
  const [el] = parseWithStream(input);
  assert.equal(readStreamError(el!), { condition: 'see-other-host', text: 'moved', conditionText: 'other:5235' });
  assert.equal(readStreamError(parseWithSaxes(withStream('<stream:error/>'))), { condition: 'undefined-condition', text: '', conditionText: '' });
  assert.is(readStreamError(parseWithSaxes('<error/>')), undefined);
});

test('readIq reads type, id, addresses, payload and error', () => {
  const ping = parseWithSaxes('<iq type="get" id="p" from="gcm.googleapis.com" to="me"><ping xmlns="urn:xmpp:ping"/></iq>');
  const info = readIq(ping)!;
  assert.is(info.type, 'get');
  assert.is(info.id, 'p');
  assert.is(info.from, 'gcm.googleapis.com');
  assert.is(info.to, 'me');
  assert.is(info.payload?.local, 'ping');
  assert.is(info.error, undefined);
  assert.ok(isPing(ping));
  const err = readIq(parseWithSaxes(serialize(errorIq('e', 'bad-request', 'modify'))))!;
  assert.equal(err.error, { condition: 'bad-request', type: 'modify', code: 400, text: '' });
  assert.is(err.payload, undefined);
  assert.is(readIq(parseWithSaxes('<iq type="bogus"/>')), undefined);
  assert.is(readIq(parseWithSaxes('<message/>')), undefined);
  assert.is(readIq(parseWithSaxes('<iq type="result"/>'))!.id, '');
});

test('readBindResult and readBindRequest read the JID and the resource', () => {
  assert.is(readBindResult(parseWithSaxes(serialize(bindResultIq('b', ' 1@gcm.googleapis.com/R ')))), '1@gcm.googleapis.com/R');
  assert.is(readBindResult(parseWithSaxes('<iq type="result"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><jid/></bind></iq>')), undefined);
  assert.is(readBindResult(parseWithSaxes('<iq type="result"/>')), undefined);
  assert.is(readBindResult(bindIq('b')), undefined);
  assert.is(readBindRequest(bindIq('b', 'res')), 'res');
  assert.is(readBindRequest(bindIq('b')), '');
  assert.is(readBindRequest(sessionIq('s')), undefined);
  assert.is(readBindRequest(bindResultIq('b', 'j')), undefined);
});

test('isSessionRequest and isPing recognise only their requests', () => {
  assert.ok(isSessionRequest(sessionIq('s')));
  assert.not.ok(isSessionRequest(pingIq('p')));
  assert.not.ok(isPing(sessionIq('s')));
  assert.not.ok(isPing(resultIq('p')));
});

test('readStanzaError returns undefined for a stanza without error', () => {
  assert.is(readStanzaError(xml('message')), undefined);
});

test('a gcmErrorMessage built for the emulator decodes as a stanzaError', () => {
  const m = decodeGcmMessage(parseWithSaxes(serialize(gcmErrorMessage('m-1', 'not-acceptable', 'cancel', { text: 'ack of an ack' }))));
  assert.ok(m.kind === 'stanzaError');
  assert.is(m.code, 406);
  assert.is(m.condition, 'not-acceptable');
  assert.is(m.messageId, 'm-1');
});

test('topLevelKind classifies what the parser delivers', () => {
  const table: Array<[string, string]> = [
    ['<message/>', 'message'], ['<iq/>', 'iq'], ['<presence/>', 'presence'],
    [`<stream:features ${STREAM_NS}/>`, 'features'], [`<stream:error ${STREAM_NS}/>`, 'streamError'],
    [`<stream:other ${STREAM_NS}/>`, 'other'], ['<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl"/>', 'sasl'], ['<foo/>', 'other'],
  ];
  for (const [input, kind] of table) assert.is(topLevelKind(parseWithSaxes(input)), kind, input);
});

test.run();
