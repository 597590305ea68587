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
  ['stanzaErrorElement with code: null leaves out a legacy code', () => stanzaErrorElement('bad-request', 'modify', { code: null }), '<error type="modify"><bad-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error>'],
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
  ['saslFailure without text', () => saslFailure('aborted'), '<failure xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><aborted/></failure>'],
  ['saslSuccess with data', () => saslSuccess('ZGF0YQ=='), '<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl">ZGF0YQ==</success>'],
  ['saslAuth without a response', () => saslAuth('X-OAUTH2'), '<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="X-OAUTH2"/>'],
  ['gcmErrorMessage without JSON or text', () => gcmErrorMessage('4', 'service-unavailable', 'wait'),
    '<message id="4" type="error"><error code="503" type="wait"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></message>'],
  ['stanzaErrorElement with an explicit code', () => stanzaErrorElement('bad-request', 'modify', { code: 499 }), '<error code="499" type="modify"><bad-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error>'],
  ['stanzaErrorElement of a condition with no legacy code', () => stanzaErrorElement('gone', 'cancel'), '<error type="cancel"><gone xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error>'],
  ['errorIq to an address', () => errorIq('e', 'bad-request', 'modify', { to: 'a@b' }), '<iq type="error" id="e" to="a@b"><error code="400" type="modify"><bad-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>'],
  ['streamErrorElement without text', () => streamErrorElement('conflict'), '<stream:error><conflict xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error>'],
  ['streamFeatures with nothing to offer', () => streamFeatures({}), '<stream:features/>'],
  ['resultIq to an address with a child', () => resultIq('r', 'x@y', xml('query', { xmlns: 'q' })), '<iq type="result" id="r" to="x@y"><query xmlns="q"/></iq>'],
  ['pingIq without an address', () => pingIq('p2'), '<iq type="get" id="p2"><ping xmlns="urn:xmpp:ping"/></iq>'],
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

test('the readers trim what they read and take the first condition', () => {
  const sasl = 'xmlns="urn:ietf:params:xml:ns:xmpp-sasl"';
  assert.equal(readSaslResult(parseWithSaxes(`<success ${sasl}> ZGF0YQ== </success>`)), { kind: 'success', data: 'ZGF0YQ==' });
  assert.equal(readSaslResult(parseWithSaxes(`<challenge ${sasl}>\nabc=\n</challenge>`)), { kind: 'challenge', data: 'abc=' });
  assert.equal(readSaslResult(parseWithSaxes(`<failure ${sasl}><aborted/><not-authorized/><text> why </text></failure>`)), { kind: 'failure', condition: 'aborted', text: 'why' });
  const streams = 'xmlns="urn:ietf:params:xml:ns:xmpp-streams"';
  assert.equal(readStreamError(parseWithSaxes(withStream(`<stream:error><see-other-host ${streams}> h:1 </see-other-host><conflict ${streams}/><text ${streams}> t </text></stream:error>`))),
    { condition: 'see-other-host', text: 't', conditionText: 'h:1' });
  const stanzas = 'xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"';
  assert.equal(readStanzaError(parseWithSaxes(`<message><error><gone ${stanzas}/><conflict ${stanzas}/><text ${stanzas}> t </text></error></message>`)),
    { condition: 'gone', type: '', code: undefined, text: 't' });
  assert.equal(readStanzaError(parseWithSaxes(`<message><error><other/><text>x</text></error></message>`)),
    { condition: 'undefined-condition', type: '', code: undefined, text: '' });
  assert.is(readBindRequest(parseWithSaxes('<iq type="set"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><resource> r </resource></bind></iq>')), 'r');
});

test('readStanzaError reads a code only when it is all digits', () => {
  for (const [code, expected] of [['400', 400], ['4x00', undefined], ['x400', undefined], ['400x', undefined], ['', undefined]] as const) {
    assert.is(readStanzaError(parseWithSaxes(`<message><error code="${code}"/></message>`))?.code, expected, code);
  }
});

test('readIq takes the first child other than error as the payload', () => {
  const iq = readIq(parseWithSaxes('<iq type="error" id="e"><error type="cancel"/><query xmlns="a"/><other/></iq>'))!;
  assert.is(iq.payload?.local, 'query');
  assert.is(iq.error?.type, 'cancel');
  for (const type of ['get', 'set', 'result', 'error']) assert.is(readIq(parseWithSaxes(`<iq type="${type}"/>`))?.type, type, type);
  for (const type of ['get', 'set', 'result']) assert.is(readIq(parseWithSaxes(`<iq type="${type}"><error/></iq>`))!.error, undefined, type);
  assert.is(readIq(parseWithSaxes('<iq type="result"> text <query xmlns="a"/></iq>'))!.payload?.local, 'query');
  assert.is(readIq(parseWithSaxes('<message type="get"/>')), undefined);
  assert.is(readIq(parseWithSaxes('<iq/>')), undefined);
});

test('isPing, isSessionRequest and the bind readers look at the element name and type too', () => {
  assert.not.ok(isPing(parseWithSaxes('<iq type="set"><ping xmlns="urn:xmpp:ping"/></iq>')));
  assert.not.ok(isPing(parseWithSaxes('<message type="get"><ping xmlns="urn:xmpp:ping"/></message>')));
  assert.ok(isPing(parseWithSaxes('<iq type="get"><ping xmlns="urn:xmpp:ping"/></iq>')));
  assert.not.ok(isSessionRequest(parseWithSaxes('<iq type="get"><session xmlns="urn:ietf:params:xml:ns:xmpp-session"/></iq>')));
  assert.not.ok(isSessionRequest(parseWithSaxes('<message type="set"><session xmlns="urn:ietf:params:xml:ns:xmpp-session"/></message>')));
  assert.is(readBindResult(parseWithSaxes('<message type="result"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><jid>j</jid></bind></message>')), undefined);
  assert.is(readBindRequest(parseWithSaxes('<message type="set"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/></message>')), undefined);
  assert.is(readBindRequest(parseWithSaxes('<iq type="set"/>')), undefined);
  assert.is(readBindResult(parseWithSaxes('<iq type="set"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><jid>j</jid></bind></iq>')), undefined);
  assert.not.ok(isPing(parseWithSaxes('<iq type="get"><query xmlns="urn:xmpp:ping-not"/></iq>')));
  assert.not.ok(isSessionRequest(bindIq('b')));
  assert.is(readStreamFeatures(parseWithSaxes(withStream('<stream:other/>'))), undefined);
  assert.is(readStreamError(parseWithSaxes(withStream('<stream:features/>'))), undefined);
});

test.run();
