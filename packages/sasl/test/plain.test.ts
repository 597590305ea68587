import { inspect } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  PLAIN,
  SaslInputError,
  SaslProtocolError,
  decodePlain,
  encodePlain,
  plainClient,
  plainServer,
  secretsEqual,
  type PlainAccount,
  type ServerStep,
} from '../src/index.js';

const NON_ASCII = 'pässwörd-ключ-密码-🔑';

test('encodes authzid NUL authcid NUL password as UTF-8 (RFC 4616 §2)', () => {
  assert.equal(encodePlain('123@gcm.googleapis.com', 'key'), Buffer.from('\u0000123@gcm.googleapis.com\u0000key'));
  assert.equal(encodePlain('u', 'p', 'admin'), Buffer.from('admin\u0000u\u0000p'));
});

test('encodes a non-ASCII password as UTF-8 bytes, where btoa would throw', () => {
  const bytes = encodePlain('user', NON_ASCII);
  assert.equal(bytes.subarray(6), Buffer.from(NON_ASCII, 'utf8'));
  assert.throws(() => btoa(`\u0000user\u0000${NON_ASCII}`));
});

test('treats an empty authzid like an absent one', () => {
  assert.equal(encodePlain('u', 'p', ''), encodePlain('u', 'p'));
});

for (const field of ['authcid', 'password', 'authzid'] as const) {
  test(`rejects a NUL in the ${field} with SASL_ERR_INVALID_INPUT, naming the field but not the value`, () => {
    const args = { authcid: 'user', password: 'secret-value', authzid: 'zid' };
    args[field] = `secret\u0000value`;
    try {
      encodePlain(args.authcid, args.password, args.authzid);
      assert.unreachable();
    } catch (err) {
      assert.instance(err, SaslInputError);
      const e = err as SaslInputError;
      assert.is(e.code, 'SASL_ERR_INVALID_INPUT');
      assert.ok(e.message.includes(field));
      assert.not.ok(e.message.includes('secret'));
    }
  });
  test(`rejects a lone surrogate in the ${field} instead of sending U+FFFD`, () => {
    const args = { authcid: 'user', password: 'pw', authzid: 'zid' };
    args[field] = 'a\uD800b';
    assert.throws(() => encodePlain(args.authcid, args.password, args.authzid), (e: unknown) => (e as SaslInputError).code === 'SASL_ERR_INVALID_INPUT');
    args[field] = 'a\uDC00';
    assert.throws(() => encodePlain(args.authcid, args.password, args.authzid), (e: unknown) => (e as SaslInputError).code === 'SASL_ERR_INVALID_INPUT');
  });
}

test('rejects an empty authcid or password (RFC 4616: 1*SAFE)', () => {
  assert.throws(() => encodePlain('', 'p'), (e: unknown) => (e as SaslInputError).code === 'SASL_ERR_INVALID_INPUT');
  assert.throws(() => encodePlain('u', ''), (e: unknown) => (e as SaslInputError).code === 'SASL_ERR_INVALID_INPUT');
});

test('decodes a message with and without authzid', () => {
  assert.equal(decodePlain(Buffer.from('\u0000u\u0000p')), { authzid: undefined, authcid: 'u', password: Buffer.from('p') });
  assert.equal(decodePlain(Buffer.from('z\u0000u\u0000p')), { authzid: 'z', authcid: 'u', password: Buffer.from('p') });
});

test('keeps a leading U+FEFF in a decoded field instead of stripping it as a BOM', () => {
  const m = decodePlain(encodePlain('\uFEFFuser', '\uFEFFpw', '\uFEFFz'));
  assert.is(m?.authcid, '\uFEFFuser');
  assert.is(m?.authzid, '\uFEFFz');
  assert.equal(m?.password, Buffer.from('\uFEFFpw'));
});

const malformed: Array<[string, Buffer]> = [
  ['no NUL at all', Buffer.from('userpass')],
  ['two fields', Buffer.from('\u0000user')],
  ['four fields', Buffer.from('\u0000u\u0000p\u0000x')],
  ['an empty authcid', Buffer.from('\u0000\u0000p')],
  ['an empty password', Buffer.from('\u0000u\u0000')],
  ['invalid UTF-8 in the authcid', Buffer.from([0, 0xc3, 0x28, 0, 0x70])],
  ['invalid UTF-8 in the password', Buffer.from([0, 0x75, 0, 0xff])],
  ['invalid UTF-8 in the authzid', Buffer.from([0xed, 0xa0, 0x80, 0, 0x75, 0, 0x70])],
  ['an empty message', Buffer.alloc(0)],
];
for (const [what, bytes] of malformed) {
  test(`refuses to decode a message with ${what}`, () => {
    assert.is(decodePlain(bytes), undefined);
  });
}

test('compares secrets of different lengths without throwing', () => {
  assert.ok(secretsEqual(Buffer.from('abc'), Buffer.from('abc')));
  assert.not.ok(secretsEqual(Buffer.from('abc'), Buffer.from('abcd')));
  assert.not.ok(secretsEqual(Buffer.from(''), Buffer.from('a')));
});

test('the PLAIN client sends one initial response and accepts an empty or "=" success', () => {
  const m = plainClient.create({ authcid: 'u', password: 'p' });
  assert.equal(Buffer.from(m.initialResponse() as Uint8Array), Buffer.from('\u0000u\u0000p'));
  m.success(undefined);
  m.success(Buffer.alloc(0));
});

