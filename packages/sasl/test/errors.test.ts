// The error contract, checked against the RFC rather than against the package's own tables: the
// client negotiator tests iterate SASL_FAILURE_CONDITIONS and FAILURE_CODES, so a wrong entry there
// would agree with itself (mutation testing found such survivors). Every class's `name`, `code`
// and message shape is what callers match on.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ClientNegotiator,
  FAILURE_CODES,
  NS_SASL,
  SASL_FAILURE_CONDITIONS,
  SaslAbortError,
  SaslError,
  SaslFailureError,
  SaslInputError,
  SaslNegotiationError,
  SaslProtocolError,
  type SaslFailureCondition,
} from '../src/index.js';
import { Outbox, features, parse, rejection } from './helpers.js';

// RFC 6120 §6.5.1–§6.5.11, one code each.
const RFC_6120_CONDITIONS: ReadonlyArray<[string, string]> = [
  ['aborted', 'SASL_ERR_ABORTED'],
  ['account-disabled', 'SASL_ERR_ACCOUNT_DISABLED'],
  ['credentials-expired', 'SASL_ERR_CREDENTIALS_EXPIRED'],
  ['encryption-required', 'SASL_ERR_ENCRYPTION_REQUIRED'],
  ['incorrect-encoding', 'SASL_ERR_INCORRECT_ENCODING'],
  ['invalid-authzid', 'SASL_ERR_INVALID_AUTHZID'],
  ['invalid-mechanism', 'SASL_ERR_INVALID_MECHANISM'],
  ['malformed-request', 'SASL_ERR_MALFORMED_REQUEST'],
  ['mechanism-too-weak', 'SASL_ERR_MECHANISM_TOO_WEAK'],
  ['not-authorized', 'SASL_ERR_NOT_AUTHORIZED'],
  ['temporary-auth-failure', 'SASL_ERR_TEMPORARY_AUTH_FAILURE'],
];

function negotiating(): { n: ClientNegotiator; out: Outbox; done: Promise<unknown> } {
  const out = new Outbox();
  const n = new ClientNegotiator({ credentials: { authcid: 'a', password: 'p' }, send: out.send, encrypted: true });
  const done = n.start(features('PLAIN'));
  return { n, out, done };
}

test('SASL_FAILURE_CONDITIONS and FAILURE_CODES are exactly the eleven RFC 6120 §6.5 conditions and their codes', () => {
  assert.equal([...SASL_FAILURE_CONDITIONS].sort(), RFC_6120_CONDITIONS.map(([c]) => c));
  assert.equal(FAILURE_CODES, Object.fromEntries(RFC_6120_CONDITIONS));
});

for (const [condition, code] of RFC_6120_CONDITIONS) {
  test(`a <failure><${condition}/></failure> from the server rejects with ${code}`, async () => {
    const { n, done } = negotiating();
    n.handle(parse(`<failure xmlns="${NS_SASL}"><${condition}/><text xml:lang="en">as the server put it</text></failure>`));
    const err = await rejection(done);
    assert.instance(err, SaslFailureError);
    assert.is(err.code, code);
    assert.is(err.condition, condition);
    assert.is((err as SaslFailureError).retryable, condition === 'temporary-auth-failure');
    assert.is(err.message, `SASL authentication failed (PLAIN): <${condition}/>: as the server put it`);
  });
}

test('a failure message leaves out the mechanism and the text when there are none', () => {
  const bare = new SaslFailureError('not-authorized', undefined, undefined);
  assert.is(bare.message, 'SASL authentication failed: <not-authorized/>');
  assert.is(bare.code, 'SASL_ERR_NOT_AUTHORIZED');
  assert.is(bare.mechanism, undefined);
  assert.is(bare.text, undefined);
  assert.is(new SaslFailureError('aborted', '', 'PLAIN').message, 'SASL authentication failed (PLAIN): <aborted/>');
});

test('an abort says why only when given a reason, with code SASL_ERR_ABORTED and condition aborted', async () => {
  const plain = negotiating();
  plain.n.abort();
  const err = await rejection(plain.done);
  assert.instance(err, SaslAbortError);
  assert.is(err.message, 'SASL authentication aborted');
  assert.is(err.code, 'SASL_ERR_ABORTED');
  assert.is(err.condition, 'aborted');
  assert.is(err.mechanism, 'PLAIN');
  const why = negotiating();
  why.n.abort('shutting down');
  assert.is((await rejection(why.done)).message, 'SASL authentication aborted: shutting down');
  assert.is(new SaslAbortError(undefined).mechanism, undefined);
});

test('each error class has its own name, as a caught error shows it', async () => {
  const cases: Array<[string, SaslError]> = [];
  // SaslError itself: a negotiator started twice.
  const twice = negotiating();
  const again = await rejection(twice.n.start(features('PLAIN')));
  assert.is(again.code, 'SASL_ERR_INVALID_STATE');
  assert.is(again.message, 'SASL negotiation cannot start in state negotiating');
  cases.push(['SaslError', again]);
  const aborted = negotiating();
  aborted.n.abort();
  cases.push(['SaslAbortError', await rejection(aborted.done)]);
  const none = new ClientNegotiator({ credentials: { authcid: 'a', password: 'p' }, send() {}, encrypted: true });
  cases.push(['SaslNegotiationError', await rejection(none.start(features('X-OAUTH2')))]);
  const bad = negotiating();
  bad.n.handle(parse(`<challenge xmlns="${NS_SASL}">!!!!</challenge>`));
  cases.push(['SaslProtocolError', await rejection(bad.done)]);
  const input = new ClientNegotiator({ credentials: { authcid: 'a\u0000b', password: 'p' }, send() {}, encrypted: true });
  cases.push(['SaslInputError', await rejection(input.start(features('PLAIN')))]);
  const failed = negotiating();
  failed.n.handle(parse(`<failure xmlns="${NS_SASL}"><not-authorized/></failure>`));
  cases.push(['SaslFailureError', await rejection(failed.done)]);
  for (const [name, err] of cases) {
    assert.is(err.name, name);
    assert.ok(String(err).startsWith(`${name}: `), String(err));
  }
  assert.instance(cases[2]?.[1], SaslNegotiationError);
  assert.instance(cases[3]?.[1], SaslProtocolError);
  assert.instance(cases[4]?.[1], SaslInputError);
});

test('readFailure takes an unknown or missing condition as not-authorized', async () => {
  for (const body of ['<bogus-condition/>', '', '<text>only text</text>']) {
    const { n, done } = negotiating();
    n.handle(parse(`<failure xmlns="${NS_SASL}">${body}</failure>`));
    const err = await rejection(done);
    assert.is(err.condition, 'not-authorized' satisfies SaslFailureCondition);
    assert.is(err.code, 'SASL_ERR_NOT_AUTHORIZED');
  }
});

test.run();
