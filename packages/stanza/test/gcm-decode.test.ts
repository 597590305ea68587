import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { xml } from '@ccs-xmpp/stream';
import {
  canonicalAckFrom, canonicalAckId, decodeGcmMessage, decodeGcmText, findGcmChild, gcmText, GcmDecodeError, type InboundMessage,
} from '@ccs-xmpp/stanza';
import { parseWithSaxes, parseWithStream } from './helpers/xml.js';

const gcm = (json: string, attrs = '', prefix = ''): string => prefix
  ? `<message${attrs}><${prefix}:gcm xmlns:${prefix}="google:mobile:data">${json}</${prefix}:gcm></message>`
  : `<message${attrs}><gcm xmlns="google:mobile:data">${json}</gcm></message>`;

// Exhaustiveness is checked by the compiler: adding a kind without handling it fails the build.
function describe(m: InboundMessage): string {
  switch (m.kind) {
    case 'upstream': return `upstream ${m.messageId} from ${m.from}`;
    case 'ack': return `ack ${m.messageId}`;
    case 'nack': return `nack ${m.messageId} ${m.error.code}`;
    case 'receipt': return `receipt ${m.messageId}`;
    case 'control': return `control ${m.controlType}`;
    case 'stanzaError': return `stanzaError ${m.condition}`;
    case 'unknown': return `unknown`;
    case 'invalid': return `invalid ${m.error.code}`;
    default: {
      const never: never = m;
      return never;
    }
  }
}

const cases: Array<[string, string, string]> = [
  ['decodes an upstream message with no type', gcm('{"category":"com.x","data":{"a":"b"},"message_id":"m-1","from":"REG"}'), 'upstream m-1 from REG'],
  ['decodes an upstream message with type="normal"', gcm('{"message_id":"m-2","from":"REG"}', ' type="normal" id="m-2"'), 'upstream m-2 from REG'],
  ['decodes an ACK under the data: prefix', gcm('{"from":"REG","message_id":"m-3","message_type":"ack"}', '', 'data'), 'ack m-3'],
  ['decodes an ACK under any other prefix', gcm('{"from":"REG","message_id":"m-3","message_type":"ack"}', '', 'x'), 'ack m-3'],
  ['decodes a NACK with a plain code', gcm('{"message_id":"m-4","message_type":"nack","error":"BAD_REGISTRATION"}'), 'nack m-4 BAD_REGISTRATION'],
  ['decodes a NACK with a legacy composite code', gcm('{"message_id":"m-4","message_type":"nack","error":"InvalidJson : INVALID_TTL : Invalid value (-1)\\n"}'), 'nack m-4 INVALID_JSON'],
  ['decodes a delivery receipt', gcm('{"message_type":"receipt","message_id":"dr2:m-1","from":"gcm.googleapis.com","data":{"message_status":"MESSAGE_SENT_TO_DEVICE","original_message_id":"m-1"}}'), 'receipt dr2:m-1'],
  ['decodes a CONNECTION_DRAINING control message without message_id', gcm('{"message_type":"control","control_type":"CONNECTION_DRAINING"}'), 'control CONNECTION_DRAINING'],
  ['decodes JSON with whitespace around it, as in the CCS document', gcm('\n{\n "from":"R",\n "message_id":"m-5",\n "message_type":"ack"\n}\n'), 'ack m-5'],
  ['decodes JSON with XML entities in it', gcm('{"message_id":"m-6","from":"R","data":{"t":"a &lt; b &amp;&amp; c &gt; d"}}'), 'upstream m-6 from R'],
  ['returns unknown for a message without a gcm child', '<message><body>hi</body></message>', 'unknown'],
  ['returns unknown for a gcm element in another namespace', '<message><gcm xmlns="urn:other">{}</gcm></message>', 'unknown'],
  ['returns unknown for type="chat"', gcm('{"message_id":"m","from":"R"}', ' type="chat"'), 'unknown'],
  ['returns unknown for an unknown message_type', gcm('{"message_id":"m","message_type":"bogus"}'), 'unknown'],
  ['returns invalid STANZA_ERR_MALFORMED_JSON for malformed JSON', gcm('{"message_id":'), 'invalid STANZA_ERR_MALFORMED_JSON'],
  ['returns invalid STANZA_ERR_MALFORMED_JSON for an empty gcm element', '<message><gcm xmlns="google:mobile:data"/></message>', 'invalid STANZA_ERR_MALFORMED_JSON'],
  ['returns invalid STANZA_ERR_NOT_AN_OBJECT for a JSON array', gcm('[1,2]'), 'invalid STANZA_ERR_NOT_AN_OBJECT'],
  ['returns invalid STANZA_ERR_NOT_AN_OBJECT for JSON null', gcm('null'), 'invalid STANZA_ERR_NOT_AN_OBJECT'],
  ['returns invalid STANZA_ERR_MISSING_MESSAGE_ID for an upstream message without message_id', gcm('{"from":"R"}'), 'invalid STANZA_ERR_MISSING_MESSAGE_ID'],
  ['returns invalid STANZA_ERR_MISSING_MESSAGE_ID for an empty message_id', gcm('{"from":"R","message_id":""}'), 'invalid STANZA_ERR_MISSING_MESSAGE_ID'],
  ['returns invalid STANZA_ERR_MISSING_MESSAGE_ID for an ACK without message_id', gcm('{"message_type":"ack"}'), 'invalid STANZA_ERR_MISSING_MESSAGE_ID'],
  ['returns invalid STANZA_ERR_MISSING_MESSAGE_ID for a NACK with a numeric message_id', gcm('{"message_type":"nack","message_id":7}'), 'invalid STANZA_ERR_MISSING_MESSAGE_ID'],
  ['returns invalid STANZA_ERR_MISSING_MESSAGE_ID for a receipt without message_id', gcm('{"message_type":"receipt","from":"g"}'), 'invalid STANZA_ERR_MISSING_MESSAGE_ID'],
  ['returns invalid STANZA_ERR_MISSING_FIELD for an upstream message without from', gcm('{"message_id":"m"}'), 'invalid STANZA_ERR_MISSING_FIELD'],
  ['returns invalid STANZA_ERR_MISSING_FIELD for a receipt without from', gcm('{"message_id":"m","message_type":"receipt"}'), 'invalid STANZA_ERR_MISSING_FIELD'],
];

