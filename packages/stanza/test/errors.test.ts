import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { StanzaError, GcmDecodeError, ValidationError } from '@ccs-xmpp/stanza';

test('each error class has its own name and a stable code', () => {
  const base = new StanzaError('STANZA_ERR_MALFORMED_JSON', 'bad');
  assert.is(base.name, 'StanzaError');
  assert.is(base.code, 'STANZA_ERR_MALFORMED_JSON');
  assert.is(base.message, 'bad');
  const decode = new GcmDecodeError('STANZA_ERR_MISSING_FIELD', 'no from', 's-1', 'from');
  assert.is(decode.name, 'GcmDecodeError');
  assert.instance(decode, StanzaError);
  assert.equal([decode.code, decode.stanzaId, decode.field], ['STANZA_ERR_MISSING_FIELD', 's-1', 'from']);
  const invalid = new ValidationError('to', 'INVALID_JSON', 'INVALID_TARGET', 'detail', 'm-1');
  assert.is(invalid.name, 'ValidationError');
  assert.is(invalid.code, 'STANZA_ERR_INVALID_MESSAGE');
  assert.instance(invalid, StanzaError);
});

test('a cause is kept when given, and no cause property exists when none was', () => {
  const cause = new SyntaxError('x');
  assert.is(new StanzaError('STANZA_ERR_MALFORMED_JSON', 'bad', { cause }).cause, cause);
  assert.is(new GcmDecodeError('STANZA_ERR_MALFORMED_JSON', 'bad', undefined, undefined, { cause }).cause, cause);
  assert.not.ok('cause' in new StanzaError('STANZA_ERR_MALFORMED_JSON', 'bad'));
  assert.not.ok('cause' in new StanzaError('STANZA_ERR_MALFORMED_JSON', 'bad', {}));
});

test('a ValidationError writes the composite CCS text: BadAck for BAD_ACK, InvalidJson otherwise', () => {
  const ack = new ValidationError('to', 'BAD_ACK', 'INVALID_ACK', 'no to', 'm');
  assert.is(ack.ccsError, 'BadAck : INVALID_ACK : no to\n');
  assert.is(ack.message, '"to": no to');
  assert.equal([ack.field, ack.nackCode, ack.reason, ack.messageId, ack.stanzaError], ['to', 'BAD_ACK', 'INVALID_ACK', 'm', false]);
  const root = new ValidationError('', 'INVALID_JSON', 'JSON_PARSING_ERROR', 'not an object', undefined);
  assert.is(root.ccsError, 'InvalidJson : JSON_PARSING_ERROR : not an object\n');
  assert.is(root.message, 'message: not an object');
  assert.ok(root.stanzaError);
});

test.run();
