// Tests written for mutants that survived `npm run test:mutation` on sasl (test/README.md lists every
// survivor and what was done about it): the messages and fields of PLAIN's errors, and the exact
// inspect output that keeps the encoded password out of logs.
import { inspect } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SaslInputError, SaslProtocolError, encodePlain, plainClient } from '../src/index.js';

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('nothing was thrown');
}

test('an empty PLAIN field is refused with a message naming the field and the rule', () => {
  const e = thrown(() => encodePlain('', 'pw'));
  assert.instance(e, SaslInputError);
  assert.is(e.message, 'PLAIN authcid must not be empty (RFC 4616 §2)');
  assert.is(thrown(() => encodePlain('u', '')).message, 'PLAIN password must not be empty (RFC 4616 §2)');
});

test('a lone surrogate is refused with a message naming the field, never the value', () => {
  const e = thrown(() => encodePlain('u', 'pw\uD800'));
  assert.is(e.message, 'PLAIN password contains a lone surrogate, which UTF-8 cannot encode');
});

test('plainClient.create names what is missing', () => {
  assert.is(thrown(() => plainClient.create({ password: 'p' })).message, 'PLAIN needs an authcid');
  assert.is(thrown(() => plainClient.create({ authcid: 'u' })).message, 'PLAIN needs a password');
});

test('a challenge to PLAIN, or data with its success, is a SaslProtocolError that says so and names PLAIN', () => {
  const c = plainClient.create({ authcid: 'u', password: 'p' });
  const e = thrown(() => c.challenge(Buffer.from('x'))) as SaslProtocolError & { mechanism?: string };
  assert.instance(e, SaslProtocolError);
  assert.is(e.code, 'SASL_ERR_PROTOCOL');
  assert.is(e.message, 'server sent a challenge to PLAIN, which has none');
  assert.is(e.mechanism, 'PLAIN');
  const s = thrown(() => c.success(Buffer.from('x'))) as SaslProtocolError & { mechanism?: string };
  assert.is(s.code, 'SASL_ERR_PROTOCOL');
  assert.is(s.message, 'server sent additional data with PLAIN success');
  assert.is(s.mechanism, 'PLAIN');
});

test('a PLAIN client inspects as exactly "PlainClient {}", whatever its password', () => {
  const c = plainClient.create({ authcid: 'u', password: 'secret-key' });
  assert.is(inspect(c), 'PlainClient {}');
  assert.is(JSON.stringify(c), '{}');
});

test.run();