for (const [name, input, expected] of cases) {
  test(name, () => {
    assert.is(describe(decodeGcmMessage(parseWithSaxes(input))), expected);
  });
}

test('decodes the same from the stream parser as from plain saxes, for every case', () => {
  const parsed = parseWithStream(cases.map((c) => c[1]).join(''));
  assert.is(parsed.length, cases.length);
  parsed.forEach((el, i) => assert.equal(decodeGcmMessage(el), decodeGcmMessage(parseWithSaxes(cases[i]![1])), cases[i]![0]));
});

test('hands over the parser\'s JSON string itself, not a copy', () => {
  const json = '{"message_id":"m","from":"R"}';
  const el = xml('message', null, xml('gcm', { xmlns: 'google:mobile:data' }, json));
  const child = findGcmChild(el);
  assert.ok(child);
  assert.is(gcmText(child), json);
  assert.is(gcmText(child), child.children[0]);
});

test('joins text split around a child element of gcm (slow path)', () => {
  const el = parseWithSaxes('<message><gcm xmlns="google:mobile:data">{"message_id":"m",<!-- c -->"from":"R"}</gcm></message>');
  const m = decodeGcmMessage(el);
  assert.is(m.kind, 'upstream');
});

test('only an element named gcm in the GCM namespace is the payload, whatever else that namespace holds', () => {
  const other = decodeGcmMessage(parseWithSaxes('<message><data xmlns="google:mobile:data">{"message_id":"m","from":"R"}</data></message>'));
  assert.equal(other, { kind: 'unknown', stanzaId: undefined, reason: 'no <gcm xmlns="google:mobile:data"> child', payload: undefined });
  const el = parseWithSaxes('<message>text<data xmlns="google:mobile:data">{}</data><gcm xmlns="google:mobile:data">{"message_id":"m","from":"R"}</gcm></message>');
  assert.is(findGcmChild(el), el.children[2]);
  assert.is(describe(decodeGcmMessage(el)), 'upstream m from R');
});

