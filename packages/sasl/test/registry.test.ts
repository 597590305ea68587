import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ClientNegotiator,
  DEFAULT_MECHANISM_PREFERENCE,
  MechanismRegistry,
  SaslInputError,
  defaultClientMechanisms,
  plainClient,
  type ClientMechanismFactory,
} from '../src/index.js';
import { features } from './helpers.js';

const fake = (name: string): ClientMechanismFactory => ({ ...plainClient, name });

test('the default client registry holds PLAIN', () => {
  const r = defaultClientMechanisms();
  assert.equal(r.names(), ['PLAIN']);
  assert.is(r.get('PLAIN'), plainClient);
  assert.ok(r.has('PLAIN'));
});

test('registers, replaces in place and unregisters by name, keeping registration order', () => {
  const r = new MechanismRegistry<ClientMechanismFactory>([fake('A'), fake('B')]);
  const b2 = fake('B');
  r.register(fake('C')).register(b2);
  assert.equal(r.names(), ['A', 'B', 'C']);
  assert.is(r.get('B'), b2);
  assert.ok(r.unregister('A'));
  assert.not.ok(r.unregister('A'));
  assert.equal(r.names(), ['B', 'C']);
  assert.is(r.get('plain'), undefined);
});

test('rejects a name that is not an RFC 4422 §3.1 mechanism name with SASL_ERR_INVALID_INPUT', () => {
  for (const name of ['', 'plain', 'X OAUTH', 'A'.repeat(21), 'PLAIN\u0000']) {
    assert.throws(() => new MechanismRegistry([fake(name)]), (e: unknown) => e instanceof SaslInputError && e.code === 'SASL_ERR_INVALID_INPUT');
  }
  new MechanismRegistry([fake('SCRAM-SHA-256-PLUS'), fake('X_1')]);
});

test('the default preference ranks SCRAM above X-OAUTH2 above PLAIN and cannot be mutated', () => {
  const i = (n: string): number => DEFAULT_MECHANISM_PREFERENCE.indexOf(n);
  assert.ok(i('SCRAM-SHA-256') < i('X-OAUTH2'));
  assert.ok(i('X-OAUTH2') < i('PLAIN'));
  assert.ok(Object.isFrozen(DEFAULT_MECHANISM_PREFERENCE));
});

test('an empty registry has no mechanisms', () => {
  const r = new MechanismRegistry<ClientMechanismFactory>();
  assert.equal(r.names(), []);
  assert.not.ok(r.has('PLAIN'));
});

test('an invalid mechanism name is named in the error, with the rule', () => {
  assert.throws(() => new MechanismRegistry([fake('x y')]), (e: unknown) => e instanceof Error && e.message === 'invalid SASL mechanism name "x y" (RFC 4422 §3.1)');
});

test('without a preference the client picks, among what both sides have: SCRAM-PLUS, SCRAM, X-OAUTH2, OAUTHBEARER, PLAIN, then the rest', async () => {
  const documented = [
    'SCRAM-SHA-512-PLUS', 'SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-512', 'SCRAM-SHA-256', 'SCRAM-SHA-1',
    'X-OAUTH2', 'OAUTHBEARER', 'PLAIN', 'X-OTHER',
  ];
  // Registered and offered in the reverse order, so only the preference can put them in order.
  const registry = new MechanismRegistry<ClientMechanismFactory>([...documented].reverse().map(fake));
  const offered = [...documented].reverse();
  const picked: string[] = [];
  while (offered.length > 0) {
    const n = new ClientNegotiator({ credentials: { authcid: 'a', password: 'p' }, send() {}, encrypted: true, mechanisms: registry });
    n.start(features(...offered)).catch(() => {});
    const name = n.mechanism as string;
    picked.push(name);
    offered.splice(offered.indexOf(name), 1);
    n.abort();
  }
  assert.equal(picked, documented);
});

test.run();
