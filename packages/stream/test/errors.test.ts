import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConnectionError, STREAM_ERROR_CONDITIONS, StreamError, StreamErrorReceived, StreamParseError } from '../src/index.js';

test('STREAM_ERROR_CONDITIONS is exactly the 25 conditions of RFC 6120 §4.9.3', () => {
  assert.equal([...STREAM_ERROR_CONDITIONS].sort(), [
    'bad-format', 'bad-namespace-prefix', 'conflict', 'connection-timeout', 'host-gone', 'host-unknown',
    'improper-addressing', 'internal-server-error', 'invalid-from', 'invalid-namespace', 'invalid-xml',
    'not-authorized', 'not-well-formed', 'policy-violation', 'remote-connection-failed', 'reset',
    'resource-constraint', 'restricted-xml', 'see-other-host', 'system-shutdown', 'undefined-condition',
    'unsupported-encoding', 'unsupported-feature', 'unsupported-stanza-type', 'unsupported-version',
  ]);
});

test('each error class has its name, code, condition and text; a cause is kept only when given', () => {
  const plain = new StreamError('STREAM_ERR_CLOSED', 'reset', 'closed');
  assert.is(plain.name, 'StreamError');
  assert.is(plain.message, 'closed');
  assert.is(plain.code, 'STREAM_ERR_CLOSED');
  assert.is(plain.condition, 'reset');
  assert.is(plain.text, undefined);
  assert.not.ok('cause' in plain, 'no cause property without a cause');
  const cause = new Error('root');
  const withCause = new ConnectionError('STREAM_ERR_SOCKET', 'remote-connection-failed', 'socket error', { cause, text: 't' });
  assert.instance(withCause, StreamError);
  assert.is(withCause.name, 'ConnectionError');
  assert.is(withCause.cause, cause);
  assert.is(withCause.text, 't');
  const parse = new StreamParseError('STREAM_ERR_BAD_FORMAT', 'bad-format', 'text between stanzas', 17);
  assert.is(parse.name, 'StreamParseError');
  assert.is(parse.offset, 17);
  assert.is(parse.code, 'STREAM_ERR_BAD_FORMAT');
  assert.not.ok('cause' in parse);
});

test('StreamErrorReceived says what the peer sent, with its text when there is one', () => {
  const withText = new StreamErrorReceived('conflict', 'replaced');
  assert.is(withText.name, 'StreamErrorReceived');
  assert.is(withText.code, 'STREAM_ERR_RECEIVED');
  assert.is(withText.message, 'peer sent stream error <conflict/>: replaced');
  assert.is(withText.text, 'replaced');
  const bare = new StreamErrorReceived('system-shutdown', undefined);
  assert.is(bare.message, 'peer sent stream error <system-shutdown/>');
  assert.is(bare.text, undefined);
  assert.is(new StreamErrorReceived('reset', '').message, 'peer sent stream error <reset/>', 'an empty text adds nothing');
});

test.run();
