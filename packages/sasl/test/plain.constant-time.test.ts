// The PLAIN server's password check is constant-time by construction (issue 19, survivor 2: replacing
// crypto.timingSafeEqual with === passed every test, since only timing differs). Timing is never
// measured here: the crypto calls themselves are recorded through node:crypto's exports, which the
// module's named imports follow after syncBuiltinESMExports().
import type * as Crypto from 'node:crypto';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encodePlain, plainServer, secretsEqual, type PlainServerOptions, type ServerStep } from '../src/index.js';

type Call = string;
// The CommonJS exports object: what ESM named imports of node:crypto are synced from.
const crypto = createRequire(import.meta.url)('node:crypto') as typeof Crypto;

/** Runs `fn` with createHash, timingSafeEqual and randomBytes recorded; returns the calls in order. */
async function recording(fn: () => unknown): Promise<{ calls: Call[]; compared: Array<[Buffer, Buffer]> }> {
  const calls: Call[] = [];
  const compared: Array<[Buffer, Buffer]> = [];
  const original = { createHash: crypto.createHash, timingSafeEqual: crypto.timingSafeEqual, randomBytes: crypto.randomBytes };
  const mutable = crypto as unknown as Record<string, unknown>;
  mutable['createHash'] = (algorithm: string, ...rest: unknown[]) => {
    calls.push(`createHash(${algorithm})`);
    const hash = (original.createHash as (...a: unknown[]) => Crypto.Hash)(algorithm, ...rest);
    const update = hash.update.bind(hash);
    hash.update = ((data: Crypto.BinaryLike) => {
      calls.push(`update(${typeof data === 'string' ? 'string' : 'bytes'})`);
      return update(data);
    }) as typeof hash.update;
    return hash;
  };
  mutable['timingSafeEqual'] = (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
    calls.push(`timingSafeEqual(${a.byteLength}, ${b.byteLength})`);
    compared.push([Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)]);
    return original.timingSafeEqual(a, b);
  };
  mutable['randomBytes'] = (...args: unknown[]) => {
    calls.push(`randomBytes(${String(args[0])})`);
    return (original.randomBytes as (...a: unknown[]) => Buffer)(...args);
  };
  syncBuiltinESMExports();
  try {
    await fn();
  } finally {
    Object.assign(mutable, original);
    syncBuiltinESMExports();
  }
  return { calls, compared };
}

const ACCOUNTS: Record<string, string> = { 'known@gcm.googleapis.com': 'the-right-api-key' };
const options: PlainServerOptions = { lookup: (authcid) => ACCOUNTS[authcid] };

async function attempt(authcid: string, password: string): Promise<ServerStep> {
  const mechanism = plainServer(options).create();
  return mechanism.step(encodePlain(authcid, password));
}

test('secretsEqual compares through crypto.timingSafeEqual, on two SHA-256 digests', async () => {
  let result: boolean | undefined;
  const { calls, compared } = await recording(() => {
    result = secretsEqual(Buffer.from('abc'), Buffer.from('abd'));
  });
  assert.is(result, false);
  assert.equal(calls, ['createHash(sha256)', 'update(bytes)', 'createHash(sha256)', 'update(bytes)', 'timingSafeEqual(32, 32)']);
  assert.equal(compared[0]?.[0], crypto.createHash('sha256').update('abc').digest());
});

test('the PLAIN server checks a wrong password through crypto.timingSafeEqual and answers not-authorized', async () => {
  let step: ServerStep | undefined;
  const { calls, compared } = await recording(async () => {
    step = await attempt('known@gcm.googleapis.com', 'a-wrong-api-key');
  });
  assert.equal(step, { type: 'failure', condition: 'not-authorized' });
  assert.is(calls.filter((c) => c.startsWith('timingSafeEqual')).length, 1);
  const [got, expected] = compared[0]!;
  assert.equal(got, crypto.createHash('sha256').update('a-wrong-api-key').digest());
  assert.equal(expected, crypto.createHash('sha256').update('the-right-api-key').digest());
});

test('the PLAIN server accepts the right password only through crypto.timingSafeEqual', async () => {
  let step: ServerStep | undefined;
  const { calls } = await recording(async () => {
    step = await attempt('known@gcm.googleapis.com', 'the-right-api-key');
  });
  assert.equal(step, { type: 'success', authcid: 'known@gcm.googleapis.com', authzid: undefined });
  assert.ok(calls.includes('timingSafeEqual(32, 32)'), calls.join(', '));
});

test('an unknown authcid does the same crypto work as a known one with a wrong password', async () => {
  // Warm both paths once (a server's first use may set things up), then record each.
  await attempt('nobody@gcm.googleapis.com', 'a-wrong-api-key');
  await attempt('known@gcm.googleapis.com', 'a-wrong-api-key');
  const unknown = await recording(() => attempt('nobody@gcm.googleapis.com', 'a-wrong-api-key'));
  const wrong = await recording(() => attempt('known@gcm.googleapis.com', 'a-wrong-api-key'));
  assert.equal(unknown.calls, wrong.calls);
  assert.ok(!unknown.calls.some((c) => c.startsWith('randomBytes')), 'nothing random is drawn per attempt');
  // The unknown path compares against a decoy, never against a password of another account.
  assert.is.not(unknown.compared[0]?.[1].equals(wrong.compared[0]![1]), true);
});

test('an unknown authcid is refused like a wrong password, also when it guesses the decoy\'s shape', async () => {
  assert.equal(await attempt('nobody@gcm.googleapis.com', 'the-right-api-key'), { type: 'failure', condition: 'not-authorized' });
  assert.equal(await attempt('nobody@gcm.googleapis.com', Buffer.alloc(32).toString('base64')), { type: 'failure', condition: 'not-authorized' });
});

test('an unknown authcid is refused even when its comparison with the decoy comes out equal', async () => {
  // Only a client that guessed the per-process decoy gets there; the account check behind the
  // comparison still refuses it. The known account shows that the forced comparison is the one used.
  const mutable = crypto as unknown as Record<string, unknown>;
  const original = crypto.timingSafeEqual;
  mutable['timingSafeEqual'] = () => true;
  syncBuiltinESMExports();
  try {
    assert.equal(await attempt('nobody@gcm.googleapis.com', 'any-api-key'), { type: 'failure', condition: 'not-authorized' });
    assert.equal(await attempt('known@gcm.googleapis.com', 'any-api-key'), { type: 'success', authcid: 'known@gcm.googleapis.com', authzid: undefined });
  } finally {
    mutable['timingSafeEqual'] = original;
    syncBuiltinESMExports();
  }
});

test.run();