test('the JSON text is the gcm element\'s own text, joined around child elements, never its children\'s', () => {
  const split = parseWithSaxes('<message><gcm xmlns="google:mobile:data">{"message_id":"m",<x>{"no":1}</x>"from":"R"}</gcm></message>');
  assert.is(gcmText(findGcmChild(split)!), '{"message_id":"m","from":"R"}');
  assert.is(describe(decodeGcmMessage(split)), 'upstream m from R');
  const onlyChild = parseWithSaxes('<message><gcm xmlns="google:mobile:data"><x>{"message_id":"m","from":"R"}</x></gcm></message>');
  assert.is(gcmText(findGcmChild(onlyChild)!), '');
  const m = decodeGcmMessage(onlyChild);
  assert.ok(m.kind === 'invalid');
  assert.is(m.error.code, 'STANZA_ERR_MALFORMED_JSON');
});

// decodeGcmText's shortcut and ccs's receive path rely on these answering for every canonical ACK.
test('canonicalAckId and canonicalAckFrom read every canonical ACK, and only those', () => {
  for (const [from, id] of [['REG-1', 'm-1'], ['', 'x'], ['APA91b:_-/~ é😀', 'id with spaces é'], ['a', 'b'.repeat(300)]]) {
    const text = `{"from":"${from}","message_id":"${id}","message_type":"ack"}`;
    assert.is(canonicalAckId(text), id, text);
    assert.is(canonicalAckFrom(text), from);
    assert.is(canonicalAckFrom(text, from), from);
    assert.is(canonicalAckFrom(text, `${from}x`), from);
    assert.equal(decodeGcmText(text, undefined), decodeGcmText(` ${text}`, undefined));
  }
  for (const text of [
    '{"from":"R","message_id":"","message_type":"ack"}', '{"from":"R","message_id":"m","message_type":"nack"}',
    '{"from":"R\\"","message_id":"m","message_type":"ack"}', '{"message_id":"m","from":"R","message_type":"ack"}',
    ' {"from":"R","message_id":"m","message_type":"ack"}', '{"from":"R","message_id":"m","message_type":"ack"} ',
  ]) assert.is(canonicalAckId(text), undefined, text);
});

test('exposes upstream fields, the payload and the stanza id', () => {
  const m = decodeGcmMessage(parseWithSaxes(gcm('{"category":"com.x","data":{"k":"v"},"message_id":"m-1","from":"REG","time_to_live":86400}', ' id="m-1"')));
  assert.equal(m, {
    kind: 'upstream', stanzaId: 'm-1', messageId: 'm-1', from: 'REG', category: 'com.x', data: { k: 'v' },
    payload: { category: 'com.x', data: { k: 'v' }, message_id: 'm-1', from: 'REG', time_to_live: 86400 },
  });
});

test('gives upstream data {} when data is absent or not an object', () => {
  const m = decodeGcmMessage(parseWithSaxes(gcm('{"message_id":"m","from":"R","data":"x"}')));
  assert.ok(m.kind === 'upstream' && Object.keys(m.data).length === 0);
});

test('exposes the canonical registration_id of an ACK', () => {
  const m = decodeGcmMessage(parseWithSaxes(gcm('{"from":"OLD","message_id":"m","message_type":"ack","registration_id":"NEW"}')));
  assert.ok(m.kind === 'ack');
  assert.is(m.registrationId, 'NEW');
  assert.is(m.from, 'OLD');
});

test('normalises a NACK error with code, description and retry class', () => {
  const m = decodeGcmMessage(parseWithSaxes(gcm('{"from":"R","message_id":"m","message_type":"nack","error":"SERVICE_UNAVAILABLE","error_description":"busy"}')));
  assert.ok(m.kind === 'nack');
  assert.equal(m.error, { code: 'SERVICE_UNAVAILABLE', reason: undefined, description: 'busy', retry: 'backoff', known: true, raw: 'SERVICE_UNAVAILABLE' });
  assert.is(m.from, 'R');
});

