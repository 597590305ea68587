import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { normalizeNack, nackRetryClass, splitCcsError } from '@ccs-xmpp/stanza';

const table: Array<[string, unknown, unknown, string, string | undefined, string, boolean]> = [
  // [name, error, error_description, code, reason, retry, known]
  ['INVALID_JSON is never retried', 'INVALID_JSON', undefined, 'INVALID_JSON', undefined, 'never', true],
  ['BAD_REGISTRATION is never retried', 'BAD_REGISTRATION', undefined, 'BAD_REGISTRATION', undefined, 'never', true],
  ['DEVICE_UNREGISTERED is never retried', 'DEVICE_UNREGISTERED', undefined, 'DEVICE_UNREGISTERED', undefined, 'never', true],
  ['BAD_ACK is never retried', 'BAD_ACK', undefined, 'BAD_ACK', undefined, 'never', true],
  ['SERVICE_UNAVAILABLE backs off', 'SERVICE_UNAVAILABLE', undefined, 'SERVICE_UNAVAILABLE', undefined, 'backoff', true],
  ['INTERNAL_SERVER_ERROR backs off', 'INTERNAL_SERVER_ERROR', undefined, 'INTERNAL_SERVER_ERROR', undefined, 'backoff', true],
  ['DEVICE_MESSAGE_RATE_EXCEEDED slows down for the device', 'DEVICE_MESSAGE_RATE_EXCEEDED', undefined, 'DEVICE_MESSAGE_RATE_EXCEEDED', undefined, 'slow-down-device', true],
  ['TOPICS_MESSAGE_RATE_EXCEEDED slows down for the topic', 'TOPICS_MESSAGE_RATE_EXCEEDED', undefined, 'TOPICS_MESSAGE_RATE_EXCEEDED', undefined, 'slow-down-topic', true],
  ['CONNECTION_DRAINING retries on another connection', 'CONNECTION_DRAINING', undefined, 'CONNECTION_DRAINING', undefined, 'other-connection', true],
  ['legacy AUTHENTICATION_FAILED fails', 'AUTHENTICATION_FAILED', undefined, 'AUTHENTICATION_FAILED', undefined, 'never', true],
  ['legacy QUOTA_EXCEEDED fails', 'QUOTA_EXCEEDED', undefined, 'QUOTA_EXCEEDED', undefined, 'never', true],
  ['legacy plain INVALID_TTL is INVALID_JSON with reason INVALID_TTL', 'INVALID_TTL', undefined, 'INVALID_JSON', 'INVALID_TTL', 'never', true],
  ['legacy plain JSON_TYPE_ERROR is INVALID_JSON', 'JSON_TYPE_ERROR', undefined, 'INVALID_JSON', 'JSON_TYPE_ERROR', 'never', true],
  ['a composite InvalidJson error yields INVALID_JSON and its sub-code', 'InvalidJson : INVALID_TTL : Invalid value (-1) for "time_to_live": must be between 0 and "2419200"\n', undefined, 'INVALID_JSON', 'INVALID_TTL', 'never', true],
  ['a composite without detail yields its sub-code', 'InvalidJson : JSON_TYPE_ERROR', undefined, 'INVALID_JSON', 'JSON_TYPE_ERROR', 'never', true],
  ['a CamelCase head is mapped to the code', 'DeviceUnregistered : gone', undefined, 'DEVICE_UNREGISTERED', undefined, 'never', true],
  ['an unknown code counts as INTERNAL_SERVER_ERROR', 'SOMETHING_NEW', undefined, 'INTERNAL_SERVER_ERROR', undefined, 'backoff', false],
  ['a missing error counts as INTERNAL_SERVER_ERROR', undefined, undefined, 'INTERNAL_SERVER_ERROR', undefined, 'backoff', false],
  ['a non-string error counts as INTERNAL_SERVER_ERROR', 42, undefined, 'INTERNAL_SERVER_ERROR', undefined, 'backoff', false],
  ['INVALID_JSON with the composite in error_description takes its sub-code', 'INVALID_JSON', 'InvalidJson : INVALID_TTL : Invalid value (-1) for "time_to_live"\n', 'INVALID_JSON', 'INVALID_TTL', 'never', true],
  ['a composite description of another code lends no sub-code', 'BAD_REGISTRATION', 'InvalidJson : INVALID_TTL : x', 'BAD_REGISTRATION', undefined, 'never', true],
  ['a plain description lends no sub-code', 'INVALID_JSON', 'Field "to": bad', 'INVALID_JSON', undefined, 'never', true],
  ['Object.prototype names are not codes', 'constructor', undefined, 'INTERNAL_SERVER_ERROR', undefined, 'backoff', false],
];
for (const [name, error, description, code, reason, retry, known] of table) {
  test(`normalizeNack: ${name}`, () => {
    const n = normalizeNack(error, description);
    assert.is(n.code, code);
    assert.is(n.reason, reason);
    assert.is(n.retry, retry);
    assert.is(n.known, known);
    assert.is(n.retry, nackRetryClass(n.code));
    assert.ok(n.description.length > 0);
  });
}