test('the PLAIN client refuses a challenge and success data with SASL_ERR_PROTOCOL', () => {
  const m = plainClient.create({ authcid: 'u', password: 'p' });
  assert.throws(() => m.challenge(Buffer.alloc(0)), (e: unknown) => e instanceof SaslProtocolError && e.code === 'SASL_ERR_PROTOCOL');
  assert.throws(() => m.success(Buffer.from('x')), (e: unknown) => e instanceof SaslProtocolError);
});

test('the PLAIN client needs an authcid and a password', () => {
  assert.is(plainClient.name, PLAIN);
  assert.ok(plainClient.plaintext);
  assert.ok(plainClient.canUse({ authcid: 'u', password: 'p' }));
  assert.not.ok(plainClient.canUse({ authcid: 'u' }));
  assert.not.ok(plainClient.canUse({ password: 'p' }));
  assert.throws(() => plainClient.create({ password: 'p' }), (e: unknown) => (e as SaslInputError).code === 'SASL_ERR_INVALID_INPUT');
  assert.throws(() => plainClient.create({ authcid: 'u' }), (e: unknown) => (e as SaslInputError).code === 'SASL_ERR_INVALID_INPUT');
});

test('the PLAIN client exchange shows no payload when inspected or serialized', () => {
  const m = plainClient.create({ authcid: 'u', password: 'hunter2' });
  assert.not.ok(inspect(m, { showHidden: true, depth: 5 }).includes('hunter2'));
  assert.not.ok(inspect(m).includes(Buffer.from('hunter2').toString('hex')));
  assert.is(JSON.stringify(m), '{}');
});

async function run(server: ReturnType<typeof plainServer>, message: Buffer | undefined): Promise<ServerStep> {
  return server.create().step(message);
}

const accounts = new Map<string, string | Uint8Array | PlainAccount>([
  ['user', 'right'],
  ['bytes', Buffer.from('by7es')],
  ['unicode', NON_ASCII],
  ['disabled', { password: 'right', disabled: true }],
  ['expired', { password: 'right', expired: true }],
]);
const server = plainServer({
  lookup: (authcid) => accounts.get(authcid),
  authorize: (authcid, authzid) => authcid === 'user' && authzid === 'delegate',
});

test('the PLAIN server accepts the right password, as string or bytes, non-ASCII included', async () => {
  assert.equal(await run(server, encodePlain('user', 'right')), { type: 'success', authcid: 'user', authzid: undefined });
  assert.equal(await run(server, encodePlain('bytes', 'by7es')), { type: 'success', authcid: 'bytes', authzid: undefined });
  assert.equal(await run(server, encodePlain('unicode', NON_ASCII)), { type: 'success', authcid: 'unicode', authzid: undefined });
});

test('the PLAIN server answers not-authorized for a wrong password or an unknown authcid', async () => {
  assert.equal(await run(server, encodePlain('user', 'wrong')), { type: 'failure', condition: 'not-authorized' });
  assert.equal(await run(server, encodePlain('user', 'righ')), { type: 'failure', condition: 'not-authorized' });
  assert.equal(await run(server, encodePlain('nobody', 'right')), { type: 'failure', condition: 'not-authorized' });
});

test('the PLAIN server reveals account-disabled and credentials-expired only after the password matched', async () => {
  assert.equal(await run(server, encodePlain('disabled', 'right')), { type: 'failure', condition: 'account-disabled' });
  assert.equal(await run(server, encodePlain('disabled', 'wrong')), { type: 'failure', condition: 'not-authorized' });
  assert.equal(await run(server, encodePlain('expired', 'right')), { type: 'failure', condition: 'credentials-expired' });
  assert.equal(await run(server, encodePlain('expired', 'wrong')), { type: 'failure', condition: 'not-authorized' });
});

test('the PLAIN server refuses an authzid it may not act as with invalid-authzid', async () => {
  assert.equal(await run(server, encodePlain('user', 'right', 'someone-else')), { type: 'failure', condition: 'invalid-authzid' });
  assert.equal(await run(server, encodePlain('user', 'right', 'delegate')), { type: 'success', authcid: 'user', authzid: 'delegate' });
  assert.equal(await run(server, encodePlain('user', 'right', 'user')), { type: 'success', authcid: 'user', authzid: 'user' });
  const strict = plainServer({ lookup: () => 'right' });
  assert.equal(await run(strict, encodePlain('user', 'right', 'other')), { type: 'failure', condition: 'invalid-authzid' });
});

test('the PLAIN server answers malformed-request for a message with the wrong number of fields', async () => {
  assert.equal(await run(server, Buffer.from('\u0000user')), { type: 'failure', condition: 'malformed-request' });
});

test('the PLAIN server sends an empty challenge when there was no initial response, then verifies the response', async () => {
  const exchange = server.create();
  assert.equal(await exchange.step(undefined), { type: 'challenge', data: Buffer.alloc(0) });
  assert.equal(await exchange.step(encodePlain('user', 'right')), { type: 'success', authcid: 'user', authzid: undefined });
  assert.equal(await exchange.step(encodePlain('user', 'right')), { type: 'failure', condition: 'malformed-request' });
  assert.equal(await exchange.step(undefined), { type: 'failure', condition: 'malformed-request' });
});

test('the PLAIN server accepts an async lookup', async () => {
  const s = plainServer({ lookup: async (authcid) => (authcid === 'a' ? { password: 'b' } : undefined) });
  assert.equal(await run(s, encodePlain('a', 'b')), { type: 'success', authcid: 'a', authzid: undefined });
});

test('the PLAIN server does not normalise: a differently composed password does not match', async () => {
  const s = plainServer({ lookup: () => 'caf\u00e9' });
  assert.equal(await run(s, encodePlain('u', 'cafe\u0301')), { type: 'failure', condition: 'not-authorized' });
});

test.run();