test('exposes receipt status, original message id and device token', () => {
  const m = decodeGcmMessage(parseWithSaxes(gcm('{"message_type":"receipt","message_id":"dr2:m-1","from":"gcm.googleapis.com","category":"c","data":{"message_status":"MESSAGE_SENT_TO_DEVICE","original_message_id":"m-1","device_registration_id":"REG","message_sent_timestamp":"1430277821658"}}')));
  assert.ok(m.kind === 'receipt');
  assert.is(m.status, 'MESSAGE_SENT_TO_DEVICE');
  assert.is(m.originalMessageId, 'm-1');
  assert.is(m.deviceRegistrationId, 'REG');
  assert.is(m.from, 'gcm.googleapis.com');
  assert.is(m.category, 'c');
});

test('gives a control message without control_type an empty controlType', () => {
  const m = decodeGcmMessage(parseWithSaxes(gcm('{"message_type":"control"}')));
  assert.ok(m.kind === 'control' && m.controlType === '');
});

test('decodes the CCS document\'s stanza error with condition, code, type, text and original JSON', () => {
  const input = '<message id="3" type="error" to="123456789@gcm.googleapis.com/ABC"><gcm xmlns="google:mobile:data">{"random": "text"}</gcm>'
    + '<error code="400" type="modify"><bad-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>'
    + '<text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">\nInvalidJson: JSON_PARSING_ERROR : Missing Required Field: message_id\n</text></error></message>';
  for (const el of [parseWithSaxes(input), ...parseWithStream(input)]) {
    assert.equal(decodeGcmMessage(el), {
      kind: 'stanzaError', stanzaId: '3', messageId: '3', condition: 'bad-request', code: 400, type: 'modify',
      text: 'InvalidJson: JSON_PARSING_ERROR : Missing Required Field: message_id',
      json: '{"random": "text"}', payload: { random: 'text' },
    });
  }
});

test('decodes a stanza error without a gcm child, and takes message_id from the echoed JSON when present', () => {
  const bare = decodeGcmMessage(parseWithSaxes('<message id="7" type="error"><error type="cancel"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></message>'));
  assert.equal(bare, { kind: 'stanzaError', stanzaId: '7', messageId: '7', condition: 'service-unavailable', code: undefined, type: 'cancel', text: '', json: undefined, payload: undefined });
  const echoed = decodeGcmMessage(parseWithSaxes('<message type="error"><gcm xmlns="google:mobile:data">{"message_id":"m-9"}</gcm><error code="x"/></message>'));
  assert.ok(echoed.kind === 'stanzaError');
  assert.is(echoed.messageId, 'm-9');
  assert.is(echoed.condition, 'undefined-condition');
  assert.is(echoed.code, undefined);
});

test('keeps malformed echoed JSON of a stanza error as text with no payload', () => {
  const m = decodeGcmMessage(parseWithSaxes('<message id="1" type="error"><gcm xmlns="google:mobile:data">{oops</gcm></message>'));
  assert.ok(m.kind === 'stanzaError');
  assert.is(m.json, '{oops');
  assert.is(m.payload, undefined);
  assert.is(m.condition, 'undefined-condition');
  // No <error> child at all: no type and no text, not made-up ones.
  assert.is(m.type, '');
  assert.is(m.text, '');
  assert.is(m.code, undefined);
});

test('returns a GcmDecodeError carrying the stanza id, field and cause, never throws', () => {
  const bad = decodeGcmMessage(parseWithSaxes(gcm('{"from":"R"}', ' id="s-1"')));
  assert.ok(bad.kind === 'invalid');
  assert.instance(bad.error, GcmDecodeError);
  assert.is(bad.error.stanzaId, 's-1');
  assert.is(bad.error.field, 'message_id');
  assert.equal(bad.payload, { from: 'R' });
  const malformed = decodeGcmMessage(parseWithSaxes(gcm('nope')));
  assert.ok(malformed.kind === 'invalid');
  assert.instance(malformed.error.cause, SyntaxError);
  assert.is(malformed.error.name, 'GcmDecodeError');
});