test('normalizeNack takes the description from error_description, else from the composite, else from the code', () => {
  assert.is(normalizeNack('BAD_REGISTRATION', ' token is bad ').description, 'token is bad');
  assert.is(normalizeNack('InvalidJson : INVALID_TTL : Invalid value (-1)\n').description, 'Invalid value (-1)');
  assert.match(normalizeNack('DEVICE_UNREGISTERED').description, /not registered/);
  assert.match(normalizeNack('WHAT').description, /Unknown NACK error "WHAT"/);
  assert.is(normalizeNack('InvalidJson : X\n').raw, 'InvalidJson : X\n');
});

test('splitCcsError reads the stanza-error text form too', () => {
  assert.equal(splitCcsError('InvalidJson: JSON_PARSING_ERROR : Missing Required Field: message_id\n'),
    { head: 'InvalidJson', reason: 'JSON_PARSING_ERROR', detail: 'Missing Required Field: message_id' });
  assert.equal(splitCcsError('BAD_ACK'), { head: 'BAD_ACK', reason: undefined, detail: '' });
  assert.equal(splitCcsError('Head : just text: more'), { head: 'Head', reason: undefined, detail: 'just text: more' });
});

test('normalizeNack reads a code written with spaces or dashes, or with a trailing newline', () => {
  for (const error of ['Device - Unregistered', 'device-unregistered', 'Device  Unregistered', 'DEVICE_UNREGISTERED\n', ' DEVICE_UNREGISTERED ']) {
    const n = normalizeNack(error);
    assert.is(n.code, 'DEVICE_UNREGISTERED', JSON.stringify(error));
    assert.ok(n.known);
    assert.is(n.raw, error);
  }
});

test('normalizeNack: a composite with a sub-code and no detail describes the code', () => {
  assert.equal(splitCcsError('InvalidJson : INVALID_TTL'), { head: 'InvalidJson', reason: 'INVALID_TTL', detail: '' });
  assert.is(normalizeNack('InvalidJson : JSON_TYPE_ERROR').description, 'The message is malformed.');
});

test('normalizeNack: a missing or non-string error is kept as an empty raw text and named in the description', () => {
  for (const error of [undefined, 42, null, { code: 'BAD_ACK' }]) {
    const n = normalizeNack(error);
    assert.is(n.raw, '');
    assert.is(n.description, 'Unknown NACK error ""; handled as INTERNAL_SERVER_ERROR.');
  }
});

test('normalizeNack: the sub-code in error wins over one in error_description', () => {
  const n = normalizeNack('InvalidJson : INVALID_TTL : bad ttl', 'InvalidJson : JSON_TYPE_ERROR : bad type');
  assert.is(n.reason, 'INVALID_TTL');
  assert.is(n.description, 'InvalidJson : JSON_TYPE_ERROR : bad type');
});

test('splitCcsError: a sub-code is an upper-snake word as a whole, else the text is detail', () => {
  assert.equal(splitCcsError('Head : some text ABC : more'), { head: 'Head', reason: undefined, detail: 'some text ABC : more' });
  assert.equal(splitCcsError('Head : text ABC'), { head: 'Head', reason: undefined, detail: 'text ABC' });
  assert.equal(splitCcsError('  BAD_ACK \n'), { head: 'BAD_ACK', reason: undefined, detail: '' });
});

test.run();