// [JSON text, kind, error code or undefined, field or undefined, the error message or the unknown reason]
const explained: Array<[string, string, string | undefined, string | undefined, string]> = [
  ['[1]', 'invalid', 'STANZA_ERR_NOT_AN_OBJECT', undefined, '<gcm> payload is JSON array, not an object'],
  ['null', 'invalid', 'STANZA_ERR_NOT_AN_OBJECT', undefined, '<gcm> payload is JSON null, not an object'],
  ['5', 'invalid', 'STANZA_ERR_NOT_AN_OBJECT', undefined, '<gcm> payload is JSON number, not an object'],
  ['"s"', 'invalid', 'STANZA_ERR_NOT_AN_OBJECT', undefined, '<gcm> payload is JSON string, not an object'],
  ['{"from":"R"}', 'invalid', 'STANZA_ERR_MISSING_MESSAGE_ID', 'message_id', 'upstream message has no message_id (a non-empty string is required)'],
  ['{"message_type":"ack","message_id":""}', 'invalid', 'STANZA_ERR_MISSING_MESSAGE_ID', 'message_id', 'ACK has no message_id (a non-empty string is required)'],
  ['{"message_type":"nack"}', 'invalid', 'STANZA_ERR_MISSING_MESSAGE_ID', 'message_id', 'NACK has no message_id (a non-empty string is required)'],
  ['{"message_type":"receipt","from":"g"}', 'invalid', 'STANZA_ERR_MISSING_MESSAGE_ID', 'message_id', 'receipt has no message_id (a non-empty string is required)'],
  ['{"message_id":"m"}', 'invalid', 'STANZA_ERR_MISSING_FIELD', 'from', 'upstream message has no "from" (needed to ACK it)'],
  ['{"message_id":"m","message_type":"receipt"}', 'invalid', 'STANZA_ERR_MISSING_FIELD', 'from', 'receipt has no "from" (needed to ACK it)'],
  ['{"message_id":"m","message_type":"bogus"}', 'unknown', undefined, undefined, 'unknown message_type "bogus"'],
  ['{"message_id":"m","message_type":7}', 'unknown', undefined, undefined, 'unknown message_type 7'],
];
for (const [json, kind, code, field, text] of explained) {
  test(`decodeGcmText says why it cannot use ${json}: ${text}`, () => {
    const m = decodeGcmText(json, 's-9');
    assert.is(m.kind, kind);
    if (m.kind === 'invalid') {
      assert.is(m.error.message, text);
      assert.is(m.error.code, code);
      assert.is(m.error.field, field);
      assert.is(m.error.stanzaId, 's-9');
      assert.is(m.error.cause, undefined);
    } else if (m.kind === 'unknown') {
      assert.is(m.reason, text);
    }
  });
}

test('a payload that is not JSON is explained with the parser\'s own message, kept as the cause', () => {
  for (const json of ['{"message_id":', '', 'nope']) {
    let parseError: unknown;
    try {
      JSON.parse(json);
    } catch (err) {
      parseError = err;
    }
    const m = decodeGcmText(json, undefined);
    assert.ok(m.kind === 'invalid');
    assert.is(m.error.code, 'STANZA_ERR_MALFORMED_JSON');
    assert.is(m.error.message, `<gcm> payload is not JSON: ${(parseError as Error).message}`);
    assert.is(m.error.field, undefined);
    assert.is(m.payload, undefined);
  }
});

test('a message that is not a CCS message is unknown, saying why', () => {
  const chat = decodeGcmMessage(parseWithSaxes(gcm('{"message_id":"m","from":"R"}', ' type="chat" id="c"')));
  assert.equal(chat, { kind: 'unknown', stanzaId: 'c', reason: 'message type "chat" is not a CCS message', payload: undefined });
  const bare = decodeGcmMessage(parseWithSaxes('<message><body>hi</body></message>'));
  assert.equal(bare, { kind: 'unknown', stanzaId: undefined, reason: 'no <gcm xmlns="google:mobile:data"> child', payload: undefined });
});

test.run();
